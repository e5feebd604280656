#include "store/node.h"

#include <rocksdb/write_batch.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <deque>
#include <set>

#include "core/check.h"
#include "core/fiber.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/sim_hooks.h"
#include "core/transport.h"

namespace meta::store {

struct Node::Group {
  GroupId id = 0;
  std::unique_ptr<LogStorage> log;
  std::unique_ptr<StateMachine> sm;
  std::unique_ptr<Random> random;
  std::unique_ptr<raft::RawNode> raft;
  // Linearizable reads are batched: every reader that arrives before the next turn shares one
  // ReadIndex round (IssueReads), so a read costs a quorum round trip per turn, not per reader.
  struct ReadRound {
    Promise<uint64_t> promise;  // the read index, to every reader of the round
    Instant issued;
    uint64_t lead = raft::kNone;  // the leader it went to, in this term
    uint64_t term = 0;
    // Whether its answer proves leadership as of `issued` (a heartbeat quorum: not answered under
    // the lease), and the lease epoch it was issued in.
    bool confirms = false;
    uint64_t lease_epoch = 0;
  };
  bool read_queued = false;
  Promise<uint64_t> queued_read;  // the next round's readers (when read_queued)
  Instant last_read_issued;
  Instant last_reader;  // when a round last carried readers (renewing the lease is for them)
  // The leader's read lease (NodeOptions::lease_reads): reads are answered without a round until
  // lease_until. A confirming round issued at T in lease_epoch extends it to T + LeaseDuration();
  // a role change or a configuration change moves lease_epoch on, so a round issued before one
  // grants nothing; lease_term catches a new term, and after a leadership transfer Raft ignores
  // the lease for the rest of the term.
  Instant lease_until;
  uint64_t lease_term = 0;
  uint64_t lease_epoch = 0;
  std::map<std::string, ReadRound> reads;                // rounds in flight, by ReadIndex context
  std::multimap<uint64_t, Promise<Unit>> apply_waiters;  // index -> reader waiting to apply it
  // Command bytes applied in the entries the log still holds, for the log's byte bound: one mark
  // (index, bytes applied up to and including it) per applied entry above the log's first index.
  uint64_t applied_bytes = 0;
  uint64_t compacted_bytes = 0;  // applied_bytes as of the last mark below the log's first index
  std::deque<std::pair<uint64_t, uint64_t>> applied_marks;
  uint64_t LogBytes() {
    const uint64_t first = log->FirstIndex();
    while (!applied_marks.empty() && applied_marks.front().first < first) {
      compacted_bytes = applied_marks.front().second;
      applied_marks.pop_front();
    }
    return applied_bytes - compacted_bytes;
  }
  uint64_t lead = raft::kNone;       // the leader as of the last Ready
  bool compact_after_apply = false;  // a member was added: compact once it is applied
  // The durable applied index when this group last started a flush to let its log compact
  // (none: UINT64_MAX); no other is started until that one has moved it.
  uint64_t flush_started_at = UINT64_MAX;
};

Status NodeOptions::Validate() const {
  if (id == 0) return InvalidArgumentError("node id must not be 0");
  if (members.empty() && !join) {
    return InvalidArgumentError("members must list at least this node");
  }
  if (offset_groups == 0 || data_groups == 0 || offset_groups > 99 || data_groups > 1000) {
    return InvalidArgumentError("offset_groups must be in [1, 99] and data_groups in [1, 1000]");
  }
  if (tick_interval <= Duration::Zero()) return InvalidArgumentError("tick_interval must be > 0");
  if (heartbeat_ticks <= 0 || election_ticks <= heartbeat_ticks) {
    return InvalidArgumentError("need 0 < heartbeat_ticks < election_ticks");
  }
  if (write_timeout <= Duration::Zero()) return InvalidArgumentError("write_timeout must be > 0");
  if (max_append_bytes == 0 || max_inflight_appends == 0) {
    return InvalidArgumentError("max_append_bytes and max_inflight_appends must be > 0");
  }
  if (state_machine.proposal_window == 0 || state_machine.proposal_window > UINT32_MAX) {
    return InvalidArgumentError("state_machine.proposal_window must be in [1, 2^32)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Node>> Node::Open(Env& env, const NodeOptions& options) {
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Node> node(new Node(env, options));
  ASSIGN_OR_RETURN(node->engine_, Engine::Open(env.storage(), options.engine));
  RETURN_IF_ERROR(node->LoadGroup(kMetadataGroup));
  for (uint32_t i = 0; i < options.offset_groups; ++i) {
    RETURN_IF_ERROR(node->LoadGroup(OffsetGroup(i)));
  }
  for (uint32_t i = 0; i < options.data_groups; ++i) {
    RETURN_IF_ERROR(node->LoadGroup(DataGroup(i)));
  }
  // Proposal ids start at a random point per process, so an entry proposed by this node before a
  // restart can never be mistaken for one proposed after it.
  node->next_proposal_id_ = env.random().Next() | 1;
  // Likewise ReadIndex contexts: an answer meant for the previous process must not match a round
  // of this one (it would carry an index taken before this round's readers arrived).
  node->next_read_id_ = env.random().Next() | 1;
  return node;
}

Status Node::LoadGroup(GroupId id) {
  auto g = std::make_unique<Group>();
  g->id = id;
  raft::ConfState initial;
  if (!options_.join) {
    for (NodeId m : options_.members) initial.add_voters(m);
  }
  ASSIGN_OR_RETURN(g->log, LogStorage::Load(*engine_, id, initial, options_.log_cache_entries));
  g->sm = std::make_unique<StateMachine>(*engine_, id, options_.state_machine);
  RETURN_IF_ERROR(g->sm->Load().Annotate("group " + std::to_string(id)));
  if (g->sm->applied_index() < g->log->hard_state().commit()) {
    SIM_PROBE("node: a restart re-applies committed entries");
  }
  RETURN_IF_ERROR(g->log->CheckApplied(g->sm->applied_index()));
  // A member added since the bootstrap while the log still starts at its first entry: the
  // compaction its addition asked for may have been cut short by a crash after the flush that
  // made the addition durable (so it is not applied again). Ask again.
  if (g->log->FirstIndex() == 1) {
    const raft::ConfState& cs = g->log->conf_state();
    auto bootstrap = [&](NodeId m) {
      return std::find(options_.members.begin(), options_.members.end(), m) !=
             options_.members.end();
    };
    g->compact_after_apply = !std::all_of(cs.voters().begin(), cs.voters().end(), bootstrap) ||
                             !std::all_of(cs.learners().begin(), cs.learners().end(), bootstrap);
  }
  Group* raw = g.get();
  g->log->SetSnapshotProvider([raw]() -> Result<raft::Snapshot> {
    // Mid-batch (a conf change staged, its conf state already in the log storage) the flushed
    // state and the configuration would disagree: Raft retries later.
    if (raw->sm->staged()) return raft::SnapshotTemporarilyUnavailableError();
    ASSIGN_OR_RETURN(uint64_t term, raw->log->Term(raw->sm->applied_index()));
    return raw->sm->BuildSnapshot(term, raw->log->conf_state());
  });
  g->random = std::make_unique<Random>(env_.random().Stream("raft-group", id));
  raft::Config c;
  c.id = options_.id;
  c.election_tick = options_.election_ticks;
  c.heartbeat_tick = options_.heartbeat_ticks;
  c.applied = g->sm->applied_index();
  c.max_size_per_msg = options_.max_append_bytes;
  c.max_inflight_msgs = options_.max_inflight_appends;
  c.strict_vote_lease = options_.lease_reads;
  g->raft = std::make_unique<raft::RawNode>(c, *g->log, *g->random);
  groups_.emplace(id, std::move(g));
  return Status::Ok();
}

Node::Node(Env& env, const NodeOptions& options) : env_(env), options_(options) {}

Node::~Node() { Stop(); }

void Node::Start() {
  CHECK(!running_) << "node started twice";
  running_ = true;
  Transport* t = env_.transport();
  CHECK(t != nullptr) << "node needs a transport";
  t->SetReceiver([this](NodeId from, std::string payload) { OnFrame(from, payload); });
  tick_timer_ = env_.After(options_.tick_interval, [this] { Tick(); });
  // A group whose only voter is this node elects itself at once instead of waiting out an
  // election timeout. (Its configuration, not the configured members: a cluster started with one
  // member and grown since must not campaign past the read lease its other voters rely on.)
  for (auto& [id, g] : groups_) {
    const std::set<uint64_t>& voters = g->raft->raft().tracker().voters();
    if (voters.size() == 1 && voters.count(options_.id)) g->raft->Campaign().IgnoreError();
  }
  ScheduleTurn();
}

void Node::Stop() {
  if (!running_) return;
  running_ = false;
  env_.Cancel(tick_timer_);
  if (Transport* t = env_.transport()) t->SetReceiver(nullptr);
  FailAllWaiters(AbortedError("node " + std::to_string(options_.id) +
                              " stopped; the outcome of the request is unknown"));
}

void Node::FailAllWaiters(const Status& why) {
  auto writes = std::move(pending_writes_);
  pending_writes_.clear();
  for (auto& [id, w] : writes) w.promise.Set(why);
  for (auto& [id, g] : groups_) {
    auto reads = std::move(g->reads);
    g->reads.clear();
    for (auto& [ctx, round] : reads) round.promise.Set(why);
    if (g->read_queued) {
      g->read_queued = false;
      g->queued_read.Set(why);
    }
    auto waiters = std::move(g->apply_waiters);
    g->apply_waiters.clear();
    for (auto& [index, p] : waiters) p.Set(why);
  }
}

void Node::FailInFlight(Group& g) {
  // A proposal or read forwarded to a leader that lost its role may be dropped without a word;
  // waiting out the write timeout would stall the caller for nothing. Writes may still commit
  // (the new leader may hold them), so their outcome is unknown: a client retries with the same
  // client id and sequence, and the dedup table makes the retry exactly-once.
  AbortPendingWrites(g.id,
                     AbortedError("group " + std::to_string(g.id) +
                                  ": leader changed while the write was in flight; its outcome "
                                  "is unknown (retry with the same sequence)"),
                     "node: in-flight write aborted by a leader change");
  // Rounds sent to the old leader may never be answered; one issued this turn, to the new
  // leader, stands.
  for (auto it = g.reads.begin(); it != g.reads.end();) {
    if (g.lead != raft::kNone && it->second.lead == g.lead &&
        it->second.term == g.raft->raft().term()) {
      ++it;
      continue;
    }
    it->second.promise.Set(UnavailableError("group " + std::to_string(g.id) +
                                            ": leader changed before the read was confirmed"));
    it = g.reads.erase(it);
  }
}

void Node::AbortPendingWrites(GroupId group, const Status& why, const char* probe) {
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    if (it->second.group != group) {
      ++it;
      continue;
    }
    SIM_PROBE(probe);
    it->second.promise.Set(why);
    it = pending_writes_.erase(it);
  }
}

std::vector<GroupId> Node::groups() const {
  std::vector<GroupId> out;
  for (const auto& [id, g] : groups_) out.push_back(id);
  return out;
}

Node::Group& Node::GetGroup(GroupId id) {
  auto it = groups_.find(id);
  CHECK(it != groups_.end()) << "unknown group " << id;
  return *it->second;
}

const Node::Group& Node::GetGroup(GroupId id) const {
  auto it = groups_.find(id);
  CHECK(it != groups_.end()) << "unknown group " << id;
  return *it->second;
}

const raft::Raft& Node::raft(GroupId group) const { return GetGroup(group).raft->raft(); }
StateMachine& Node::state_machine(GroupId group) { return *GetGroup(group).sm; }
const LogStorage& Node::log(GroupId group) const { return *GetGroup(group).log; }

GroupId Node::RouteKv(std::string_view) const { return kMetadataGroup; }

GroupId Node::RouteOffset(std::string_view consumer_group) const {
  return OffsetGroup(static_cast<uint32_t>(HashBytes(consumer_group) % options_.offset_groups));
}

GroupId Node::RouteSession(std::string_view client_id) const {
  return DataGroup(static_cast<uint32_t>(HashBytes(client_id) % options_.data_groups));
}

GroupId Node::RouteCommand(const storepb::Command& cmd) const {
  switch (cmd.op_case()) {
    case storepb::Command::kOffsetCommit:
      return RouteOffset(cmd.offset_commit().group());
    case storepb::Command::kSessionBatch: {
      // A batch lives in one group: routed by its first session (the API layer splits batches
      // that span groups).
      const auto& b = cmd.session_batch();
      if (b.upserts_size() > 0) return RouteSession(b.upserts(0).client_id());
      if (b.deletes_size() > 0) return RouteSession(b.deletes(0));
      return DataGroup(0);
    }
    default:
      return kMetadataGroup;
  }
}

Result<storepb::ApplyResult> Node::Write(storepb::Command cmd) {
  CHECK(fiber::InFiber()) << "Node::Write outside a fiber";
  if (!running_) return UnavailableError("node is stopped");
  if (SIM_BUGGIFY) return UnavailableError("refused before proposing (buggify)");
  Group& g = GetGroup(RouteCommand(cmd));
  const uint64_t pid = next_proposal_id_++;
  cmd.set_origin_node(options_.id);
  cmd.set_proposal_id(pid);
  cmd.set_leader_time_ns(env_.UnixNanos());
  PendingWrite& pending = pending_writes_[pid];
  pending.group = g.id;
  Future<storepb::ApplyResult> done = pending.promise.GetFuture();
  Status s = g.raft->Propose(cmd.SerializeAsString());
  if (!s.ok()) {
    pending_writes_.erase(pid);
    return s.Annotate("group " + std::to_string(g.id));
  }
  ScheduleTurn();
  const Instant start = env_.Now();
  Result<storepb::ApplyResult> r = done.Get(options_.write_timeout);
  pending_writes_.erase(pid);
  const Duration took = env_.Now() - start;
  if (r.status().code() == Code::kDeadlineExceeded) SIM_PROBE("node: write timed out");
  if (took > options_.slow_write) {
    env_.log().warn("slow write to group {}: {} (result {})", g.id, took.ToString(),
                    r.ok() ? "applied" : r.status().ToString());
  }
  return r;
}

Status Node::ReadBarrier(GroupId group) {
  CHECK(fiber::InFiber()) << "Node::ReadBarrier outside a fiber";
  if (!running_) return UnavailableError("node is stopped");
  Group& g = GetGroup(group);
  if (!g.read_queued) {
    g.queued_read = Promise<uint64_t>();
    g.read_queued = true;
  }
  Future<uint64_t> index_future = g.queued_read.GetFuture();
  ScheduleTurn();
  Result<uint64_t> index = index_future.Get(options_.write_timeout);
  if (!index.ok()) return index.status().Annotate("read index");
  if (g.sm->applied_index() >= *index) return Status::Ok();
  SIM_PROBE("node: linearizable read waited for apply");
  auto it = g.apply_waiters.emplace(*index, Promise<Unit>());
  Result<Unit> applied = it->second.GetFuture().Get(options_.write_timeout);
  if (!applied.ok() && running_ && !it->second.IsSet()) g.apply_waiters.erase(it);
  return applied.status();
}

Result<storepb::KvValue> Node::Get(std::string_view key, bool linearizable) {
  const GroupId group = RouteKv(key);
  if (linearizable) RETURN_IF_ERROR(ReadBarrier(group));
  return GetGroup(group).sm->Get(key);
}

Result<std::vector<std::pair<std::string, storepb::KvValue>>> Node::List(
    std::string_view prefix, std::string_view start_after, size_t limit, bool linearizable) {
  if (linearizable) RETURN_IF_ERROR(ReadBarrier(kMetadataGroup));
  return GetGroup(kMetadataGroup).sm->List(prefix, start_after, limit);
}

Result<uint64_t> Node::GetOffset(std::string_view consumer_group, std::string_view topic,
                                 uint32_t partition, bool linearizable) {
  const GroupId group = RouteOffset(consumer_group);
  if (linearizable) RETURN_IF_ERROR(ReadBarrier(group));
  return GetGroup(group).sm->GetOffset(consumer_group, topic, partition);
}

Result<storepb::StoredSession> Node::GetSession(std::string_view client_id, bool linearizable) {
  const GroupId group = RouteSession(client_id);
  if (linearizable) RETURN_IF_ERROR(ReadBarrier(group));
  return GetGroup(group).sm->GetSession(client_id);
}

Status Node::Campaign(GroupId group) {
  Status s = GetGroup(group).raft->Campaign();
  ScheduleTurn();
  return s;
}

Status Node::ProposeConfChange(GroupId group, const raft::ConfChange& cc) {
  if (!running_) return UnavailableError("node is stopped");
  Status s = GetGroup(group).raft->ProposeConfChange(cc);
  ScheduleTurn();
  return s;
}

Status Node::TransferLeader(GroupId group, NodeId to) {
  Status s = GetGroup(group).raft->TransferLeader(to);
  ScheduleTurn();
  return s;
}

void Node::ScheduleTurn() {
  if (turn_scheduled_ || !running_) return;
  turn_scheduled_ = true;
  if (SIM_BUGGIFY) {  // a slow loop: the turn runs a little later
    env_.After(Millis(5), [this] { ProcessTurn(); });
    return;
  }
  env_.Post([this] { ProcessTurn(); });
}

void Node::IssueReads() {
  // One round in flight per group: the readers that arrive meanwhile wait for the next round,
  // which starts when this one answers, so under load a round serves everyone queued behind it.
  // A round that seems lost (a dropped message) stops holding the next one back after a
  // heartbeat interval. Under the leader's lease nobody waits: Raft answers at once.
  const Instant now = env_.Now();
  const Duration patience = options_.tick_interval * options_.heartbeat_ticks;
  const Duration lease = options_.LeaseDuration();
  for (auto& [id, g] : groups_) {
    const raft::Raft& r = g->raft->raft();
    RefreshLease(*g);
    const bool leased = r.lease_valid();
    if (g->read_queued && (leased || g->reads.empty() || now - g->last_read_issued >= patience)) {
      g->read_queued = false;
      g->last_reader = now;
      IssueRound(*g, std::move(g->queued_read), /*use_lease=*/true);
    }
    // While reads keep coming (this node's or those its followers forward), a leader confirms
    // itself before the lease runs out, or to win it back, so that they need no round of their
    // own.
    if (options_.lease_reads && r.state() == raft::StateType::kLeader && !r.lease_forfeited() &&
        now - g->last_reader < lease && (!leased || g->lease_until - now < lease / 2) &&
        std::none_of(g->reads.begin(), g->reads.end(),
                     [](const auto& round) { return round.second.confirms; })) {
      SIM_PROBE("node: leader confirms itself to keep its read lease");
      IssueRound(*g, Promise<uint64_t>(), /*use_lease=*/false);
    }
    g->raft->SetLeaseValid(false);  // until the next check against the clock
  }
}

void Node::IssueRound(Group& g, Promise<uint64_t> round, bool use_lease) {
  const Instant now = env_.Now();
  const bool leased = g.raft->raft().lease_valid();
  std::string ctx = "n" + std::to_string(options_.id) + "-" + std::to_string(next_read_id_++);
  if (!use_lease) g.raft->SetLeaseValid(false);  // the caller clears it after anyway
  Status s = g.raft->ReadIndex(ctx);
  if (!s.ok()) {
    round.Set(s.Annotate("group " + std::to_string(g.id)));
    return;
  }
  const raft::Raft& r = g.raft->raft();
  g.reads.emplace(std::move(ctx),
                  Group::ReadRound{std::move(round), now, r.lead(), r.term(),
                                   /*confirms=*/!(use_lease && leased), g.lease_epoch});
  g.last_read_issued = now;
}

void Node::RefreshLease(Group& g) {
  // (After a leadership transfer Raft ignores the lease for the rest of the term.)
  g.raft->SetLeaseValid(options_.lease_reads && env_.Now() < g.lease_until &&
                        g.lease_term == g.raft->raft().term());
}

void Node::VoidLease(Group& g) {
  g.lease_until = Instant();
  ++g.lease_epoch;
}

void Node::GrantLease(Group& g, Instant issued, uint64_t term, uint64_t epoch) {
  const raft::Raft& r = g.raft->raft();
  if (!options_.lease_reads || epoch != g.lease_epoch || r.state() != raft::StateType::kLeader ||
      r.term() != term) {
    return;
  }
  // A quorum heard from this leader after `issued`: none of them votes for another candidate
  // for an election timeout from then.
  g.lease_until = std::max(g.lease_until, issued + options_.LeaseDuration());
  g.lease_term = term;
}

void Node::ExpireReads() {
  // A round whose request or answer was lost without a leader change would wait forever; its
  // readers have given up after the write timeout, so the round goes too.
  const Instant now = env_.Now();
  for (auto& [id, g] : groups_) {
    for (auto it = g->reads.begin(); it != g->reads.end();) {
      if (now - it->second.issued <= options_.write_timeout) {
        ++it;
        continue;
      }
      it->second.promise.Set(
          DeadlineExceededError("read index round " + it->first + " got no answer"));
      it = g->reads.erase(it);
    }
  }
}

void Node::Tick() {
  if (!running_) return;
  ExpireReads();
  for (auto& [id, g] : groups_) g->raft->Tick();
  tick_timer_ = env_.After(options_.tick_interval, [this] { Tick(); });
  ScheduleTurn();
}

void Node::ProcessTurn() {
  turn_scheduled_ = false;
  if (!running_) return;
  IssueReads();
  std::vector<std::pair<Group*, raft::Ready>> readies;
  for (auto& [id, g] : groups_) {
    if (!g->raft->HasReady()) continue;
    readies.emplace_back(g.get(), g->raft->GetReady());
    if (readies.back().second.soft_state) VoidLease(*g);
    if (readies.back().second.soft_state && readies.back().second.soft_state->lead != g->lead) {
      g->lead = readies.back().second.soft_state->lead;
      FailInFlight(*g);
    }
  }
  // A failed log read may have steered Raft wrong (this turn, or since the last one): nothing of
  // it may reach the disk or the network.
  for (auto& [id, g] : groups_) {
    if (const Status& e = g->raft->raft().log().storage_error(); !e.ok()) {
      return FailStop(e.Annotate("group " + std::to_string(id)));
    }
  }
  if (readies.empty()) return;
  ++turns_;
  // A leader's appends and heartbeats claim nothing about its own disk, so they go out before
  // its fsync and the followers write in parallel with it (its own copy counts toward a quorum
  // only once persisted: raft::Raft::OnPersisted). What a term or vote change rides on waits.
  std::vector<std::pair<Group*, raft::Ready>> early;
  for (auto& [g, rd] : readies) {
    if (rd.messages.empty() || !SendsBeforePersist(*g, rd)) continue;
    raft::Ready messages_only;
    messages_only.messages = std::move(rd.messages);
    rd.messages.clear();
    early.emplace_back(g, std::move(messages_only));
  }
  if (!early.empty()) SendMessages(early);
  if (Status s = Persist(readies); !s.ok()) return FailStop(s);
  SendMessages(readies);
  for (auto& [g, rd] : readies) {
    if (Status s = ApplyReady(*g, rd); !s.ok()) return FailStop(s);
    g->raft->Advance(rd);
    MaybeCompact(*g);
    if (!running_) return;  // fail-stopped while compacting
  }
  for (auto& [id, g] : groups_) {
    if (g->raft->HasReady()) {
      ScheduleTurn();
      break;
    }
  }
}

void Node::FailStop(const Status& why) {
  // A node that cannot persist or apply must not go on as if it had: it stops serving at once
  // and its process must restart (metad exits; the simulator power-cycles it).
  SIM_PROBE("node: fail-stop on an I/O error");
  env_.log().error("fail-stop: {}", why.ToString());
  failure_ = why;
  Stop();
}

bool Node::SendsBeforePersist(const Group& g, const raft::Ready& rd) const {
  const raft::HardState& stored = g.log->hard_state();
  return g.raft->raft().state() == raft::StateType::kLeader && !rd.snapshot &&
         (!rd.hard_state ||
          (rd.hard_state->term() == stored.term() && rd.hard_state->vote() == stored.vote()));
}

Status Node::Persist(std::vector<std::pair<Group*, raft::Ready>>& readies) {
  rocksdb::WriteBatch batch;
  bool sync = false;
  for (auto& [g, rd] : readies) {
    if (rd.snapshot) {
      RETURN_IF_ERROR(g->sm->InstallSnapshot(batch, *rd.snapshot)
                          .Annotate("group " + std::to_string(g->id) + ": installing a snapshot"));
      g->log->ApplySnapshot(batch, rd.snapshot->metadata());
    }
    g->log->Append(batch, rd.entries);
    if (rd.hard_state) g->log->SetHardState(batch, *rd.hard_state);
    sync |= rd.must_sync;
  }
  if (batch.Count() == 0) return Status::Ok();
  RETURN_IF_ERROR(engine_->Write(batch, sync).Annotate("persisting Raft state"));
  for (auto& [g, rd] : readies) {
    // The install's range tombstone slows every read of its memtable until that is flushed
    // (unless a flush is under way already, this one's turn comes when that memtable fills).
    if (rd.snapshot) RETURN_IF_ERROR(engine_->StartFlush(engine_->data(TypeOf(g->id))).status());
  }
  return Status::Ok();
}

namespace {

void AddHeartbeat(storepb::CoalescedHeartbeats& hb, GroupId group, const raft::Message& m) {
  hb.add_groups(group);
  hb.add_terms(m.term());
  hb.add_commits(m.commit());
}

// Splits a MSG_SNAP whose data exceeds one chunk into frames of kSnapshotChunkBytes.
std::vector<storepb::RaftFrame> ChunkSnapshot(GroupId group, raft::Message m) {
  std::string data = std::move(*m.mutable_snapshot()->mutable_data());
  m.mutable_snapshot()->clear_data();
  const size_t chunks = (data.size() + kSnapshotChunkBytes - 1) / kSnapshotChunkBytes;
  std::vector<storepb::RaftFrame> frames(chunks);
  for (size_t i = 0; i < chunks; ++i) {
    storepb::SnapshotChunk* c = frames[i].mutable_snapshot_chunk();
    c->set_group(group);
    c->set_snapshot_index(m.snapshot().metadata().index());
    c->set_chunk(static_cast<uint32_t>(i));
    c->set_chunks(static_cast<uint32_t>(chunks));
    c->set_data(data.substr(i * kSnapshotChunkBytes, kSnapshotChunkBytes));
    if (i + 1 == chunks) *c->mutable_message() = m;
  }
  return frames;
}

}  // namespace

void Node::SendMessages(std::vector<std::pair<Group*, raft::Ready>>& readies) {
  struct Outgoing {
    storepb::RaftFrame frame;
    std::set<GroupId> groups;        // groups with a message in `frame`
    std::vector<GroupId> snapshots;  // groups whose MSG_SNAP rides in `frame` or its chunks
    std::vector<storepb::RaftFrame> chunk_frames;
  };
  std::map<NodeId, Outgoing> out;
  for (auto& [g, rd] : readies) {
    for (raft::Message& m : rd.messages) {
      Outgoing& o = out[m.to()];
      o.groups.insert(g->id);
      if (m.type() == raftpb::MSG_HEARTBEAT && m.context().empty()) {
        AddHeartbeat(*o.frame.mutable_heartbeats(), g->id, m);
        continue;
      }
      if (m.type() == raftpb::MSG_HEARTBEAT_RESP && m.context().empty()) {
        AddHeartbeat(*o.frame.mutable_heartbeat_responses(), g->id, m);
        continue;
      }
      if (m.type() == raftpb::MSG_SNAP) {
        o.snapshots.push_back(g->id);
        if (m.snapshot().data().size() > kSnapshotChunkBytes) {
          for (auto& f : ChunkSnapshot(g->id, std::move(m))) o.chunk_frames.push_back(std::move(f));
          continue;
        }
      }
      storepb::GroupMessage* gm = o.frame.add_messages();
      gm->set_group(g->id);
      *gm->mutable_message() = std::move(m);
    }
  }
  Transport* t = env_.transport();
  for (auto& [peer, o] : out) {
    o.frame.set_cluster_id(options_.cluster_id);
    o.frame.set_from(options_.id);
    bool sent = t->Send(peer, o.frame.SerializeAsString()).ok();
    for (storepb::RaftFrame& f : o.chunk_frames) {
      f.set_cluster_id(options_.cluster_id);
      f.set_from(options_.id);
      sent = t->Send(peer, f.SerializeAsString()).ok() && sent;
    }
    for (GroupId g : o.snapshots) GetGroup(g).raft->ReportSnapshot(peer, !sent);
    if (!sent) {
      for (GroupId g : o.groups) GetGroup(g).raft->ReportUnreachable(peer);
    }
  }
}

Status Node::ApplyReady(Group& g, raft::Ready& rd) {
  if (rd.snapshot) {
    SIM_PROBE("node: snapshot installed");
    RETURN_IF_ERROR(g.sm->OnSnapshotInstalled(rd.snapshot->metadata().index())
                        .Annotate("group " + std::to_string(g.id)));
    // This node applies no entry up to the snapshot's index, so a write of its own committed
    // there is never answered by its entry. Nor may a later copy of the same proposal answer it
    // (a duplicated MSG_PROP makes two entries): that copy is a no-op ("duplicate proposal") which
    // says nothing of what the first did. Any write in flight may be in the snapshot: its outcome
    // is unknown (a retry with the same client id and sequence is answered by the dedup table).
    AbortPendingWrites(g.id,
                       AbortedError("group " + std::to_string(g.id) + ": a snapshot at index " +
                                    std::to_string(rd.snapshot->metadata().index()) +
                                    " replaced the log while the write was in flight; its "
                                    "outcome is unknown (retry with the same sequence)"),
                       "node: in-flight write aborted by a snapshot");
  }
  // Every committed entry is staged, then written as one batch, and only then are the writers
  // answered: an answer never runs ahead of the state it describes.
  std::vector<std::pair<PendingWrite, storepb::ApplyResult>> answers;
  Status s = Status::Ok();
  for (const raft::Entry& e : rd.committed_entries) {
    if (s = ApplyEntry(g, e, answers); !s.ok()) break;
  }
  if (s.ok()) s = g.sm->Flush().Annotate("group " + std::to_string(g.id) + ": applying");
  if (!s.ok()) {
    // The node fail-stops; these writes are committed and will apply after the restart.
    for (auto& [w, result] : answers) {
      w.promise.Set(AbortedError("node " + std::to_string(options_.id) +
                                 " failed while applying; the outcome is unknown"));
    }
    return s;
  }
  for (auto& [w, result] : answers) w.promise.Set(std::move(result));
  while (!g.apply_waiters.empty() && g.apply_waiters.begin()->first <= g.sm->applied_index()) {
    g.apply_waiters.begin()->second.Set(Unit{});
    g.apply_waiters.erase(g.apply_waiters.begin());
  }
  for (const raft::ReadState& rs : rd.read_states) {
    auto it = g.reads.find(rs.context);
    if (it == g.reads.end()) continue;  // the round expired
    const Group::ReadRound& round = it->second;
    if (round.confirms) GrantLease(g, round.issued, round.term, round.lease_epoch);
    it->second.promise.Set(rs.index);
    g.reads.erase(it);
  }
  if (g.read_queued && g.reads.empty()) ScheduleTurn();  // the next round may start
  return Status::Ok();
}

Status Node::ApplyEntry(Group& g, const raft::Entry& e,
                        std::vector<std::pair<PendingWrite, storepb::ApplyResult>>& answers) {
  if (e.index() <= g.sm->applied_index()) return Status::Ok();  // inside an installed snapshot
  Result<storepb::ApplyResult> r = InternalError("not applied");
  StateMachine::Proposer proposer;
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    raft::ConfChange cc;
    if (cc.ParseFromString(e.data())) {
      const raft::ConfState& before = g.log->conf_state();
      const bool newcomer = cc.type() != raftpb::REMOVE_NODE &&
                            std::find(before.voters().begin(), before.voters().end(),
                                      cc.node_id()) == before.voters().end() &&
                            std::find(before.learners().begin(), before.learners().end(),
                                      cc.node_id()) == before.learners().end();
      // A newcomer must start from a snapshot: the log before this entry does not say who the
      // members were (the bootstrap membership is not in it). Compacting once this is applied
      // and flushed, on every replica, makes the leader send one (the newcomer refuses the log
      // from its start meanwhile: StepMessage).
      g.compact_after_apply |= newcomer;
      const raft::ConfState conf = g.raft->ApplyConfChange(cc);
      VoidLease(g);
      r = g.sm->Stage(e, [&](rocksdb::WriteBatch& batch) { g.log->SetConfState(batch, conf); });
    } else {
      r = g.sm->Stage(e);  // a malformed change is skipped, identically on every replica
    }
  } else {
    r = g.sm->Stage(e, nullptr, &proposer);
  }
  if (!r.ok()) return r.status().Annotate("group " + std::to_string(g.id) + ": applying");
  ++entries_applied_;
  g.applied_bytes += e.data().size();
  g.applied_marks.emplace_back(e.index(), g.applied_bytes);
  if (proposer.origin != options_.id || pending_writes_.empty()) return Status::Ok();
  auto it = pending_writes_.find(proposer.proposal_id);
  if (it == pending_writes_.end()) return Status::Ok();  // the writer timed out
  answers.emplace_back(std::move(it->second), std::move(*r));
  pending_writes_.erase(it);
  return Status::Ok();
}

void Node::MaybeCompact(Group& g) {
  const uint64_t applied = g.sm->applied_index();
  if (g.compact_after_apply && applied >= g.log->FirstIndex()) {
    // A newcomer's snapshot needs any compaction at all; keep at it until one happens.
    g.compact_after_apply = !CompactDurable(g, applied, /*may_flush=*/true);
    return;
  }
  // Buggify: compact early (any applied index is a legal snapshot point), flushing for it.
  if (SIM_BUGGIFY && applied >= g.log->FirstIndex()) {
    CompactDurable(g, applied, /*may_flush=*/true);
    return;
  }
  const uint64_t bytes = g.LogBytes();
  if (applied < g.log->FirstIndex() + options_.snapshot_entries &&
      bytes < options_.snapshot_bytes) {
    return;
  }
  // Applied state mostly reaches the disk as memtables fill. Only a log twice past its bounds
  // starts a flush: one at every compaction would write many small table files.
  const bool may_flush = applied >= g.log->FirstIndex() + 2 * options_.snapshot_entries ||
                         bytes >= 2 * options_.snapshot_bytes;
  // Keep the last snapshot_catchup_entries: a follower a little behind catches up from the log
  // instead of needing a whole snapshot (building, sending and installing one costs far more).
  // (Not when the log grew by bytes: keeping entries would defeat the byte bound.)
  if (bytes >= options_.snapshot_bytes) {
    CompactDurable(g, applied, may_flush);
    return;
  }
  const uint64_t keep = std::min(options_.snapshot_catchup_entries, options_.snapshot_entries / 2);
  CompactDurable(g, applied - keep,
                 may_flush);  // >= FirstIndex(): applied >= FirstIndex() + 2 * keep
}

bool Node::CompactDurable(Group& g, uint64_t index, bool may_flush) {
  // Apply writes without the WAL, so the log keeps every entry a crash could un-apply.
  Result<uint64_t> durable = g.sm->DurableAppliedIndex();
  if (!durable.ok()) {
    FailStop(durable.status());
    return false;
  }
  index = std::min(index, *durable);
  if (index < g.log->FirstIndex()) {
    if (may_flush && *durable != g.flush_started_at) {
      Result<bool> started = engine_->StartFlush(engine_->data(TypeOf(g.id)));
      if (!started.ok()) {
        FailStop(started.status().Annotate("group " + std::to_string(g.id)));
      } else if (*started) {
        SIM_PROBE("node: compaction waits for a flush of applied state");
        g.flush_started_at = *durable;
      }
    }
    return false;
  }
  SIM_PROBE("node: log compacted");
  if (Status s = g.log->Compact(index); !s.ok()) {
    FailStop(s.Annotate("group " + std::to_string(g.id) + ": compacting the log"));
    return false;
  }
  return true;
}

Result<bool> Node::CompactNow(GroupId group, uint64_t up_to) {
  if (!running_) return UnavailableError("node is stopped");
  Group& g = GetGroup(group);
  up_to = std::min(up_to, g.sm->applied_index());
  if (up_to < g.log->FirstIndex()) return true;  // nothing new
  CompactDurable(g, up_to, /*may_flush=*/true);
  RETURN_IF_ERROR(failure_);
  return g.log->FirstIndex() > up_to;
}

void Node::OnFrame(NodeId from, const std::string& payload) {
  if (!running_) return;
  storepb::RaftFrame frame;
  if (!frame.ParseFromString(payload)) {
    env_.log().warn("dropping a malformed Raft frame from node {}", from);
    return;
  }
  if (frame.cluster_id() != options_.cluster_id || frame.from() != from) {
    env_.log().warn("dropping a Raft frame from node {} claiming cluster {} node {}", from,
                    frame.cluster_id(), frame.from());
    return;
  }
  for (const storepb::GroupMessage& gm : frame.messages())
    StepMessage(from, gm.group(), gm.message());
  ExpandHeartbeats(from, frame.heartbeats(), raftpb::MSG_HEARTBEAT);
  ExpandHeartbeats(from, frame.heartbeat_responses(), raftpb::MSG_HEARTBEAT_RESP);
  if (frame.has_snapshot_chunk()) OnSnapshotChunk(from, frame.snapshot_chunk());
  ScheduleTurn();
}

void Node::StepMessage(NodeId from, GroupId group, const raft::Message& m) {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    env_.log().warn("dropping a message for unknown group {} from node {}", group, from);
    return;
  }
  // Forwarded proposals, read requests and transfer requests keep their origin as sender; every
  // other message must come from the node that sent the frame.
  const bool forwarded = m.type() == raftpb::MSG_PROP || m.type() == raftpb::MSG_READ_INDEX ||
                         m.type() == raftpb::MSG_TRANSFER_LEADER;
  if (m.from() != from && !forwarded) {
    env_.log().warn("dropping a message from node {} that claims to be from {}", from, m.from());
    return;
  }
  if (m.to() != options_.id) {
    env_.log().warn("dropping a message from node {} addressed to node {}", from, m.to());
    return;
  }
  if (options_.join && m.type() == raftpb::MSG_APP && m.index() == 0 &&
      it->second->log->LastIndex() == 0) {
    // A member that joined starts from a snapshot: the log's first entries were written under the
    // bootstrap membership, which it never had, so applying them would give it a configuration
    // of its own. The members compact their logs once they apply its addition; until a flush of
    // applied state lets them, the leader offers the log from its start, and this node waits.
    SIM_PROBE("node: a newcomer refuses the log from its start");
    return;
  }
  if (m.type() != raftpb::MSG_READ_INDEX) {
    it->second->raft->Step(m).IgnoreError();  // a refused step (e.g. stale) needs no answer
    return;
  }
  // A follower's forwarded read: Raft answers it at once under a lease that holds now. The lease
  // is only ever told to Raft right where it was checked against the clock.
  Group& g = *it->second;
  g.last_reader = env_.Now();
  RefreshLease(g);
  g.raft->Step(m).IgnoreError();
  g.raft->SetLeaseValid(false);
}

void Node::ExpandHeartbeats(NodeId from, const storepb::CoalescedHeartbeats& hb,
                            raftpb::MessageType type) {
  if (hb.terms_size() != hb.groups_size() || hb.commits_size() != hb.groups_size()) {
    env_.log().warn("dropping malformed coalesced heartbeats from node {}", from);
    return;
  }
  for (int i = 0; i < hb.groups_size(); ++i) {
    raft::Message m;
    m.set_type(type);
    m.set_from(from);
    m.set_to(options_.id);
    m.set_term(hb.terms(i));
    if (type == raftpb::MSG_HEARTBEAT) m.set_commit(hb.commits(i));
    StepMessage(from, hb.groups(i), m);
  }
}

void Node::OnSnapshotChunk(NodeId from, const storepb::SnapshotChunk& c) {
  auto key = std::make_pair(from, c.group());
  SnapshotAssembly& a = snapshot_assemblies_[key];
  if (c.chunk() == 0) a = SnapshotAssembly{c.snapshot_index(), 0, ""};
  // Chunks of one snapshot arrive in order on one link; anything else restarts the assembly.
  if (a.snapshot_index != c.snapshot_index() || a.next_chunk != c.chunk() ||
      a.data.size() + c.data().size() > kMaxSnapshotBytes) {
    snapshot_assemblies_.erase(key);
    return;
  }
  a.data += c.data();
  ++a.next_chunk;
  if (a.next_chunk < c.chunks()) return;
  raft::Message m = c.message();
  SIM_PROBE("node: chunked snapshot reassembled");
  m.mutable_snapshot()->set_data(std::move(a.data));
  snapshot_assemblies_.erase(key);
  StepMessage(from, c.group(), m);
}

}  // namespace meta::store
