// Cluster-wide Raft safety for real nodes, checked after every simulation event: per-node
// invariants (CheckBasic, CheckDelta within one process), election safety (one leader per term and
// group), committed entries never changing (every replica reports the same term at every
// committed index: log matching on the committed prefix, no committed entry lost), and leader
// completeness (a new leader holds every entry committed before its term).
#pragma once

#include <map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "raft/invariants.h"
#include "store/engine.h"

namespace meta::sim {

class NodeCluster;

class RaftObserver {
 public:
  // Every group of node `id` of `c` (nothing if it is down or not a cluster node).
  Status ObserveNode(NodeCluster& c, NodeId id);
  // One replica: node `id` in its process `incarnation` (a restart starts a new one: its
  // in-memory commit index may legitimately go back), group `group`.
  Status ObserveOne(NodeId id, uint64_t incarnation, store::GroupId group, const raft::Raft& r);

 private:
  Status CheckLeaderCompleteness(NodeId id, store::GroupId group, const raft::Raft& r);

  struct Last {
    uint64_t incarnation = UINT64_MAX;
    raft::Observation obs;
  };
  std::map<std::pair<NodeId, store::GroupId>, Last> last_;
  std::map<store::GroupId, std::map<uint64_t, NodeId>> leaders_;
  struct Committed {
    uint64_t term = 0;      // the entry's term (0: not seen committed yet; real terms are >= 1)
    uint64_t known_at = 0;  // the highest term seen in the group when it was first seen committed
  };
  std::map<store::GroupId, std::vector<Committed>> committed_;  // by index
  std::map<store::GroupId, uint64_t> max_term_;
};

}  // namespace meta::sim
