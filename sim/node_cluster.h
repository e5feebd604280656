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

#include "core/future.h"
#include "sim/sim_disk.h"
#include "sim/world.h"
#include "store/node.h"

namespace meta::sim {

struct NodeClusterOptions {
  uint64_t seed = 1;
  int nodes = 3;
  // Each node's RocksDB lives in base_dir/n<id>: on the real disk, or with `sim_disk` on a
  // simulated one (in memory; a crash loses what was not synced).
  std::string base_dir;
  bool sim_disk = false;
  // Applied to every node's options (groups, timings, snapshot threshold...).
  std::function<void(store::NodeOptions&)> tweak;
  // Log sinks of every node (stderr when empty).
  std::vector<std::shared_ptr<spdlog::sinks::sink>> log_sinks;
  bool record_trace_lines = false;
};

class NodeCluster {
 public:
  explicit NodeCluster(NodeClusterOptions options);
  ~NodeCluster();

  World& world() { return world_; }
  std::vector<NodeId> ids() const;
  bool Has(NodeId id) const { return nodes_.count(id) != 0; }
  bool IsUp(NodeId id) const { return nodes_.at(id).node != nullptr; }
  store::Node& node(NodeId id);

  Status StartAll();
  // Kills the node's process: its Env (fibers, timers, queued events) and its Node are destroyed;
  // on a simulated disk, everything not synced is lost.
  void Crash(NodeId id);
  SimDisk* disk(NodeId id) { return nodes_.at(id).disk.get(); }
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
  // Like an RPC: runs `fn` in a fiber on node `id`'s own loop and returns a future of its result.
  // If the node is down or crashes first, the future fails (UNAVAILABLE / CANCELLED).
  template <class T>
  Future<T> Call(NodeId id, std::function<Result<T>(store::Node&)> fn) {
    Promise<T> promise;
    Future<T> future = promise.GetFuture();
    if (!IsUp(id)) {
      promise.Set(UnavailableError("node " + std::to_string(id) + " is down"));
      return future;
    }
    store::Node* n = &node(id);
    world_.node(id).fibers().Spawn(
        "call", [n, fn = std::move(fn), p = std::make_shared<Promise<T>>(std::move(promise))] {
          p->Set(fn(*n));
        });
    return future;
  }
  // Runs the world until `done()` holds (checked after every event) or `timeout` passes.
  bool RunUntil(const std::function<bool()>& done, Duration timeout);

  // Every up replica of `group` has applied the same index and holds the same data digest.
  Status CheckConverged(store::GroupId group);
  // One line per node: its Raft state for `group` (and, on the leader, each follower's progress).
  std::string Describe(store::GroupId group);

 private:
  struct Slot {
    std::string dir;
    std::unique_ptr<SimDisk> disk;
    std::unique_ptr<store::Node> node;
    // group -> (applied index, digest) of this incarnation of the node: a replica's state changes
    // only with its applied index, and CheckConverged runs after every event while waiting.
    std::map<store::GroupId, std::pair<uint64_t, uint64_t>> digests;
  };
  Status Open(NodeId id);

  NodeClusterOptions options_;
  World world_;
  std::map<NodeId, Slot> nodes_;
};

}  // namespace meta::sim
