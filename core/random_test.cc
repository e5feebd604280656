#include "core/random.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace meta {
namespace {

std::vector<uint64_t> Draw(Random r, int n) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(r.Next());
  return out;
}

TEST(RandomTest, SameSeedSameSequenceDifferentSeedDifferent) {
  EXPECT_EQ(Draw(Random(42), 100), Draw(Random(42), 100));
  EXPECT_NE(Draw(Random(42), 100), Draw(Random(43), 100));
}

TEST(RandomTest, KnownAnswerPinsTheAlgorithm) {
  // Seeds are replayed across versions and machines: the sequence must never change silently.
  Random r(1);
  const uint64_t first = r.Next();
  EXPECT_EQ(first, Random(1).Next());
  Random again(1);
  EXPECT_EQ(Draw(again, 3), Draw(Random(1), 3));
  // Value recorded from this implementation (xoshiro256** seeded by SplitMix64).
  EXPECT_EQ(first, 0xb3f2af6d0fc710c5ULL);
}

TEST(RandomTest, StreamsDoNotDependOnParentState) {
  Random a(7);
  Random b(7);
  for (int i = 0; i < 1000; ++i) b.Next();  // b's state has moved, its seed has not
  EXPECT_EQ(Draw(a.Stream("node", 3), 50), Draw(b.Stream("node", 3), 50));
  EXPECT_NE(Draw(a.Stream("node", 3), 50), Draw(a.Stream("node", 4), 50));
  EXPECT_NE(Draw(a.Stream("node", 3), 50), Draw(a.Stream("link", 3), 50));
  EXPECT_NE(Draw(a.Stream(1), 50), Draw(a, 50));
}

TEST(RandomTest, UniformStaysInRangeAndCoversIt) {
  Random r(5);
  std::set<uint64_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    uint64_t v = r.Uniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
  for (int i = 0; i < 10'000; ++i) {
    int64_t v = r.Range(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    Duration d = r.Range(Millis(299), Millis(598));
    ASSERT_GE(d, Millis(299));
    ASSERT_LE(d, Millis(598));
  }
}

TEST(RandomTest, ChanceMatchesProbabilityRoughly) {
  Random r(9);
  int hits = 0;
  for (int i = 0; i < 100'000; ++i) hits += r.Chance(0.25) ? 1 : 0;
  EXPECT_NEAR(hits, 25'000, 1'000);
  EXPECT_FALSE(Random(1).Chance(0));
  EXPECT_TRUE(Random(1).Chance(1));
}

}  // namespace
}  // namespace meta
