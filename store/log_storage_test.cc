// LogStorage on a real RocksDB in a temp dir: restart recovery and compaction.
#include "store/log_storage.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "store/test_util.h"

namespace meta::store {
namespace {

raft::Entry E(uint64_t index, uint64_t term, std::string data = "") {
  raft::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

raft::ConfState Voters(std::initializer_list<uint64_t> ids) {
  raft::ConfState cs;
  for (uint64_t id : ids) cs.add_voters(id);
  return cs;
}

class LogStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open() {
    auto e = Engine::Open(StorageEnv{nullptr, dir_.path()}, EngineOptions{});
    EXPECT_TRUE(e.ok()) << e.status();
    return std::move(e).value();
  }
  TempDir dir_;
};

TEST_F(LogStorageTest, RestartRecoversLogHardStateAndConfState) {
  {
    auto engine = Open();
    auto log = LogStorage::Load(*engine, 7, Voters({1, 2, 3}));
    ASSERT_TRUE(log.ok()) << log.status();
    rocksdb::WriteBatch batch;
    (*log)->Append(batch, {E(1, 1, "a"), E(2, 1, "b"), E(3, 2, "c")});
    raft::HardState hs;
    hs.set_term(2);
    hs.set_vote(3);
    hs.set_commit(2);
    (*log)->SetHardState(batch, hs);
    ASSERT_TRUE(engine->Write(batch, true).ok());
    // An overwrite by a new leader truncates the suffix.
    rocksdb::WriteBatch batch2;
    (*log)->Append(batch2, {E(3, 3, "c2")});
    ASSERT_TRUE(engine->Write(batch2, true).ok());
  }
  auto engine = Open();
  auto log = LogStorage::Load(*engine, 7, Voters({9}));  // initial conf ignored: one is stored
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->FirstIndex(), 1u);
  EXPECT_EQ((*log)->LastIndex(), 3u);
  EXPECT_EQ(*(*log)->Term(3), 3u);
  auto ents = (*log)->Entries(1, 4, UINT64_MAX);
  ASSERT_TRUE(ents.ok());
  ASSERT_EQ(ents->size(), 3u);
  EXPECT_EQ((*ents)[2].data(), "c2");
  auto init = (*log)->GetInitialState();
  EXPECT_EQ(init->hard_state.term(), 2u);
  EXPECT_EQ(init->hard_state.vote(), 3u);
  EXPECT_EQ(init->hard_state.commit(), 2u);
  EXPECT_EQ(init->conf_state.voters_size(), 3);
  // Another group on the same engine is untouched.
  auto other = LogStorage::Load(*engine, 8, Voters({1}));
  EXPECT_EQ((*other)->LastIndex(), 0u);
}

// Data directories of before 0.3 kept the conf state in raft_state, written with the WAL.
TEST_F(LogStorageTest, TheConfStateOfTheOlderLayoutIsRead) {
  auto engine = Open();
  rocksdb::WriteBatch old;
  old.Put(engine->raft_state(), StateKey(7, StateTag::kConfState),
          Voters({4, 5, 6}).SerializeAsString());
  ASSERT_TRUE(engine->Write(old, true).ok());
  auto log = LogStorage::Load(*engine, 7, Voters({1}));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->conf_state().voters_size(), 3);
  EXPECT_EQ((*log)->conf_state().voters(0), 4u);
}

// Applied state flushed while the commit index was lost with the WAL's unsynced tail: the commit
// index is raised to it. An applied index outside the log means the two are of different
// histories (the log compacted past what the state holds, or entries lost).
TEST_F(LogStorageTest, TheAppliedIndexAtLoadMustLieInTheLog) {
  auto engine = Open();
  auto log = LogStorage::Load(*engine, 7, Voters({1}));
  ASSERT_TRUE(log.ok()) << log.status();
  rocksdb::WriteBatch batch;
  (*log)->Append(batch, {E(1, 1), E(2, 1), E(3, 1), E(4, 1)});
  raft::HardState hs;
  hs.set_term(1);
  hs.set_commit(1);
  (*log)->SetHardState(batch, hs);
  ASSERT_TRUE(engine->Write(batch, true).ok());
  ASSERT_TRUE((*log)->CheckApplied(3).ok());
  EXPECT_EQ((*log)->hard_state().commit(), 3u);
  ASSERT_TRUE((*log)->CheckApplied(2).ok());
  EXPECT_EQ((*log)->hard_state().commit(), 3u);  // never lowered
  EXPECT_EQ((*log)->CheckApplied(5).code(), Code::kDataLoss);
  ASSERT_TRUE((*log)->Compact(3).ok());
  EXPECT_EQ((*log)->CheckApplied(2).code(), Code::kDataLoss);
  EXPECT_TRUE((*log)->CheckApplied(3).ok());
}

TEST_F(LogStorageTest, CompactionDropsOldEntriesAndSurvivesRestart) {
  {
    auto engine = Open();
    auto log = LogStorage::Load(*engine, 1, Voters({1}));
    rocksdb::WriteBatch batch;
    std::vector<raft::Entry> ents;
    for (uint64_t i = 1; i <= 100; ++i) ents.push_back(E(i, 1, "v" + std::to_string(i)));
    (*log)->Append(batch, ents);
    ASSERT_TRUE(engine->Write(batch, true).ok());
    ASSERT_TRUE((*log)->Compact(60).ok());
    EXPECT_EQ((*log)->FirstIndex(), 61u);
    EXPECT_TRUE(raft::IsCompacted((*log)->Entries(10, 20, UINT64_MAX).status()));
    EXPECT_EQ(*(*log)->Term(60), 1u);
  }
  auto engine = Open();
  auto log = LogStorage::Load(*engine, 1, Voters({1}));
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->FirstIndex(), 61u);
  EXPECT_EQ((*log)->LastIndex(), 100u);
  auto ents = (*log)->Entries(61, 101, UINT64_MAX);
  ASSERT_TRUE(ents.ok());
  EXPECT_EQ(ents->size(), 40u);
  EXPECT_EQ(ents->front().data(), "v61");
}

// Counts the group's log rows actually present in RocksDB.
size_t RowsOnDisk(Engine& engine, GroupId group) {
  std::unique_ptr<rocksdb::Iterator> it(
      engine.db()->NewIterator(rocksdb::ReadOptions(), engine.raft_log()));
  size_t n = 0;
  for (it->Seek(LogKey(group, 0)); it->Valid() && it->key().starts_with(GroupPrefix(group));
       it->Next()) {
    ++n;
  }
  return n;
}

TEST_F(LogStorageTest, TruncationCompactionAndSnapshotLeaveNoRowsBehind) {
  auto engine = Open();
  auto log = LogStorage::Load(*engine, 1, Voters({1}), /*cache_entries=*/2);
  rocksdb::WriteBatch batch;
  std::vector<raft::Entry> ents;
  for (uint64_t i = 1; i <= 10; ++i) ents.push_back(E(i, 1));
  (*log)->Append(batch, ents);
  (*log)->Append(batch, {E(6, 2)});  // a new leader replaces 6..10 with a shorter suffix
  ASSERT_TRUE(engine->Write(batch, true).ok());
  EXPECT_EQ(RowsOnDisk(*engine, 1), 6u);
  ASSERT_TRUE((*log)->Compact(4).ok());
  EXPECT_EQ(RowsOnDisk(*engine, 1), 2u);
  raft::SnapshotMetadata meta;
  meta.set_index(20);
  meta.set_term(3);
  *meta.mutable_conf_state() = Voters({1});
  rocksdb::WriteBatch snap;
  (*log)->ApplySnapshot(snap, meta);
  ASSERT_TRUE(engine->Write(snap, true).ok());
  EXPECT_EQ(RowsOnDisk(*engine, 1), 0u);
}

TEST_F(LogStorageTest, ALogWhoseTermsGoBackIsRefusedAtLoad) {
  auto engine = Open();
  {
    auto log = LogStorage::Load(*engine, 1, Voters({1}));
    rocksdb::WriteBatch batch;
    (*log)->Append(batch, {E(1, 1), E(2, 2), E(3, 2)});
    ASSERT_TRUE(engine->Write(batch, true).ok());
  }
  // A leftover of a suffix that should have been truncated: index 4 of an older term.
  rocksdb::WriteBatch stale;
  stale.Put(engine->raft_log(), LogKey(1, 4), E(4, 1).SerializeAsString());
  ASSERT_TRUE(engine->Write(stale, true).ok());
  auto log = LogStorage::Load(*engine, 1, Voters({1}));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Code::kDataLoss) << log.status();
}

TEST_F(LogStorageTest, EntriesRespectTheByteLimitButReturnAtLeastOne) {
  auto engine = Open();
  auto log = LogStorage::Load(*engine, 1, Voters({1}));
  rocksdb::WriteBatch batch;
  (*log)->Append(batch, {E(1, 1, std::string(100, 'x')), E(2, 1, std::string(100, 'y'))});
  ASSERT_TRUE(engine->Write(batch, true).ok());
  EXPECT_EQ((*log)->Entries(1, 3, 1)->size(), 1u);
  EXPECT_EQ((*log)->Entries(1, 3, 250)->size(), 2u);
  EXPECT_EQ((*log)->Entries(1, 5, UINT64_MAX).status().code(), Code::kOutOfRange);
}

}  // namespace
}  // namespace meta::store
