// StateMachine on a real RocksDB in a temp dir.
#include "store/state_machine.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "core/key_codec.h"
#include "store/test_util.h"

namespace meta::store {
namespace {

class StateMachineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open(const std::string& path) {
    auto e = Engine::Open(StorageEnv{nullptr, path}, EngineOptions{});
    EXPECT_TRUE(e.ok()) << e.status();
    return std::move(e).value();
  }

  static raft::Entry Entry(uint64_t index, const storepb::Command& cmd) {
    raft::Entry e;
    e.set_index(index);
    e.set_term(1);
    e.set_data(cmd.SerializeAsString());
    return e;
  }

  // Applies `cmd` as the next entry.
  storepb::ApplyResult Apply(StateMachine& sm, const storepb::Command& cmd) {
    auto r = sm.Apply(Entry(sm.applied_index() + 1, cmd));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  static storepb::Command Put(std::string k, std::string v, uint64_t client = 0, uint64_t seq = 0) {
    storepb::Command c;
    c.mutable_kv_put()->set_key(std::move(k));
    c.mutable_kv_put()->set_value(std::move(v));
    c.set_client_id(client);
    c.set_sequence(seq);
    c.set_leader_time_ns(1000);
    return c;
  }

  TempDir dir_;
};

TEST_F(StateMachineTest, KvPutGetCasDeleteWithHistoryCounters) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  EXPECT_EQ(Apply(sm, Put("a", "1")).code(), 0);
  EXPECT_EQ(Apply(sm, Put("a", "2")).code(), 0);
  auto v = sm.Get("a");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value(), "2");
  EXPECT_EQ(v->version(), 2u);
  EXPECT_EQ(v->create_index(), 1u);
  EXPECT_EQ(v->mod_index(), 2u);

  storepb::Command cas;
  cas.mutable_kv_cas()->set_key("a");
  cas.mutable_kv_cas()->set_expected_value("1");
  cas.mutable_kv_cas()->set_new_value("3");
  storepb::ApplyResult r = Apply(sm, cas);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.previous().value(), "2");
  EXPECT_EQ(sm.Get("a")->value(), "2");  // a false precondition changes nothing
  cas.mutable_kv_cas()->set_expected_value("2");
  EXPECT_TRUE(Apply(sm, cas).succeeded());
  EXPECT_EQ(sm.Get("a")->value(), "3");

  storepb::Command del;
  del.mutable_kv_delete()->set_key("a");
  EXPECT_EQ(Apply(sm, del).code(), 0);
  EXPECT_EQ(sm.Get("a").status().code(), Code::kNotFound);
  EXPECT_EQ(Apply(sm, del).code(), static_cast<int>(Code::kNotFound));
  EXPECT_EQ(sm.applied_index(), 6u);
}

TEST_F(StateMachineTest, ListPagesThroughAPrefixInOrder) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  for (const char* k : {"b/2", "a/1", "b/1", "b/3", "c"}) Apply(sm, Put(k, "x"));
  auto page1 = sm.List("b/", "", 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].first, "b/1");
  EXPECT_EQ((*page1)[1].first, "b/2");
  auto page2 = sm.List("b/", (*page1)[1].first, 2);
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].first, "b/3");
}

TEST_F(StateMachineTest, RetriesAreExactlyOnce) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  Apply(sm, Put("k", "first", /*client=*/42, /*seq=*/1));
  Apply(sm, Put("k", "second", 42, 2));
  // The client retries seq 2 (its reply was lost): same answer, no second apply.
  storepb::ApplyResult again = Apply(sm, Put("k", "second", 42, 2));
  EXPECT_EQ(again.code(), 0);
  EXPECT_EQ(sm.Get("k")->version(), 2u);
  // An older sequence is refused.
  EXPECT_EQ(Apply(sm, Put("k", "old", 42, 1)).code(), static_cast<int>(Code::kFailedPrecondition));
  EXPECT_EQ(sm.Get("k")->value(), "second");
}

TEST_F(StateMachineTest, ADuplicatedProposalAppliesOnceEvenAfterAReload) {
  auto engine = Open(dir_.path());
  storepb::Command c = Put("k", "v");
  c.set_origin_node(3);
  c.set_proposal_id(77);
  {
    StateMachine sm(*engine, kMetadataGroup, {});
    ASSERT_TRUE(sm.Load().ok());
    EXPECT_EQ(Apply(sm, c).code(), 0);
    EXPECT_EQ(Apply(sm, c).code(), static_cast<int>(Code::kAlreadyExists));  // the duplicate
    EXPECT_EQ(sm.Get("k")->version(), 1u);
  }
  StateMachine reloaded(*engine, kMetadataGroup, {});
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(Apply(reloaded, c).code(), static_cast<int>(Code::kAlreadyExists));
  c.set_origin_node(4);  // the same id from another node is another proposal
  EXPECT_EQ(Apply(reloaded, c).code(), 0);
  EXPECT_EQ(reloaded.Get("k")->version(), 2u);
}

TEST_F(StateMachineTest, ProposalWindowRowsOfTheOldLayoutAreSkippedOnLoad) {
  // 0.1.0 kept one row per origin (8-byte key suffix); a data dir written by it still opens.
  auto engine = Open(dir_.path());
  rocksdb::WriteBatch batch;
  batch.Put(engine->data(GroupType::kMetadata),
            DataKey(kMetadataGroup, Space::kProposals, BigEndian64(3)), "\x0a\x01\x05");
  ASSERT_TRUE(engine->Write(batch, /*sync=*/false).ok());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  // A row of the current layout that is cut short is still corruption.
  rocksdb::WriteBatch bad;
  bad.Put(engine->data(GroupType::kMetadata),
          DataKey(kMetadataGroup, Space::kProposals,
                  BigEndian64(3) + std::string("\x00\x00\x00\x01", 4)),
          "short");
  ASSERT_TRUE(engine->Write(bad, /*sync=*/false).ok());
  StateMachine reloaded(*engine, kMetadataGroup, {});
  EXPECT_EQ(reloaded.Load().code(), Code::kDataLoss);
}

TEST_F(StateMachineTest, StagedEntriesSeeEachOtherAndLandInOneFlush) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  storepb::Command cas;
  cas.mutable_kv_cas()->set_key("k");
  cas.mutable_kv_cas()->set_expected_value("a");
  cas.mutable_kv_cas()->set_new_value("b");
  ASSERT_TRUE(sm.Stage(Entry(1, Put("k", "a"))).ok());
  auto r = sm.Stage(Entry(2, cas));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded());  // it saw the staged put
  // Nothing is visible or counted before the flush.
  EXPECT_EQ(sm.applied_index(), 0u);
  EXPECT_EQ(sm.Get("k").status().code(), Code::kNotFound);
  ASSERT_TRUE(sm.Flush().ok());
  EXPECT_EQ(sm.applied_index(), 2u);
  EXPECT_EQ(sm.Get("k")->value(), "b");
  EXPECT_EQ(sm.Get("k")->version(), 2u);
  StateMachine reloaded(*engine, kMetadataGroup, {});
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.applied_index(), 2u);
  EXPECT_EQ(reloaded.Get("k")->value(), "b");
}

TEST_F(StateMachineTest, ADuplicatedClientProposalIsAnsweredByTheDedupRecord) {
  // Commands with a client id are not kept in the proposal window: their dedup record catches a
  // duplicate, before and after a reload, and answers it with the first outcome.
  auto engine = Open(dir_.path());
  storepb::Command c = Put("k", "v", 42, 1);
  c.set_origin_node(3);
  c.set_proposal_id(78);
  {
    StateMachine sm(*engine, kMetadataGroup, {});
    ASSERT_TRUE(sm.Load().ok());
    storepb::ApplyResult first = Apply(sm, c);
    EXPECT_EQ(first.code(), 0);
    storepb::ApplyResult dup = Apply(sm, c);
    EXPECT_EQ(dup.code(), 0);
    EXPECT_EQ(dup.index(), first.index() + 1);  // answered at the duplicate's own index
    EXPECT_EQ(sm.Get("k")->version(), 1u);
  }
  StateMachine reloaded(*engine, kMetadataGroup, {});
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(Apply(reloaded, c).code(), 0);
  EXPECT_EQ(reloaded.Get("k")->version(), 1u);
}

TEST_F(StateMachineTest, DedupTableIsBoundedDeterministically) {
  auto engine = Open(dir_.path());
  StateMachineOptions options;
  options.max_client_records = 3;
  StateMachine sm(*engine, kMetadataGroup, options);
  ASSERT_TRUE(sm.Load().ok());
  for (uint64_t client = 1; client <= 5; ++client) {
    storepb::Command c = Put("k", "v", client, 1);
    c.set_leader_time_ns(static_cast<int64_t>(client));
    Apply(sm, c);
  }
  // Clients 1 and 2 were evicted: their retry would apply again (the bound is documented).
  storepb::Command retry = Put("k", "v", 5, 1);
  Apply(sm, retry);
  EXPECT_EQ(sm.Get("k")->version(), 5u);  // client 5's retry was deduplicated
  StateMachine reloaded(*engine, kMetadataGroup, options);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.applied_index(), 6u);
}

TEST_F(StateMachineTest, OffsetCommitIsAllOrNothingWithCompareAndSet) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, OffsetGroup(0), {});
  ASSERT_TRUE(sm.Load().ok());
  storepb::Command c;
  auto* op = c.mutable_offset_commit();
  op->set_group("g");
  auto* e1 = op->add_entries();
  e1->set_topic("t");
  e1->set_partition(0);
  e1->set_offset(10);
  auto* e2 = op->add_entries();
  e2->set_topic("t");
  e2->set_partition(1);
  e2->set_offset(20);
  EXPECT_TRUE(Apply(sm, c).succeeded());
  EXPECT_EQ(*sm.GetOffset("g", "t", 1), 20u);
  // One mismatching expectation: nothing is written.
  e1->set_has_expected(true);
  e1->set_expected(10);
  e1->set_offset(11);
  e2->set_has_expected(true);
  e2->set_expected(99);
  e2->set_offset(21);
  storepb::ApplyResult r = Apply(sm, c);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.code(), static_cast<int>(Code::kFailedPrecondition));
  EXPECT_NE(r.message().find("t/1 is 20, expected 99"), std::string::npos) << r.message();
  EXPECT_EQ(*sm.GetOffset("g", "t", 0), 10u);
}

TEST_F(StateMachineTest, SessionBatchCreateOnlyRefusesExistingAndWritesNothing) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, DataGroup(0), {});
  ASSERT_TRUE(sm.Load().ok());
  storepb::Command c;
  auto* b = c.mutable_session_batch();
  b->set_create_only(true);
  b->add_upserts()->set_client_id("c1");
  b->add_upserts()->set_client_id("c2");
  EXPECT_TRUE(Apply(sm, c).succeeded());
  b->mutable_upserts(1)->set_client_id("c3");  // c1 exists
  EXPECT_EQ(Apply(sm, c).code(), static_cast<int>(Code::kAlreadyExists));
  EXPECT_EQ(sm.GetSession("c3").status().code(), Code::kNotFound);
  storepb::Command del;
  del.mutable_session_batch()->add_deletes("c1");
  EXPECT_TRUE(Apply(sm, del).succeeded());
  EXPECT_EQ(sm.GetSession("c1").status().code(), Code::kNotFound);
  EXPECT_TRUE(sm.GetSession("c2").ok());
}

TEST_F(StateMachineTest, MalformedCommandIsAResultNotACrash) {
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  raft::Entry e;
  e.set_index(1);
  e.set_term(1);
  e.set_data("\xff\xff not a command");
  auto r = sm.Apply(e);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code(), static_cast<int>(Code::kInvalidArgument));
  EXPECT_EQ(sm.applied_index(), 1u);
}

TEST_F(StateMachineTest, StageNamesTheProposerOfEveryCommandItParses) {
  // Node::ApplyEntry answers the waiting writer from this, whatever the command's outcome.
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  uint64_t index = 0;
  auto stage = [&](raftpb::EntryType type, std::string data) {
    raft::Entry e;
    e.set_index(++index);
    e.set_term(1);
    e.set_type(type);
    e.set_data(std::move(data));
    StateMachine::Proposer p{99, 99};
    auto r = sm.Stage(e, nullptr, &p);
    EXPECT_TRUE(r.ok()) << r.status();
    return std::make_pair(p, r.ok() ? r->code() : -1);
  };
  auto proposed = [](storepb::Command c, uint64_t origin, uint64_t id) {
    c.set_origin_node(origin);
    c.set_proposal_id(id);
    return c.SerializeAsString();
  };
  auto expect = [](std::pair<StateMachine::Proposer, int> got, uint64_t origin, uint64_t id,
                   Code code) {
    EXPECT_EQ(got.first.origin, origin);
    EXPECT_EQ(got.first.proposal_id, id);
    EXPECT_EQ(got.second, static_cast<int>(code));
  };
  const auto normal = raftpb::ENTRY_NORMAL;
  expect(stage(normal, proposed(Put("k", "1"), 2, 10)), 2, 10, Code::kOk);             // applied
  expect(stage(normal, proposed(Put("k", "1"), 2, 10)), 2, 10, Code::kAlreadyExists);  // dup
  expect(stage(normal, proposed(Put("k", "2", 7, 1), 3, 11)), 3, 11, Code::kOk);
  expect(stage(normal, proposed(Put("k", "2", 7, 1), 3, 12)), 3, 12, Code::kOk);  // retry
  expect(stage(normal, proposed(Put("k", "3", 7, 0), 3, 13)), 3, 13,
         Code::kFailedPrecondition);  // a stale sequence
  storepb::Command empty;             // parses, but carries no operation
  expect(stage(normal, proposed(empty, 1, 14)), 1, 14, Code::kInvalidArgument);
  expect(stage(normal, "\xff\xff not a command"), 0, 0, Code::kInvalidArgument);
  expect(stage(raftpb::ENTRY_CONF_CHANGE, proposed(Put("k", "4"), 2, 15)), 0, 0, Code::kOk);
  expect(stage(normal, ""), 0, 0, Code::kOk);  // a new leader's empty entry
  ASSERT_TRUE(sm.Flush().ok());
  EXPECT_EQ(sm.Get("k")->value(), "2");
}

// Apply writes without the WAL: a crash (the engine closes without flushing) keeps what the last
// flush wrote, as the state at that applied index, and the replay of the later entries gives
// the same results as the first time.
TEST_F(StateMachineTest, ACrashLeavesTheStateOfTheLastFlushAndTheReplayRedoesTheRest) {
  {
    auto engine = Open(dir_.path());
    StateMachine sm(*engine, kMetadataGroup, {});
    ASSERT_TRUE(sm.Load().ok());
    Apply(sm, Put("a", "1", 5, 1));
    Apply(sm, Put("a", "2", 5, 2));
    EXPECT_EQ(*sm.DurableAppliedIndex(), 0u);
    ASSERT_TRUE(engine->FlushAppliedState().ok());
    EXPECT_EQ(*sm.DurableAppliedIndex(), 2u);
    EXPECT_EQ(Apply(sm, Put("a", "3", 5, 3)).code(), 0);
    EXPECT_EQ(Apply(sm, Put("b", "1")).code(), 0);
    EXPECT_EQ(sm.applied_index(), 4u);
    EXPECT_EQ(*sm.DurableAppliedIndex(), 2u);
  }
  auto engine = Open(dir_.path());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  EXPECT_EQ(sm.applied_index(), 2u);
  EXPECT_EQ(sm.Get("a")->value(), "2");
  EXPECT_EQ(sm.Get("b").status().code(), Code::kNotFound);
  // At or below the applied index: skipped, not applied onto its own effects.
  EXPECT_EQ(sm.Apply(Entry(2, Put("a", "2", 5, 2)))->code(),
            static_cast<int>(Code::kAlreadyExists));
  EXPECT_EQ(sm.Get("a")->version(), 2u);
  // The lost entries, replayed from the log: the same results, and client 5's retry of sequence 3
  // afterwards is answered from its exactly-once record.
  EXPECT_EQ(sm.Apply(Entry(3, Put("a", "3", 5, 3)))->code(), 0);
  EXPECT_EQ(sm.Apply(Entry(4, Put("b", "1")))->code(), 0);
  EXPECT_EQ(sm.Get("a")->value(), "3");
  EXPECT_EQ(sm.Get("a")->version(), 3u);
  EXPECT_EQ(sm.Apply(Entry(5, Put("a", "3", 5, 3)))->code(), 0);
  EXPECT_EQ(sm.Get("a")->version(), 3u);
}

// Data directories of before 0.3 kept the applied index in raft_state, written with the WAL.
TEST_F(StateMachineTest, TheAppliedIndexOfTheOlderLayoutIsReadUntilANewOneIsDurable) {
  auto engine = Open(dir_.path());
  rocksdb::WriteBatch old;
  old.Put(engine->raft_state(), StateKey(kMetadataGroup, StateTag::kApplied), BigEndian64(7));
  ASSERT_TRUE(engine->Write(old, /*sync=*/true).ok());
  StateMachine sm(*engine, kMetadataGroup, {});
  ASSERT_TRUE(sm.Load().ok());
  EXPECT_EQ(sm.applied_index(), 7u);
  EXPECT_EQ(*sm.DurableAppliedIndex(), 7u);
  raft::Entry e;
  e.set_index(8);
  e.set_term(1);
  ASSERT_TRUE(sm.Apply(e).ok());
  EXPECT_EQ(*sm.DurableAppliedIndex(), 7u);
  ASSERT_TRUE(engine->FlushAppliedState().ok());
  EXPECT_EQ(*sm.DurableAppliedIndex(), 8u);
}

// A key deleted without the WAL is still in the last flush's table files; a crash after a
// snapshot install (written with the WAL) must not bring it back, whatever the snapshot holds.
TEST_F(StateMachineTest, ASnapshotInstallOutlivesACrashThatLosesEarlierUnloggedWrites) {
  TempDir other_dir;
  auto src = Open(other_dir.path());
  StateMachine a(*src, kMetadataGroup, {});
  ASSERT_TRUE(a.Load().ok());
  Apply(a, Put("k", "from the snapshot"));
  raft::ConfState conf;
  conf.add_voters(1);
  auto snap = a.BuildSnapshot(1, conf);
  ASSERT_TRUE(snap.ok()) << snap.status();
  {
    auto engine = Open(dir_.path());
    StateMachine b(*engine, kMetadataGroup, {});
    ASSERT_TRUE(b.Load().ok());
    Apply(b, Put("x", "deleted before the snapshot"));
    ASSERT_TRUE(engine->FlushAppliedState().ok());
    storepb::Command del;
    del.mutable_kv_delete()->set_key("x");
    Apply(b, del);  // unlogged: lost in the crash
    ASSERT_EQ(b.Get("x").status().code(), Code::kNotFound);
    // The snapshot is at index 1, below b's; installing it anyway exercises the install alone.
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(b.InstallSnapshot(batch, *snap).ok());
    ASSERT_TRUE(engine->Write(batch, /*sync=*/true).ok());
    ASSERT_TRUE(b.OnSnapshotInstalled(1).ok());
  }
  auto engine = Open(dir_.path());
  StateMachine b(*engine, kMetadataGroup, {});
  ASSERT_TRUE(b.Load().ok());
  EXPECT_EQ(b.applied_index(), 1u);
  EXPECT_EQ(b.Get("x").status().code(), Code::kNotFound);
  EXPECT_EQ(b.Get("k")->value(), "from the snapshot");
  EXPECT_EQ(*a.Digest(), *b.Digest());
}

// Snapshot round trip for every group type: build on one engine, install on another, compare
// contents and digests; the install deletes whatever the target had that the snapshot lacks.
TEST_F(StateMachineTest, SnapshotRoundTripForEveryGroupType) {
  TempDir other_dir;
  auto src = Open(dir_.path());
  auto dst = Open(other_dir.path());
  for (GroupId group : {kMetadataGroup, OffsetGroup(0), DataGroup(0)}) {
    StateMachine a(*src, group, {});
    StateMachine b(*dst, group, {});
    ASSERT_TRUE(a.Load().ok());
    ASSERT_TRUE(b.Load().ok());
    // Keys before, between and after the snapshot's, and one the snapshot overwrites.
    Apply(b, Put("a-stale", "must disappear"));
    Apply(b, Put("k1", "overwritten"));
    Apply(b, Put("stale", "must disappear"));
    Apply(b, Put("zz-stale", "must disappear"));
    Apply(a, Put("k1", "v1", 7, 1));
    storepb::Command off;
    off.mutable_offset_commit()->set_group("g");
    auto* oe = off.mutable_offset_commit()->add_entries();
    oe->set_topic("t");
    oe->set_offset(5);
    Apply(a, off);
    storepb::Command ses;
    ses.mutable_session_batch()->add_upserts()->set_client_id("s1");
    Apply(a, ses);
    raft::ConfState conf;
    conf.add_voters(1);
    auto snap = a.BuildSnapshot(3, conf);
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_EQ(snap->metadata().index(), 3u);
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(b.InstallSnapshot(batch, *snap).ok());
    ASSERT_TRUE(dst->Write(batch, true).ok());
    ASSERT_TRUE(b.OnSnapshotInstalled(3).ok());
    EXPECT_EQ(b.applied_index(), 3u);
    for (const char* key : {"a-stale", "stale", "zz-stale"}) {
      EXPECT_EQ(b.Get(key).status().code(), Code::kNotFound)
          << key << " in " << GroupTypeName(TypeOf(group));
    }
    EXPECT_EQ(b.Get("k1")->value(), "v1");
    EXPECT_EQ(*b.GetOffset("g", "t", 0), 5u);
    EXPECT_TRUE(b.GetSession("s1").ok());
    EXPECT_EQ(*a.Digest(), *b.Digest());
    // The dedup table came along: a retry of client 7's command is recognised.
    Apply(b, Put("k1", "v1", 7, 1));
    EXPECT_EQ(b.Get("k1")->version(), 1u);
  }
}

}  // namespace
}  // namespace meta::store
