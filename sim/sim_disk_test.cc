// The simulated disk itself: synced data survives a power loss, unsynced data may not.
#include "sim/sim_disk.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/write_batch.h>

#include "store/engine.h"
#include "store/log_storage.h"

namespace meta::sim {
namespace {

void Put(store::Engine& e, const std::string& k, bool sync) {
  rocksdb::WriteBatch b;
  b.Put(e.raft_state(), k, "v");
  ASSERT_TRUE(e.Write(b, sync).ok());
}

TEST(SimDiskTest, SyncedWritesSurvivePowerLossUnsyncedOnesMayNot) {
  int unsynced_lost = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimDisk disk(seed);
    StorageEnv storage{disk.file_system(), "/db"};
    {
      auto e = store::Engine::Open(storage, {});
      ASSERT_TRUE(e.ok()) << e.status();
      Put(**e, "synced", true);
      Put(**e, "unsynced", false);
      disk.PowerOff();
    }  // the process dies; RocksDB's close writes nothing that lasts
    disk.Recover();
    auto e = store::Engine::Open(storage, {});
    ASSERT_TRUE(e.ok()) << "seed " << seed << ": " << e.status();
    EXPECT_TRUE((*e)->Get((*e)->raft_state(), "synced").ok()) << "seed " << seed;
    if (!(*e)->Get((*e)->raft_state(), "unsynced").ok()) ++unsynced_lost;
  }
  EXPECT_GT(unsynced_lost, 0) << "no seed lost the unsynced write: the disk model keeps too much";
}

// Bit rot inside the write-ahead log, before records that were synced: replaying only what
// precedes it would silently roll back acknowledged writes (a Raft vote, say). The open must fail.
// (RocksDB's limit: a corrupted length field in the log's last 32 KiB block reads as a torn tail.)
TEST(SimDiskTest, CorruptionInsideTheWalRefusesTheOpenInsteadOfRollingBack) {
  SimDisk disk(3);
  StorageEnv storage{disk.file_system(), "/db"};
  {
    auto e = store::Engine::Open(storage, {});
    ASSERT_TRUE(e.ok()) << e.status();
    for (int i = 0; i < 20; ++i) Put(**e, "key" + std::to_string(i) + std::string(200, 'x'), true);
    disk.PowerOff();
  }
  disk.Recover();
  rocksdb::FileSystem& fs = *disk.file_system();
  std::vector<std::string> children;
  ASSERT_TRUE(fs.GetChildren("/db", {}, &children, nullptr).ok());
  std::string wal;
  for (const std::string& c : children) {
    if (c.ends_with(".log")) wal = "/db/" + c;
  }
  ASSERT_FALSE(wal.empty());
  std::string data;
  ASSERT_TRUE(rocksdb::ReadFileToString(&fs, wal, &data).ok());
  ASSERT_GT(data.size(), 2000u);
  const size_t at = data.find("key10");  // inside a record's value; synced records follow it
  ASSERT_NE(at, std::string::npos);
  data[at + 50] ^= 0x40;
  std::unique_ptr<rocksdb::FSWritableFile> out;
  ASSERT_TRUE(fs.NewWritableFile(wal, {}, &out, nullptr).ok());
  ASSERT_TRUE(out->Append(data, {}, nullptr).ok());
  ASSERT_TRUE(out->Sync({}, nullptr).ok());
  ASSERT_TRUE(out->Close({}, nullptr).ok());
  auto e = store::Engine::Open(storage, {});
  ASSERT_FALSE(e.ok()) << "opened with the WAL's second half silently dropped";
  EXPECT_EQ(e.status().code(), Code::kDataLoss) << e.status();
}

TEST(SimDiskTest, ReadFaultsReachTheLogStorageAsErrors) {
  SimDisk disk(7);
  // No block cache: every read of a table file reaches the disk.
  auto e = store::Engine::Open(StorageEnv{disk.file_system(), "/db"},
                               store::EngineOptions{.block_cache_bytes = 0});
  ASSERT_TRUE(e.ok()) << e.status();
  raft::ConfState conf;
  conf.add_voters(1);
  auto log = store::LogStorage::Load(**e, 1, conf, /*cache_entries=*/1);
  ASSERT_TRUE(log.ok()) << log.status();
  rocksdb::WriteBatch batch;
  std::vector<raft::Entry> entries(10);
  for (uint64_t i = 0; i < entries.size(); ++i) {
    entries[i].set_index(i + 1);
    entries[i].set_term(1);
  }
  (*log)->Append(batch, entries);
  raft::HardState hs;
  hs.set_term(1);
  hs.set_vote(1);
  hs.set_commit(10);
  (*log)->SetHardState(batch, hs);
  ASSERT_TRUE((*e)->Write(batch, true).ok());
  for (auto* cf : {(*e)->raft_log(), (*e)->raft_state()}) {  // to table files
    ASSERT_TRUE((*e)->db()->Flush(rocksdb::FlushOptions(), cf).ok());
  }
  ASSERT_TRUE((*log)->Entries(1, 10, UINT64_MAX).ok());
  disk.SetFaults(DiskFaults{.read_error = 1});
  Result<std::vector<raft::Entry>> got = (*log)->Entries(1, 10, UINT64_MAX);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInternal);
  EXPECT_NE(got.status().ToString().find("injected read error"), std::string::npos) << got.status();
  EXPECT_GT(disk.faults_injected(), 0u);
  // A restart that cannot read its Raft state must fail, not start from an empty one.
  auto reloaded = store::LogStorage::Load(**e, 1, conf);
  ASSERT_FALSE(reloaded.ok()) << "loaded with term " << (*reloaded)->hard_state().term();
  EXPECT_EQ(reloaded.status().code(), Code::kInternal) << reloaded.status();
}

}  // namespace
}  // namespace meta::sim
