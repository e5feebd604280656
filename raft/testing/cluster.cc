#include "raft/testing/cluster.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "core/check.h"
#include "raft/testing/checks.h"

namespace meta::raft::testing {
namespace {

std::string EncodeApplied(const std::vector<AppliedEntry>& applied) {
  std::string out;
  AppendU64(out, applied.size());
  for (const AppliedEntry& e : applied) {
    AppendU64(out, e.index);
    AppendU64(out, e.term);
    AppendU64(out, e.data.size());
    out += e.data;
  }
  return out;
}

std::vector<AppliedEntry> DecodeApplied(const std::string& in) {
  size_t pos = 0;
  std::vector<AppliedEntry> out(ReadU64(in, pos));
  for (AppliedEntry& e : out) {
    e.index = ReadU64(in, pos);
    e.term = ReadU64(in, pos);
    const uint64_t size = ReadU64(in, pos);
    CHECK_LE(pos + size, in.size()) << "truncated snapshot";
    e.data = in.substr(pos, size);
    pos += size;
  }
  return out;
}

std::string N(uint64_t v) { return std::to_string(v); }

}  // namespace

Cluster::Cluster(const std::vector<uint64_t>& voters, uint64_t seed, ConfigTweak tweak)
    : seed_(seed), tweak_(std::move(tweak)), random_(Random(seed).Stream("cluster")) {
  raftpb::ConfState cs;
  for (uint64_t id : voters) cs.add_voters(id);
  for (uint64_t id : voters) {
    Node& n = nodes_[id];
    n.conf_state = cs;
    n.storage.SetConfState(cs);
    n.random = std::make_unique<Random>(Random(seed).Stream("raft-node", id));
    Restart(id);
  }
}

Config Cluster::MakeConfig(uint64_t id, uint64_t applied) const {
  Config c;
  c.id = id;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.applied = applied;
  if (tweak_) tweak_(c);
  return c;
}

RawNode& Cluster::node(uint64_t id) {
  Node& n = nodes_.at(id);
  CHECK(n.node != nullptr) << "node " << id << " is down";
  return *n.node;
}

std::vector<uint64_t> Cluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

Status Cluster::Campaign(uint64_t id) {
  Status s = node(id).Campaign();
  (void)AfterStep(id);
  return s;
}

Status Cluster::Propose(uint64_t id, std::string data) {
  Status s = node(id).Propose(std::move(data));
  (void)AfterStep(id);
  return s;
}

Status Cluster::ProposeConfChange(uint64_t id, const ConfChange& cc) {
  Status s = node(id).ProposeConfChange(cc);
  (void)AfterStep(id);
  return s;
}

Status Cluster::TransferLeader(uint64_t id, uint64_t transferee) {
  Status s = node(id).TransferLeader(transferee);
  (void)AfterStep(id);
  return s;
}

Status Cluster::ReadIndex(uint64_t id, std::string context) {
  // Every write committed anywhere by now must be visible to this read.
  uint64_t floor = committed_.empty() ? 0 : committed_.rbegin()->first;
  for (const auto& [nid, n] : nodes_) {
    if (n.node) floor = std::max(floor, n.node->raft().log().committed());
  }
  read_floor_[context] = floor;
  Status s = node(id).ReadIndex(std::move(context));
  (void)AfterStep(id);
  return s;
}

void Cluster::Tick(uint64_t id) {
  if (!IsUp(id)) return;
  node(id).Tick();
  (void)AfterStep(id);
}

void Cluster::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (uint64_t id : ids()) Tick(id);
  }
}

bool Cluster::ProcessReady(uint64_t id) {
  Node& n = nodes_.at(id);
  if (!n.node || !n.node->HasReady()) return false;
  Ready rd = n.node->GetReady();
  // 1. Persist.
  if (rd.snapshot) CHECK(n.storage.ApplySnapshot(*rd.snapshot).ok());
  CHECK(n.storage.Append(rd.entries).ok());
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  // 2. Send.
  for (Message& m : rd.messages) pool_.push_back(std::move(m));
  // 3. Apply.
  if (rd.snapshot) RestoreSnapshot(n, *rd.snapshot);
  for (const Entry& e : rd.committed_entries) Apply(n, id, e);
  for (const ReadState& rs : rd.read_states) n.reads.push_back(rs);
  // 4. Advance.
  n.node->Advance(rd);
  (void)AfterStep(id);
  return true;
}

bool Cluster::ProcessAllReadies() {
  bool any = false;
  for (uint64_t id : ids()) any |= ProcessReady(id);
  return any;
}

void Cluster::Apply(Node& n, uint64_t id, const Entry& e) {
  if (e.index() != n.applied_index + 1) {
    if (violation_.ok()) {
      violation_ = InternalError("node " + N(id) + " applied index " + N(e.index()) +
                                 " right after " + N(n.applied_index));
    }
    return;
  }
  AppliedEntry applied{e.index(), e.term(), e.data()};
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    ConfChange cc;
    CHECK(cc.ParseFromString(e.data()));
    n.conf_state = n.node->ApplyConfChange(cc);
    n.storage.SetConfState(n.conf_state);
    applied.data = "conf:" + raftpb::ConfChangeType_Name(cc.type()) + ":" + N(cc.node_id());
  }
  uint64_t max_term = 0;
  for (const auto& [nid, other] : nodes_) {
    if (other.node) max_term = std::max(max_term, other.node->raft().term());
  }
  committed_term_.emplace(e.index(), max_term);
  auto [it, inserted] = committed_.emplace(e.index(), applied);
  if (!inserted && !(it->second == applied) && violation_.ok()) {
    violation_ = InternalError("state machine safety: index " + N(e.index()) +
                               " applied as (term " + N(e.term()) + ", '" + applied.data +
                               "') on node " + N(id) + " but as (term " + N(it->second.term) +
                               ", '" + it->second.data + "') elsewhere");
  }
  n.applied.push_back(std::move(applied));
  n.applied_index = e.index();
}

void Cluster::RestoreSnapshot(Node& n, const Snapshot& snap) {
  n.applied = DecodeApplied(snap.data());
  n.applied_index = snap.metadata().index();
  n.conf_state = snap.metadata().conf_state();
  n.storage.SetConfState(n.conf_state);
}

bool Cluster::Deliver(size_t i) {
  CHECK_LT(i, pool_.size());
  Message m = std::move(pool_[i]);
  pool_.erase(pool_.begin() + static_cast<ptrdiff_t>(i));
  const bool dropped = cut_.count({m.from(), m.to()}) || !nodes_.count(m.to()) || !IsUp(m.to());
  const bool snap = m.type() == raftpb::MSG_SNAP;
  if (dropped) {
    if (snap && nodes_.count(m.from()) && IsUp(m.from())) {
      node(m.from()).ReportSnapshot(m.to(), /*failed=*/true);
    }
    return false;
  }
  node(m.to()).Step(m).IgnoreError();
  (void)AfterStep(m.to());
  if (snap && IsUp(m.from())) node(m.from()).ReportSnapshot(m.to(), /*failed=*/false);
  return true;
}

void Cluster::DeliverAll() {
  while (!pool_.empty()) Deliver(0);
}

void Cluster::Drop(size_t i) {
  CHECK_LT(i, pool_.size());
  const Message m = pool_[i];
  pool_.erase(pool_.begin() + static_cast<ptrdiff_t>(i));
  if (m.type() == raftpb::MSG_SNAP && IsUp(m.from())) node(m.from()).ReportSnapshot(m.to(), true);
}

void Cluster::Stabilize(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    bool progress = ProcessAllReadies();
    if (!pool_.empty()) {
      DeliverAll();
      progress = true;
    }
    if (!progress) return;
  }
}

void Cluster::Partition(const std::set<uint64_t>& side) {
  for (uint64_t a : ids()) {
    for (uint64_t b : ids()) {
      if (side.count(a) != side.count(b)) cut_.insert({a, b});
    }
  }
}

void Cluster::Crash(uint64_t id) {
  Node& n = nodes_.at(id);
  n.node.reset();
  n.reads.clear();
}

void Cluster::Restart(uint64_t id) {
  Node& n = nodes_.at(id);
  n.node = std::make_unique<RawNode>(MakeConfig(id, n.applied_index), n.storage, *n.random);
  n.last_observation = Observation::Of(n.node->raft());
}

Status Cluster::Compact(uint64_t id) {
  Node& n = nodes_.at(id);
  if (n.applied_index < n.storage.FirstIndex()) return Status::Ok();  // nothing new to compact
  RETURN_IF_ERROR(
      n.storage.CreateSnapshot(n.applied_index, n.conf_state, EncodeApplied(n.applied)).status());
  return n.storage.Compact(n.applied_index);
}

std::vector<std::string> Cluster::Applied(uint64_t id) const {
  std::vector<std::string> out;
  for (const AppliedEntry& e : nodes_.at(id).applied) {
    if (!e.data.empty()) out.push_back(e.data);
  }
  return out;
}

const std::vector<AppliedEntry>& Cluster::AppliedEntries(uint64_t id) const {
  return nodes_.at(id).applied;
}

uint64_t Cluster::Leader() {
  uint64_t leader = 0, term = 0;
  for (const auto& [id, n] : nodes_) {
    if (n.node && n.node->raft().state() == StateType::kLeader && n.node->raft().term() >= term) {
      leader = id;
      term = n.node->raft().term();
    }
  }
  return leader;
}

std::string Cluster::Describe() {
  std::ostringstream os;
  for (const auto& [id, n] : nodes_) {
    os << "node " << id << ": ";
    if (!n.node) {
      os << "down (applied " << n.applied_index << ")\n";
      continue;
    }
    const Raft& r = n.node->raft();
    os << StateName(r.state()) << " term=" << r.term() << " vote=" << r.vote()
       << " lead=" << r.lead() << " first=" << r.log().FirstIndex()
       << " last=" << r.log().LastIndex() << " commit=" << r.log().committed()
       << " applied=" << r.log().applied() << "\n";
  }
  os << "in flight: " << pool_.size() << " messages, " << cut_.size() << " links cut\n";
  return os.str();
}

Status Cluster::AfterStep(uint64_t id) {
  Node& n = nodes_.at(id);
  if (!n.node) return Status::Ok();
  const Raft& r = n.node->raft();
  Status s = CheckBasic(r);
  if (s.ok()) s = CheckDelta(n.last_observation, r);
  n.last_observation = Observation::Of(r);
  if (s.ok() && r.state() == StateType::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(r.term(), id);
    if (!inserted && it->second != id) {
      s = InternalError("election safety: nodes " + N(it->second) + " and " + N(id) +
                        " both led term " + N(r.term()));
    }
  }
  if (!s.ok() && violation_.ok()) violation_ = s;
  return s;
}

Status Cluster::Check() {
  if (!violation_.ok()) return violation_;
  RETURN_IF_ERROR(CheckLogs());
  return CheckReads();
}

Status Cluster::CheckLogs() {
  std::vector<uint64_t> up;
  for (const auto& [id, n] : nodes_) {
    if (n.node) up.push_back(id);
  }
  for (uint64_t id : up) {
    const RaftLog& log = nodes_.at(id).node->raft().log();
    const bool leader = nodes_.at(id).node->raft().state() == StateType::kLeader;
    // Leader completeness (every committed entry is in a leader's log) and, for every node,
    // committed entries never change.
    for (const auto& [index, e] : committed_) {
      if (index < log.FirstIndex()) continue;  // inside the snapshot
      // A leader must hold entries committed before its term. A stale leader (say, cut off in
      // an older term) may lack entries committed since, so only leaders of a term later than
      // any term seen when the entry was known committed are held to it.
      if (leader && nodes_.at(id).node->raft().term() <= committed_term_.at(index)) continue;
      if (!leader && index > log.committed()) continue;
      if (leader && index > log.LastIndex()) {
        return InternalError("leader completeness: leader " + N(id) + " lacks committed index " +
                             N(index) + " (its last index is " + N(log.LastIndex()) + ")");
      }
      if (log.TermOr0(index) != e.term) {
        return InternalError(std::string(leader ? "leader completeness" : "committed entry lost") +
                             ": node " + N(id) + " has term " + N(log.TermOr0(index)) +
                             " at committed index " + N(index) + ", expected " + N(e.term));
      }
    }
  }
  std::map<uint64_t, const RaftLog*> logs;
  for (uint64_t id : up) logs[id] = &nodes_.at(id).node->raft().log();
  return CheckLogMatching(logs);
}

Status Cluster::CheckReads() {
  for (const auto& [id, n] : nodes_)
    RETURN_IF_ERROR(CheckReadsCoverCommitted(read_floor_, n.reads));
  return Status::Ok();
}

}  // namespace meta::raft::testing
