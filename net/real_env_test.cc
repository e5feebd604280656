// The real runtime. These tests use the wall clock only for ordering and generous upper bounds on
// waiting; nothing depends on how fast the machine is.
#include "net/real_env.h"

#include <grpcpp/alarm.h>
#include <grpcpp/completion_queue.h>
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

// How the loop waits: on its condition variable, or as the poller of a gRPC completion queue
// (woken by an alarm) given before Start, or handed over by a task on the loop (as metad does once
// its node is open).
enum class Wait { kCondvar, kQueue, kQueueFromLoop };

// Every test runs in each mode.
class RealEnvTest : public ::testing::TestWithParam<Wait> {
 protected:
  // Runs `fn` on the loop and waits for it.
  template <class F>
  auto OnLoop(F fn) {
    std::promise<decltype(fn())> done;
    auto result = done.get_future();
    env_.Post([&] { done.set_value(fn()); });
    EXPECT_EQ(result.wait_for(kGenerous), std::future_status::ready);
    return result.get();
  }

  RealEnvTest() : env_(1, Random(1), MakeNodeLogger(1, {StderrSink()})) {
    if (GetParam() == Wait::kQueue) env_.DriveCompletionQueue(&cq_);
    env_.Start();
    if (GetParam() == Wait::kQueueFromLoop) {
      OnLoop([&] {
        env_.DriveCompletionQueue(&cq_);
        return 0;
      });
    }
  }

  grpc::CompletionQueue cq_;  // outlives env_, which drains it
  RealEnv env_;
};

INSTANTIATE_TEST_SUITE_P(Wait, RealEnvTest,
                         ::testing::Values(Wait::kCondvar, Wait::kQueue, Wait::kQueueFromLoop),
                         [](const auto& info) {
                           switch (info.param) {
                             case Wait::kCondvar:
                               return "OnCondvar";
                             case Wait::kQueue:
                               return "OnQueue";
                             case Wait::kQueueFromLoop:
                               return "OnQueueFromLoop";
                           }
                           return "";
                         });

TEST_P(RealEnvTest, PostFromManyThreadsRunsEveryTaskOnTheLoopThread) {
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

TEST_P(RealEnvTest, PostsFromOneThreadKeepTheirOrder) {
  std::vector<int> seen;
  for (int i = 0; i < 1000; ++i) env_.Post([&seen, i] { seen.push_back(i); });
  std::vector<int> expected(1000);
  for (int i = 0; i < 1000; ++i) expected[i] = i;
  EXPECT_EQ(OnLoop([&] { return seen; }), expected);
}

TEST_P(RealEnvTest, TimersFireInDeadlineOrderAndCancelledOnesNever) {
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

TEST_P(RealEnvTest, FibersSleepAndAwaitFuturesCompletedFromAnotherThread) {
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

TEST(RealEnvQueueTest, TagsCompleteOnTheLoopThreadAndStopDrainsWhatFibersStartLast) {
  grpc::CompletionQueue cq;
  RealEnv env(3, Random(3), MakeNodeLogger(3, {StderrSink()}));
  env.DriveCompletionQueue(&cq);
  env.Start();
  grpc::Alarm alarm, last;
  std::promise<bool> fired;
  bool on_loop = false;
  CqCallback tag([&](bool ok) {
    on_loop = env.OnLoopThread();
    fired.set_value(ok);
  });
  env.Post([&] {
    alarm.Set(&cq,
              gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(5, GPR_TIMESPAN)),
              static_cast<CqTag*>(&tag));
  });
  auto f = fired.get_future();
  ASSERT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  EXPECT_TRUE(f.get());
  EXPECT_TRUE(on_loop);

  // A fiber unwound by Stop starts one more operation as it goes, as a call's answer guard does:
  // the drain runs its tag, and the tag sees the loop stopping.
  bool drained = false, saw_stopping = false;
  CqCallback last_tag([&](bool) {
    drained = true;
    saw_stopping = env.stopping();
  });
  struct OnUnwind {
    std::function<void()> fn;
    ~OnUnwind() { fn(); }
  };
  std::promise<void> started;
  env.Post([&] {
    env.fibers().Spawn("stuck", [&] {
      OnUnwind unwind{
          [&] { last.Set(&cq, gpr_time_0(GPR_CLOCK_MONOTONIC), static_cast<CqTag*>(&last_tag)); }};
      started.set_value();
      (void)fiber::Sleep(Seconds(3600));
    });
  });
  ASSERT_EQ(started.get_future().wait_for(kGenerous), std::future_status::ready);
  env.Stop();
  EXPECT_TRUE(drained);
  EXPECT_TRUE(saw_stopping);
}

}  // namespace
}  // namespace meta::net
