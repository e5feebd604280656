#include "sim/world.h"

#include <gtest/gtest.h>

#include "core/fiber.h"
#include "core/transport.h"
#include "sim/network.h"
#include "sim/pingpong.h"

namespace meta::sim {
namespace {

TEST(WorldTest, TimeJumpsToTheNextEvent) {
  World world(WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  bool fired = false;
  env.After(Seconds(3600), [&] {
    fired = true;
    EXPECT_EQ(env.Now(), Instant() + Seconds(3600));
  });
  EXPECT_EQ(world.RunUntilQuiescent(), 1u);
  EXPECT_TRUE(fired);
  EXPECT_EQ(world.Now(), Instant() + Seconds(3600));
}

TEST(WorldTest, RunUntilStopsAtTheDeadlineAndLeavesLaterEvents) {
  World world(WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  std::vector<int> ran;
  env.After(Millis(10), [&] { ran.push_back(10); });
  env.After(Millis(30), [&] { ran.push_back(30); });
  world.RunUntil(Instant() + Millis(20));
  EXPECT_EQ(ran, std::vector<int>{10});
  EXPECT_EQ(world.Now(), Instant() + Millis(20));
  EXPECT_EQ(world.pending_events(), 1u);
  world.RunUntilQuiescent();
  EXPECT_EQ(ran, (std::vector<int>{10, 30}));
}

TEST(WorldTest, CancelledTimerNeverRunsNorMovesTheClock) {
  World world(WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  bool fired = false;
  TimerId t = env.After(Millis(50), [&] { fired = true; });
  env.After(Millis(100), [] {});
  EXPECT_TRUE(env.Cancel(t));
  EXPECT_FALSE(env.Cancel(t));
  // A cancelled timer earlier than the deadline must not let a later event slip past it.
  world.RunUntil(Instant() + Millis(60));
  EXPECT_FALSE(fired);
  EXPECT_EQ(world.pending_events(), 1u);
  world.RunUntilQuiescent();
  EXPECT_EQ(world.Now(), Instant() + Millis(100));
}

TEST(WorldTest, PostRunsAfterAlreadyQueuedWorkAtTheSameInstant) {
  World world(WorldOptions{.seed = 1});
  Env& env = world.AddNode(1);
  std::string order;
  env.Post([&] {
    order += "a";
    env.Post([&] { order += "c"; });
  });
  env.Post([&] { order += "b"; });
  world.RunUntilQuiescent();
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(world.Now(), Instant());
}

TEST(WorldTest, NetworkDeliversWithLatencyToTheReceiver) {
  World world(WorldOptions{.seed = 2});
  Env& a = world.AddNode(1);
  Env& b = world.AddNode(2);
  std::vector<std::string> got;
  b.transport()->SetReceiver([&](NodeId from, std::string payload) {
    EXPECT_EQ(from, 1u);
    EXPECT_EQ(Env::Current(), &b);
    got.push_back(payload);
  });
  ASSERT_TRUE(a.transport()->Send(2, "hello").ok());
  EXPECT_EQ(a.transport()->Send(9, "x").code(), Code::kUnavailable);
  world.RunUntilQuiescent();
  EXPECT_EQ(got, std::vector<std::string>{"hello"});
  const Duration latency = world.Now() - Instant();
  EXPECT_GE(latency, world.network().options().latency_min);
  EXPECT_LE(latency, world.network().options().latency_max);
}

PingPongReport RunPingPong(uint64_t seed, int nodes) {
  PingPongOptions options{.seed = seed, .nodes = nodes, .duration = Seconds(5)};
  return RunPingPongWorkload(options);
}

TEST(WorldTest, SameSeedSameTraceHashDifferentSeedDifferent) {
  PingPongReport a = RunPingPong(11, 3);
  PingPongReport b = RunPingPong(11, 3);
  PingPongReport c = RunPingPong(12, 3);
  EXPECT_GT(a.events, 1000u);
  EXPECT_GT(a.round_trips, 100u);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(WorldTest, AddingANodeDoesNotPerturbAnotherNodesRandomStream) {
  World w1(WorldOptions{.seed = 5});
  World w2(WorldOptions{.seed = 5});
  w2.AddNode(7);
  Env& n1 = w1.AddNode(1);
  Env& n2 = w2.AddNode(1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(n1.random().Next(), n2.random().Next());
}

// A rate changed while timers are pending (NTP slewing a clock mid-run): each still fires when
// the node's own clock reads its deadline, now at the new rate; other nodes' timers stay put.
TEST(WorldTest, PendingTimersFollowTheirNodesClockThroughARateChange) {
  World world(WorldOptions{.seed = 11});
  Env& skewed = world.AddNode(1);
  Env& plain = world.AddNode(2);
  struct Timer {
    Env* env;
    Instant due;  // on its node's clock
    Instant fired_true;
  };
  std::vector<Timer> timers;
  for (Env* env : {&skewed, &plain}) {
    for (int64_t ms : {30, 100, 250}) timers.push_back(Timer{env, env->Now() + Millis(ms), {}});
  }
  for (Timer& t : timers) {
    t.env->After(t.due - t.env->Now(), [&world, &t] {
      t.fired_true = world.Now();
      EXPECT_GE(t.env->Now(), t.due);  // never early by its node's clock
      EXPECT_LE(t.env->Now() - t.due, Nanos(2));
    });
  }
  world.RunUntil(Instant() + Millis(50));  // the 30 ms timers have fired
  world.SetClockRate(1, 250000);           // 25 % fast from now on
  world.RunUntil(Instant() + Millis(150));
  world.SetClockRate(1, -200000);  // then 20 % slow
  world.RunUntilQuiescent();
  // Node 1's clock read 50 ms at the first change and 50 + 125 = 175 ms at the second, so its 100
  // ms timer fired 40 true ms after the first change, and its 250 ms timer 75 / 0.8 = 93.75 true
  // ms after the second.
  EXPECT_EQ(timers[0].fired_true, Instant() + Millis(30));
  EXPECT_EQ(timers[1].fired_true, Instant() + Millis(90));
  EXPECT_EQ(timers[2].fired_true, Instant() + Micros(243750));
  for (size_t i = 3; i < 6; ++i) EXPECT_EQ(timers[i].fired_true, timers[i].due);
}

}  // namespace
}  // namespace meta::sim

namespace meta::sim {
namespace {

TEST(WorldTest, RestartDropsTheOldProcessEventsAndInFlightMessages) {
  World world(WorldOptions{.seed = 3});
  Env& a = world.AddNode(1);
  world.AddNode(2);
  bool old_timer_ran = false;
  world.node(2).After(Millis(5), [&] { old_timer_ran = true; });
  int delivered = 0;
  world.node(2).transport()->SetReceiver([&](NodeId, std::string) { ++delivered; });
  ASSERT_TRUE(a.transport()->Send(2, "lost").ok());
  Env& b = world.RestartNode(2);
  b.transport()->SetReceiver([&](NodeId, std::string) { ++delivered; });
  ASSERT_TRUE(a.transport()->Send(2, "kept").ok());
  world.RunUntilQuiescent();
  EXPECT_FALSE(old_timer_ran);
  EXPECT_EQ(delivered, 1);
}

}  // namespace
}  // namespace meta::sim

namespace meta::sim {
namespace {

TEST(NetworkFaultTest, CutsArePerDirectionAndHealRestores) {
  World world(WorldOptions{.seed = 4});
  Env& a = world.AddNode(1);
  Env& b = world.AddNode(2);
  int at_a = 0, at_b = 0;
  a.transport()->SetReceiver([&](NodeId, std::string) { ++at_a; });
  b.transport()->SetReceiver([&](NodeId, std::string) { ++at_b; });
  world.network().Cut(1, 2);  // one way only
  ASSERT_TRUE(a.transport()->Send(2, "x").ok());
  ASSERT_TRUE(b.transport()->Send(1, "y").ok());
  world.RunUntilQuiescent();
  EXPECT_EQ(at_b, 0);
  EXPECT_EQ(at_a, 1);
  world.network().Heal();
  world.network().Partition({1});
  ASSERT_TRUE(b.transport()->Send(1, "z").ok());
  world.RunUntilQuiescent();
  EXPECT_EQ(at_a, 1);
  world.network().Heal();
  ASSERT_TRUE(a.transport()->Send(2, "w").ok());
  world.RunUntilQuiescent();
  EXPECT_EQ(at_b, 1);
  EXPECT_EQ(world.network().messages_dropped(), 2u);
}

TEST(NetworkFaultTest, DropsAndDuplicatesHappenAtRoughlyTheirRates) {
  World world(WorldOptions{.seed = 5});
  Env& a = world.AddNode(1);
  Env& b = world.AddNode(2);
  int got = 0;
  b.transport()->SetReceiver([&](NodeId, std::string) { ++got; });
  world.network().options().drop = 0.2;
  world.network().options().duplicate = 0.1;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(a.transport()->Send(2, "m").ok());
  world.RunUntilQuiescent();
  EXPECT_NEAR(static_cast<double>(world.network().messages_dropped()), 2000, 200);
  EXPECT_NEAR(static_cast<double>(got), 8000 * 1.1, 300);
}

TEST(NetworkFaultTest, ClogHoldsTrafficUntilItsTime) {
  World world(WorldOptions{.seed = 6});
  Env& a = world.AddNode(1);
  Env& b = world.AddNode(2);
  Instant delivered_at;
  b.transport()->SetReceiver([&](NodeId, std::string) { delivered_at = world.Now(); });
  world.network().Clog(2, Instant() + Seconds(1));
  ASSERT_TRUE(a.transport()->Send(2, "m").ok());
  world.RunUntilQuiescent();
  EXPECT_GE(delivered_at, Instant() + Seconds(1));
}

}  // namespace
}  // namespace meta::sim

namespace meta::sim {
namespace {

TEST(WorldTest, PausedNodeRunsNothingUntilThePauseEndsAndKeepsOrder) {
  World world(WorldOptions{.seed = 7});
  Env& a = world.AddNode(1);
  std::vector<std::string> ran;
  a.After(Millis(10), [&] { ran.push_back("t10@" + world.Now().ToString()); });
  TimerId t = a.After(Millis(20), [&] { ran.push_back("t20"); });
  a.After(Millis(30), [&] { ran.push_back("t30@" + world.Now().ToString()); });
  world.Pause(1, Instant() + Millis(100));
  world.RunUntil(Instant() + Millis(50));
  EXPECT_TRUE(ran.empty());
  EXPECT_TRUE(a.Cancel(t));  // still cancellable while postponed
  world.RunUntilQuiescent();
  EXPECT_EQ(ran, (std::vector<std::string>{"t10@0.100000000", "t30@0.100000000"}));
}

TEST(WorldTest, ClockOffsetShiftsOnlyThatNodesCalendarClock) {
  World world(WorldOptions{.seed = 8});
  Env& a = world.AddNode(1);
  Env& b = world.AddNode(2);
  world.SetClockOffset(1, Seconds(-30));
  EXPECT_EQ(b.UnixNanos() - a.UnixNanos(), Seconds(30).nanos());
  EXPECT_EQ(a.Now(), b.Now());  // the monotonic clock is the same virtual time
  world.SetClockOffset(2, Duration::Zero(), /*drift_ppm=*/100000);  // 10% fast from now on
  a.After(Seconds(10), [] {});
  world.RunUntilQuiescent();
  EXPECT_EQ(world.ClockOffset(2), Seconds(1));
}

TEST(WorldTest, ClockRateSkewsOnlyThatNodesMonotonicClockAndTimers) {
  World world(WorldOptions{.seed = 9});
  Env& fast = world.AddNode(1);
  Env& plain = world.AddNode(2);
  world.SetClockRate(1, 40000);  // 4 % fast
  Instant fired_at;
  fast.After(Millis(104), [&] {
    fired_at = world.Now();
    EXPECT_GE(fast.Now(), Instant() + Millis(104));  // never early by the node's own clock
  });
  world.RunUntilQuiescent();
  EXPECT_EQ(fired_at, Instant() + Millis(100));  // 104 ms of a 4 %-fast clock in 100 true ms
  EXPECT_EQ(fast.Now(), Instant() + Millis(104));
  EXPECT_EQ(plain.Now(), Instant() + Millis(100));
  // A new rate applies from now on: the clock neither jumps nor goes back.
  world.SetClockRate(1, -50000);  // 5 % slow
  EXPECT_EQ(fast.Now(), Instant() + Millis(104));
  plain.After(Millis(100), [] {});
  world.RunUntilQuiescent();
  EXPECT_EQ(fast.Now(), Instant() + Millis(104 + 95));
  // The rate is the machine's: a restarted process reads the same clock (`fast` is gone with it).
  EXPECT_EQ(world.RestartNode(1).Now(), Instant() + Millis(104 + 95));
  // Calendar time is a separate clock (SetClockOffset), untouched by the rate.
  EXPECT_EQ(world.node(1).UnixNanos(), plain.UnixNanos());
}

TEST(WorldTest, SkewedTimersFireNeitherEarlyNorLateByTheirNodesClock) {
  World world(WorldOptions{.seed = 10});
  Env& slow = world.AddNode(1);
  Env& fast = world.AddNode(2);
  world.SetClockRate(1, -33333);  // rates that divide no delay evenly
  world.SetClockRate(2, 33333);
  int fired = 0;
  for (Env* env : {&slow, &fast}) {
    for (int64_t ns : {1, 7, 999, 7'000'001, 299'000'000}) {
      const Instant due = env->Now() + Nanos(ns);
      env->After(Nanos(ns), [env, due, &fired] {
        EXPECT_GE(env->Now(), due);
        EXPECT_LE(env->Now() - due, Nanos(1));
        ++fired;
      });
    }
  }
  world.RunUntilQuiescent();
  EXPECT_EQ(fired, 10);
}

}  // namespace
}  // namespace meta::sim
