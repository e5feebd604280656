// Point reads through the Engine, of keys that exist and keys that do not, with and without the
// table files' bloom filters (EngineOptions::bloom_bits_per_key). Real RocksDB on the real disk;
// the rows fit the block cache, so this measures CPU, not I/O. Release build:
//   ci/build.sh release engine_bench && build/release/store/engine_bench
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <string>

#include "core/check.h"
#include "store/engine.h"
#include "store/test_util.h"

namespace meta::store {
namespace {

constexpr int kKeys = 200'000;
constexpr int kFlushes = 4;  // table files written (RocksDB may compact them)

std::string Key(int i) { return DataKey(kMetadataGroup, Space::kKv, "key" + std::to_string(i)); }

// kKeys rows of the metadata group (even numbers; odd ones are absent), flushed to table files.
class Loaded {
 public:
  explicit Loaded(int bloom_bits) {
    EngineOptions options;
    options.bloom_bits_per_key = bloom_bits;
    auto engine = Engine::Open(StorageEnv{nullptr, dir_.path()}, options);
    CHECK(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    rocksdb::ColumnFamilyHandle* cf = engine_->data(GroupType::kMetadata);
    const std::string value(100, 'v');
    for (int f = 0; f < kFlushes; ++f) {
      rocksdb::WriteBatch batch;
      for (int i = f; i < kKeys; i += kFlushes) {
        batch.Put(cf, Key(2 * i), value);
        if (batch.Count() == 1000) {
          CHECK(engine_->Write(batch, false).ok());
          batch.Clear();
        }
      }
      CHECK(engine_->Write(batch, false).ok());
      CHECK(engine_->db()->Flush(rocksdb::FlushOptions(), cf).ok());
    }
  }
  Engine& engine() { return *engine_; }

 private:
  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

void Read(benchmark::State& state, int parity) {
  Loaded loaded(static_cast<int>(state.range(0)));
  rocksdb::ColumnFamilyHandle* cf = loaded.engine().data(GroupType::kMetadata);
  uint64_t i = 0;
  int found = 0;
  for (auto _ : state) {
    // A stride through the key space, so successive reads land in different blocks.
    const int k = static_cast<int>((i++ * 7919) % kKeys);
    found += loaded.engine().Get(cf, Key(2 * k + parity)).ok();
  }
  CHECK_EQ(found, parity == 0 ? static_cast<int>(state.iterations()) : 0);
  state.SetLabel(state.range(0) == 0 ? "no filter" : std::to_string(state.range(0)) + " bits/key");
}

void BM_GetAbsentKey(benchmark::State& state) { Read(state, 1); }
void BM_GetPresentKey(benchmark::State& state) { Read(state, 0); }
BENCHMARK(BM_GetAbsentKey)->Arg(0)->Arg(10);
BENCHMARK(BM_GetPresentKey)->Arg(0)->Arg(10);

}  // namespace
}  // namespace meta::store
