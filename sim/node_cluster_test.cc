// Real nodes (Raft + RocksDB + state machines) on the simulated runtime.
#include "sim/node_cluster.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "core/fiber.h"
#include "sim/coverage.h"
#include "sim/network.h"
#include "store/test_util.h"

namespace meta::sim {
namespace {

storepb::Command Put(const std::string& k, const std::string& v) {
  storepb::Command c;
  c.mutable_kv_put()->set_key(k);
  c.mutable_kv_put()->set_value(v);
  return c;
}

storepb::Command Offsets(const std::string& group, uint64_t offset) {
  storepb::Command c;
  c.mutable_offset_commit()->set_group(group);
  auto* e = c.mutable_offset_commit()->add_entries();
  e->set_topic("t");
  e->set_offset(offset);
  return c;
}

storepb::Command Session(const std::string& id) {
  storepb::Command c;
  c.mutable_session_batch()->add_upserts()->set_client_id(id);
  return c;
}

class NodeClusterTest : public ::testing::Test {
 protected:
  void Start(uint64_t seed, std::function<void(store::NodeOptions&)> tweak = nullptr,
             bool sim_disk = false) {
    cluster_ = std::make_unique<NodeCluster>(NodeClusterOptions{.seed = seed,
                                                                .nodes = 3,
                                                                .base_dir = dir_.path(),
                                                                .sim_disk = sim_disk,
                                                                .tweak = std::move(tweak)});
    ASSERT_TRUE(cluster_->StartAll().ok());
    ASSERT_TRUE(cluster_->WaitForLeaders(Seconds(30))) << "no leaders within 30 s";
  }

  // Writes through node `id` and returns the result (or the error). Like a client, retries while
  // the node knows no leader yet (UNAVAILABLE), for up to 10 s.
  Result<storepb::ApplyResult> Write(NodeId id, storepb::Command cmd) {
    auto r = cluster_->RunOn<Result<storepb::ApplyResult>>(id, [cmd](store::Node& n) {
      Result<storepb::ApplyResult> r = n.Write(cmd);
      for (int i = 0; i < 200 && r.status().code() == Code::kUnavailable; ++i) {
        (void)fiber::Sleep(Millis(50));
        r = n.Write(cmd);
      }
      return r;
    });
    if (!r) return DeadlineExceededError("the test's fiber did not finish");
    return *r;
  }

  // Whether node `id` applies the metadata group as far as `leader` has within 30 s.
  bool CatchesUp(NodeId id, NodeId leader) {
    return cluster_->RunUntil(
        [&] {
          return cluster_->node(id).state_machine(store::kMetadataGroup).applied_index() >=
                 cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index();
        },
        Seconds(30));
  }

  store::TempDir dir_;
  std::unique_ptr<NodeCluster> cluster_;
};

TEST_F(NodeClusterTest, WritesToEveryGroupTypeReachEveryReplica) {
  Start(1);
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  ASSERT_TRUE(Write(leader, Put("k", "v")).ok());
  const NodeId follower = leader == 1 ? 2 : 1;
  // A follower's proposal is forwarded to the leader and answered once applied here.
  auto r = Write(follower, Offsets("consumers", 42));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());
  ASSERT_TRUE(Write(follower, Session("c1")).ok());
  // Linearizable reads from every node see all three.
  for (NodeId id : cluster_->ids()) {
    auto got = cluster_->RunOn<Result<storepb::KvValue>>(
        id, [](store::Node& n) { return n.Get("k", /*linearizable=*/true); });
    ASSERT_TRUE(got && got->ok()) << "node " << id;
    EXPECT_EQ((*got)->value(), "v");
    auto off = cluster_->RunOn<Result<uint64_t>>(
        id, [](store::Node& n) { return n.GetOffset("consumers", "t", 0, true); });
    ASSERT_TRUE(off && off->ok());
    EXPECT_EQ(**off, 42u);
    auto ses = cluster_->RunOn<Result<storepb::StoredSession>>(
        id, [](store::Node& n) { return n.GetSession("c1", true); });
    ASSERT_TRUE(ses && ses->ok());
  }
  for (store::GroupId g : cluster_->node(1).groups()) {
    EXPECT_TRUE(cluster_->CheckConverged(g).ok()) << cluster_->CheckConverged(g);
  }
}

// A leader that a quorum confirmed reads under its lease without another round — even cut off
// from everyone — and its lease ends before the others can elect a leader that writes.
TEST_F(NodeClusterTest, LeaderReadsUnderItsLeaseButNeverPastANewLeader) {
  Start(7, [](store::NodeOptions& o) { o.write_timeout = Seconds(2); });
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  ASSERT_TRUE(Write(leader, Put("k", "old")).ok());
  auto read = [&](NodeId id) {
    return cluster_->RunOn<Result<storepb::KvValue>>(
        id, [](store::Node& n) { return n.Get("k", /*linearizable=*/true); });
  };
  auto first = read(leader);  // a confirming round grants the lease
  ASSERT_TRUE(first && first->ok());
  cluster_->world().network().Partition({leader});
  const Instant cut = cluster_->world().Now();
  auto leased = read(leader);
  ASSERT_TRUE(leased && leased->ok()) << (leased ? leased->status().ToString() : "no answer");
  EXPECT_EQ((*leased)->value(), "old");
  EXPECT_LT(cluster_->world().Now() - cut, Millis(20)) << "answered without a heartbeat round";

  // The others ignore candidates for an election timeout after they last heard from the leader,
  // then elect one, which writes.
  const NodeId other = leader == 1 ? 2 : 1;
  Result<storepb::ApplyResult> wrote = Write(other, Put("k", "new"));
  // The first attempts may go to the old leader and time out (the put is idempotent).
  for (int i = 0; i < 10 && !wrote.ok(); ++i) wrote = Write(other, Put("k", "new"));
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_GT(cluster_->world().Now() - cut, store::NodeOptions().LeaseDuration());
  auto stale = read(leader);
  ASSERT_TRUE(stale.has_value());
  EXPECT_FALSE(stale->ok()) << "a leader cut off past its lease confirms nothing: "
                            << (stale->ok() ? (*stale)->value() : "");
}

// The lease counts on every voter that acknowledged it ignoring candidates for an election
// timeout — including one that restarted at once and forgot it had heard from the leader.
TEST_F(NodeClusterTest, RestartedVoterCannotElectAnotherLeaderWithinTheLease) {
  Start(8, [](store::NodeOptions& o) { o.write_timeout = Seconds(2); });
  const store::GroupId g = store::kMetadataGroup;
  const NodeId leader = cluster_->Leader(g);
  const NodeId a = leader == 1 ? 2 : 1;
  const NodeId b = 6 - leader - a;
  ASSERT_TRUE(Write(leader, Put("k", "old")).ok());
  // `b` must hold everything, so that `a` would vote for it.
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        return cluster_->node(b).raft(g).log().LastIndex() ==
               cluster_->node(leader).raft(g).log().LastIndex();
      },
      Seconds(5)));
  SimNetwork& net = cluster_->world().network();
  net.Cut(leader, b);
  net.Cut(b, leader);
  auto read = [&] {
    return cluster_->RunOn<Result<storepb::KvValue>>(
        leader, [](store::Node& n) { return n.Get("k", /*linearizable=*/true); });
  };
  auto first = read();  // confirmed by `a` alone: the lease rests on it
  ASSERT_TRUE(first && first->ok());
  cluster_->Crash(a);
  ASSERT_TRUE(cluster_->Restart(a).ok());
  net.Partition({leader});
  const Instant restart = cluster_->world().Now();
  auto campaign = cluster_->RunOn<Status>(b, [g](store::Node& n) { return n.Campaign(g); });
  ASSERT_TRUE(campaign.has_value());
  Result<storepb::ApplyResult> wrote = Write(b, Put("k", "new"));
  for (int i = 0; i < 10 && !wrote.ok(); ++i) wrote = Write(b, Put("k", "new"));
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_GE(cluster_->world().Now() - restart, store::NodeOptions().LeaseDuration())
      << "the restarted voter elected a leader within the lease";
  auto after = read();
  ASSERT_TRUE(after.has_value());
  if (after->ok()) {
    EXPECT_EQ((*after)->value(), "new") << "a stale read under the lease";
  }
}

TEST_F(NodeClusterTest, WithoutLeasesACutOffLeaderAnswersNoLinearizableRead) {
  Start(7, [](store::NodeOptions& o) {
    o.write_timeout = Seconds(2);
    o.lease_reads = false;
  });
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  ASSERT_TRUE(Write(leader, Put("k", "old")).ok());
  auto read = [&] {
    return cluster_->RunOn<Result<storepb::KvValue>>(
        leader, [](store::Node& n) { return n.Get("k", /*linearizable=*/true); });
  };
  auto first = read();
  ASSERT_TRUE(first && first->ok());
  cluster_->world().network().Partition({leader});
  auto cut_off = read();
  ASSERT_TRUE(cut_off.has_value());
  EXPECT_FALSE(cut_off->ok()) << "every read needs a heartbeat quorum";
}

TEST_F(NodeClusterTest, KillingEachGroupLeaderLosesNoAcknowledgedWrite) {
  Start(2);
  int written = 0;
  for (store::GroupId g : cluster_->node(1).groups()) {
    const NodeId leader = cluster_->Leader(g);
    ASSERT_NE(leader, 0u);
    const NodeId other = leader == 1 ? 2 : 1;
    // Writes acknowledged before the crash.
    for (int i = 0; i < 5; ++i) {
      storepb::Command c = store::TypeOf(g) == store::GroupType::kMetadata
                               ? Put("g" + std::to_string(g) + "-" + std::to_string(i), "v")
                           : store::TypeOf(g) == store::GroupType::kOffset
                               ? Offsets("consumers", static_cast<uint64_t>(i))
                               : Session("s" + std::to_string(i));
      auto r = Write(other, c);
      ASSERT_TRUE(r.ok()) << "group " << g << ": " << r.status();
      ++written;
    }
    cluster_->Crash(leader);
    ASSERT_TRUE(cluster_->RunUntil(
        [&] { return cluster_->Leader(g) != 0 && cluster_->Leader(g) != leader; }, Seconds(30)))
        << "no new leader for group " << g;
    ASSERT_TRUE(Write(other, Put("after-" + std::to_string(g), "v")).ok());
    ASSERT_TRUE(cluster_->Restart(leader).ok());
  }
  // Let the restarted nodes catch up, then compare every replica.
  cluster_->world().RunFor(Seconds(5));
  for (NodeId id : cluster_->ids()) {
    auto v = cluster_->RunOn<Result<storepb::KvValue>>(
        id, [](store::Node& n) { return n.Get("g1-4", true); });
    ASSERT_TRUE(v && v->ok()) << "node " << id;
  }
  for (store::GroupId g : cluster_->node(1).groups()) {
    EXPECT_TRUE(cluster_->CheckConverged(g).ok()) << cluster_->CheckConverged(g);
  }
  EXPECT_EQ(written, 15);
}

TEST_F(NodeClusterTest, LaggingNodeCatchesUpBySnapshot) {
  Start(3, [](store::NodeOptions& o) { o.snapshot_entries = 20; });
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  const NodeId lagging = leader == 3 ? 2 : 3;
  cluster_->Crash(lagging);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(Write(leader, Put("k" + std::to_string(i), std::to_string(i))).ok());
  }
  // The leader compacted its log: the lagging node can only catch up from a snapshot.
  EXPECT_GT(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), 50u);
  ASSERT_TRUE(cluster_->Restart(lagging).ok());
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        return cluster_->node(lagging).state_machine(store::kMetadataGroup).applied_index() ==
               cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index();
      },
      Seconds(30)));
  auto v = cluster_->RunOn<Result<storepb::KvValue>>(
      lagging, [](store::Node& n) { return n.Get("k99", false); });
  ASSERT_TRUE(v && v->ok());
  EXPECT_EQ((*v)->value(), "99");
  EXPECT_TRUE(cluster_->CheckConverged(store::kMetadataGroup).ok())
      << cluster_->CheckConverged(store::kMetadataGroup);
}

// Node 3 joins (no bootstrap membership) while the others' logs still start at index 1. It must
// not take the log from its start, where the entries assume a membership it never had: it waits
// until the leader's log is compacted, which needs its applied state flushed, and takes a
// snapshot.
TEST_F(NodeClusterTest, AJoiningNodeTakesASnapshotNotTheLogFromItsStart) {
  Start(4, [](store::NodeOptions& o) {
    if (o.id != 3) return;
    o.join = true;
    o.members.clear();
  });
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  ASSERT_NE(leader, 3u);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Write(leader, Put("k" + std::to_string(i), "v")).ok());
  cluster_->RunUntil([] { return false; }, Seconds(2));
  ASSERT_EQ(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), 1u);
  EXPECT_EQ(cluster_->node(3).log(store::kMetadataGroup).LastIndex(), 0u);
  auto compacted = cluster_->RunOn<Result<bool>>(leader, [](store::Node& n) -> Result<bool> {
    for (;;) {
      Result<bool> done = n.CompactNow(store::kMetadataGroup);
      if (!done.ok() || *done) return done;
      RETURN_IF_ERROR(fiber::Sleep(Millis(10)));
    }
  });
  ASSERT_TRUE(compacted && compacted->ok());
  ASSERT_TRUE(CatchesUp(3, leader));
  EXPECT_GT(cluster_->node(3).log(store::kMetadataGroup).FirstIndex(), 1u);
  EXPECT_TRUE(cluster_->CheckConverged(store::kMetadataGroup).ok())
      << cluster_->CheckConverged(store::kMetadataGroup);
}

// Node 4 is added to the metadata group of a young cluster (its log still starts at index 1).
// Every member compacts once the addition is applied and flushed, so node 4 starts from a
// snapshot, never from the log's first entries.
TEST_F(NodeClusterTest, ANewcomersAdditionCompactsTheLogSoItStartsFromASnapshot) {
  cluster_ = std::make_unique<NodeCluster>(NodeClusterOptions{
      .seed = 5, .nodes = 4, .base_dir = dir_.path(), .tweak = [](store::NodeOptions& o) {
        o.members = {1, 2, 3};
        if (o.id != 4) return;
        o.join = true;
        o.members.clear();
      }});
  ASSERT_TRUE(cluster_->StartAll().ok());
  ASSERT_TRUE(cluster_->WaitForLeaders(Seconds(30)));
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Write(leader, Put("k" + std::to_string(i), "v")).ok());
  ASSERT_EQ(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), 1u);
  auto proposed = cluster_->RunOn<Status>(leader, [](store::Node& n) {
    raft::ConfChange cc;
    cc.set_type(raftpb::ADD_NODE);
    cc.set_node_id(4);
    return n.ProposeConfChange(store::kMetadataGroup, cc);
  });
  ASSERT_TRUE(proposed && proposed->ok());
  ASSERT_TRUE(CatchesUp(4, leader));
  EXPECT_GT(cluster_->node(4).log(store::kMetadataGroup).FirstIndex(), 1u);
  EXPECT_GT(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), 1u);
  EXPECT_EQ(cluster_->node(4).log(store::kMetadataGroup).conf_state().voters_size(), 4);
  EXPECT_TRUE(cluster_->CheckConverged(store::kMetadataGroup).ok())
      << cluster_->CheckConverged(store::kMetadataGroup);
}

TEST_F(NodeClusterTest, LeaderThatCannotReadItsLogFailStopsAndTheGroupGoesOn) {
  // One log entry in memory and no block cache: a lagging follower is served from table files.
  Start(
      5,
      [](store::NodeOptions& o) {
        o.log_cache_entries = 1;
        o.engine.block_cache_bytes = 0;
      },
      /*sim_disk=*/true);
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  const NodeId lagging = leader == 3 ? 2 : 3;
  cluster_->Crash(lagging);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(Write(leader, Put("k" + std::to_string(i), std::to_string(i))).ok());
  }
  store::Engine& engine = cluster_->node(leader).engine();
  rocksdb::FlushOptions flush;
  flush.wait = false;  // the flush runs as an event of the node (sim/rocks_env.h)
  ASSERT_TRUE(engine.db()->Flush(flush, engine.raft_log()).ok());
  cluster_->world().RunFor(Millis(10));
  cluster_->disk(leader)->SetFaults(DiskFaults{.read_error = 1});
  ASSERT_TRUE(cluster_->Restart(lagging).ok());
  ASSERT_TRUE(
      cluster_->RunUntil([&] { return !cluster_->node(leader).failure().ok(); }, Seconds(10)))
      << "the leader went on without its log";
  EXPECT_NE(cluster_->node(leader).failure().ToString().find("raft: reading the log"),
            std::string::npos)
      << cluster_->node(leader).failure();
  // Its supervisor restarts it on a healthy disk; nothing acknowledged is lost.
  cluster_->disk(leader)->SetFaults(DiskFaults{});
  cluster_->Crash(leader);
  ASSERT_TRUE(cluster_->Restart(leader).ok());
  ASSERT_TRUE(cluster_->WaitForLeaders(Seconds(30)));
  ASSERT_TRUE(cluster_->RunUntil(
      [&] { return cluster_->CheckConverged(store::kMetadataGroup).ok(); }, Seconds(30)))
      << cluster_->CheckConverged(store::kMetadataGroup);
  auto v = cluster_->RunOn<Result<storepb::KvValue>>(
      lagging, [](store::Node& n) { return n.Get("k29", false); });
  ASSERT_TRUE(v && v->ok());
  EXPECT_EQ((*v)->value(), "29");
}

TEST_F(NodeClusterTest, LargeSnapshotTravelsInChunksAndByteThresholdCompacts) {
  // Compaction by bytes only (1 MiB); values of 64 KiB make a snapshot of ~2.5 MiB: 3 chunks.
  Start(4, [](store::NodeOptions& o) {
    o.snapshot_entries = 1000000;
    o.snapshot_bytes = 1 << 20;
  });
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  const NodeId lagging = leader == 3 ? 2 : 3;
  cluster_->Crash(lagging);
  const std::string big(64 << 10, 'x');
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Write(leader, Put("big" + std::to_string(i), big)).ok());
  EXPECT_GT(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), 10u);
  ASSERT_TRUE(cluster_->Restart(lagging).ok());
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        return cluster_->node(lagging).state_machine(store::kMetadataGroup).applied_index() ==
               cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index();
      },
      Seconds(60)));
  EXPECT_TRUE(cluster_->CheckConverged(store::kMetadataGroup).ok())
      << cluster_->CheckConverged(store::kMetadataGroup);
  auto v = cluster_->RunOn<Result<storepb::KvValue>>(
      lagging, [](store::Node& n) { return n.Get("big0", false); });
  ASSERT_TRUE(v && v->ok());
  EXPECT_EQ((*v)->value().size(), 64u << 10);
}

// The byte bound counts what the log still holds: each flush of applied state lets the log compact
// to what it made durable, and the next flush waits until the log is again twice past the bound.
// (Counting every byte since the last compaction that reached the applied index, as once, started
// a flush after every compaction under steady writes.)
TEST_F(NodeClusterTest, TheByteBoundCountsOnlyWhatTheLogStillHolds) {
  SimHooks hooks(Random(1), /*buggify=*/false);  // counts the probes, fires no fault
  Start(
      8,
      [](store::NodeOptions& o) {
        o.snapshot_entries = 1000000;
        o.snapshot_bytes = 64 << 10;
      },
      /*sim_disk=*/true);  // flushes take time, as writes go on
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  // Two writers at once, so that entries are applied while a flush runs. (With one write at a
  // time, a flush usually ends with everything applied durable, and any counting looks right.)
  constexpr int kWriters = 2, kEach = 100;  // 800 KiB: about six times twice the bound
  const std::string value(4 << 10, 'x');
  auto done = std::make_shared<int>(0);
  auto failed = std::make_shared<int>(0);
  for (int w = 0; w < kWriters; ++w) {
    cluster_->SpawnOn(leader, [=](store::Node& n) {
      for (int i = 0; i < kEach; ++i) {
        if (!n.Write(Put("k" + std::to_string(w) + "." + std::to_string(i), value)).ok()) ++*failed;
      }
      ++*done;
    });
  }
  ASSERT_TRUE(cluster_->RunUntil([&] { return *done == kWriters; }, Seconds(60)));
  ASSERT_EQ(*failed, 0);
  for (NodeId id : cluster_->ids()) ASSERT_TRUE(CatchesUp(id, leader)) << "node " << id;
  auto it = hooks.probes().find("node: compaction waits for a flush of applied state");
  const uint64_t flushes = it == hooks.probes().end() ? 0 : it->second;
  EXPECT_GE(flushes, 3u);  // each node flushed for its log at least once
  EXPECT_LE(flushes, 3u * (kWriters * kEach * 4 / 128 + 2))
      << "about one flush per node per 128 KiB written, not one after every compaction";
  for (NodeId id : cluster_->ids()) {
    EXPECT_GT(cluster_->node(id).log(store::kMetadataGroup).FirstIndex(), 100u) << "node " << id;
  }
}

TEST_F(NodeClusterTest, WriteOvertakenBySnapshotOnItsOriginHasAnUnknownOutcome) {
  // Long election timeouts (the node cut off below keeps its leader: no leader change aborts its
  // write); elections are started by hand instead, so no lease reads (with them, a node ignores
  // candidates for an election timeout after it starts).
  cluster_ = std::make_unique<NodeCluster>(
      NodeClusterOptions{.seed = 5, .nodes = 3, .base_dir = dir_.path(), .tweak = [](auto& o) {
                           o.election_ticks = 3000;
                           o.snapshot_entries = 20;
                           o.lease_reads = false;
                         }});
  ASSERT_TRUE(cluster_->StartAll().ok());
  for (store::GroupId g : cluster_->node(1).groups()) {
    ASSERT_TRUE(cluster_->node(1).Campaign(g).ok());
  }
  ASSERT_TRUE(cluster_->WaitForLeaders(Seconds(10)));
  const NodeId leader = cluster_->Leader(store::kMetadataGroup);
  const NodeId origin = leader == 3 ? 2 : 3;
  ASSERT_TRUE(cluster_->RunUntil(
      [&] { return cluster_->node(origin).raft(store::kMetadataGroup).lead() == leader; },
      Seconds(10)));
  SimNetwork& net = cluster_->world().network();
  // The origin's proposal reaches the leader twice (a duplicated message: two entries, the second
  // a no-op "duplicate proposal") and commits without the origin, which hears nothing more from
  // the leader until the log is compacted past both copies.
  net.Cut(leader, origin);
  net.options().duplicate = 1;
  const uint64_t applied =
      cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index();
  auto result = std::make_shared<std::optional<Result<storepb::ApplyResult>>>();
  cluster_->SpawnOn(origin, [result](store::Node& n) { result->emplace(n.Write(Put("k", "v"))); });
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        return cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index() >=
               applied + 2;
      },
      Seconds(10)));
  net.options().duplicate = 0;
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(Write(leader, Put("f" + std::to_string(i), "v")).ok());
  ASSERT_GT(cluster_->node(leader).log(store::kMetadataGroup).FirstIndex(), applied + 2);
  ASSERT_FALSE(result->has_value());
  // The origin catches up from a snapshot: it never applies its write's entry, so it cannot know
  // the write's outcome, and must say so (not wait out the write timeout, and not answer with the
  // no-op copy's result).
  net.Heal();
  ASSERT_TRUE(cluster_->RunUntil([&] { return result->has_value(); }, Seconds(10)));
  EXPECT_EQ((*result)->status().code(), Code::kAborted) << (*result)->status();
  EXPECT_EQ(cluster_->node(origin).state_machine(store::kMetadataGroup).applied_index(),
            cluster_->node(leader).state_machine(store::kMetadataGroup).applied_index());
}

}  // namespace
}  // namespace meta::sim
