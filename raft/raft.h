// A pure Raft state machine in the etcd-raft shape: no I/O, no clock, no global randomness. Time is
// Tick(); randomness (election jitter) comes from an injected Random; input is Step(message);
// output is collected by RawNode (raw_node.h) as a Ready. Every role has its own step function.
//
// Features: PreVote, CheckQuorum, pipelined appends with an inflight window and byte limits, fast
// conflict back-off, commit only by counting current-term entries, bounded uncommitted bytes,
// snapshots, one-at-a-time membership changes with learners, leadership transfer (TimeoutNow),
// ReadIndex (a heartbeat quorum confirms leadership; followers forward) and lease-based reads (the
// driver, which has a clock, says when the leader's lease holds; see SetLeaseValid).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "raft/log.h"
#include "raft/progress.h"

namespace meta::raft {

using raftpb::ConfChange;
using raftpb::MessageType;

constexpr uint64_t kNone = 0;

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateName(StateType s);

struct Config {
  uint64_t id = kNone;
  // Ticks without hearing from a leader before a follower campaigns; randomized in [n, 2n).
  int election_tick = 10;
  // Ticks between leader heartbeats; must be < election_tick.
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t max_size_per_msg = 1 << 20;               // bytes of entries in one append
  size_t max_inflight_msgs = 256;                    // appends in flight per follower
  uint64_t max_inflight_bytes = 32 << 20;            // bytes in flight per follower
  uint64_t max_uncommitted_entries_size = 64 << 20;  // 0 = unbounded
  uint64_t max_committed_size_per_ready = 64 << 20;  // bytes of committed entries per Ready
  uint64_t applied = 0;  // on restart: the last index the state machine applied
  bool disable_proposal_forwarding = false;
  // With check_quorum, a node ignores every vote and pre-vote request (but a transfer's) until
  // election_tick ticks have passed since it last heard from a leader, or since it started — even
  // after a higher term made it forget the leader, and in the term it is already in. A leader's
  // read lease (SetLeaseValid) relies on this: every voter that acknowledged it keeps ignoring
  // candidates for that long, whatever else it hears meanwhile and across a restart. It delays a
  // first election after a restart by at most one election timeout.
  bool strict_vote_lease = false;

  Status Validate() const;
};

// A linearizable read point: once the state machine has applied `index`, reading it answers the
// ReadIndex request tagged `context`.
struct ReadState {
  uint64_t index = 0;
  std::string context;
  friend bool operator==(const ReadState&, const ReadState&) = default;
};

class Raft {
 public:
  // Loads hard state and configuration from `storage`. `random` must outlive the Raft.
  Raft(const Config& config, const Storage& storage, Random& random);

  // Advances logical time by one tick.
  void Tick();
  // Feeds one message (local or from a peer). Errors: a proposal that cannot be taken now
  // (UNAVAILABLE: no leader or a transfer under way; RESOURCE_EXHAUSTED: uncommitted bytes full;
  // FAILED_PRECONDITION: a conf change while another is pending).
  Status Step(const Message& m);

  // Convenience wrappers around Step.
  Status Campaign();
  Status Propose(std::string data);
  Status ProposeConfChange(const ConfChange& cc);
  Status TransferLeader(uint64_t transferee);
  Status ReadIndex(std::string context);
  // Whether this leader's lease holds now (the driver's clock says so): a quorum acknowledged a
  // heartbeat sent less than a lease ago, and none of those voters will vote for another candidate
  // within an election timeout of hearing it (Config::strict_vote_lease). While it holds,
  // ReadIndex requests are answered at once with the commit index, without a heartbeat round.
  // Cleared by any change of role or term and by a configuration change. Once this leader has
  // started a leadership transfer, it is ignored for the rest of the term: the transferee's
  // TimeoutNow makes it campaign past the voters' lease, and its vote requests may arrive late.
  // Requires check_quorum and strict_vote_lease, without which voters make no promise.
  void SetLeaseValid(bool valid) {
    lease_valid_ = valid && config_.check_quorum && config_.strict_vote_lease &&
                   state_ == StateType::kLeader && !lease_forfeited_;
  }
  bool lease_valid() const { return lease_valid_; }
  bool lease_forfeited() const { return lease_forfeited_; }
  // Ticks before this follower's election timer fires (the simulator times faults by it).
  int election_ticks_left() const { return randomized_election_timeout_ - election_elapsed_; }
  // Applies a committed conf change entry; returns the new configuration.
  raftpb::ConfState ApplyConfChange(const ConfChange& cc);
  // Entries up to `index` (of `term`) are durable on this node (RawNode::Advance calls it). The
  // leader counts its own copy toward a quorum from here on, so it may send its appends before
  // its own fsync (thesis §10.2.1): leader and followers write to disk in parallel.
  void OnPersisted(uint64_t index, uint64_t term);
  // Reports a snapshot transfer outcome / an unreachable peer (from the transport).
  void ReportSnapshot(uint64_t to, bool failed);
  void ReportUnreachable(uint64_t to);

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  const Config& config() const { return config_; }
  HardState GetHardState() const;
  // Whether this node may become leader (it is a voter).
  bool Promotable() const { return tracker_.IsVoter(id_); }

  bool HasPendingOutput() const { return !msgs_.empty() || !read_states_.empty(); }
  // Outputs drained by RawNode.
  std::vector<Message>& messages() { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  void ReduceUncommittedSize(const std::vector<Entry>& committed);

 private:
  // Role transitions.
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  void StartCampaign(bool pre_vote, bool transfer);
  void ResetRandomizedElectionTimeout();

  // Step, by role and by concern.
  Status StepByTerm(const Message& m, bool* handled);
  void HandleVoteRequest(const Message& m);
  Status StepLeader(const Message& m);
  Status StepCandidate(const Message& m);
  Status StepFollower(const Message& m);
  Status LeaderPropose(const Message& m);
  void LeaderAppendResponse(const Message& m, Progress& pr);
  void LeaderHeartbeatResponse(const Message& m, Progress& pr);
  void LeaderReadIndex(const Message& m);
  void LeaderTransfer(const Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const Snapshot& snapshot);
  void TickElection();
  void TickHeartbeat();

  // Sending.
  void Send(Message m);
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  bool MaybeSendSnapshot(uint64_t to, Progress& pr);
  void SendHeartbeat(uint64_t to, const std::string& context);
  void SendTimeoutNow(uint64_t to);
  void BcastAppend();
  void BcastHeartbeat(const std::string& context);
  void StartReadRound();
  void RespondToReadIndex(const Message& req, uint64_t read_index);

  // Log helpers.
  bool AppendEntries(std::vector<Entry> ents);
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  bool HasUnappliedConfChange() const;
  void ReleasePendingReadIndexes();
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  bool InStrictVoteLease() const {
    return config_.check_quorum && config_.strict_vote_lease &&
           ticks_since_leader_ < config_.election_tick;
  }

  struct PendingRead {
    Message request;
    uint64_t index = 0;
    std::set<uint64_t> acks;
  };

  Config config_;
  uint64_t id_;
  Random& random_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  StateType state_ = StateType::kFollower;
  RaftLog log_;
  ProgressTracker tracker_;
  std::map<uint64_t, bool> votes_;
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  int election_elapsed_ = 0;
  // Ticks since this node last heard from a leader or started, saturating at election_tick
  // (strict_vote_lease).
  int ticks_since_leader_ = 0;
  int heartbeat_elapsed_ = 0;
  bool lease_valid_ = false;
  bool lease_forfeited_ = false;  // a transfer was started in this term (SetLeaseValid)
  int randomized_election_timeout_ = 0;
  uint64_t lead_transferee_ = kNone;
  uint64_t pending_conf_index_ = 0;
  uint64_t uncommitted_size_ = 0;
  // ReadIndex requests waiting for a heartbeat quorum, in arrival order, keyed by context.
  std::map<std::string, PendingRead> pending_reads_;
  std::deque<std::string> read_queue_;
  // The context of the one round of ReadIndex heartbeats in flight ("" when none): it confirms
  // every request queued up to it. Requests arriving meanwhile wait for the next round, which
  // starts when this one reaches a quorum; periodic heartbeats carry it, so a lost round heals.
  std::string read_round_;
  // ReadIndex requests that arrived before this leader committed an entry of its term.
  std::vector<Message> reads_before_commit_;
};

}  // namespace meta::raft
