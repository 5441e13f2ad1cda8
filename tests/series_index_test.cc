#include "engine/index/series_index.h"

#include <gtest/gtest.h>

namespace kpidb {
namespace {

uint64_t EverythingCollides(std::string_view) { return 42; }

SeriesKey Key(std::string metric, Labels labels) {
  return SeriesKey{std::move(metric), std::move(labels)};
}

TEST(SeriesIndex, IdIsXxh3OfTheCanonicalKey) {
  SeriesIndex index;
  SeriesKey k = Key("kpi_visits", {{"channel", "email"}});
  bool created;
  SeriesId id = index.GetOrAssign(k, k.Canonical(), &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(id, HashCanonicalKey(k.Canonical()));
  EXPECT_EQ(index.GetOrAssign(k, k.Canonical(), &created), id);
  EXPECT_FALSE(created);
}

TEST(SeriesIndex, HashCollisionsGetDistinctIdsAndAreNeverMerged) {
  SeriesIndex index(&EverythingCollides);
  SeriesKey a = Key("m", {{"x", "1"}}), b = Key("m", {{"x", "2"}}), c = Key("n", {});
  bool created;
  SeriesId ia = index.GetOrAssign(a, a.Canonical(), &created);
  SeriesId ib = index.GetOrAssign(b, b.Canonical(), &created);
  SeriesId ic = index.GetOrAssign(c, c.Canonical(), &created);
  EXPECT_EQ(ia, 42u);
  EXPECT_EQ(ib, 43u);
  EXPECT_EQ(ic, 44u);
  EXPECT_EQ(index.Key(ib)->ToString(), "m{x=\"2\"}");
  EXPECT_EQ(*index.Find(b.Canonical()), ib);
  EXPECT_EQ(index.SelectEqual("m", {}).size(), 2u);
}

TEST(SeriesIndex, RegisterAcceptsRepeatsAndRejectsConflicts) {
  SeriesIndex index;
  SeriesKey a = Key("m", {{"x", "1"}}), b = Key("m", {{"x", "2"}});
  ASSERT_TRUE(index.Register(7, a.Canonical()).ok());
  ASSERT_TRUE(index.Register(7, a.Canonical()).ok());
  EXPECT_TRUE(index.Register(7, b.Canonical()).IsCorruption());
  EXPECT_TRUE(index.Register(8, a.Canonical()).IsCorruption());
  EXPECT_TRUE(index.Register(9, "\x05" "ab").IsCorruption());  // malformed key
  EXPECT_EQ(index.size(), 1u);
}

TEST(SeriesKey, CanonicalFormRoundTripsAndIsInjective) {
  SeriesKey k = Key("m", {{"a", "b\"c"}, {"d", "e"}});
  auto back = SeriesKey::FromCanonical(k.Canonical());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, k);
  // "a"="bc" vs "ab"="c" must not collide in canonical form.
  EXPECT_NE(Key("m", {{"a", "bc"}}).Canonical(), Key("m", {{"ab", "c"}}).Canonical());
  EXPECT_EQ(k.ToString(), "m{a=\"b\\\"c\",d=\"e\"}");
}

TEST(Validation, PrometheusNamingRules) {
  EXPECT_TRUE(IsValidMetricName("kpi:visits_total"));
  EXPECT_TRUE(IsValidMetricName("_x9"));
  EXPECT_FALSE(IsValidMetricName("9x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("channel_2"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_TRUE(IsValidUtf8("Paris \xc3\xa9t\xc3\xa9 \xf0\x9f\x93\x88"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
}

}  // namespace
}  // namespace kpidb
