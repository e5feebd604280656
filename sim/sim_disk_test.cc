// The simulated disk itself: synced data survives a power loss, unsynced data may not.
#include "sim/sim_disk.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
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
