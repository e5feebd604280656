// Engine on a real RocksDB in a temp dir: the column families' memtable sizes.
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

}  // namespace
}  // namespace meta::store
