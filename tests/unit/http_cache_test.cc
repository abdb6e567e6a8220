// ETags and the byte-bounded LRU response cache.
#include "localbench/collector/http/cache.h"

#include <gtest/gtest.h>

namespace localbench::collector::http {
namespace {

std::shared_ptr<const CachedResponse> Body(std::size_t n) {
  auto r = std::make_shared<CachedResponse>();
  r->body.assign(n, 'x');
  return r;
}

TEST(HttpCache, EtagDependsOnEveryPartOfTheKey) {
  const std::string base = ETagFor(CacheKey("/v1/tables/oom", "q", "json", 5));
  EXPECT_EQ(base, ETagFor(CacheKey("/v1/tables/oom", "q", "json", 5)));  // stable
  EXPECT_NE(base, ETagFor(CacheKey("/v1/tables/curve", "q", "json", 5)));
  EXPECT_NE(base, ETagFor(CacheKey("/v1/tables/oom", "r", "json", 5)));
  EXPECT_NE(base, ETagFor(CacheKey("/v1/tables/oom", "q", "csv", 5)));
  EXPECT_NE(base, ETagFor(CacheKey("/v1/tables/oom", "q", "json", 6)));
  EXPECT_EQ(base.front(), '"');
  EXPECT_EQ(base.back(), '"');
  // Length prefixes keep "a|b" + "c" apart from "a" + "b|c".
  EXPECT_NE(CacheKey("a|json", "c", "json", 1), CacheKey("a", "json|c", "json", 1));
}

TEST(HttpCache, IfNoneMatchListsWeakTagsAndStar) {
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("*", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("\"abcd\"", "\"abc\""));
}

TEST(HttpCache, EvictsLeastRecentlyUsedWithinTheByteBound) {
  ResponseCache cache(300);
  cache.Put("a", Body(100));
  cache.Put("b", Body(100));
  ASSERT_NE(cache.Get("a"), nullptr);  // a is now the most recent
  cache.Put("c", Body(100));           // 303 bytes > 300: b goes
  EXPECT_NE(cache.Get("a"), nullptr);
  EXPECT_EQ(cache.Get("b"), nullptr);
  EXPECT_NE(cache.Get("c"), nullptr);
  EXPECT_LE(cache.bytes(), 300u);
  cache.Put("huge", Body(1000));  // bigger than the bound: not stored, nothing evicted
  EXPECT_EQ(cache.Get("huge"), nullptr);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(HttpCache, ReplacingAKeyKeepsTheByteCountRight) {
  ResponseCache cache(1000);
  cache.Put("a", Body(100));
  cache.Put("a", Body(50));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 51u);
  EXPECT_EQ(cache.Get("a")->body.size(), 50u);
}

TEST(HttpCache, ZeroBoundDisablesCaching) {
  ResponseCache cache(0);
  cache.Put("a", Body(1));
  EXPECT_EQ(cache.Get("a"), nullptr);
}

}  // namespace
}  // namespace localbench::collector::http
