#include "raft/raft.h"

#include <algorithm>

#include "core/check.h"
#include "core/sim_hooks.h"

namespace meta::raft {
namespace {

constexpr char kTransferContext[] = "transfer";

bool IsLocal(MessageType t) {
  return t == raftpb::MSG_HUP || t == raftpb::MSG_BEAT || t == raftpb::MSG_PROP ||
         t == raftpb::MSG_CHECK_QUORUM || t == raftpb::MSG_SNAP_STATUS ||
         t == raftpb::MSG_UNREACHABLE || t == raftpb::MSG_TRANSFER_LEADER;
}

uint64_t PayloadSize(const std::vector<Entry>& ents) {
  uint64_t n = 0;
  for (const Entry& e : ents) n += e.data().size();
  return n;
}

Message Make(MessageType type, uint64_t to) {
  Message m;
  m.set_type(type);
  m.set_to(to);
  return m;
}

}  // namespace

const char* StateName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "follower";
    case StateType::kCandidate:
      return "candidate";
    case StateType::kLeader:
      return "leader";
    case StateType::kPreCandidate:
      return "pre-candidate";
  }
  return "?";
}

Status Config::Validate() const {
  if (id == kNone) return InvalidArgumentError("raft config: id must not be 0");
  if (heartbeat_tick <= 0) return InvalidArgumentError("raft config: heartbeat_tick must be > 0");
  if (election_tick <= heartbeat_tick) {
    return InvalidArgumentError("raft config: election_tick must be > heartbeat_tick");
  }
  if (max_inflight_msgs == 0) {
    return InvalidArgumentError("raft config: max_inflight_msgs must be > 0");
  }
  if (max_size_per_msg == 0)
    return InvalidArgumentError("raft config: max_size_per_msg must be > 0");
  return Status::Ok();
}

Raft::Raft(const Config& config, const Storage& storage, Random& random)
    : config_(config),
      id_(config.id),
      random_(random),
      log_(storage),
      tracker_(config.max_inflight_msgs, config.max_inflight_bytes) {
  Status valid = config.Validate();
  CHECK(valid.ok()) << valid;
  Result<InitialState> init = storage.GetInitialState();
  CHECK(init.ok()) << "raft: reading the initial state: " << init.status();
  const HardState& hs = init->hard_state;
  tracker_.SetConfig(init->conf_state, log_.LastIndex() + 1);
  if (hs.commit() != 0 || hs.term() != 0 || hs.vote() != 0) {
    CHECK(hs.commit() >= log_.committed() && hs.commit() <= log_.LastIndex())
        << "hard state commit " << hs.commit() << " outside [" << log_.committed() << ", "
        << log_.LastIndex() << "]";
    log_.CommitTo(hs.commit());
    term_ = hs.term();
    vote_ = hs.vote();
  }
  if (config.applied > 0) log_.AppliedTo(config.applied);
  BecomeFollower(term_, kNone);
}

HardState Raft::GetHardState() const {
  HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

// ---- Role transitions -------------------------------------------------------------------------

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
    lease_forfeited_ = false;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  lead_transferee_ = kNone;
  lease_valid_ = false;
  votes_.clear();
  for (auto& [id, pr] : tracker_.progress()) {
    const bool learner = pr.is_learner;
    pr = Progress(log_.LastIndex() + 1, config_.max_inflight_msgs, config_.max_inflight_bytes,
                  learner);
    if (id == id_) pr.match_index = log_.StableLastIndex();
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  pending_reads_.clear();
  read_queue_.clear();
  read_round_.clear();
  reads_before_commit_.clear();
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(random_.Uniform(config_.election_tick));
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  CHECK(state_ != StateType::kLeader) << "leader cannot become candidate";
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  CHECK(state_ != StateType::kLeader) << "leader cannot become pre-candidate";
  // PreVote changes neither term nor vote: a partitioned node that keeps losing pre-votes never
  // inflates its term and so never disrupts a healthy leader when it rejoins (thesis §9.6).
  votes_.clear();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  CHECK(state_ != StateType::kFollower) << "follower cannot become leader without an election";
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  Progress* self = tracker_.Get(id_);
  self->BecomeReplicate();
  // Conservatively treat every uncommitted entry as a possible conf change.
  pending_conf_index_ = log_.LastIndex();
  // The no-op of the new term: committing it commits everything before (§5.4.2) and enables
  // ReadIndex (§6.4).
  Entry noop;
  CHECK(AppendEntries({noop})) << "empty entry refused";
}

void Raft::StartCampaign(bool pre_vote, bool transfer) {
  uint64_t vote_term;
  MessageType type;
  if (pre_vote) {
    BecomePreCandidate();
    vote_term = term_ + 1;
    type = raftpb::MSG_PRE_VOTE;
  } else {
    BecomeCandidate();
    vote_term = term_;
    type = raftpb::MSG_VOTE;
  }
  votes_[id_] = true;
  if (tracker_.TallyVotes(votes_) == VoteResult::kWon) {  // a single voter wins at once
    if (pre_vote) {
      StartCampaign(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t id : tracker_.voters()) {
    if (id == id_) continue;
    Message m = Make(type, id);
    m.set_term(vote_term);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    if (transfer) m.set_context(kTransferContext);
    Send(std::move(m));
  }
}

// ---- Ticks ------------------------------------------------------------------------------------

void Raft::Tick() {
  if (ticks_since_leader_ < config_.election_tick) ++ticks_since_leader_;
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Step(Make(raftpb::MSG_HUP, id_)).IgnoreError();
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      Message m = Make(raftpb::MSG_CHECK_QUORUM, id_);
      m.set_from(id_);
      Step(m).IgnoreError();
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader) lead_transferee_ = kNone;
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    Message m = Make(raftpb::MSG_BEAT, id_);
    m.set_from(id_);
    Step(m).IgnoreError();
  }
}

// ---- Step -------------------------------------------------------------------------------------

Status Raft::Step(const Message& m) {
  bool handled = false;
  RETURN_IF_ERROR(StepByTerm(m, &handled));
  if (handled) return Status::Ok();

  switch (m.type()) {
    case raftpb::MSG_HUP:
      if (state_ == StateType::kLeader) return Status::Ok();
      if (!Promotable()) return Status::Ok();
      // Campaigning with a conf change committed but not applied could elect a leader under
      // the wrong configuration.
      if (HasUnappliedConfChange()) return Status::Ok();
      StartCampaign(config_.pre_vote, /*transfer=*/false);
      return Status::Ok();
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      HandleVoteRequest(m);
      return Status::Ok();
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(m);
    case StateType::kFollower:
      return StepFollower(m);
  }
  return Status::Ok();
}

Status Raft::StepByTerm(const Message& m, bool* handled) {
  if (m.term() == 0 || IsLocal(m.type())) return Status::Ok();
  if (m.term() > term_) {
    const bool is_vote = m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_PRE_VOTE;
    if (is_vote) {
      const bool force = m.context() == kTransferContext;
      const bool in_lease =
          config_.check_quorum &&
          ((lead_ != kNone && election_elapsed_ < config_.election_tick) || InStrictVoteLease());
      // CheckQuorum's lease: while we heard from a live leader within the minimum election
      // timeout, ignore candidates (thesis §4.2.3) unless the leader itself asked for a transfer.
      // With strict_vote_lease, also when a higher term made us forget the leader, and for the
      // first election timeout after a start.
      if (!force && in_lease) {
        SIM_PROBE("raft: vote request ignored within a leader's lease");
        *handled = true;
        return Status::Ok();
      }
    }
    if (m.type() == raftpb::MSG_PRE_VOTE) {
      // A pre-vote request never changes our term.
    } else if (m.type() == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the term we will campaign in; handled by the candidate.
    } else {
      const bool from_leader = m.type() == raftpb::MSG_APP || m.type() == raftpb::MSG_HEARTBEAT ||
                               m.type() == raftpb::MSG_SNAP;
      BecomeFollower(m.term(), from_leader ? m.from() : kNone);
    }
    return Status::Ok();
  }
  if (m.term() < term_) {
    *handled = true;
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type() == raftpb::MSG_HEARTBEAT || m.type() == raftpb::MSG_APP)) {
      // A stale leader (e.g. back from a partition) learns the new term from this response and
      // steps down; otherwise, with PreVote/CheckQuorum, it could never be deposed.
      Message resp = Make(raftpb::MSG_APP_RESP, m.from());
      Send(std::move(resp));
    } else if (m.type() == raftpb::MSG_PRE_VOTE) {
      Message resp = Make(raftpb::MSG_PRE_VOTE_RESP, m.from());
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    // Everything else from an older term is ignored.
  }
  return Status::Ok();
}

void Raft::HandleVoteRequest(const Message& m) {
  if (m.context() != kTransferContext && InStrictVoteLease()) {
    // A request in our own term (we moved to it without hearing from its leader) is ignored too.
    SIM_PROBE("raft: vote request ignored within a leader's lease");
    return;
  }
  const bool pre = m.type() == raftpb::MSG_PRE_VOTE;
  const bool can_vote =
      vote_ == m.from() || (vote_ == kNone && lead_ == kNone) || (pre && m.term() > term_);
  Message resp = Make(pre ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP, m.from());
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    // The response carries the request's term: for a pre-vote that is the future term the
    // candidate asked about, not ours.
    resp.set_term(m.term());
    Send(std::move(resp));
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    SIM_PROBE("raft: vote or pre-vote rejected");
    resp.set_term(term_);
    resp.set_reject(true);
    Send(std::move(resp));
  }
}

Status Raft::StepLeader(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_BEAT:
      BcastHeartbeat(read_round_);
      return Status::Ok();
    case raftpb::MSG_CHECK_QUORUM:
      if (!tracker_.QuorumActive(id_)) {
        SIM_PROBE("raft: leader stepped down by check-quorum");
        BecomeFollower(term_, kNone);  // cannot reach a quorum: stop serving as leader
        return Status::Ok();
      }
      for (auto& [id, pr] : tracker_.progress()) {
        if (id != id_) pr.recent_active = false;
      }
      return Status::Ok();
    case raftpb::MSG_PROP:
      return LeaderPropose(m);
    case raftpb::MSG_READ_INDEX:
      LeaderReadIndex(m);
      return Status::Ok();
    case raftpb::MSG_TRANSFER_LEADER:
      LeaderTransfer(m);
      return Status::Ok();
    default:
      break;
  }
  Progress* pr = tracker_.Get(m.from());
  if (pr == nullptr) return Status::Ok();  // not a member (any more)
  switch (m.type()) {
    case raftpb::MSG_APP_RESP:
      pr->recent_active = true;
      LeaderAppendResponse(m, *pr);
      break;
    case raftpb::MSG_HEARTBEAT_RESP:
      pr->recent_active = true;
      LeaderHeartbeatResponse(m, *pr);
      break;
    case raftpb::MSG_SNAP_STATUS:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject()) pr->pending_snapshot = 0;
      pr->BecomeProbe();
      // Wait for the follower's next append response (or a heartbeat) before sending more.
      pr->probe_sent = true;
      break;
    case raftpb::MSG_UNREACHABLE:
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    default:
      break;
  }
  return Status::Ok();
}

Status Raft::LeaderPropose(const Message& m) {
  if (m.entries_size() == 0) return InvalidArgumentError("proposal without entries");
  if (!Promotable()) return UnavailableError("this leader was removed from the configuration");
  if (lead_transferee_ != kNone) {
    return UnavailableError("leadership transfer to " + std::to_string(lead_transferee_) +
                            " in progress");
  }
  std::vector<Entry> ents(m.entries().begin(), m.entries().end());
  for (Entry& e : ents) {
    if (e.type() != raftpb::ENTRY_CONF_CHANGE) continue;
    if (pending_conf_index_ > log_.applied()) {
      return FailedPreconditionError("a configuration change is already pending (index " +
                                     std::to_string(pending_conf_index_) + ")");
    }
    if (!CommittedEntryInCurrentTerm()) {
      // One-server changes are only safe once this leader committed an entry of its own term.
      return UnavailableError("leader has not committed an entry in its term yet");
    }
    pending_conf_index_ = log_.LastIndex() + 1;
  }
  if (!AppendEntries(std::move(ents))) {
    return ResourceExhaustedError("too many uncommitted bytes; retry later");
  }
  BcastAppend();
  return Status::Ok();
}

void Raft::LeaderAppendResponse(const Message& m, Progress& pr) {
  if (m.reject()) {
    // Fast back-off: the follower's hint (index, term) lets us skip every entry of a term that
    // cannot match, instead of one entry per round trip.
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term());
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      SIM_PROBE("raft: append rejected, next index backed off");
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from(), true);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index())) return;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match_index >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    ReleasePendingReadIndexes();
    BcastAppend();
  } else if (was_paused) {
    MaybeSendAppend(m.from(), true);
  }
  // Fill the window: send until paused or up to date.
  while (MaybeSendAppend(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr.match_index == log_.LastIndex()) {
    SendTimeoutNow(m.from());
  }
}

void Raft::LeaderHeartbeatResponse(const Message& m, Progress& pr) {
  pr.probe_sent = false;
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match_index < log_.LastIndex()) MaybeSendAppend(m.from(), true);
  if (m.context().empty()) return;
  auto it = pending_reads_.find(m.context());
  if (it == pending_reads_.end()) return;
  it->second.acks.insert(m.from());
  if (!tracker_.HasQuorum(it->second.acks)) return;
  // Leadership at the time of this request is confirmed, and so for every request queued
  // before it.
  while (!read_queue_.empty()) {
    std::string ctx = read_queue_.front();
    read_queue_.pop_front();
    PendingRead read = std::move(pending_reads_.at(ctx));
    pending_reads_.erase(ctx);
    RespondToReadIndex(read.request, read.index);
    if (ctx == m.context()) break;
  }
  if (m.context() != read_round_) return;
  read_round_.clear();
  if (!read_queue_.empty()) StartReadRound();  // for the requests that arrived during the round
}

// One round confirms every request queued so far: its heartbeats leave after all of them
// arrived, so a quorum acknowledging them proves this node was still the leader after each.
void Raft::StartReadRound() {
  read_round_ = read_queue_.back();
  BcastHeartbeat(read_round_);
}

void Raft::LeaderReadIndex(const Message& m) {
  if (tracker_.voters().size() == 1 && tracker_.IsVoter(id_)) {
    RespondToReadIndex(m, log_.committed());
    return;
  }
  if (!CommittedEntryInCurrentTerm()) {
    // Until the no-op of this term commits, the commit index may lag what a previous leader
    // acknowledged (§6.4); hold the request until then.
    SIM_PROBE("raft: read index held until the leader commits in its term");
    reads_before_commit_.push_back(m);
    return;
  }
  if (lease_valid_) {
    // The lease proves no other leader can exist yet: the commit index is current.
    SIM_PROBE("raft: read index answered under the leader's lease");
    RespondToReadIndex(m, log_.committed());
    return;
  }
  if (pending_reads_.count(m.context())) return;  // duplicate request id: already queued
  PendingRead read{m, log_.committed(), {id_}};
  pending_reads_.emplace(m.context(), std::move(read));
  read_queue_.push_back(m.context());
  if (read_round_.empty()) StartReadRound();
}

void Raft::RespondToReadIndex(const Message& req, uint64_t read_index) {
  if (req.from() == kNone || req.from() == id_) {
    read_states_.push_back(ReadState{read_index, req.context()});
    return;
  }
  Message resp = Make(raftpb::MSG_READ_INDEX_RESP, req.from());
  resp.set_index(read_index);
  resp.set_context(req.context());
  Send(std::move(resp));
}

void Raft::ReleasePendingReadIndexes() {
  if (reads_before_commit_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<Message> reads = std::move(reads_before_commit_);
  reads_before_commit_.clear();
  for (const Message& m : reads) LeaderReadIndex(m);
}

void Raft::LeaderTransfer(const Message& m) {
  const uint64_t transferee = m.from();
  Progress* pr = tracker_.Get(transferee);
  if (pr == nullptr || pr->is_learner) return;
  if (transferee == id_ || transferee == lead_transferee_) return;
  lead_transferee_ = transferee;
  lease_forfeited_ = true;  // the transferee's TimeoutNow overrides the voters' lease
  lease_valid_ = false;
  election_elapsed_ = 0;  // the transfer must finish within one election timeout
  if (pr->match_index == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    MaybeSendAppend(transferee, true);
  }
}

Status Raft::StepCandidate(const Message& m) {
  const MessageType my_response =
      state_ == StateType::kPreCandidate ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
  switch (m.type()) {
    case raftpb::MSG_PROP:
      return UnavailableError("no leader: an election is in progress");
    case raftpb::MSG_APP:
      BecomeFollower(m.term(), m.from());  // a leader of this term exists
      HandleAppendEntries(m);
      return Status::Ok();
    case raftpb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return Status::Ok();
    case raftpb::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return Status::Ok();
    case raftpb::MSG_READ_INDEX:
      return UnavailableError("no leader: an election is in progress");
    default:
      break;
  }
  if (m.type() != my_response) return Status::Ok();
  votes_.emplace(m.from(), !m.reject());
  switch (tracker_.TallyVotes(votes_)) {
    case VoteResult::kWon:
      if (state_ == StateType::kPreCandidate) {
        StartCampaign(false, false);
      } else {
        BecomeLeader();
        BcastAppend();
      }
      break;
    case VoteResult::kLost:
      BecomeFollower(term_, kNone);
      break;
    case VoteResult::kPending:
      break;
  }
  return Status::Ok();
}

Status Raft::StepFollower(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP: {
      if (lead_ == kNone) return UnavailableError("no leader");
      if (config_.disable_proposal_forwarding) {
        return UnavailableError("not the leader; forwarding disabled");
      }
      Message fwd = m;
      fwd.set_to(lead_);
      Send(std::move(fwd));
      return Status::Ok();
    }
    case raftpb::MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      return Status::Ok();
    case raftpb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      return Status::Ok();
    case raftpb::MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      return Status::Ok();
    case raftpb::MSG_TRANSFER_LEADER:
    case raftpb::MSG_READ_INDEX: {
      if (lead_ == kNone) return UnavailableError("no leader");
      Message fwd = m;
      fwd.set_to(lead_);
      Send(std::move(fwd));
      return Status::Ok();
    }
    case raftpb::MSG_TIMEOUT_NOW:
      // The leader asked us to take over: campaign at once, skipping PreVote and the lease — but,
      // as for any election, not under a configuration that is committed and not yet applied.
      if (Promotable() && !HasUnappliedConfChange()) StartCampaign(false, true);
      return Status::Ok();
    case raftpb::MSG_READ_INDEX_RESP:
      read_states_.push_back(ReadState{m.index(), m.context()});
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

void Raft::HandleAppendEntries(const Message& m) {
  ticks_since_leader_ = 0;
  Message resp = Make(raftpb::MSG_APP_RESP, m.from());
  if (m.index() < log_.committed()) {
    resp.set_index(log_.committed());  // already have all of it; tell the leader where we are
    Send(std::move(resp));
    return;
  }
  std::vector<Entry> ents(m.entries().begin(), m.entries().end());
  if (auto last_new = log_.MaybeAppend(m.index(), m.log_term(), m.commit(), ents)) {
    resp.set_index(*last_new);
    Send(std::move(resp));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term <= m.log_term, and its term.
  const uint64_t hint =
      log_.FindConflictByTerm(std::min(m.index(), log_.LastIndex()), m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint);
  resp.set_log_term(log_.TermOr0(hint));
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  ticks_since_leader_ = 0;
  log_.CommitTo(m.commit());
  Message resp = Make(raftpb::MSG_HEARTBEAT_RESP, m.from());
  resp.set_context(m.context());
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  ticks_since_leader_ = 0;
  Message resp = Make(raftpb::MSG_APP_RESP, m.from());
  if (Restore(m.snapshot())) {
    resp.set_index(log_.LastIndex());
  } else {
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& snapshot) {
  const auto& meta = snapshot.metadata();
  if (meta.index() <= log_.committed()) return false;
  if (log_.MatchTerm(meta.index(), meta.term())) {
    // We already have the snapshot's last entry: just fast-forward the commit index.
    log_.CommitTo(meta.index());
    return false;
  }
  SIM_PROBE("raft: snapshot restored");
  log_.Restore(snapshot);
  tracker_.SetConfig(meta.conf_state(), log_.LastIndex() + 1);
  for (auto& [id, pr] : tracker_.progress()) {
    pr.match_index = id == id_ ? log_.LastIndex() : 0;
    pr.next_index = log_.LastIndex() + 1;
  }
  return true;
}

// ---- Sending ----------------------------------------------------------------------------------

void Raft::Send(Message m) {
  if (m.from() == kNone) m.set_from(id_);  // forwarded messages keep their origin
  if (m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_VOTE_RESP ||
      m.type() == raftpb::MSG_PRE_VOTE || m.type() == raftpb::MSG_PRE_VOTE_RESP) {
    CHECK_NE(m.term(), 0u) << "vote messages carry an explicit term";
  } else {
    CHECK_EQ(m.term(), 0u) << "term set on a message that takes the current one";
    // Forwarded proposals and read requests keep term 0 so a leader of any term accepts them.
    if (m.type() != raftpb::MSG_PROP && m.type() != raftpb::MSG_READ_INDEX &&
        m.type() != raftpb::MSG_TRANSFER_LEADER) {
      m.set_term(term_);
    }
  }
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  if (to == id_) return false;
  Progress* pr = tracker_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  Result<uint64_t> prev_term = log_.Term(pr->next_index - 1);
  Result<std::vector<Entry>> ents =
      log_.Slice(pr->next_index, log_.LastIndex() + 1, config_.max_size_per_msg);
  if (!prev_term.ok() || !ents.ok()) return MaybeSendSnapshot(to, *pr);
  if (ents->empty() && !send_if_empty) return false;
  Message m = Make(raftpb::MSG_APP, to);
  m.set_index(pr->next_index - 1);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  uint64_t bytes = 0;
  for (Entry& e : *ents) {
    bytes += e.data().size();
    *m.add_entries() = std::move(e);
  }
  pr->SentEntries(m.index() + static_cast<uint64_t>(m.entries_size()), bytes);
  Send(std::move(m));
  return true;
}

bool Raft::MaybeSendSnapshot(uint64_t to, Progress& pr) {
  // Only to a follower we recently heard from: a dead peer does not deserve a snapshot.
  if (!pr.recent_active) return false;
  Result<Snapshot> snap = log_.GetSnapshot();
  if (!snap.ok() || snap->metadata().index() == 0) return false;  // not ready yet; retry later
  Message m = Make(raftpb::MSG_SNAP, to);
  SIM_PROBE("raft: snapshot sent to a follower");
  pr.BecomeSnapshot(snap->metadata().index());
  *m.mutable_snapshot() = std::move(snap).value();
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& context) {
  Message m = Make(raftpb::MSG_HEARTBEAT, to);
  // Never let a follower commit past what it is known to hold.
  m.set_commit(std::min(tracker_.Get(to)->match_index, log_.committed()));
  m.set_context(context);
  Send(std::move(m));
}

void Raft::SendTimeoutNow(uint64_t to) {
  SIM_PROBE("raft: leadership transfer sent timeout-now");
  Send(Make(raftpb::MSG_TIMEOUT_NOW, to));
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) MaybeSendAppend(id, true);
  }
}

void Raft::BcastHeartbeat(const std::string& context) {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) SendHeartbeat(id, context);
  }
}

// ---- Log helpers ------------------------------------------------------------------------------

bool Raft::AppendEntries(std::vector<Entry> ents) {
  const uint64_t size = PayloadSize(ents);
  if (config_.max_uncommitted_entries_size > 0 && uncommitted_size_ > 0 &&
      uncommitted_size_ + size > config_.max_uncommitted_entries_size) {
    return false;
  }
  uncommitted_size_ += size;
  uint64_t index = log_.LastIndex();
  for (Entry& e : ents) {
    e.set_term(term_);
    e.set_index(++index);
  }
  log_.Append(ents);
  // The leader's own copy counts toward a quorum only once persisted (OnPersisted): its appends
  // may go out before its own fsync, so counting it now could commit an entry held durably by
  // fewer than a quorum.
  return true;
}

void Raft::OnPersisted(uint64_t index, uint64_t term) {
  // The entry may have been overwritten since (a new leader truncated it): count only what is
  // still in the log as persisted.
  if (!log_.MatchTerm(index, term)) return;
  Progress* self = tracker_.Get(id_);
  if (self == nullptr || !self->MaybeUpdate(index) || state_ != StateType::kLeader) return;
  if (MaybeCommit()) {
    ReleasePendingReadIndexes();
    BcastAppend();
  }
}

void Raft::ReduceUncommittedSize(const std::vector<Entry>& committed) {
  if (state_ != StateType::kLeader) return;
  const uint64_t size = PayloadSize(committed);
  uncommitted_size_ = size > uncommitted_size_ ? 0 : uncommitted_size_ - size;
}

bool Raft::MaybeCommit() {
  const uint64_t committed = tracker_.QuorumCommitted();
  if (committed == UINT64_MAX) return false;
  // §5.4.2: only an entry of the current term is committed by counting replicas.
  return log_.MaybeCommit(committed, term_);
}

bool Raft::CommittedEntryInCurrentTerm() const { return log_.TermOr0(log_.committed()) == term_; }

bool Raft::HasUnappliedConfChange() const {
  if (log_.committed() <= log_.applied()) return false;
  for (const Entry& e : log_.NextCommittedEntries(UINT64_MAX)) {
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) return true;
  }
  return false;
}

// ---- Public wrappers --------------------------------------------------------------------------

Status Raft::Campaign() {
  Message m = Make(raftpb::MSG_HUP, id_);
  m.set_from(id_);
  return Step(m);
}

Status Raft::Propose(std::string data) {
  Message m = Make(raftpb::MSG_PROP, id_);
  m.set_from(id_);
  m.add_entries()->set_data(std::move(data));
  return Step(m);
}

Status Raft::ProposeConfChange(const ConfChange& cc) {
  if (cc.node_id() == kNone) return InvalidArgumentError("conf change: node_id must not be 0");
  if (cc.type() == raftpb::ADD_LEARNER && tracker_.IsVoter(cc.node_id())) {
    return InvalidArgumentError("conf change: node " + std::to_string(cc.node_id()) +
                                " is a voter and cannot be demoted to learner");
  }
  Message m = Make(raftpb::MSG_PROP, id_);
  m.set_from(id_);
  Entry* e = m.add_entries();
  e->set_type(raftpb::ENTRY_CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  return Step(m);
}

Status Raft::TransferLeader(uint64_t transferee) {
  Message m = Make(raftpb::MSG_TRANSFER_LEADER, id_);
  m.set_from(transferee);
  return Step(m);
}

Status Raft::ReadIndex(std::string context) {
  Message m = Make(raftpb::MSG_READ_INDEX, id_);
  m.set_from(id_);
  m.set_context(std::move(context));
  return Step(m);
}

raftpb::ConfState Raft::ApplyConfChange(const ConfChange& cc) {
  raftpb::ConfState cs = tracker_.ConfState();
  std::set<uint64_t> voters(cs.voters().begin(), cs.voters().end());
  std::set<uint64_t> learners(cs.learners().begin(), cs.learners().end());
  switch (cc.type()) {
    case raftpb::ADD_NODE:
      learners.erase(cc.node_id());
      voters.insert(cc.node_id());
      break;
    case raftpb::ADD_LEARNER:
      if (!voters.count(cc.node_id())) learners.insert(cc.node_id());
      break;
    case raftpb::REMOVE_NODE:
      voters.erase(cc.node_id());
      learners.erase(cc.node_id());
      break;
    default:
      break;
  }
  cs.clear_voters();
  cs.clear_learners();
  for (uint64_t id : voters) cs.add_voters(id);
  for (uint64_t id : learners) cs.add_learners(id);
  tracker_.SetConfig(cs, log_.LastIndex() + 1);
  lease_valid_ = false;  // the acknowledgements behind it counted in the old configuration
  if (state_ != StateType::kLeader) return cs;
  if (!tracker_.IsVoter(id_)) {
    // This leader removed itself: it stops leading; the others elect a leader among themselves.
    BecomeFollower(term_, kNone);
    return cs;
  }
  if (lead_transferee_ != kNone && !tracker_.IsMember(lead_transferee_)) lead_transferee_ = kNone;
  if (MaybeCommit()) ReleasePendingReadIndexes();  // the quorum itself changed
  BcastAppend();
  return cs;
}

void Raft::ReportSnapshot(uint64_t to, bool failed) {
  Message m = Make(raftpb::MSG_SNAP_STATUS, id_);
  m.set_from(to);
  m.set_reject(failed);
  Step(m).IgnoreError();
}

void Raft::ReportUnreachable(uint64_t to) {
  Message m = Make(raftpb::MSG_UNREACHABLE, id_);
  m.set_from(to);
  Step(m).IgnoreError();
}

}  // namespace meta::raft
