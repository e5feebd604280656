// Randomized cluster property test (rapidcheck): 3–7 nodes, storage that keeps only what a Ready
// asked to persist, and a random schedule of ticks, deliveries (in any order), drops, duplicates,
// partitions (symmetric and one-way), crashes that lose unpersisted state, restarts, compaction,
// proposals, conf changes, leadership transfers and ReadIndex requests. After every step the
// cluster checkers run (election safety, log matching, leader completeness, state machine safety,
// commit never regresses, ReadIndex linearizable). After the schedule everything heals and a
// leader must be elected and commit a proposal within 10 election timeouts.
//
// The quick suite (CTest) runs 1,000 cases: RC_PARAMS=max_success=1000. More:
//   RC_PARAMS="max_success=100000" build/debug/raft/raft_property_test
// rapidcheck prints the seed first and, on failure, the shrunk schedule and the RC_PARAMS that
// replay it.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "raft/testing/cluster.h"

namespace meta::raft {
namespace {

enum class OpKind {
  kTick,
  kDeliverOne,
  kDeliverAll,
  kProcessReady,
  kProcessAll,
  kDrop,
  kDuplicate,
  kPropose,
  kReadIndex,
  kPartition,
  kCutOneWay,
  kHeal,
  kCrash,
  kRestart,
  kCompact,
  kConfChange,
  kTransfer,
  kCampaign,
};

const char* OpName(OpKind k) {
  static const char* const kNames[] = {
      "tick",      "deliver-one", "deliver-all", "process-ready", "process-all", "drop",
      "duplicate", "propose",     "read-index",  "partition",     "cut-one-way", "heal",
      "crash",     "restart",     "compact",     "conf-change",   "transfer",    "campaign"};
  return kNames[static_cast<int>(k)];
}

// Operands are taken modulo whatever they index at run time, so every schedule is valid and
// shrinking can drop any operation.
struct Op {
  OpKind kind;
  uint32_t a;
  uint32_t b;
};

void showValue(const Op& op, std::ostream& os) {
  os << OpName(op.kind) << "(" << op.a << "," << op.b << ")";
}

rc::Gen<Op> GenOp() {
  return rc::gen::construct<Op>(rc::gen::weightedElement<OpKind>({{15, OpKind::kTick},
                                                                  {20, OpKind::kDeliverOne},
                                                                  {10, OpKind::kDeliverAll},
                                                                  {10, OpKind::kProcessReady},
                                                                  {15, OpKind::kProcessAll},
                                                                  {2, OpKind::kDrop},
                                                                  {2, OpKind::kDuplicate},
                                                                  {10, OpKind::kPropose},
                                                                  {3, OpKind::kReadIndex},
                                                                  {1, OpKind::kPartition},
                                                                  {1, OpKind::kCutOneWay},
                                                                  {4, OpKind::kHeal},
                                                                  {1, OpKind::kCrash},
                                                                  {3, OpKind::kRestart},
                                                                  {2, OpKind::kCompact},
                                                                  {2, OpKind::kConfChange},
                                                                  {1, OpKind::kTransfer},
                                                                  {1, OpKind::kCampaign}}),
                                rc::gen::inRange<uint32_t>(0, 1 << 20),
                                rc::gen::inRange<uint32_t>(0, 1 << 20));
}

class Runner {
 public:
  // Short election timeouts (4 ticks, randomized up to 8) so that a few hundred operations see
  // many elections, lost leaders and competing candidates.
  static constexpr int kElectionTick = 4;

  Runner(int nodes, uint64_t seed)
      : cluster_(MakeIds(nodes), seed,
                 [](Config& c) {
                   c.election_tick = kElectionTick;
                   c.heartbeat_tick = 1;
                 }),
        ids_(MakeIds(nodes)) {}

  static std::vector<uint64_t> MakeIds(int n) {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(static_cast<uint64_t>(i));
    return ids;
  }

  void Run(const Op& op) {
    const uint64_t a = ids_[op.a % ids_.size()];
    const uint64_t b = ids_[op.b % ids_.size()];
    testing::Cluster& c = cluster_;
    switch (op.kind) {
      case OpKind::kTick:
        c.TickAll();
        break;
      case OpKind::kDeliverOne:
        if (!c.pool().empty()) c.Deliver(op.a % c.pool().size());
        break;
      case OpKind::kDeliverAll:
        // Everything in flight, starting at a random message: a burst delivered out of order.
        for (size_t n = c.pool().size(); n > 0 && !c.pool().empty(); --n) {
          c.Deliver(op.a % c.pool().size());
        }
        break;
      case OpKind::kProcessReady:
        c.ProcessReady(a);
        break;
      case OpKind::kProcessAll:
        c.ProcessAllReadies();
        break;
      case OpKind::kDrop:
        if (!c.pool().empty()) c.Drop(op.a % c.pool().size());
        break;
      case OpKind::kDuplicate:
        if (!c.pool().empty()) c.Duplicate(op.a % c.pool().size());
        break;
      case OpKind::kPropose:
        if (c.IsUp(a)) c.Propose(a, "v" + std::to_string(next_value_++)).IgnoreError();
        break;
      case OpKind::kReadIndex:
        if (c.IsUp(a)) c.ReadIndex(a, "r" + std::to_string(next_read_++)).IgnoreError();
        break;
      case OpKind::kPartition: {
        std::set<uint64_t> side;
        for (uint64_t id : ids_) {
          if ((op.b >> id) & 1) side.insert(id);
        }
        c.Partition(side);
        break;
      }
      case OpKind::kCutOneWay:
        if (a != b) c.Cut(a, b);
        break;
      case OpKind::kHeal:
        c.Heal();
        break;
      case OpKind::kCrash:
        if (c.IsUp(a)) c.Crash(a);
        break;
      case OpKind::kRestart:
        if (!c.IsUp(a)) c.Restart(a);
        break;
      case OpKind::kCompact:
        RC_ASSERT(c.Compact(a).ok());
        break;
      case OpKind::kConfChange:
        ConfChangeOp(a, b, op.b);
        break;
      case OpKind::kTransfer:
        if (c.IsUp(a)) c.TransferLeader(a, b).IgnoreError();
        break;
      case OpKind::kCampaign:
        if (c.IsUp(a)) c.Campaign(a).IgnoreError();
        break;
    }
  }

  // Heals everything, restarts every node, and requires a leader that commits a proposal within
  // 10 election timeouts (each at most 2 * kElectionTick ticks).
  void CheckLiveness() {
    testing::Cluster& c = cluster_;
    c.Heal();
    for (uint64_t id : ids_) {
      if (!c.IsUp(id)) c.Restart(id);
    }
    const int kMaxTicks = 10 * 2 * kElectionTick;
    bool proposed = false;
    uint64_t proposed_on = 0;
    for (int t = 0; t < kMaxTicks; ++t) {
      c.TickAll();
      c.Stabilize();
      const uint64_t leader = c.Leader();
      if (leader == 0) continue;
      if (!proposed) {
        proposed = c.Propose(leader, "final").ok();
        proposed_on = leader;
        c.Stabilize();
      }
      if (proposed) {
        for (const std::string& v : c.Applied(proposed_on)) {
          if (v == "final") return;
        }
        // The leader changed before committing it: propose again on the new one.
        if (leader != proposed_on) proposed = false;
      }
    }
    RC_FAIL("no leader committed a proposal within 10 election timeouts after healing:\n" +
            c.Describe());
  }

  testing::Cluster& cluster() { return cluster_; }

 private:
  void ConfChangeOp(uint64_t leader_hint, uint64_t target, uint32_t choice) {
    testing::Cluster& c = cluster_;
    const uint64_t leader = c.Leader();
    if (leader == 0) return;
    const auto& tracker = c.raft(leader).tracker();
    ConfChange cc;
    cc.set_node_id(target);
    if (tracker.IsVoter(target)) {
      // Keep at least three voters so that one crash never stops the cluster for good.
      if (tracker.voters().size() <= 3) return;
      cc.set_type(choice % 2 ? raftpb::REMOVE_NODE : raftpb::ADD_NODE);
    } else if (tracker.learners().count(target)) {
      cc.set_type(choice % 2 ? raftpb::REMOVE_NODE : raftpb::ADD_NODE);
    } else {
      cc.set_type(choice % 2 ? raftpb::ADD_LEARNER : raftpb::ADD_NODE);
    }
    (void)leader_hint;
    c.ProposeConfChange(leader, cc).IgnoreError();
  }

  testing::Cluster cluster_;
  std::vector<uint64_t> ids_;
  int next_value_ = 0;
  int next_read_ = 0;
};

RC_GTEST_PROP(RaftPropertyTest, SafeUnderAnyScheduleAndLiveAfterHealing, ()) {
  const int nodes = *rc::gen::inRange(3, 8);
  const uint64_t seed = *rc::gen::inRange<uint64_t>(1, 1u << 30);
  // Full size: a uniform count, not one scaled down for the early cases.
  const size_t count = *rc::gen::resize(100, rc::gen::inRange<size_t>(0, 600));
  const auto ops = *rc::gen::container<std::vector<Op>>(count, GenOp());
  Runner runner(nodes, seed);
  for (size_t i = 0; i < ops.size(); ++i) {
    runner.Run(ops[i]);
    const Status s = runner.cluster().Check();
    if (!s.ok()) {
      RC_FAIL("after op " + std::to_string(i) + ": " + s.ToString() + "\n" +
              runner.cluster().Describe());
    }
  }
  // Coverage: how often schedules reach several terms and commit several entries.
  uint64_t max_term = 0, commit = 0;
  for (uint64_t id = 1; id <= static_cast<uint64_t>(nodes); ++id) {
    if (!runner.cluster().IsUp(id)) continue;
    max_term = std::max(max_term, runner.cluster().raft(id).term());
    commit = std::max(commit, runner.cluster().raft(id).log().committed());
  }
  RC_CLASSIFY(max_term >= 3, "reached term 3+");
  RC_CLASSIFY(commit >= 8, "committed 8+ entries");
  runner.CheckLiveness();
  const Status s = runner.cluster().Check();
  RC_ASSERT(s.ok());
}

}  // namespace
}  // namespace meta::raft
