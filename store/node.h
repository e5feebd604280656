// The node driver: one node's Raft groups (metadata ×1, offset ×N, data ×N), its RocksDB, and the
// loop that drives them on the node's Env. Everything runs on the Env's single loop; request
// handlers are fibers that call Write/Read and suspend until their command is applied.
//
// One loop turn (ProcessTurn), for all groups together:
//   1. send the messages of groups this node leads (appends, heartbeats): followers persist in
//      parallel with the leader's own fsync;
//   2. persist every group's Ready — entries, hard states, received snapshots — in ONE WriteBatch
//      with ONE fsync (group commit), then send the other messages (votes, acknowledgements),
//      one RaftFrame per peer;
//   3. apply committed entries (a group's entries of the turn, their data and the applied index,
//      in one atomic RocksDB write) and answer the waiting proposers and readers;
//   4. Advance every group; compact logs past the snapshot threshold.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/future.h"
#include "proto/store.pb.h"
#include "raft/raw_node.h"
#include "store/engine.h"
#include "store/log_storage.h"
#include "store/state_machine.h"

namespace meta::store {

struct NodeOptions {
  NodeId id = 0;
  uint64_t cluster_id = 1;
  // The initial voters of every group when a node starts on an empty disk. On restart the
  // membership stored on disk wins.
  std::vector<NodeId> members;
  // Joining a running cluster (after `member add`): start with no membership at all, so this node
  // never campaigns on a made-up configuration; the leader's log or snapshot brings the real one.
  bool join = false;
  uint32_t offset_groups = 1;
  uint32_t data_groups = 1;
  // Raft timing. With a 10 ms tick: heartbeat 250 ms; election timeout 300 ms (the seed's 299 ms
  // rounded up to the tick), randomized up to 600 ms.
  Duration tick_interval = Millis(10);
  int heartbeat_ticks = 25;
  int election_ticks = 30;
  Duration write_timeout = Seconds(30);
  Duration slow_write = Millis(1000);
  // A group's log is compacted (its state becoming the snapshot base) once this many entries, or
  // this many bytes of commands, were applied since the last compaction.
  uint64_t snapshot_entries = 10000;
  uint64_t snapshot_bytes = 64 << 20;
  // Entries kept below the applied index when compacting by count (etcd keeps 5000 too), so a
  // follower slightly behind is served from the log rather than sent a snapshot. Capped at half of
  // snapshot_entries; compacting by bytes keeps none.
  uint64_t snapshot_catchup_entries = 5000;
  // Lease-based linearizable reads: a leader that a quorum confirmed less than LeaseDuration()
  // ago answers reads without another heartbeat round (raft::Raft::SetLeaseValid). Safe while
  // monotonic clocks run within 10 % of each other and a paused process notices the time it lost
  // (it does: the lease is checked against the clock when a read arrives). Off: every read
  // confirms leadership with a ReadIndex round.
  bool lease_reads = true;
  // Flow control of each follower's replication: bytes of entries per append (at least one entry
  // goes) and appends in flight.
  uint64_t max_append_bytes = 1 << 20;
  size_t max_inflight_appends = 256;
  // The newest log entries of each group kept in memory; older ones are read from RocksDB.
  size_t log_cache_entries = kLogTailCacheEntries;
  StateMachineOptions state_machine;
  EngineOptions engine;

  Status Validate() const;
  // A voter that heard from the leader ignores candidates for at least election_ticks - 1 ticks
  // (raft::Config::strict_vote_lease); the lease is 90 % of that, counted from
  // when the confirming round left the leader.
  Duration LeaseDuration() const { return tick_interval * (election_ticks - 1) * 9 / 10; }
};

class Node {
 public:
  // Opens the node's RocksDB (env.storage()) and loads every group. Loop thread only.
  static Result<std::unique_ptr<Node>> Open(Env& env, const NodeOptions& options);
  ~Node();

  // Starts ticking and receiving. Stop() ends both and fails every waiting caller (UNAVAILABLE).
  void Start();
  void Stop();

  // Routing: a key's group is a stable hash of its routing key.
  GroupId RouteKv(std::string_view key) const;
  GroupId RouteOffset(std::string_view consumer_group) const;
  GroupId RouteSession(std::string_view client_id) const;
  GroupId RouteCommand(const storepb::Command& cmd) const;

  // Fiber only. Proposes `cmd` (stamped with this node's id, a proposal id and the time) and
  // waits until it is applied. Errors say whether it may have been applied:
  //   UNAVAILABLE — not proposed (no leader known, node stopped): safe to retry;
  //   DEADLINE_EXCEEDED (write timeout) or ABORTED (node stopping) — proposed, outcome unknown.
  Result<storepb::ApplyResult> Write(storepb::Command cmd);
  // Fiber only. Linearizable read barrier (ReadIndex): returns once this node's state machine for
  // `group` reflects every write acknowledged before the call. The readers that arrive before the
  // next loop turn share one ReadIndex round.
  Status ReadBarrier(GroupId group);

  // Reads; `linearizable` runs ReadBarrier first (fiber only), else reads local applied state.
  Result<storepb::KvValue> Get(std::string_view key, bool linearizable);
  Result<std::vector<std::pair<std::string, storepb::KvValue>>> List(std::string_view prefix,
                                                                     std::string_view start_after,
                                                                     size_t limit,
                                                                     bool linearizable);
  Result<uint64_t> GetOffset(std::string_view consumer_group, std::string_view topic,
                             uint32_t partition, bool linearizable);
  Result<storepb::StoredSession> GetSession(std::string_view client_id, bool linearizable);

  // Administration. Campaign starts an election at once, past the vote refusal that other leaders'
  // read leases rely on: for tests, and for a group whose only voter is this node.
  Status Campaign(GroupId group);
  // Proposes a membership change of `group` (one server at a time; see raft/raft.h). It takes
  // effect when applied; watch raft(group).tracker() for the outcome.
  Status ProposeConfChange(GroupId group, const raft::ConfChange& cc);
  Status TransferLeader(GroupId group, NodeId to);
  // Compacts `group`'s log up to `up_to` (capped at its applied index; the state becomes the
  // snapshot base) as far as applied state is on disk, and starts a flush if that is not far
  // enough. Whether the log now starts after `up_to`; if not, call again after a while.
  Result<bool> CompactNow(GroupId group, uint64_t up_to = UINT64_MAX);

  // Introspection.
  NodeId id() const { return options_.id; }
  bool running() const { return running_; }
  const NodeOptions& options() const { return options_; }
  std::vector<GroupId> groups() const;
  const raft::Raft& raft(GroupId group) const;
  StateMachine& state_machine(GroupId group);
  const LogStorage& log(GroupId group) const;
  Engine& engine() { return *engine_; }
  uint64_t turns() const { return turns_; }
  // Set once the node fail-stopped (a write or apply failed): it serves nothing any more and its
  // process must be restarted.
  const Status& failure() const { return failure_; }
  uint64_t entries_applied() const { return entries_applied_; }

 private:
  struct Group;
  struct PendingWrite {
    GroupId group = 0;
    Promise<storepb::ApplyResult> promise;
  };

  Node(Env& env, const NodeOptions& options);
  Status LoadGroup(GroupId id);
  Group& GetGroup(GroupId id);
  const Group& GetGroup(GroupId id) const;
  void ScheduleTurn();
  void ProcessTurn();
  // Starts one ReadIndex round per group for the readers queued since the last turn.
  void IssueReads();
  // Brings `g`'s lease up to date with its Raft state and the clock, and tells Raft whether it
  // holds — right before a read request steps Raft; the caller clears it again after.
  void RefreshLease(Group& g);
  // Asks Raft for a read index for `round`'s readers; !use_lease: by a heartbeat round even
  // under the lease (renewing it).
  void IssueRound(Group& g, Promise<uint64_t> round, bool use_lease);
  // Ends `g`'s lease; rounds issued before now can no longer grant one.
  void VoidLease(Group& g);
  // A confirming round issued at `issued`, in `term` and `epoch`, was answered: the lease runs
  // from its issue, if this node is still the leader it confirmed.
  void GrantLease(Group& g, Instant issued, uint64_t term, uint64_t epoch);
  void ExpireReads();
  Status Persist(std::vector<std::pair<Group*, raft::Ready>>& readies);
  // A leader whose term and vote are already on disk may send this Ready's messages first.
  bool SendsBeforePersist(const Group& g, const raft::Ready& rd) const;
  void SendMessages(std::vector<std::pair<Group*, raft::Ready>>& readies);
  Status ApplyReady(Group& g, raft::Ready& rd);
  // Stages `e`; the write waiting for it, if any, goes to `answers` (answered after the flush).
  Status ApplyEntry(Group& g, const raft::Entry& e,
                    std::vector<std::pair<PendingWrite, storepb::ApplyResult>>& answers);
  void FailStop(const Status& why);
  void MaybeCompact(Group& g);
  // Compacts the log up to `index`, or up to the durable applied index if lower. If that leaves
  // nothing to compact, `may_flush` starts a flush of applied state (for a later turn). Whether
  // anything was compacted.
  bool CompactDurable(Group& g, uint64_t index, bool may_flush);
  // The group's leader changed: what was in flight through the old one may never come back.
  void FailInFlight(Group& g);
  // Answers every write of `group` still waiting with `why` (a leader change, a snapshot: the
  // outcome is unknown), counting SIM_PROBE `probe` for each.
  void AbortPendingWrites(GroupId group, const Status& why, const char* probe);
  void OnFrame(NodeId from, const std::string& payload);
  void StepMessage(NodeId from, GroupId group, const raft::Message& m);
  void ExpandHeartbeats(NodeId from, const storepb::CoalescedHeartbeats& hb,
                        raftpb::MessageType type);
  void OnSnapshotChunk(NodeId from, const storepb::SnapshotChunk& chunk);
  void Tick();
  void FailAllWaiters(const Status& why);

  Env& env_;
  NodeOptions options_;
  std::unique_ptr<Engine> engine_;
  std::map<GroupId, std::unique_ptr<Group>> groups_;
  std::map<uint64_t, PendingWrite> pending_writes_;  // proposal id -> waiting writer
  struct SnapshotAssembly {
    uint64_t snapshot_index = 0;
    uint32_t next_chunk = 0;
    std::string data;
  };
  std::map<std::pair<NodeId, GroupId>, SnapshotAssembly> snapshot_assemblies_;
  uint64_t next_proposal_id_ = 1;
  uint64_t next_read_id_ = 1;
  bool turn_scheduled_ = false;
  bool running_ = false;
  TimerId tick_timer_;
  Status failure_;
  uint64_t turns_ = 0;
  uint64_t entries_applied_ = 0;
};

}  // namespace meta::store
