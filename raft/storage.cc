#include "raft/storage.h"

namespace meta::raft {

Status CompactedError() { return OutOfRangeError("requested index is unavailable: compacted"); }
bool IsCompacted(const Status& s) { return s.code() == Code::kOutOfRange; }
Status SnapshotTemporarilyUnavailableError() {
  return UnavailableError("snapshot is temporarily unavailable");
}

uint64_t EntrySize(const Entry& e) { return e.ByteSizeLong(); }

void LimitSize(std::vector<Entry>& entries, uint64_t max_bytes) {
  if (entries.empty()) return;
  uint64_t size = EntrySize(entries[0]);
  size_t keep = 1;
  for (; keep < entries.size(); ++keep) {
    size += EntrySize(entries[keep]);
    if (size > max_bytes) break;
  }
  entries.resize(keep);
}

MemoryStorage::MemoryStorage() { entries_.emplace_back(); }

Result<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, conf_state_};
}

uint64_t MemoryStorage::FirstIndex() const { return entries_[0].index() + 1; }
uint64_t MemoryStorage::LastIndex() const { return entries_[0].index() + entries_.size() - 1; }

Result<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  const uint64_t offset = entries_[0].index();
  if (lo <= offset) return CompactedError();
  if (hi > LastIndex() + 1) {
    return OutOfRangeError("entries [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           ") past last index " + std::to_string(LastIndex()));
  }
  std::vector<Entry> out(entries_.begin() + static_cast<ptrdiff_t>(lo - offset),
                         entries_.begin() + static_cast<ptrdiff_t>(hi - offset));
  LimitSize(out, max_bytes);
  return out;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  const uint64_t offset = entries_[0].index();
  if (i < offset) return CompactedError();
  if (i - offset >= entries_.size()) return UnavailableError("index past the log end");
  return entries_[i - offset].term();
}

Result<Snapshot> MemoryStorage::GetSnapshot() const { return snapshot_; }

Status MemoryStorage::ApplySnapshot(const Snapshot& snapshot) {
  if (snapshot.metadata().index() <= snapshot_.metadata().index()) {
    return FailedPreconditionError("snapshot is out of date");
  }
  snapshot_ = snapshot;
  entries_.assign(1, Entry());
  entries_[0].set_index(snapshot.metadata().index());
  entries_[0].set_term(snapshot.metadata().term());
  conf_state_ = snapshot.metadata().conf_state();
  return Status::Ok();
}

Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::Ok();
  const uint64_t first = FirstIndex();
  const uint64_t last = entries.back().index();
  if (last < first) return Status::Ok();  // all compacted already
  size_t skip = entries.front().index() < first ? first - entries.front().index() : 0;
  const uint64_t start = entries[skip].index();
  if (start > LastIndex() + 1) {
    return InternalError("missing log entry: last " + std::to_string(LastIndex()) +
                         ", appending at " + std::to_string(start));
  }
  entries_.resize(start - entries_[0].index());  // truncate the conflicting suffix
  entries_.insert(entries_.end(), entries.begin() + static_cast<ptrdiff_t>(skip), entries.end());
  return Status::Ok();
}

Result<Snapshot> MemoryStorage::CreateSnapshot(uint64_t index, const ConfState& cs,
                                               std::string data) {
  if (index <= snapshot_.metadata().index()) {
    return FailedPreconditionError("snapshot is out of date");
  }
  if (index > LastIndex()) return OutOfRangeError("snapshot index past the log end");
  snapshot_.mutable_metadata()->set_index(index);
  snapshot_.mutable_metadata()->set_term(entries_[index - entries_[0].index()].term());
  *snapshot_.mutable_metadata()->mutable_conf_state() = cs;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

Status MemoryStorage::Compact(uint64_t compact_index) {
  const uint64_t offset = entries_[0].index();
  if (compact_index <= offset) return CompactedError();
  if (compact_index > LastIndex()) return OutOfRangeError("compact index past the log end");
  const size_t i = compact_index - offset;
  Entry dummy;
  dummy.set_index(entries_[i].index());
  dummy.set_term(entries_[i].term());
  std::vector<Entry> rest;
  rest.reserve(entries_.size() - i);
  rest.push_back(dummy);
  rest.insert(rest.end(), entries_.begin() + static_cast<ptrdiff_t>(i) + 1, entries_.end());
  entries_ = std::move(rest);
  return Status::Ok();
}

}  // namespace meta::raft
