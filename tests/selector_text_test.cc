#include <gtest/gtest.h>

#include <random>

#include "kpidb/query.h"

namespace kpidb::query {
namespace {

TEST(SelectorText, ParsesWhatUsersWrite) {
  auto s = ParseSelector(R"(kpi_visits{channel="email", region=~"eu|us",campaign!='x',a!~"b.*",})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metric, "kpi_visits");
  ASSERT_EQ(s->matchers.size(), 4u);
  EXPECT_EQ(s->matchers[0].name, "channel");
  EXPECT_EQ(s->matchers[0].op, MatchOp::kEqual);
  EXPECT_EQ(s->matchers[0].value, "email");
  EXPECT_EQ(s->matchers[1].op, MatchOp::kRegex);
  EXPECT_EQ(s->matchers[1].value, "eu|us");
  EXPECT_EQ(s->matchers[2].op, MatchOp::kNotEqual);
  EXPECT_EQ(s->matchers[2].value, "x");
  EXPECT_EQ(s->matchers[3].op, MatchOp::kNotRegex);

  auto bare = ParseSelector("  ns:kpi_revenue  ");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->metric, "ns:kpi_revenue");
  EXPECT_TRUE(bare->matchers.empty());

  auto name = ParseSelector(R"({__name__=~"kpi_.+"})");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->metric, "");
  EXPECT_EQ(name->matchers[0].name, "__name__");

  auto escaped = ParseSelector(R"(m{a="q\"uote\\back\nline"})");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->matchers[0].value, "q\"uote\\back\nline");

  auto empty = ParseSelector("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->metric.empty() && empty->matchers.empty());
}

void ExpectError(std::string_view text, const std::string& part) {
  auto s = ParseSelector(text);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find(part), std::string::npos)
      << text << " -> " << s.status().message();
}

TEST(SelectorText, ErrorsSayWhereAndWhat) {
  ExpectError(R"(kpi_visits{channel="email")", "at column 27, expected ',' or '}', found the end");
  ExpectError(R"(kpi_visits{channel=email})", "at column 20, expected a quoted label value, found 'e'");
  ExpectError(R"(kpi_visits{channel~"x"})", "expected one of = != =~ !~ after label channel");
  ExpectError(R"(kpi_visits{"x"="y"})", "at column 12, expected a label name or '}'");
  ExpectError(R"(kpi_visits{a="x})", "expected the closing \"");
  ExpectError(R"(kpi visits)", "at column 5, expected the end of the selector");
  ExpectError(R"(kpi_visits[5m])", "expected the end of the selector, found '['");
  ExpectError(R"(m{a="\q"})", "expected an escape");
  ExpectError("9kpi", "at column 1, expected a metric name or '{'");
}

TEST(SelectorText, FormatReadsBack) {
  std::mt19937_64 rng(7);
  const std::string chars = "ab_\"\\\n\t\r' |.*{}=,";
  for (int i = 0; i < 500; ++i) {
    Selector s;
    if (rng() % 3) s.metric = "m" + std::to_string(rng() % 100);
    const size_t n = rng() % 4;
    for (size_t k = 0; k < n; ++k) {
      LabelMatcher m;
      m.name = "l" + std::to_string(k);
      m.op = static_cast<MatchOp>(rng() % 4);
      for (size_t c = rng() % 6; c > 0; --c) m.value.push_back(chars[rng() % chars.size()]);
      s.matchers.push_back(m);
    }
    const std::string text = FormatSelector(s);
    auto back = ParseSelector(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    EXPECT_EQ(back->metric, s.metric) << text;
    ASSERT_EQ(back->matchers.size(), s.matchers.size()) << text;
    for (size_t k = 0; k < n; ++k) {
      EXPECT_EQ(back->matchers[k].name, s.matchers[k].name);
      EXPECT_EQ(back->matchers[k].op, s.matchers[k].op);
      EXPECT_EQ(back->matchers[k].value, s.matchers[k].value) << text;
    }
  }
}

}  // namespace
}  // namespace kpidb::query
