// Fibers and futures, driven by the simulated World so that every timing is exact virtual time.
#include "core/fiber.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/future.h"
#include "sim/world.h"

namespace meta {
namespace {

using sim::World;
using sim::WorldOptions;

class FiberTest : public ::testing::Test {
 protected:
  FiberTest() : world_(WorldOptions{.seed = 1}), env_(world_.AddNode(1)) {}

  Duration Elapsed() const { return world_.Now() - Instant(); }

  World world_;
  Env& env_;
};

TEST_F(FiberTest, ThousandsOfFibersSleepAndAllFinish) {
  constexpr int kFibers = 5000;
  int finished = 0;
  Duration longest;
  for (int i = 0; i < kFibers; ++i) {
    Duration d = env_.random().Range(Millis(1), Seconds(10));
    if (d > longest) longest = d;
    env_.fibers().Spawn("sleeper", [&finished, d, this] {
      const Instant start = env_.Now();
      ASSERT_TRUE(fiber::Sleep(d).ok());
      EXPECT_EQ(env_.Now() - start, d);
      ++finished;
    });
  }
  EXPECT_EQ(env_.fibers().live(), static_cast<size_t>(kFibers));
  world_.RunUntilQuiescent();
  EXPECT_EQ(finished, kFibers);
  EXPECT_EQ(env_.fibers().live(), 0u);
  EXPECT_EQ(Elapsed(), longest);
}

TEST_F(FiberTest, SleepersWakeInDeadlineOrderAndTiesInSpawnOrder) {
  std::vector<int> order;
  const int delays_ms[] = {30, 10, 20, 10, 0};
  for (int i = 0; i < 5; ++i) {
    env_.fibers().Spawn("s", [&order, i, &delays_ms] {
      ASSERT_TRUE(fiber::Sleep(Millis(delays_ms[i])).ok());
      order.push_back(i);
    });
  }
  world_.RunUntilQuiescent();
  EXPECT_EQ(order, (std::vector<int>{4, 1, 3, 2, 0}));
  EXPECT_EQ(Elapsed(), Millis(30));
}

TEST_F(FiberTest, SpawnNeverRunsTheFiberInsideTheCaller) {
  bool ran = false;
  env_.fibers().Spawn("f", [&ran] { ran = true; });
  EXPECT_FALSE(ran);
  world_.Step();
  EXPECT_TRUE(ran);
}

TEST_F(FiberTest, YieldInterleavesFibers) {
  std::vector<char> trace;
  for (char name : {'a', 'b'}) {
    env_.fibers().Spawn("y", [&trace, name] {
      for (int i = 0; i < 3; ++i) {
        trace.push_back(name);
        ASSERT_TRUE(fiber::Yield().ok());
      }
    });
  }
  world_.RunUntilQuiescent();
  EXPECT_EQ(trace, (std::vector<char>{'a', 'b', 'a', 'b', 'a', 'b'}));
  EXPECT_EQ(Elapsed(), Duration::Zero());
}

TEST_F(FiberTest, FutureGetSuspendsOnlyTheWaiter) {
  Promise<int> promise;
  Future<int> future = promise.GetFuture();
  std::vector<std::string> events;
  env_.fibers().Spawn("waiter", [&] {
    Result<int> r = future.Get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 42);
    events.push_back("got@" + env_.Now().ToString());
  });
  env_.fibers().Spawn("other", [&] {
    ASSERT_TRUE(fiber::Sleep(Millis(5)).ok());
    events.push_back("other@" + env_.Now().ToString());
    ASSERT_TRUE(fiber::Sleep(Millis(5)).ok());
    promise.Set(42);
  });
  world_.RunUntilQuiescent();
  EXPECT_EQ(events, (std::vector<std::string>{"other@0.005000000", "got@0.010000000"}));
}

TEST_F(FiberTest, FutureGetTimesOutAtExactlyTheDeadline) {
  Promise<int> promise;
  Future<int> future = promise.GetFuture();
  Result<int> result = InternalError("not run");
  env_.fibers().Spawn("waiter", [&] { result = future.Get(Millis(299)); });
  world_.RunUntilQuiescent();
  EXPECT_EQ(result.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(Elapsed(), Millis(299));
  promise.Set(1);  // a late result is harmless
  world_.RunUntilQuiescent();
}

TEST_F(FiberTest, ManyWaitersOnOneFutureAllResume) {
  Promise<std::string> promise;
  Future<std::string> future = promise.GetFuture();
  int resumed = 0;
  for (int i = 0; i < 100; ++i) {
    env_.fibers().Spawn("w", [&] {
      Result<std::string> r = future.Get(Seconds(1));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(*r, "v");
      ++resumed;
    });
  }
  env_.After(Millis(3), [&] { promise.Set(std::string("v")); });
  world_.RunUntilQuiescent();
  EXPECT_EQ(resumed, 100);
  // The waiters' timeout timers were cancelled, so the clock never reaches them.
  EXPECT_EQ(Elapsed(), Millis(3));
}

TEST_F(FiberTest, OnReadyCallbackRunsAtSet) {
  Promise<int> promise;
  int seen = 0;
  promise.GetFuture().OnReady([&](const Result<int>& r) { seen = *r; });
  EXPECT_EQ(seen, 0);
  promise.Set(7);
  EXPECT_EQ(seen, 7);
  promise.GetFuture().OnReady([&](const Result<int>& r) { seen = *r + 1; });
  EXPECT_EQ(seen, 8);
}

TEST_F(FiberTest, AbandonedPromiseCancelsTheFuture) {
  Future<int> future;
  {
    Promise<int> promise;
    future = promise.GetFuture();
  }
  ASSERT_TRUE(future.IsReady());
  EXPECT_EQ(future.Get().status().code(), Code::kCancelled);
}

TEST_F(FiberTest, CancelWakesASleepingFiberAtOnceAndStaysCancelled) {
  Status first, second;
  bool noticed = false;
  FiberId id = env_.fibers().Spawn("sleeper", [&] {
    first = fiber::Sleep(Seconds(60));
    second = fiber::Sleep(Seconds(1));
    noticed = fiber::Cancelled();
  });
  env_.After(Millis(7), [&] { EXPECT_TRUE(env_.fibers().Cancel(id)); });
  world_.RunUntilQuiescent();
  EXPECT_EQ(first.code(), Code::kCancelled);
  EXPECT_EQ(second.code(), Code::kCancelled);
  EXPECT_TRUE(noticed);
  EXPECT_EQ(Elapsed(), Millis(7));
  EXPECT_FALSE(env_.fibers().Cancel(id));  // finished fibers are gone
}

TEST_F(FiberTest, CancelWakesAFiberBlockedOnAFuture) {
  Promise<int> promise;
  Result<int> result = 0;
  FiberId id = env_.fibers().Spawn("w", [&] { result = promise.GetFuture().Get(); });
  env_.After(Millis(2), [&] { env_.fibers().Cancel(id); });
  world_.RunUntilQuiescent();
  EXPECT_EQ(result.status().code(), Code::kCancelled);
}

struct DestructorFlag {
  bool* flag;
  ~DestructorFlag() { *flag = true; }
};

TEST(FiberShutdownTest, DestroyingTheWorldUnwindsBlockedFibers) {
  bool destroyed = false;
  bool after_get = false;
  {
    World world(WorldOptions{.seed = 3});
    Env& env = world.AddNode(1);
    auto promise = std::make_shared<Promise<int>>();
    env.fibers().Spawn("stuck", [&destroyed, &after_get, future = promise->GetFuture()] {
      DestructorFlag flag{&destroyed};
      (void)future.Get();
      after_get = true;
    });
    world.RunUntilQuiescent();
    EXPECT_FALSE(destroyed);
    EXPECT_EQ(env.fibers().live(), 1u);
    env.fibers().Shutdown();
    EXPECT_TRUE(destroyed);
    EXPECT_EQ(env.fibers().live(), 0u);
  }
  EXPECT_FALSE(after_get);
}

TEST(FiberNodeIdTest, FibersKnowTheirNode) {
  World world(WorldOptions{.seed = 4});
  std::vector<std::pair<NodeId, NodeId>> seen;
  for (NodeId id : {1, 2, 3}) {
    world.AddNode(id).fibers().Spawn("who", [&seen, id] {
      ASSERT_TRUE(fiber::Sleep(Millis(static_cast<int64_t>(id))).ok());
      seen.emplace_back(id, fiber::CurrentNodeId());
      EXPECT_EQ(fiber::CurrentEnv().node_id(), id);
    });
  }
  world.RunUntilQuiescent();
  ASSERT_EQ(seen.size(), 3u);
  for (auto [expected, actual] : seen) EXPECT_EQ(expected, actual);
  EXPECT_EQ(fiber::CurrentNodeId(), 0u);
}

int Recurse(int depth) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(depth);
  return depth == 0 ? pad[0] : Recurse(depth - 1) + pad[0];
}

TEST(FiberDeathTest, StackOverflowFaultsLoudly) {
  EXPECT_DEATH(
      {
        World world(WorldOptions{.seed = 5});
        world.AddNode(1).fibers().Spawn("deep", [] { Recurse(1 << 20); });
        world.RunUntilQuiescent();
      },
      "");
}

TEST(FiberDeathTest, GetOutsideAFiberOnAPendingFutureCrashes) {
  Promise<int> promise;
  EXPECT_DEATH((void)promise.GetFuture().Get(), "not inside a fiber");
}

}  // namespace
}  // namespace meta
