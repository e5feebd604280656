// The leader's view of each follower (Raft paper's nextIndex/matchIndex, plus flow control) and the
// quorum arithmetic over the configuration's voters.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>

#include "proto/raft.pb.h"

namespace meta::raft {

enum class ProgressState {
  kProbe,      // unknown match: one append per heartbeat interval until one succeeds
  kReplicate,  // steady state: appends pipelined up to the inflight window
  kSnapshot,   // a snapshot is on its way; appends wait for it
};
const char* ProgressStateName(ProgressState s);

// Appends sent and not yet acknowledged, bounded in count and bytes.
class Inflights {
 public:
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}
  bool Full() const { return entries_.size() >= max_count_ || bytes_ >= max_bytes_; }
  size_t count() const { return entries_.size(); }
  void Add(uint64_t last_index, uint64_t bytes);
  // Frees every append whose last index is <= `index`.
  void FreeLE(uint64_t index);
  // Frees the oldest append (a heartbeat reply proves the follower is alive; keep one slot moving).
  void FreeFirstOne();
  void Reset();

 private:
  size_t max_count_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> entries_;  // (last index, bytes)
};

struct Progress {
  Progress(uint64_t next, size_t max_inflight, uint64_t max_inflight_bytes, bool learner)
      : next_index(next), inflights(max_inflight, max_inflight_bytes), is_learner(learner) {}

  uint64_t match_index = 0;
  uint64_t next_index = 1;
  ProgressState state = ProgressState::kProbe;
  uint64_t pending_snapshot = 0;  // index of the snapshot in flight (kSnapshot)
  bool recent_active = false;     // heard from since the last CheckQuorum
  bool probe_sent = false;        // kProbe: an append is out; wait for a reply or a heartbeat
  Inflights inflights;
  bool is_learner = false;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // An append acknowledged up to `n`. True if match_index moved.
  bool MaybeUpdate(uint64_t n);
  // The follower rejected an append at `rejected` and hints it has up to `match_hint`. True if
  // next_index moved back (stale rejections are ignored).
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // An append of entries up to `last` of `bytes` was sent.
  void SentEntries(uint64_t last, uint64_t bytes);
  // Sending must wait (probe in flight, window full, or snapshot pending).
  bool IsPaused() const;
  std::string ToString() const;
};

enum class VoteResult { kPending, kLost, kWon };

// Membership (voters and learners) and each member's Progress.
class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  const std::set<uint64_t>& voters() const { return voters_; }
  const std::set<uint64_t>& learners() const { return learners_; }
  bool IsVoter(uint64_t id) const { return voters_.count(id) != 0; }
  bool IsMember(uint64_t id) const { return progress_.count(id) != 0; }
  std::map<uint64_t, Progress>& progress() { return progress_; }
  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  Progress* Get(uint64_t id);

  // Replaces the configuration; new members start probing from `next_index`.
  void SetConfig(const raftpb::ConfState& cs, uint64_t next_index);
  raftpb::ConfState ConfState() const;

  // The largest index replicated on a majority of voters (§5.3).
  uint64_t QuorumCommitted() const;
  // Tallies granted/rejected votes among voters.
  VoteResult TallyVotes(const std::map<uint64_t, bool>& votes) const;
  // Whether a majority of voters (counting `self`) was recently active.
  bool QuorumActive(uint64_t self) const;
  bool HasQuorum(const std::set<uint64_t>& acks) const;

 private:
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
  std::set<uint64_t> voters_;
  std::set<uint64_t> learners_;
  std::map<uint64_t, Progress> progress_;
};

}  // namespace meta::raft
