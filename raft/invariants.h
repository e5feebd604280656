// The per-node invariant checker (LogCabin's checkBasic/checkDelta): called after every step in
// tests and simulation. It returns a Status naming the broken invariant instead of crashing, so a
// property test can report the seed and the history that led there.
#pragma once

#include "core/status.h"
#include "raft/raft.h"

namespace meta::raft {

// What CheckDelta compares between two observations of one node.
struct Observation {
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t lead = 0;
  StateType state = StateType::kFollower;
  uint64_t committed = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t first_index = 0;
  uint64_t stable_last_index = 0;

  static Observation Of(const Raft& r);
  bool operator==(const Observation&) const = default;
};

// Invariants of one state: commit/applied/last ordering, role consistency, leader's own progress.
Status CheckBasic(const Raft& r);
// Invariants across one step: term never decreases; within a term the vote and the leader never
// change once set; commit and applied never regress (in-memory; a restart may lose neither since
// both are persisted before use).
Status CheckDelta(const Observation& prev, const Raft& r);

}  // namespace meta::raft
