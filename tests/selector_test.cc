// Series selection over an index of thousands of series, against a naive
// filter of every key: both ways SelectSeries narrows candidates (a few
// checked key by key, many through postings) give the same ids, and
// KeepInPostings (search or merge) is a set intersection.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <regex>

#include "engine/query/selector.h"
#include "engine/index/series_index.h"

namespace kpidb {
namespace {

using query::LabelMatcher;
using query::MatchOp;
using query::Selector;

std::string Value(const Labels& labels, const std::string& name) {
  for (const Label& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

bool NaiveMatches(const LabelMatcher& m, const Labels& labels) {
  const std::string v = Value(labels, m.name);
  switch (m.op) {
    case MatchOp::kEqual: return v == m.value;
    case MatchOp::kNotEqual: return v != m.value;
    case MatchOp::kRegex: return std::regex_match(v, std::regex(m.value));
    case MatchOp::kNotRegex: return !std::regex_match(v, std::regex(m.value));
  }
  return false;
}

class Selection : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(3);
    // kpi_big: 3,000 series; kpi_small: 40. host is rare, zone common, and
    // some series lack zone.
    for (int i = 0; i < 3040; ++i) {
      SeriesKey key;
      key.metric = i < 3000 ? "kpi_big" : "kpi_small";
      key.labels.push_back({"host", "h" + std::to_string(rng() % 400)});
      if (rng() % 5 != 0) key.labels.push_back({"zone", "z" + std::to_string(rng() % 4)});
      key.labels.push_back({"unit", std::to_string(i)});
      std::sort(key.labels.begin(), key.labels.end());
      bool created = false;
      const SeriesId id = index_.GetOrAssign(key, key.Canonical(), &created);
      if (created) keys_.emplace_back(id, key);
    }
  }
  std::vector<SeriesId> Naive(const Selector& s) const {
    std::vector<SeriesId> out;
    for (const auto& [id, key] : keys_) {
      if (!s.metric.empty() && key.metric != s.metric) continue;
      if (std::all_of(s.matchers.begin(), s.matchers.end(),
                      [&](const LabelMatcher& m) { return NaiveMatches(m, key.labels); })) {
        out.push_back(id);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  SeriesIndex index_;
  std::vector<std::pair<SeriesId, SeriesKey>> keys_;
};

TEST_F(Selection, RandomSelectorsMatchANaiveFilter) {
  std::mt19937_64 rng(9);
  auto pick = [&](std::vector<std::string> v) { return v[rng() % v.size()]; };
  size_t nonempty = 0, refused = 0;
  for (int i = 0; i < 400; ++i) {
    Selector s;
    s.metric = pick({"", "kpi_big", "kpi_small", "kpi_none"});
    const int n = static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      switch (rng() % 6) {
        case 0: s.matchers.push_back({"host", MatchOp::kEqual, "h" + std::to_string(rng() % 400)}); break;
        case 1: s.matchers.push_back({"zone", MatchOp::kEqual, pick({"z1", "z2", ""})}); break;
        case 2: s.matchers.push_back({"zone", MatchOp::kNotEqual, pick({"z1", ""})}); break;
        case 3: s.matchers.push_back({"zone", MatchOp::kRegex, pick({"z[12]", "z.*", "z1|"})}); break;
        case 4: s.matchers.push_back({"host", MatchOp::kRegex, pick({"h1.*", "h3[0-9]"})}); break;
        case 5: s.matchers.push_back({"unit", MatchOp::kNotRegex, pick({"1.*", "[0-9]*5"})}); break;
      }
    }
    auto matchers = query::CompileSelector(s, "selector");
    const bool selects_everything =
        s.metric.empty() && std::all_of(s.matchers.begin(), s.matchers.end(), [](const LabelMatcher& m) {
          return NaiveMatches(m, {});  // matches a series without the label
        });
    if (selects_everything) {
      ASSERT_FALSE(matchers.ok()) << "selector " << i;
      ++refused;
      continue;
    }
    ASSERT_TRUE(matchers.ok()) << matchers.status().ToString();
    auto got = query::SelectSeries(index_, s, *matchers, 1'000'000);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(*got, Naive(s)) << "selector " << i;
    nonempty += !got->empty();
  }
  EXPECT_GT(nonempty, 100u);
  EXPECT_GT(refused, 10u);
}

TEST_F(Selection, KeepInPostingsIsASetIntersection) {
  std::mt19937_64 rng(4);
  // Refs are dense, in creation order: keys_[r] is ref r.
  const std::vector<SeriesRef> big = index_.Postings("__name__", "kpi_big");
  ASSERT_EQ(big.size(), 3000u);
  ASSERT_TRUE(std::is_sorted(big.begin(), big.end()));
  for (size_t n : {0u, 1u, 5u, 100u, 3040u}) {  // searches for few refs, a merge for many
    std::vector<SeriesRef> refs;
    for (SeriesRef r = 0; r < keys_.size(); ++r) {
      if (n == keys_.size() || rng() % keys_.size() < n) refs.push_back(r);
    }
    std::vector<SeriesRef> want;
    std::set_intersection(refs.begin(), refs.end(), big.begin(), big.end(), std::back_inserter(want));
    index_.KeepInPostings(&refs, "__name__", "kpi_big");
    EXPECT_EQ(refs, want) << n;
  }
  std::vector<SeriesRef> refs = big;
  index_.KeepInPostings(&refs, "host", "nowhere");
  EXPECT_TRUE(refs.empty());
}

TEST_F(Selection, NameMatchersSelectSeveralMetrics) {
  Selector s{"", {{"__name__", MatchOp::kRegex, "kpi_(big|small)"}, {"zone", MatchOp::kEqual, "z1"}}};
  auto matchers = query::CompileSelector(s, "selector");
  ASSERT_TRUE(matchers.ok()) << matchers.status().ToString();
  auto got = query::SelectSeries(index_, s, *matchers, 1'000'000);
  ASSERT_TRUE(got.ok());
  Selector big{"kpi_big", {{"zone", MatchOp::kEqual, "z1"}}};
  Selector small{"kpi_small", {{"zone", MatchOp::kEqual, "z1"}}};
  std::vector<SeriesId> want = Naive(big);
  for (SeriesId id : Naive(small)) want.push_back(id);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*got, want);
  EXPECT_FALSE(want.empty());
  // __name__ != and = work as label matchers too.
  Selector not_big{"", {{"__name__", MatchOp::kNotEqual, "kpi_big"}, {"host", MatchOp::kRegex, "h.*"}}};
  auto m2 = query::CompileSelector(not_big, "selector");
  ASSERT_TRUE(m2.ok());
  auto got2 = query::SelectSeries(index_, not_big, *m2, 1'000'000);
  ASSERT_TRUE(got2.ok());
  EXPECT_EQ(*got2, Naive(Selector{"kpi_small", {}}));
}

TEST_F(Selection, SelectorsThatWouldSelectEverySeriesAreRefused) {
  for (const Selector& s : {Selector{"", {}}, Selector{"", {{"zone", MatchOp::kEqual, ""}}},
                            Selector{"", {{"zone", MatchOp::kRegex, ".*"}}},
                            Selector{"", {{"zone", MatchOp::kNotEqual, "z1"}}}}) {
    auto matchers = query::CompileSelector(s, "selector");
    ASSERT_FALSE(matchers.ok());
    EXPECT_EQ(matchers.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(matchers.status().message().find("selector: selects every series"), std::string::npos)
        << matchers.status().message();
  }
  // One matcher that needs a value is enough.
  EXPECT_TRUE(query::CompileSelector(Selector{"", {{"zone", MatchOp::kRegex, "z.+"}}}, "s").ok());
  EXPECT_TRUE(query::CompileSelector(Selector{"", {{"__name__", MatchOp::kRegex, ".+"}}}, "s").ok());
}

TEST_F(Selection, RegexOverAHighCardinalityLabelMatchesANaiveFilter) {
  // unit has a value per series: the bitmap path (no metric or equality).
  for (const char* re : {"1.*", "[0-9]*5", "30[0-9][0-9]", "nothing"}) {
    Selector s{"", {{"unit", MatchOp::kRegex, re}}};
    auto matchers = query::CompileSelector(s, "selector");
    ASSERT_TRUE(matchers.ok());
    auto got = query::SelectSeries(index_, s, *matchers, 1'000'000);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, Naive(s)) << re;
  }
  Selector s{"", {{"unit", MatchOp::kRegex, ".+"}}};
  auto matchers = query::CompileSelector(s, "selector");
  ASSERT_TRUE(matchers.ok());
  auto over = query::SelectSeries(index_, s, *matchers, 100);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().message(), "selector matches 3040 series, over max_series=100");
}

}  // namespace
}  // namespace kpidb
