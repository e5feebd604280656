#include "raft/testing/checks.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "core/check.h"

namespace meta::raft::testing {
namespace {

std::string N(uint64_t v) { return std::to_string(v); }

}  // namespace

namespace {

Status CheckPairMatches(uint64_t a_id, const RaftLog& a, uint64_t b_id, const RaftLog& b) {
  const uint64_t lo = std::max(a.FirstIndex(), b.FirstIndex());
  const uint64_t hi = std::min(a.LastIndex(), b.LastIndex());
  bool matched = false;
  for (uint64_t i = hi; i >= lo && i > 0; --i) {
    const bool same = a.TermOr0(i) == b.TermOr0(i);
    if (matched && !same) {
      return InternalError("log matching: nodes " + N(a_id) + " and " + N(b_id) +
                           " agree on a later entry but differ at index " + N(i));
    }
    if (!same) continue;
    matched = true;
    auto ea = a.Slice(i, i + 1, UINT64_MAX);
    auto eb = b.Slice(i, i + 1, UINT64_MAX);
    if (ea.ok() && eb.ok() && (*ea)[0].data() != (*eb)[0].data()) {
      return InternalError("log matching: nodes " + N(a_id) + " and " + N(b_id) +
                           " hold different data at index " + N(i) + " of the same term");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckLogMatching(const std::map<uint64_t, const RaftLog*>& logs) {
  for (auto a = logs.begin(); a != logs.end(); ++a) {
    for (auto b = std::next(a); b != logs.end(); ++b) {
      RETURN_IF_ERROR(CheckPairMatches(a->first, *a->second, b->first, *b->second));
    }
  }
  return Status::Ok();
}

Status CheckReadsCoverCommitted(const std::map<std::string, uint64_t>& floors,
                                const std::vector<ReadState>& reads) {
  for (const ReadState& rs : reads) {
    auto it = floors.find(rs.context);
    if (it == floors.end()) return InternalError("read state for unknown request");
    if (rs.index < it->second) {
      return InternalError("ReadIndex not linearizable: request '" + rs.context +
                           "' answered with index " + N(rs.index) + " but index " + N(it->second) +
                           " was committed before it was issued");
    }
  }
  return Status::Ok();
}

void AppendU64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

uint64_t ReadU64(const std::string& in, size_t& pos) {
  CHECK_LE(pos + 8, in.size()) << "truncated snapshot";
  uint64_t v;
  std::memcpy(&v, in.data() + pos, 8);
  pos += 8;
  return v;
}

}  // namespace meta::raft::testing
