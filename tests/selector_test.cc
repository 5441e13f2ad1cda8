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
      const SeriesId id = index_.GetOrAssign(key, key.ToString(), &created);
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
  size_t nonempty = 0;
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
    ASSERT_TRUE(matchers.ok()) << matchers.status().ToString();
    auto got = query::SelectSeries(index_, s, *matchers, 1'000'000);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(*got, Naive(s)) << "selector " << i;
    nonempty += !got->empty();
  }
  EXPECT_GT(nonempty, 100u);
}

TEST_F(Selection, KeepInPostingsIsASetIntersection) {
  std::mt19937_64 rng(4);
  const std::vector<SeriesId> big = index_.Postings("__name__", "kpi_big");
  ASSERT_EQ(big.size(), 3000u);
  for (size_t n : {0u, 1u, 5u, 100u, 3040u}) {  // searches for few ids, a merge for many
    std::vector<SeriesId> ids;
    for (const auto& [id, key] : keys_) {
      if (n == keys_.size() || rng() % keys_.size() < n) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    const std::vector<SeriesId> want = IntersectSorted(ids, big);
    index_.KeepInPostings(&ids, "__name__", "kpi_big");
    EXPECT_EQ(ids, want) << n;
  }
  std::vector<SeriesId> ids = big;
  index_.KeepInPostings(&ids, "host", "nowhere");
  EXPECT_TRUE(ids.empty());
}

}  // namespace
}  // namespace kpidb
