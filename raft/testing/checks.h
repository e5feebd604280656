// Cluster properties shared by the hand-driven harnesses (cluster.h, interaction.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "raft/raft.h"

namespace meta::raft::testing {

// One entry as the harnesses' state machines applied it.
struct AppliedEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string data;
  friend bool operator==(const AppliedEntry&, const AppliedEntry&) = default;
};

// Log matching (§5.3), for every pair of `logs` (node id -> log): if two logs hold an entry with
// the same index and term, they hold the same entry there and agree on every entry before it
// (within what both still have).
Status CheckLogMatching(const std::map<uint64_t, const RaftLog*>& logs);

// ReadIndex linearizability: each answer covers every write committed anywhere before the request
// was issued (`floors`: request context -> highest commit index known then).
Status CheckReadsCoverCommitted(const std::map<std::string, uint64_t>& floors,
                                const std::vector<ReadState>& reads);

// The little-endian u64 encoding the harnesses use for their snapshot payloads.
void AppendU64(std::string& out, uint64_t v);
uint64_t ReadU64(const std::string& in, size_t& pos);

}  // namespace meta::raft::testing
