// Engine on a real RocksDB in a temp dir: the column families' options.
#include "store/engine.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "store/test_util.h"

namespace meta::store {
namespace {

uint64_t ActiveMemtableEntries(Engine& engine, rocksdb::ColumnFamilyHandle* cf) {
  uint64_t n = 0;
  EXPECT_TRUE(engine.db()->GetIntProperty(cf, "rocksdb.num-entries-active-mem-table", &n));
  return n;
}

// Each group type's column family gets its own memtable size: writing past it switches that
// memtable (synchronously, in the write path) and no other.
TEST(EngineTest, EachGroupTypeHasItsOwnMemtableSize) {
  TempDir dir;
  EngineOptions options;
  options.metadata_memtable_bytes = 1 << 20;
  options.offset_memtable_bytes = 2 << 20;
  options.data_memtable_bytes = 16 << 20;
  options.log_memtable_bytes = 8 << 20;
  auto engine = Engine::Open(StorageEnv{nullptr, dir.path()}, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Engine& e = **engine;

  struct Expect {
    rocksdb::ColumnFamilyHandle* cf;
    size_t bytes;
  };
  for (const Expect& x :
       {Expect{e.data(GroupType::kMetadata), 1 << 20}, Expect{e.data(GroupType::kOffset), 2 << 20},
        Expect{e.data(GroupType::kData), 16 << 20}, Expect{e.raft_log(), 8 << 20}}) {
    rocksdb::ColumnFamilyDescriptor desc;
    ASSERT_TRUE(x.cf->GetDescriptor(&desc).ok());
    EXPECT_EQ(desc.options.write_buffer_size, x.bytes) << desc.name;
    EXPECT_EQ(desc.options.target_file_size_base, x.bytes) << desc.name;
    EXPECT_EQ(desc.options.max_bytes_for_level_base, 4 * x.bytes) << desc.name;
  }

  // 1.5 MB into each group type's column family, 1 KB per key: past the metadata memtable's size,
  // within the offset memtable's.
  const std::string value(1024, 'v');
  constexpr int kKeys = 1536;
  for (GroupType type : {GroupType::kMetadata, GroupType::kOffset, GroupType::kData}) {
    for (int i = 0; i < kKeys; i += 64) {
      rocksdb::WriteBatch batch;
      for (int j = i; j < i + 64; ++j) {
        ASSERT_TRUE(batch.Put(e.data(type), "key" + std::to_string(j), value).ok());
      }
      ASSERT_TRUE(e.Write(batch, /*sync=*/false).ok());
    }
  }
  // Past its size, a memtable is switched for a new one: only the latest writes are in it.
  EXPECT_LT(ActiveMemtableEntries(e, e.data(GroupType::kMetadata)), uint64_t{1024});
  EXPECT_EQ(ActiveMemtableEntries(e, e.data(GroupType::kOffset)), uint64_t{kKeys});
  EXPECT_EQ(ActiveMemtableEntries(e, e.data(GroupType::kData)), uint64_t{kKeys});
}

// The data groups' column family compacts with universal compaction; one that was written with
// leveled compaction (stop 17 and before) opens with it, keeps every key, and compacts on.
TEST(EngineTest, TheDataColumnFamilyMovesFromLeveledToUniversalCompaction) {
  TempDir dir;
  EngineOptions options;
  options.data_universal_compaction = false;
  const std::string value(1024, 'v');
  auto write = [&](Engine& e, int from, int to) {
    for (int i = from; i < to; i += 100) {
      rocksdb::WriteBatch batch;
      for (int j = i; j < i + 100; ++j) {
        ASSERT_TRUE(batch.Put(e.data(GroupType::kData), "key" + std::to_string(j), value).ok());
      }
      ASSERT_TRUE(e.Write(batch, /*sync=*/false).ok());
    }
  };
  auto style = [](Engine& e) {
    rocksdb::ColumnFamilyDescriptor desc;
    EXPECT_TRUE(e.data(GroupType::kData)->GetDescriptor(&desc).ok());
    return desc.options.compaction_style;
  };
  {
    auto engine = Engine::Open(StorageEnv{nullptr, dir.path()}, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_EQ(style(**engine), rocksdb::kCompactionStyleLevel);
    write(**engine, 0, 3000);
    rocksdb::CompactRangeOptions all;
    all.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    ASSERT_TRUE((*engine)
                    ->db()
                    ->CompactRange(all, (*engine)->data(GroupType::kData), nullptr, nullptr)
                    .ok());
    std::string files;
    ASSERT_TRUE((*engine)->db()->GetProperty((*engine)->data(GroupType::kData),
                                             "rocksdb.num-files-at-level0", &files));
    EXPECT_EQ(files, "0");  // all below level 0
  }
  options.data_universal_compaction = true;
  auto engine = Engine::Open(StorageEnv{nullptr, dir.path()}, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Engine& e = **engine;
  EXPECT_EQ(style(e), rocksdb::kCompactionStyleUniversal);
  write(e, 3000, 6000);
  ASSERT_TRUE(e.FlushAppliedState().ok());
  ASSERT_TRUE(
      e.db()
          ->CompactRange(rocksdb::CompactRangeOptions(), e.data(GroupType::kData), nullptr, nullptr)
          .ok());
  for (int i = 0; i < 6000; i += 7) {
    Result<std::string> v = e.Get(e.data(GroupType::kData), "key" + std::to_string(i));
    ASSERT_TRUE(v.ok()) << i << ": " << v.status();
    EXPECT_EQ(*v, value);
  }
}

}  // namespace
}  // namespace meta::store
