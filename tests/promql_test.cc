#include "engine/query/promql.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kpidb::promql {
namespace {

std::string Canonical(std::string_view text) {
  auto e = Parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().ToString();
  return e.ok() ? Format(**e) : "";
}

TEST(PromQL, ParsesTheSubset) {
  EXPECT_EQ(Canonical("sum by (channel) (increase(kpi_purchases[1d])) / sum by (channel) (increase(kpi_visits[1d]))"),
            "(sum by (channel) (increase(kpi_purchases[1d])) / sum by (channel) (increase(kpi_visits[1d])))");
  EXPECT_EQ(Canonical("1+1"), "(1 + 1)");
  EXPECT_EQ(Canonical("1 + 2 * 3 - 4 / 2"), "((1 + (2 * 3)) - (4 / 2))");
  EXPECT_EQ(Canonical("(1 + 2) * 3"), "((1 + 2) * 3)");
  EXPECT_EQ(Canonical("-kpi_x * 2"), "(-kpi_x * 2)");
  EXPECT_EQ(Canonical("- 3"), "-3");
  EXPECT_EQ(Canonical("kpi_visits{channel=\"email\", region=~'eu|us', a!=\"\", b!~`x.*`}"),
            "kpi_visits{channel=\"email\",region=~\"eu|us\",a!=\"\",b!~\"x.*\"}");
  EXPECT_EQ(Canonical("{__name__=\"kpi_visits\",channel=\"email\"}"), "kpi_visits{channel=\"email\"}");
  EXPECT_EQ(Canonical("{__name__=~\"kpi_.+\"}"), "{__name__=~\"kpi_.+\"}");
  EXPECT_EQ(Canonical("sum(rate(kpi_x[5m])) without (region)"), "sum without (region) (rate(kpi_x[5m]))");
  EXPECT_EQ(Canonical("avg_over_time(kpi_x[1h30m] offset 1w)"), "avg_over_time(kpi_x[1h30m] offset 7d)");
  EXPECT_EQ(Canonical("kpi_x offset -5m"), "kpi_x offset -5m");
  EXPECT_EQ(Canonical("kpi_a / on (channel) kpi_b"), "(kpi_a / on (channel) kpi_b)");
  EXPECT_EQ(Canonical("kpi_a - ignoring (campaign) kpi_b"), "(kpi_a - ignoring (campaign) kpi_b)");
  EXPECT_EQ(Canonical("count(kpi_x) # a comment\n + 0.5e1"), "(count (kpi_x) + 5)");
  EXPECT_EQ(Canonical("Inf"), "Inf");
  EXPECT_EQ(Canonical("0x1F"), "31");
  auto nan = Parse("NaN");
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan((*nan)->number));
}

TEST(PromQL, TheTreeHoldsWhatTheExecutorNeeds) {
  auto e = Parse("sum by (channel, region) (rate(kpi_visits{channel!=\"test\"}[5m] offset 1h))");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const Expr& agg = **e;
  EXPECT_EQ(agg.kind, ExprKind::kAggregate);
  EXPECT_EQ(agg.name, "sum");
  EXPECT_EQ(agg.grouping, (std::vector<std::string>{"channel", "region"}));
  EXPECT_FALSE(agg.without);
  const Expr& call = *agg.args[0];
  EXPECT_EQ(call.kind, ExprKind::kCall);
  EXPECT_EQ(call.name, "rate");
  EXPECT_EQ(call.position, 26u);
  const Expr& sel = *call.args[0];
  EXPECT_EQ(sel.kind, ExprKind::kMatrixSelector);
  EXPECT_EQ(sel.selector.metric, "kpi_visits");
  ASSERT_EQ(sel.selector.matchers.size(), 1u);
  EXPECT_EQ(sel.selector.matchers[0].op, query::MatchOp::kNotEqual);
  EXPECT_EQ(sel.range_ms, 300'000);
  EXPECT_EQ(sel.offset_ms, 3'600'000);
}

void ExpectError(std::string_view text, StatusCode code, const std::string& part) {
  auto e = Parse(text);
  ASSERT_FALSE(e.ok()) << text;
  EXPECT_EQ(e.status().code(), code) << text << ": " << e.status().ToString();
  EXPECT_NE(e.status().message().find(part), std::string::npos) << text << " -> " << e.status().message();
}

TEST(PromQL, ErrorsSayWhereAndWhat) {
  const auto bad = StatusCode::kInvalidArgument;
  ExpectError("", bad, "1:1: expected an expression, found the end of the expression");
  ExpectError("kpi_x{a=\"b\"", bad, "1:12: expected \",\" or \"}\"");
  ExpectError("kpi_x{a=b}", bad, "1:9: expected a quoted label value, found \"b\"");
  ExpectError("sum(kpi_x", bad, "1:10: expected \")\"");
  ExpectError("rate(kpi_x)", bad, "1:6: rate needs a range vector such as kpi_visits[5m]");
  ExpectError("sum(kpi_x[5m])", bad, "sum needs an instant vector");
  ExpectError("kpi_x[5m] + 1", bad, "a range vector cannot be an operand");
  ExpectError("kpi_x[5x]", bad, "\"5x\" is not a duration");
  ExpectError("kpi_x[5m1h]", bad, "is not a duration");
  ExpectError("kpi_x 1", bad, "1:7: expected an operator or the end of the expression, found \"1\"");
  ExpectError("{}", bad, "at least one matcher that does not match the empty string");
  ExpectError("{a=~\".*\"}", bad, "at least one matcher");
  ExpectError("rate(kpi_x[5m]) offset 1h", bad, "offset must follow a selector");
  ExpectError("1 +\n  * 2", bad, "2:3: expected an expression, found \"*\"");
  ExpectError("5m", bad, "a duration stands only in [...] or after offset");
}

TEST(PromQL, ConstructsOutsideTheSubsetAreNamed) {
  const auto no = StatusCode::kUnimplemented;
  ExpectError("topk(5, kpi_x)", no, "the aggregation topk is outside kpidb's PromQL subset");
  ExpectError("histogram_quantile(0.9, rate(x[5m]))", no, "the function histogram_quantile()");
  ExpectError("abs(kpi_x)", no, "the function abs()");
  ExpectError("kpi_x > 5", no, "1:7: the comparison operator >");
  ExpectError("kpi_x == bool 5", no, "the comparison operator ==");
  ExpectError("kpi_x and kpi_y", no, "the set operator and");
  ExpectError("kpi_x % 2", no, "the operator %");
  ExpectError("kpi_x ^ 2", no, "the operator ^");
  ExpectError("rate(kpi_x[5m:1m])", no, "a subquery");
  ExpectError("kpi_x @ 1609746000", no, "the @ modifier");
  ExpectError("kpi_a / on (c) group_left kpi_b", no, "many-to-one matching (group_left)");
  ExpectError("\"text\"", no, "a string literal");
  ExpectError("quantile(0.5, kpi_x)", no, "the aggregation quantile");
  ExpectError("count_values(\"v\", kpi_x)", no, "the aggregation count_values");
}

int64_t Ms(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text;
  return d.ok() ? *d : -1;
}

TEST(PromQL, WhatPrometheusRefusesIsRefused) {
  const auto bad = StatusCode::kInvalidArgument;
  ExpectError("kpi_x + bool 1", bad, "the bool modifier can only be used on comparison operators");
  ExpectError("(kpi_x + 1)[5m]", bad, "a range ([...]) is only allowed on a vector selector");
  ExpectError("(kpi_x)[5m]", bad, "only allowed on a vector selector");
  ExpectError("(kpi_x offset 1h) offset 2h", bad, "offset must follow a selector");
  ExpectError("kpi_x offset 1h offset 2h", bad, "offset may not be set twice");
  ExpectError("(kpi_x) offset 5m", bad, "offset must follow a selector");
  ExpectError("-kpi_x[5m]", bad, "unary minus applies to numbers and instant vectors");
  ExpectError("sum(-kpi_x[5m])", bad, "unary minus");
  ExpectError("sum(1)", bad, "sum needs an instant vector, not a number");
  ExpectError("1 + on(a) 2", bad, "vector matching (on, ignoring) is only allowed between instant vectors");
  ExpectError("sum by () (kpi_x) by (b)", bad, "one by or without clause");
  ExpectError("sum(1, kpi_x)", bad, "sum takes one argument");
  ExpectError("rte(kpi_x[5m])", bad, "unknown function rte()");
  ExpectError("{a:b=\"c\"}", bad, "expected one of = != =~ !~ after a");
  ExpectError("sum by (a:b) (kpi_x)", bad, "expected \",\" or \")\"");
  ExpectError("kpi_x{__name__=\"kpi_y\"}", bad, "the metric name is set twice");
  ExpectError("{a=~\"x*\"}", bad, "at least one matcher that does not match the empty string");
  ExpectError("{a=~\"(\"}", bad, "invalid regular expression");
  ExpectError("kpi_x[300y]", bad, "duration out of range");
  ExpectError("m{a=\"\\'\"}", bad, "only the opening quote is escaped");
  ExpectError("m{a=\"x\ny\"}", bad, "may not span lines");
  ExpectError("on{a=\"b\"}", bad, "\"on\" is a keyword");
  ExpectError("1 @ 5", bad, "@ must follow a selector");
  // Deep nesting and long chains are refused, never a crash.
  ExpectError(std::string(5000, '(') + "1" + std::string(5000, ')'), bad, "nested more than 100 levels");
  ExpectError(std::string(50000, '-') + "kpi_x", bad, "nested more than 100 levels");
  std::string chain = "1";
  for (int i = 0; i < 2000; ++i) chain += "+1";
  ExpectError(chain, bad, "operators in a chain");
}

TEST(PromQL, AsPrometheusReadsThem) {
  EXPECT_EQ(Canonical("x + NAN"), "(x + NaN)");
  EXPECT_EQ(Canonical("INF"), "Inf");
  EXPECT_EQ(Canonical("010"), "8");  // octal, as Go's ParseInt(s, 0, 64)
  EXPECT_EQ(Canonical("09"), "9");   // not octal: a float
  EXPECT_EQ(Canonical("{a!~\"\"}"), "{a!~\"\"}");
  EXPECT_EQ(Canonical("SUM(x) BY (a)"), "sum by (a) (x)");
  EXPECT_EQ(Canonical("x OFFSET 5m"), "x offset 5m");
  EXPECT_EQ(Canonical("x / ON(a) y"), "(x / on (a) y)");
  EXPECT_EQ(Canonical("by + without + offset"), "((by + without) + offset)");  // keywords as metric names
  EXPECT_EQ(Canonical("{__name__=\"kpi-visits\"}"), "{__name__=\"kpi-visits\"}");  // not a metric name
  EXPECT_EQ(Canonical("rate((x[5m]))"), "rate(x[5m])");
  EXPECT_EQ(Canonical("m{a=\"\\x41\\u00e9\"}"), "m{a=\"A\xc3\xa9\"}");
  EXPECT_EQ(Canonical("m{a='it\\'s'}"), "m{a=\"it's\"}");
  EXPECT_EQ(Canonical(std::string(90, '(') + "1" + std::string(90, ')')), "1");
}

TEST(PromQL, Durations) {
  EXPECT_EQ(Ms("5m"), 300'000);
  EXPECT_EQ(Ms("1h30m"), 5'400'000);
  EXPECT_EQ(Ms("1d"), 86'400'000);
  EXPECT_EQ(Ms("2w"), 14 * 86'400'000LL);
  EXPECT_EQ(Ms("1y"), 365 * 86'400'000LL);
  EXPECT_EQ(Ms("1s500ms"), 1500);
  for (const char* bad : {"", "5", "m", "0s", "1m1h", "1h1h", "-5m", "1.5h", "5M"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace kpidb::promql
