// RawNode: the driver-facing API over Raft. The driver (store/ node, or a test) loops:
//
//   node.Tick() / node.Step(msg) / node.Propose(...)    // inputs
//   if (node.HasReady()) {
//     Ready rd = node.GetReady();
//     1. persist rd.hard_state, rd.entries and rd.snapshot — durably (fsync) when rd.must_sync;
//     2. send rd.messages (they may assume step 1 happened: votes and appends are acknowledged).
//        Exception: a leader whose term and vote in rd are those already persisted may send
//        before step 1 — its appends and heartbeats acknowledge nothing, and its own entries
//        count toward a quorum only from Advance (Raft::OnPersisted);
//     3. apply rd.snapshot, then rd.committed_entries, to the state machine (conf changes through
//        ApplyConfChange);
//     4. node.Advance(rd);
//   }
//
// Everything is single-threaded and deterministic: the same inputs give the same Readys.
#pragma once

#include <optional>
#include <vector>

#include "raft/raft.h"

namespace meta::raft {

struct SoftState {
  uint64_t lead = kNone;
  StateType state = StateType::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

struct Ready {
  std::optional<SoftState> soft_state;  // set when leader or role changed (not persisted)
  std::optional<HardState> hard_state;  // set when term, vote or commit changed
  std::vector<ReadState> read_states;
  std::vector<Entry> entries;            // to persist before sending
  std::optional<Snapshot> snapshot;      // to persist and apply
  std::vector<Entry> committed_entries;  // to apply, in order
  std::vector<Message> messages;         // to send after persisting
  bool must_sync = false;  // term, vote, entries or snapshot changed: fsync before sending
};

class RawNode {
 public:
  RawNode(const Config& config, const Storage& storage, Random& random);

  void Tick() { raft_.Tick(); }
  Status Step(const Message& m);
  Status Campaign() { return raft_.Campaign(); }
  Status Propose(std::string data) { return raft_.Propose(std::move(data)); }
  Status ProposeConfChange(const ConfChange& cc) { return raft_.ProposeConfChange(cc); }
  raftpb::ConfState ApplyConfChange(const ConfChange& cc) { return raft_.ApplyConfChange(cc); }
  Status TransferLeader(uint64_t transferee) { return raft_.TransferLeader(transferee); }
  Status ReadIndex(std::string context) { return raft_.ReadIndex(std::move(context)); }
  void SetLeaseValid(bool valid) { raft_.SetLeaseValid(valid); }
  void ReportSnapshot(uint64_t to, bool failed) { raft_.ReportSnapshot(to, failed); }
  void ReportUnreachable(uint64_t to) { raft_.ReportUnreachable(to); }

  bool HasReady() const;
  Ready GetReady();
  // Everything in `rd` was persisted, sent and applied.
  void Advance(const Ready& rd);

  const Raft& raft() const { return raft_; }
  SoftState GetSoftState() const { return SoftState{raft_.lead(), raft_.state()}; }

 private:
  Raft raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
};

}  // namespace meta::raft
