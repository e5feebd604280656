#include "sim/raft_observer.h"

#include <algorithm>
#include <string>

#include "sim/node_cluster.h"

namespace meta::sim {

Status RaftObserver::ObserveNode(NodeCluster& c, NodeId id) {
  if (!c.Has(id) || !c.IsUp(id)) return Status::Ok();
  store::Node& node = c.node(id);
  const uint64_t incarnation = c.world().node(id).incarnation();
  // Reading terms may reach the node's disk: no fault may hit the checker's reads.
  SimDisk* disk = c.disk(id);
  if (disk != nullptr) disk->SetQuiet(true);
  Status s;
  for (store::GroupId g : node.groups()) {
    s = ObserveOne(id, incarnation, g, node.raft(g));
    if (!s.ok()) break;
  }
  if (disk != nullptr) disk->SetQuiet(false);
  return s;
}

Status RaftObserver::ObserveOne(NodeId id, uint64_t incarnation, store::GroupId g,
                                const raft::Raft& r) {
  Last& last = last_[{id, g}];
  const bool same_process = last.incarnation == incarnation;
  const raft::Observation now = raft::Observation::Of(r);
  // Most events leave most groups of a node as they were. A follower's checks depend only on what
  // the observation holds; a leader's also on its followers' progress, so it is always checked.
  if (same_process && now == last.obs && r.state() != raft::StateType::kLeader) {
    return Status::Ok();
  }
  if (Status s = raft::CheckBasic(r); !s.ok()) return s.Annotate("group " + std::to_string(g));
  if (same_process) RETURN_IF_ERROR(raft::CheckDelta(last.obs, r));
  const uint64_t from = same_process ? last.obs.committed : 0;
  uint64_t& max_term = max_term_[g];
  max_term = std::max(max_term, r.term());
  if (r.state() == raft::StateType::kLeader) {
    auto [it, inserted] = leaders_[g].emplace(r.term(), id);
    if (!inserted && it->second != id) {
      return InternalError("election safety: group " + std::to_string(g) + " term " +
                           std::to_string(r.term()) + " led by nodes " +
                           std::to_string(it->second) + " and " + std::to_string(id));
    }
    // Leader completeness, checked once per new leadership.
    if (inserted) RETURN_IF_ERROR(CheckLeaderCompleteness(id, g, r));
  }
  std::vector<Committed>& committed = committed_[g];
  const uint64_t lo = std::max(from + 1, r.log().FirstIndex());
  if (r.log().committed() >= committed.size()) committed.resize(r.log().committed() + 1);
  for (uint64_t i = lo; i <= r.log().committed(); ++i) {
    Result<uint64_t> term = r.log().Term(i);
    if (!term.ok()) continue;
    Committed& c = committed[i];
    if (c.term == 0) {
      c = Committed{*term, max_term};
    } else if (c.term != *term) {
      return InternalError("committed entry changed: group " + std::to_string(g) + " index " +
                           std::to_string(i) + " has term " + std::to_string(*term) + " on node " +
                           std::to_string(id) + ", term " + std::to_string(c.term) +
                           " was committed");
    }
  }
  last.incarnation = incarnation;
  last.obs = now;
  return Status::Ok();
}

Status RaftObserver::CheckLeaderCompleteness(NodeId id, store::GroupId g, const raft::Raft& r) {
  const raft::RaftLog& log = r.log();
  const std::vector<Committed>& committed = committed_[g];
  for (uint64_t index = log.FirstIndex(); index < committed.size(); ++index) {
    const Committed& c = committed[index];
    if (c.term == 0 || c.known_at >= r.term()) continue;
    const uint64_t term = index > log.LastIndex() ? 0 : log.TermOr0(index);
    if (term != c.term) {
      return InternalError(
          "leader completeness: node " + std::to_string(id) + ", leader of group " +
          std::to_string(g) + " in term " + std::to_string(r.term()) + ", has term " +
          std::to_string(term) + " at index " + std::to_string(index) + ", committed with term " +
          std::to_string(c.term) + " before term " + std::to_string(c.known_at + 1));
    }
  }
  return Status::Ok();
}

}  // namespace meta::sim
