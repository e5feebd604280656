// Writes through an in-process 3-node cluster of real nodes (Raft + RocksDB on the real disk,
// fsync on) driven by the simulated runtime on one thread: wall-clock throughput, and how many
// fsyncs each committed entry cost (group commit: one fsync per loop turn for all groups).
// Release build:
//   ci/build.sh release cluster_bench && build/release/sim/cluster_bench
#include <benchmark/benchmark.h>

#include "core/fiber.h"
#include "sim/node_cluster.h"
#include "store/test_util.h"

namespace meta::sim {
namespace {

constexpr NodeId kClient = 100;

// range(0): data groups the writes spread over; range(1): concurrent clients.
void BM_ReplicatedSessionWrites(benchmark::State& state) {
  const uint32_t groups = static_cast<uint32_t>(state.range(0));
  const int clients = static_cast<int>(state.range(1));
  constexpr int kWritesPerClient = 50;
  uint64_t writes = 0, syncs = 0, entries = 0;
  for (auto _ : state) {
    state.PauseTiming();
    store::TempDir dir;
    NodeCluster c(NodeClusterOptions{
        .seed = 1, .nodes = 3, .base_dir = dir.path(), .tweak = [groups](store::NodeOptions& o) {
          o.data_groups = groups;
        }});
    CHECK(c.StartAll().ok());
    CHECK(c.WaitForLeaders(Seconds(30)));
    Env& client = c.world().AddNode(kClient);
    uint64_t syncs_before = 0, entries_before = 0;
    for (NodeId id : c.ids()) {
      syncs_before += c.node(id).engine().syncs();
      entries_before += c.node(id).entries_applied();
    }
    int finished = 0;
    state.ResumeTiming();
    for (int k = 0; k < clients; ++k) {
      client.fibers().Spawn("client", [&c, &finished, k] {
        for (int i = 0; i < kWritesPerClient; ++i) {
          storepb::Command cmd;
          auto* s = cmd.mutable_session_batch()->add_upserts();
          s->set_client_id("c" + std::to_string(k) + "-" + std::to_string(i));
          s->set_data(std::string(256, 's'));
          const NodeId to = c.Leader(c.node(1).RouteSession(s->client_id()));
          auto r = c.Call<storepb::ApplyResult>(to, [cmd](store::Node& n) {
                      return n.Write(cmd);
                    }).Get(Seconds(60));
          CHECK(r.ok()) << r.status();
        }
        ++finished;
      });
    }
    CHECK(c.RunUntil([&] { return finished == clients; }, Seconds(600)));
    state.PauseTiming();
    for (NodeId id : c.ids()) {
      syncs += c.node(id).engine().syncs();
      entries += c.node(id).entries_applied();
    }
    syncs -= syncs_before;
    entries -= entries_before;
    writes += static_cast<uint64_t>(clients) * kWritesPerClient;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(writes));
  state.counters["writes/s"] =
      benchmark::Counter(static_cast<double>(writes), benchmark::Counter::kIsRate);
  state.counters["fsyncs/entry"] =
      static_cast<double>(syncs) / static_cast<double>(entries == 0 ? 1 : entries);
}
BENCHMARK(BM_ReplicatedSessionWrites)
    ->Args({1, 1})
    ->Args({1, 64})
    ->Args({3, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace meta::sim
