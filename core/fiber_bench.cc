// Fiber costs, measured inside the simulated World (so each number includes one event-queue push
// and pop per switch, the way fibers are actually driven). Release build:
//   ci/build.sh release core_bench && build/release/core/core_bench
#include <benchmark/benchmark.h>

#include "core/fiber.h"
#include "core/future.h"
#include "sim/world.h"

namespace meta {
namespace {

// One Yield = fiber -> loop -> fiber: two context switches and one queued event.
void BM_FiberYield(benchmark::State& state) {
  sim::World world(sim::WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  bool stop = false;
  env.fibers().Spawn("yielder", [&] {
    while (!stop) (void)fiber::Yield();
  });
  world.Step();  // start it
  for (auto _ : state) world.Step();
  stop = true;
  world.RunUntilQuiescent();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FiberYield);

// Spawn a fiber, run it to completion (stack allocation included).
void BM_FiberSpawnAndFinish(benchmark::State& state) {
  sim::World world(sim::WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  int ran = 0;
  for (auto _ : state) {
    env.fibers().Spawn("f", [&ran] { ++ran; });
    world.Step();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FiberSpawnAndFinish);

// A fiber blocks on a future; loop code completes it; the fiber resumes.
void BM_FuturePingPong(benchmark::State& state) {
  sim::World world(sim::WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  Promise<int> promise;
  bool stop = false;
  env.fibers().Spawn("waiter", [&] {
    while (!stop) {
      Future<int> f = promise.GetFuture();
      (void)f.Get();
    }
  });
  world.Step();
  for (auto _ : state) {
    promise.Set(1);
    promise = Promise<int>();
    world.Step();
  }
  stop = true;
  promise.Set(0);
  world.RunUntilQuiescent();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FuturePingPong);

}  // namespace
}  // namespace meta
