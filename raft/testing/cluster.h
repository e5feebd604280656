// A cluster of RawNodes driven by hand, for tests: in-memory storage that keeps only what a Ready
// asked to persist, a message pool the test delivers, drops, duplicates or reorders, partitions,
// crashes (losing everything not persisted) and restarts, and the safety checkers of the Raft
// paper run after every step.
//
//   Cluster c({1, 2, 3}, /*seed=*/7);
//   c.Campaign(1);
//   c.Stabilize();                      // process Readies and deliver until quiet
//   ASSERT_TRUE(c.Propose(1, "x").ok());
//   c.Stabilize();
//   EXPECT_EQ(c.Applied(2).back(), "x");
//   ASSERT_TRUE(c.Check().ok());
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "raft/invariants.h"
#include "raft/raw_node.h"
#include "raft/testing/checks.h"

namespace meta::raft::testing {

class Cluster {
 public:
  using ConfigTweak = std::function<void(Config&)>;

  Cluster(const std::vector<uint64_t>& voters, uint64_t seed, ConfigTweak tweak = nullptr);

  RawNode& node(uint64_t id);
  const Raft& raft(uint64_t id) { return node(id).raft(); }
  bool IsUp(uint64_t id) const { return nodes_.at(id).node != nullptr; }
  std::vector<uint64_t> ids() const;
  Random& rng() { return random_; }

  // Inputs (Status of the Step; the checkers run afterwards).
  Status Campaign(uint64_t id);
  Status Propose(uint64_t id, std::string data);
  Status ProposeConfChange(uint64_t id, const ConfChange& cc);
  Status TransferLeader(uint64_t id, uint64_t transferee);
  // Issues a ReadIndex; the checker later verifies the answer covers every write committed now.
  Status ReadIndex(uint64_t id, std::string context);
  void Tick(uint64_t id);
  void TickAll(int n = 1);

  // Persists, queues messages from, and applies one node's Ready (if any). False if none.
  bool ProcessReady(uint64_t id);
  // Every node's Ready once.
  bool ProcessAllReadies();

  // The message pool. Messages between cut nodes are dropped when delivered.
  std::vector<Message>& pool() { return pool_; }
  // Delivers pool()[i] (removing it). False if it was dropped (cut link or node down).
  bool Deliver(size_t i);
  void DeliverAll();
  void Duplicate(size_t i) { pool_.push_back(pool_[i]); }
  void Drop(size_t i);
  // Processes Readies and delivers until nothing is left; bounded by `max_rounds`.
  void Stabilize(int max_rounds = 1000);

  // Faults.
  void Cut(uint64_t from, uint64_t to) { cut_.insert({from, to}); }
  void Partition(const std::set<uint64_t>& side);  // cuts every link crossing `side`
  void Isolate(uint64_t id) { Partition({id}); }
  void Heal() { cut_.clear(); }
  void Crash(uint64_t id);    // loses everything not persisted
  void Restart(uint64_t id);  // rebuilds the RawNode from persisted state
  // Snapshots the node's applied state at its applied index and compacts its log there.
  Status Compact(uint64_t id);

  // Observations.
  std::vector<std::string> Applied(uint64_t id) const;
  const std::vector<AppliedEntry>& AppliedEntries(uint64_t id) const;
  const std::vector<ReadState>& ReadStates(uint64_t id) const { return nodes_.at(id).reads; }
  uint64_t Leader();  // the leader of the highest term among up nodes, or 0
  std::string Describe();

  // Runs the per-node invariants and the cluster properties: election safety, log matching,
  // leader completeness, state machine safety, committed entries never lost, ReadIndex
  // linearizability. The first violation found, if any.
  Status Check();

 private:
  struct Node {
    MemoryStorage storage;  // the "disk": only what a Ready persisted
    std::vector<AppliedEntry> applied;
    uint64_t applied_index = 0;  // persisted with `applied` (atomic apply)
    raftpb::ConfState conf_state;
    std::unique_ptr<Random> random;
    std::unique_ptr<RawNode> node;
    Observation last_observation;
    std::vector<ReadState> reads;
  };

  Config MakeConfig(uint64_t id, uint64_t applied) const;
  void Apply(Node& n, uint64_t id, const Entry& e);
  void RestoreSnapshot(Node& n, const Snapshot& snap);
  Status AfterStep(uint64_t id);
  Status CheckNodes();
  Status CheckLogs();
  Status CheckReads();
  void RecordCommitted();

  uint64_t seed_;
  ConfigTweak tweak_;
  Random random_;
  std::map<uint64_t, Node> nodes_;
  std::vector<Message> pool_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::map<uint64_t, uint64_t> leader_of_term_;  // election safety
  std::map<uint64_t, AppliedEntry> committed_;   // every entry known committed
  std::map<uint64_t, uint64_t> committed_term_;  // highest live term when first known committed
  std::map<std::string, uint64_t> read_floor_;   // context -> commit index when issued
  Status violation_;
};

}  // namespace meta::raft::testing
