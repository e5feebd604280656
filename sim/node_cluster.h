// A cluster of real nodes (store::Node: Raft groups + RocksDB + state machines) on the simulated
// runtime: one World, one virtual clock, the simulated network. Tests and metasim drive it.
//
//   NodeCluster c({.seed = 7, .nodes = 3, .base_dir = tmp.path()});
//   ASSERT_TRUE(c.StartAll().ok());
//   ASSERT_TRUE(c.WaitForLeaders(Seconds(10)));
//   auto r = c.RunOn(1, [&](store::Node& n) { return n.Write(cmd); });
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/world.h"
#include "store/node.h"

namespace meta::sim {

struct NodeClusterOptions {
  uint64_t seed = 1;
  int nodes = 3;
  std::string base_dir;  // each node's RocksDB lives in base_dir/n<id>
  // Applied to every node's options (groups, timings, snapshot threshold...).
  std::function<void(store::NodeOptions&)> tweak;
};

class NodeCluster {
 public:
  explicit NodeCluster(NodeClusterOptions options);
  ~NodeCluster();

  World& world() { return world_; }
  std::vector<NodeId> ids() const;
  bool IsUp(NodeId id) const { return nodes_.at(id).node != nullptr; }
  store::Node& node(NodeId id);

  Status StartAll();
  // Stops the node's process: its Env (fibers, timers, queued events) and its Node are destroyed.
  void Crash(NodeId id);
  // Starts a new process on the node's disk.
  Status Restart(NodeId id);

  // The leader of `group` among up nodes with the highest term, or 0.
  NodeId Leader(store::GroupId group);
  // Runs until every group has a leader, or `timeout` of virtual time passes.
  bool WaitForLeaders(Duration timeout);
  // Runs `fn` in a fiber on node `id` and runs the world until it returns (or `timeout`).
  template <class T>
  std::optional<T> RunOn(NodeId id, std::function<T(store::Node&)> fn,
                         Duration timeout = Seconds(60)) {
    std::optional<T> out;
    SpawnOn(id, [&out, fn](store::Node& n) { out.emplace(fn(n)); });
    RunUntil([&] { return out.has_value(); }, timeout);
    return out;
  }
  void SpawnOn(NodeId id, std::function<void(store::Node&)> fn);
  // Runs the world until `done()` holds (checked after every event) or `timeout` passes.
  bool RunUntil(const std::function<bool()>& done, Duration timeout);

  // Every up replica of `group` has applied the same index and holds the same data digest.
  Status CheckConverged(store::GroupId group);

 private:
  struct Slot {
    std::string dir;
    std::unique_ptr<store::Node> node;
  };
  Status Open(NodeId id);

  NodeClusterOptions options_;
  World world_;
  std::map<NodeId, Slot> nodes_;
};

}  // namespace meta::sim
