// The cluster-wide Raft checker checked: each property is fed a planted violation.
#include "sim/raft_observer.h"

#include <gtest/gtest.h>

#include <memory>

#include "raft/raw_node.h"

namespace meta::sim {
namespace {

// A replica built from what its "disk" says, so a test can make it say anything.
struct Replica {
  explicit Replica(uint64_t id, std::vector<uint64_t> voters = {}) : random(id) {
    raftpb::ConfState cs;
    for (uint64_t v : voters.empty() ? std::vector<uint64_t>{id} : voters) cs.add_voters(v);
    storage.SetConfState(cs);
    config.id = id;
  }
  raft::RawNode& Start() {
    node = std::make_unique<raft::RawNode>(config, storage, random);
    return *node;
  }
  // Campaigns alone (a single voter) and persists/applies everything: leader at term 1.
  raft::RawNode& StartAsLeader() {
    Start();
    EXPECT_TRUE(node->Campaign().ok());
    while (node->HasReady()) {
      raft::Ready rd = node->GetReady();
      if (rd.hard_state) storage.SetHardState(*rd.hard_state);
      EXPECT_TRUE(storage.Append(rd.entries).ok());
      node->Advance(rd);
    }
    EXPECT_EQ(node->raft().state(), raft::StateType::kLeader);
    return *node;
  }

  raft::MemoryStorage storage;
  Random random;
  raft::Config config;
  std::unique_ptr<raft::RawNode> node;
};

TEST(RaftObserverTest, AHealthyReplicaObservedRepeatedlyPasses) {
  Replica a(1);
  a.StartAsLeader();
  RaftObserver o;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(o.ObserveOne(1, 0, 7, a.node->raft()).ok());
}

TEST(RaftObserverTest, TwoLeadersOfOneTermAreFlagged) {
  Replica a(1), b(2);
  a.StartAsLeader();
  b.StartAsLeader();  // both lead term 1 (each alone: a planted split brain)
  RaftObserver o;
  ASSERT_TRUE(o.ObserveOne(1, 0, 7, a.node->raft()).ok());
  Status s = o.ObserveOne(2, 0, 7, b.node->raft());
  EXPECT_NE(s.message().find("election safety"), std::string::npos) << s;
  // Different groups may each have their own leader of term 1.
  EXPECT_TRUE(o.ObserveOne(2, 0, 8, b.node->raft()).ok());
}

TEST(RaftObserverTest, ACommittedEntryWithAnotherTermIsFlagged) {
  Replica a(1);
  a.StartAsLeader();  // commits index 1 at term 1
  Replica b(2, {1, 2, 3});
  raft::Entry e;
  e.set_index(1);
  e.set_term(2);
  ASSERT_TRUE(b.storage.Append({e}).ok());
  raft::HardState hs;
  hs.set_term(2);
  hs.set_commit(1);
  b.storage.SetHardState(hs);
  b.Start();
  RaftObserver o;
  ASSERT_TRUE(o.ObserveOne(1, 0, 7, a.node->raft()).ok());
  Status s = o.ObserveOne(2, 0, 7, b.node->raft());
  EXPECT_NE(s.message().find("committed entry changed"), std::string::npos) << s;
}

TEST(RaftObserverTest, ALeaderMissingAnEarlierCommittedEntryIsFlagged) {
  Replica a(1);
  a.StartAsLeader();  // index 1 committed at term 1
  Replica b(2);
  raft::HardState hs;
  hs.set_term(1);
  b.storage.SetHardState(hs);
  b.StartAsLeader();  // leads term 2 with its own entry at index 1: it lacks a's
  ASSERT_EQ(b.node->raft().term(), 2u);
  RaftObserver o;
  ASSERT_TRUE(o.ObserveOne(1, 0, 7, a.node->raft()).ok());
  Status s = o.ObserveOne(2, 0, 7, b.node->raft());
  EXPECT_NE(s.message().find("leader completeness"), std::string::npos) << s;
}

TEST(RaftObserverTest, RegressionsWithinOneProcessAreFlaggedAcrossARestartNot) {
  Replica a(1);
  a.StartAsLeader();
  RaftObserver o;
  ASSERT_TRUE(o.ObserveOne(1, 0, 7, a.node->raft()).ok());
  Replica fresh(1);  // term 0, commit 0: as if the same process forgot everything
  fresh.Start();
  Status s = o.ObserveOne(1, 0, 7, fresh.node->raft());
  EXPECT_NE(s.message().find("went back"), std::string::npos) << s;
  // A new process (incarnation 1) starts from its disk; nothing to compare against.
  RaftObserver o2;
  ASSERT_TRUE(o2.ObserveOne(1, 0, 7, a.node->raft()).ok());
  EXPECT_TRUE(o2.ObserveOne(1, 1, 7, fresh.node->raft()).ok());
}

}  // namespace
}  // namespace meta::sim
