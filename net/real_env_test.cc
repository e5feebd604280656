// The real runtime. These tests use the wall clock only for ordering and generous upper bounds on
// waiting; nothing depends on how fast the machine is.
#include "net/real_env.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "core/fiber.h"
#include "core/future.h"
#include "core/log.h"

namespace meta::net {
namespace {

constexpr auto kGenerous = std::chrono::seconds(60);

class RealEnvTest : public ::testing::Test {
 protected:
  RealEnvTest() : env_(1, Random(1), MakeNodeLogger(1, {StderrSink()})) { env_.Start(); }

  // Runs `fn` on the loop and waits for it.
  template <class F>
  auto OnLoop(F fn) {
    std::promise<decltype(fn())> done;
    auto result = done.get_future();
    env_.Post([&] { done.set_value(fn()); });
    EXPECT_EQ(result.wait_for(kGenerous), std::future_status::ready);
    return result.get();
  }

  RealEnv env_;
};

TEST_F(RealEnvTest, PostFromManyThreadsRunsEveryTaskOnTheLoopThread) {
  constexpr int kThreads = 4, kTasks = 2000;
  int count = 0;  // touched only on the loop thread
  bool wrong_thread = false;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kTasks; ++i) {
        env_.Post([&] {
          if (!env_.OnLoopThread() || Env::Current() != &env_) wrong_thread = true;
          ++count;
        });
      }
    });
  }
  for (auto& t : posters) t.join();
  EXPECT_EQ(OnLoop([&] { return count; }), kThreads * kTasks);
  EXPECT_FALSE(OnLoop([&] { return wrong_thread; }));
}

TEST_F(RealEnvTest, PostsFromOneThreadKeepTheirOrder) {
  std::vector<int> seen;
  for (int i = 0; i < 1000; ++i) env_.Post([&seen, i] { seen.push_back(i); });
  std::vector<int> expected(1000);
  for (int i = 0; i < 1000; ++i) expected[i] = i;
  EXPECT_EQ(OnLoop([&] { return seen; }), expected);
}

TEST_F(RealEnvTest, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  std::promise<std::vector<int>> done;
  std::vector<int> order;
  OnLoop([&] {
    env_.After(Millis(30), [&] {
      order.push_back(30);
      done.set_value(order);
    });
    env_.After(Millis(10), [&] { order.push_back(10); });
    TimerId cancelled = env_.After(Millis(5), [&] { order.push_back(5); });
    env_.After(Millis(20), [&] { order.push_back(20); });
    EXPECT_TRUE(env_.Cancel(cancelled));
    EXPECT_FALSE(env_.Cancel(cancelled));
    return 0;
  });
  const Instant start = env_.Now();
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  EXPECT_EQ(f.get(), (std::vector<int>{10, 20, 30}));
  EXPECT_GE(env_.Now() - start, Millis(25));  // the 30 ms timer never fires early
}

TEST_F(RealEnvTest, FibersSleepAndAwaitFuturesCompletedFromAnotherThread) {
  std::promise<std::string> done;
  auto promise = std::make_shared<Promise<std::string>>();
  OnLoop([&] {
    env_.fibers().Spawn("waiter", [&, future = promise->GetFuture()] {
      EXPECT_TRUE(fiber::Sleep(Millis(2)).ok());
      Result<std::string> r = future.Get(Seconds(60));
      done.set_value(r.ok() ? *r : r.status().ToString());
    });
    return 0;
  });
  // A foreign thread completes the promise the only legal way: by posting into the loop.
  std::thread producer([&] { env_.Post([promise] { promise->Set(std::string("from thread")); }); });
  producer.join();
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  EXPECT_EQ(f.get(), "from thread");
}

struct Flag {
  bool* set;
  ~Flag() { *set = true; }
};

TEST(RealEnvShutdownTest, StopUnwindsBlockedFibersOnTheLoopThread) {
  bool unwound = false;
  bool returned = false;
  {
    RealEnv env(2, Random(2), MakeNodeLogger(2, {StderrSink()}));
    env.Start();
    std::promise<void> started;
    env.Post([&] {
      env.fibers().Spawn("stuck", [&] {
        Flag flag{&unwound};
        started.set_value();
        (void)fiber::Sleep(Seconds(3600));
        returned = true;
      });
    });
    ASSERT_EQ(started.get_future().wait_for(kGenerous), std::future_status::ready);
    env.Stop();
    EXPECT_TRUE(unwound);
  }
  EXPECT_FALSE(returned);
}

}  // namespace
}  // namespace meta::net
