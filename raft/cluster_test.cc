// Scenario tests on a hand-driven cluster of RawNodes (raft/testing/cluster.h).
#include "raft/testing/cluster.h"

#include <gtest/gtest.h>

namespace meta::raft {
namespace {

using testing::Cluster;

// Ticks everyone until some node leads (bounded), delivering everything in between.
uint64_t ElectLeader(Cluster& c, int max_ticks = 100) {
  for (int i = 0; i < max_ticks; ++i) {
    c.TickAll();
    c.Stabilize();
    if (uint64_t l = c.Leader()) return l;
  }
  return 0;
}

TEST(ClusterTest, ElectsOneLeaderAndReplicatesToAll) {
  Cluster c({1, 2, 3}, 1);
  const uint64_t leader = ElectLeader(c);
  ASSERT_NE(leader, 0u) << c.Describe();
  ASSERT_TRUE(c.Propose(leader, "a").ok());
  ASSERT_TRUE(c.Propose(leader, "b").ok());
  c.Stabilize();
  for (uint64_t id : c.ids()) EXPECT_EQ(c.Applied(id), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, ProposalOnAFollowerIsForwarded) {
  Cluster c({1, 2, 3}, 2);
  const uint64_t leader = ElectLeader(c);
  const uint64_t follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(c.Propose(follower, "fwd").ok());
  c.Stabilize();
  EXPECT_EQ(c.Applied(leader), std::vector<std::string>{"fwd"});
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, MinorityCannotCommitAndMajorityElectsANewLeader) {
  Cluster c({1, 2, 3, 4, 5}, 3);
  const uint64_t old_leader = ElectLeader(c);
  ASSERT_NE(old_leader, 0u);
  c.Isolate(old_leader);
  ASSERT_TRUE(c.Propose(old_leader, "lost").ok());
  c.Stabilize();
  EXPECT_TRUE(c.Applied(old_leader).empty());
  uint64_t new_leader = 0;
  for (int i = 0; i < 100 && (new_leader == 0 || new_leader == old_leader); ++i) {
    c.TickAll();
    c.Stabilize();
    new_leader = c.Leader();
  }
  ASSERT_NE(new_leader, old_leader) << c.Describe();
  // CheckQuorum made the isolated leader step down.
  EXPECT_NE(c.raft(old_leader).state(), StateType::kLeader);
  ASSERT_TRUE(c.Propose(new_leader, "kept").ok());
  c.Stabilize();
  c.Heal();
  for (int i = 0; i < 20; ++i) {
    c.TickAll();
    c.Stabilize();
  }
  for (uint64_t id : c.ids()) EXPECT_EQ(c.Applied(id), std::vector<std::string>{"kept"}) << id;
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, CrashedFollowerCatchesUpBySnapshot) {
  Cluster c({1, 2, 3}, 4);
  const uint64_t leader = ElectLeader(c);
  const uint64_t lagging = leader == 3 ? 2 : 3;
  c.Crash(lagging);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(leader, "v" + std::to_string(i)).ok());
  c.Stabilize();
  ASSERT_TRUE(c.Compact(leader).ok());
  c.Restart(lagging);
  for (int i = 0; i < 10; ++i) {
    c.TickAll();
    c.Stabilize();
  }
  EXPECT_EQ(c.Applied(lagging), c.Applied(leader));
  EXPECT_EQ(c.Applied(lagging).size(), 20u);
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, LeadershipTransferHandsOverWithinOneRound) {
  Cluster c({1, 2, 3}, 5);
  const uint64_t leader = ElectLeader(c);
  const uint64_t target = leader == 1 ? 2 : 1;
  ASSERT_TRUE(c.TransferLeader(leader, target).ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), target) << c.Describe();
  ASSERT_TRUE(c.Propose(target, "after").ok());
  c.Stabilize();
  EXPECT_EQ(c.Applied(leader), std::vector<std::string>{"after"});
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, ReadIndexOnLeaderAndFollowerCoversCommittedWrites) {
  Cluster c({1, 2, 3}, 6);
  const uint64_t leader = ElectLeader(c);
  const uint64_t follower = leader == 1 ? 2 : 1;
  ASSERT_TRUE(c.Propose(leader, "w").ok());
  c.Stabilize();
  ASSERT_TRUE(c.ReadIndex(leader, "r1").ok());
  ASSERT_TRUE(c.ReadIndex(follower, "r2").ok());
  c.Stabilize();
  ASSERT_EQ(c.ReadStates(leader).size(), 1u);
  ASSERT_EQ(c.ReadStates(follower).size(), 1u);
  EXPECT_EQ(c.ReadStates(leader)[0].context, "r1");
  EXPECT_GE(c.ReadStates(follower)[0].index, c.AppliedEntries(leader).back().index);
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, AddLearnerThenPromoteThenRemoveAVoter) {
  Cluster c({1, 2, 3}, 7);
  const uint64_t leader = ElectLeader(c);
  ConfChange cc;
  cc.set_type(raftpb::ADD_LEARNER);
  cc.set_node_id(2);
  // Node 2 is a voter: it cannot be demoted.
  EXPECT_EQ(c.ProposeConfChange(leader, cc).code(), Code::kInvalidArgument);
  const uint64_t removed = leader == 3 ? 2 : 3;
  cc.set_type(raftpb::REMOVE_NODE);
  cc.set_node_id(removed);
  ASSERT_TRUE(c.ProposeConfChange(leader, cc).ok());
  // A second change while the first is pending is refused.
  cc.set_node_id(leader == 1 ? 2 : 1);
  EXPECT_EQ(c.ProposeConfChange(leader, cc).code(), Code::kFailedPrecondition);
  c.Stabilize();
  EXPECT_EQ(c.raft(leader).tracker().voters().size(), 2u);
  cc.set_type(raftpb::ADD_LEARNER);
  cc.set_node_id(removed);
  ASSERT_TRUE(c.ProposeConfChange(leader, cc).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(leader).tracker().learners().count(removed), 1u);
  cc.set_type(raftpb::ADD_NODE);
  ASSERT_TRUE(c.ProposeConfChange(leader, cc).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(leader).tracker().voters().size(), 3u);
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

TEST(ClusterTest, LeaderThatRemovesItselfStepsDownAndOthersElect) {
  Cluster c({1, 2, 3}, 8);
  const uint64_t leader = ElectLeader(c);
  ConfChange cc;
  cc.set_type(raftpb::REMOVE_NODE);
  cc.set_node_id(leader);
  ASSERT_TRUE(c.Propose(leader, "x").ok());
  c.Stabilize();
  ASSERT_TRUE(c.ProposeConfChange(leader, cc).ok());
  c.Stabilize();
  EXPECT_NE(c.raft(leader).state(), StateType::kLeader);
  uint64_t next = 0;
  for (int i = 0; i < 100 && (next == 0 || next == leader); ++i) {
    c.TickAll();
    c.Stabilize();
    next = c.Leader();
  }
  ASSERT_NE(next, 0u);
  ASSERT_NE(next, leader);
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

}  // namespace
}  // namespace meta::raft
