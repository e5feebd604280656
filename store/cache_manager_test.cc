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
  EXPECT_FALSE(cache.Lookup("k0").has_value());  // the oldest went first
  EXPECT_TRUE(cache.Lookup("k99").has_value());
}

TEST(CacheManagerTest, LookupRefreshesRecencyAndEraseForgets) {
  CacheManager cache(300);  // room for four small items
  cache.Put("a", V("1"));
  cache.Put("b", V("2"));
  ASSERT_TRUE(cache.Lookup("a").has_value());  // a is now the most recent
  for (int i = 0; i < 3; ++i) cache.Put("f" + std::to_string(i), V("x"));
  EXPECT_TRUE(cache.Lookup("a").has_value());
  EXPECT_FALSE(cache.Lookup("b").has_value());
  cache.Put("a", V("updated"));
  EXPECT_EQ(cache.Lookup("a")->value(), "updated");
  cache.Erase("a");
  EXPECT_FALSE(cache.Lookup("a").has_value());
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST(CacheManagerTest, AValueLargerThanTheCacheIsNotCached) {
  CacheManager cache(100);
  cache.Put("big", V(std::string(500, 'x')));
  EXPECT_FALSE(cache.Lookup("big").has_value());
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace meta::store
