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
  ExpectError("kpi_x + bool 1", no, "the bool modifier");
  ExpectError("kpi_x and kpi_y", no, "the set operator and");
  ExpectError("kpi_x % 2", no, "the operator %");
  ExpectError("kpi_x ^ 2", no, "the operator ^");
  ExpectError("rate(kpi_x[5m:1m])", no, "a subquery");
  ExpectError("(kpi_x + 1)[5m]", no, "a subquery");
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
