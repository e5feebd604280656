#include "core/time.h"

#include <gtest/gtest.h>

namespace meta {
namespace {

TEST(TimeTest, DurationArithmeticIsExactIntegerNanoseconds) {
  EXPECT_EQ(Millis(250).nanos(), 250'000'000);
  EXPECT_EQ(Seconds(1) - Millis(1), Micros(999'000));
  EXPECT_EQ(Millis(299) * 2, Millis(598));
  EXPECT_EQ(Seconds(1) / Millis(250), 4);
  EXPECT_LT(Micros(999), Millis(1));
}

TEST(TimeTest, DurationToStringNeverRounds) {
  EXPECT_EQ(Seconds(3).ToString(), "3s");
  EXPECT_EQ(Millis(1250).ToString(), "1.250000000s");
  EXPECT_EQ(Millis(299).ToString(), "299ms");
  EXPECT_EQ(Micros(120).ToString(), "120us");
  EXPECT_EQ(Nanos(7).ToString(), "7ns");
  EXPECT_EQ(Millis(-5).ToString(), "-5ms");
  EXPECT_EQ(Duration::Zero().ToString(), "0s");
}

TEST(TimeTest, InstantsDifferByDurations) {
  Instant t0 = Instant::FromNanos(1'000);
  Instant t1 = t0 + Millis(5);
  EXPECT_EQ(t1 - t0, Millis(5));
  EXPECT_EQ(t1.ToString(), "0.005001000");
}

}  // namespace
}  // namespace meta
