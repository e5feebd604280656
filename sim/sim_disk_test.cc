// The simulated disk itself: synced data survives a power loss, unsynced data may not.
#include "sim/sim_disk.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "store/engine.h"

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

}  // namespace
}  // namespace meta::sim
