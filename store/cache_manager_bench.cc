// The KV cache's cost per operation as apply and reads use it: a put that replaces a cached value
// (every KV write applies one), a hit, a miss. CPU only. Release build:
//   ci/build.sh release cache_manager_bench && build/release/store/cache_manager_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "store/cache_manager.h"
#include "store/engine.h"

namespace meta::store {
namespace {

constexpr int kKeys = 10'000;  // compare.sh's key space

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(DataKey(kMetadataGroup, Space::kKv, std::to_string(100000000 + i)));
  }
  return keys;
}

storepb::KvValue Value(int64_t revision) {
  storepb::KvValue v;
  v.set_value(std::string(256, 'v'));
  v.set_mod_index(revision);
  return v;
}

void BM_PutReplacingACachedValue(benchmark::State& state) {
  const std::vector<std::string> keys = Keys();
  CacheManager cache(256 << 20);
  for (const std::string& k : keys) cache.Put(k, Value(1));
  int64_t i = 0;
  for (auto _ : state) {
    // As apply does: the value is built for the batch, then handed to the cache.
    storepb::KvValue v = Value(i);
    cache.Put(keys[static_cast<size_t>(i++ % kKeys)], std::move(v));
  }
}
BENCHMARK(BM_PutReplacingACachedValue);

void BM_LookupHit(benchmark::State& state) {
  const std::vector<std::string> keys = Keys();
  CacheManager cache(256 << 20);
  for (const std::string& k : keys) cache.Put(k, Value(1));
  size_t i = 0;
  for (auto _ : state) {
    const storepb::KvValue* v = cache.Lookup(keys[i++ % kKeys]);
    benchmark::DoNotOptimize(v->mod_index());
  }
}
BENCHMARK(BM_LookupHit);

}  // namespace
}  // namespace meta::store
