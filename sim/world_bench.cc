// Simulated events per second. Release build:
//   ci/build.sh release sim_bench && build/release/sim/sim_bench
#include <benchmark/benchmark.h>

#include "sim/pingpong.h"
#include "sim/world.h"

namespace meta::sim {
namespace {

// Timers only: each event re-arms itself with a random delay (queue of `range(0)` pending timers).
void BM_TimerEvents(benchmark::State& state) {
  World world(WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  std::function<void()> rearm = [&] {
    env.After(env.random().Range(Micros(1), Millis(10)), rearm);
  };
  for (int64_t i = 0; i < state.range(0); ++i) rearm();
  for (auto _ : state) world.Step();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerEvents)->Arg(16)->Arg(10000);

// The whole ping-pong workload: fibers, timers, futures, network. Items are simulated events.
void BM_PingPongWorkload(benchmark::State& state) {
  uint64_t events = 0;
  for (auto _ : state) {
    PingPongReport r =
        RunPingPongWorkload(PingPongOptions{.seed = 1, .nodes = 5, .duration = Seconds(10)});
    events += r.events;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_PingPongWorkload)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace meta::sim
