#include "store/cache_manager.h"

#include <gtest/gtest.h>

namespace meta::store {
namespace {

storepb::KvValue V(const std::string& s) {
  storepb::KvValue v;
  v.set_value(s);
  return v;
}

TEST(CacheManagerTest, StaysWithinItsByteBoundEvictingLeastRecentlyUsed) {
  CacheManager cache(1000);
  for (int i = 0; i < 100; ++i) cache.Put("k" + std::to_string(i), V(std::string(50, 'x')));
  EXPECT_LE(cache.bytes(), 1000u);
  EXPECT_GT(cache.entries(), 0u);
  EXPECT_EQ(cache.Lookup("k0"), nullptr);  // the oldest went first
  EXPECT_NE(cache.Lookup("k99"), nullptr);
}

TEST(CacheManagerTest, LookupRefreshesRecencyAndEraseForgets) {
  CacheManager cache(300);  // room for four small items
  cache.Put("a", V("1"));
  cache.Put("b", V("2"));
  ASSERT_NE(cache.Lookup("a"), nullptr);  // a is now the most recent
  for (int i = 0; i < 3; ++i) cache.Put("f" + std::to_string(i), V("x"));
  EXPECT_NE(cache.Lookup("a"), nullptr);
  EXPECT_EQ(cache.Lookup("b"), nullptr);
  cache.Put("a", V("updated"));
  EXPECT_EQ(cache.Lookup("a")->value(), "updated");
  cache.Erase("a");
  EXPECT_EQ(cache.Lookup("a"), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST(CacheManagerTest, AValueLargerThanTheCacheIsNotCached) {
  CacheManager cache(100);
  cache.Put("big", V(std::string(500, 'x')));
  EXPECT_EQ(cache.Lookup("big"), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(CacheManagerTest, ReplacingAValueKeepsOneEntryAndCountsOnlyTheNewBytes) {
  CacheManager cache(1000);
  cache.Put("a", V(std::string(10, 'x')));
  cache.Put("b", V("y"));
  cache.Put("a", V(std::string(200, 'z')));  // grows in place
  CacheManager fresh(1000), only_b(1000);
  fresh.Put("b", V("y"));
  fresh.Put("a", V(std::string(200, 'z')));
  only_b.Put("b", V("y"));
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), fresh.bytes());
  EXPECT_EQ(cache.Lookup("a")->value(), std::string(200, 'z'));
  cache.Put("a", V(std::string(5000, 'z')));  // too large now: dropped, not kept stale
  EXPECT_EQ(cache.Lookup("a"), nullptr);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), only_b.bytes());
}

}  // namespace
}  // namespace meta::store
