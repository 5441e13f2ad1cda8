// A few hand-computed cases: the contract in examples a reader can check.
// random_query_test.cc checks the same contract on random data and queries
// against a naive reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine/query/query.h"
#include "tests/engine_fixture.h"
#include "tests/query_reference/reference_model.h"

namespace kpidb::query {
namespace {

using reference::FillName;
using reference::Format;
using reference::kEps;

class QueryExamples : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.max_points_per_chunk = 7;
    EngineTest::SetUp();
  }
  void Put(std::string metric, Labels labels, std::vector<int64_t> ts, std::vector<double> vs) {
    WriteBatch b;
    b.series.push_back({std::move(metric), std::move(labels), std::move(ts), std::move(vs)});
    Status s = engine_->Write(b);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<ResultSeries> Run(const Query& q) {
    std::vector<ResultSeries> got;
    Status s = Execute(*engine_, q, [&](ResultSeries&& r) {
      got.push_back(std::move(r));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return got;
  }
};

// One bucket of 16 head points (one run, folded in 8 lanes): min and max keep
// the zero a time-ordered scan keeps where 0 and -0 tie, even when a later
// zero of the other sign sits in a lower lane; a sum whose lanes would
// overflow is the left-to-right one.
TEST_F(QueryExamples, MinMaxKeepTheFirstZeroAndSumsDoNotOverflowInLanes) {
  std::vector<int64_t> ts;
  for (int64_t t = 0; t < 16; ++t) ts.push_back(t);
  std::vector<double> low(16, 5.0), high(16, -5.0), big(16);
  low[2] = -0.0;  // first zero in time, lane 2
  low[8] = 0.0;   // a later +0, lane 0
  high[2] = 0.0;
  high[8] = -0.0;
  for (size_t i = 0; i < 16; ++i) big[i] = i % 2 ? -1e308 : 1e308;
  Put("kpi_low", {}, ts, low);
  Put("kpi_high", {}, ts, high);
  Put("kpi_big", {}, ts, big);
  Query q;
  q.start_ms = 0;
  q.end_ms = 16;
  q.step.step_ms = 16;
  q.selector.metric = "kpi_low";
  q.aggregation = Aggregation::kMin;
  auto got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::signbit(got[0].values[0]) && got[0].values[0] == 0) << got[0].values[0];
  q.selector.metric = "kpi_high";
  q.aggregation = Aggregation::kMax;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(!std::signbit(got[0].values[0]) && got[0].values[0] == 0) << got[0].values[0];
  q.selector.metric = "kpi_big";
  q.aggregation = Aggregation::kSum;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values[0], 0.0);
}

TEST_F(QueryExamples, IncreaseCreditsTheLaterPointRestartsAfterAResetAndIgnoresPointsBeforeStart) {
  // Counter: 5 (before start), 10, 14, 3 (reset), 7; buckets of 10 ms.
  Put("kpi_counts", {{"channel", "web"}}, {-5, 1, 12, 15, 25}, {5, 10, 14, 3, 7});
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_counts";
  q.start_ms = 0;
  q.end_ms = 30;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kIncrease;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  // Bucket [0,10): point 1 has no predecessor in range: no value.
  // Bucket [10,20): (14-10) + 3 (reset) = 7. Bucket [20,30): 7-3 = 4.
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(got[0].values, (std::vector<double>{7, 4}));
  q.aggregation = Aggregation::kRate;  // per second of a 10 ms bucket
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{10, 20}));
  ASSERT_EQ(got[0].values.size(), 2u);
  EXPECT_DOUBLE_EQ(got[0].values[0], 700);
  EXPECT_DOUBLE_EQ(got[0].values[1], 400);
}

TEST_F(QueryExamples, BucketsAreEpochAlignedAlsoBeforeTheEpochAndLabelledByTheirStart) {
  Put("kpi_visits", {{"channel", "web"}}, {-7, -6, -1, 0, 4}, {1, 2, 3, 4, 5});
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = -6;  // the first bucket [-10,-5) begins before start; -7 is outside the range
  q.end_ms = 5;
  q.step.step_ms = 5;
  q.aggregation = Aggregation::kSum;
  q.fill = Fill::kNull;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{-10, -5, 0}));
  ASSERT_EQ(got[0].values.size(), 3u);
  EXPECT_EQ(got[0].values[0], 2);
  EXPECT_EQ(got[0].values[1], 3);
  EXPECT_EQ(got[0].values[2], 9);
}

TEST_F(QueryExamples, FillsApplyToEmptyBucketsAfterGrouping) {
  Put("kpi_visits", {{"channel", "web"}, {"region", "eu"}}, {0, 30}, {2, 8});
  Put("kpi_visits", {{"channel", "web"}, {"region", "us"}}, {1}, {1});
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = -10;
  q.end_ms = 50;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  q.cross = CrossAggregation::kSum;
  const std::vector<int64_t> all = {-10, 0, 10, 20, 30, 40};
  struct Case {
    Fill fill;
    std::vector<int64_t> ts;
    std::vector<double> values;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Case& c : {Case{Fill::kNone, {0, 30}, {3, 8}},
                        Case{Fill::kNull, all, {nan, 3, nan, nan, 8, nan}},
                        Case{Fill::kZero, all, {0, 3, 0, 0, 8, 0}},
                        Case{Fill::kPrevious, {0, 10, 20, 30, 40}, {3, 3, 3, 8, 8}},
                        Case{Fill::kLinear, {0, 10, 20, 30}, {3, 3 + 5.0 / 3, 3 + 10.0 / 3, 8}}}) {
    SCOPED_TRACE(FillName(c.fill));
    q.fill = c.fill;
    std::vector<ResultSeries> got = Run(q);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].metric, "kpi_visits");
    EXPECT_EQ(got[0].labels, (Labels{{"channel", "web"}}));
    EXPECT_EQ(got[0].timestamps_ms, c.ts);
    ASSERT_EQ(got[0].values.size(), c.values.size());
    for (size_t i = 0; i < c.values.size(); ++i) {
      if (std::isnan(c.values[i])) {
        EXPECT_TRUE(std::isnan(got[0].values[i])) << i;
      } else {
        EXPECT_NEAR(got[0].values[i], c.values[i], 1e-12) << i;
      }
    }
  }
}

TEST_F(QueryExamples, RatioMatchesOnGroupLabelsAndADivisionByZeroGivesNoPoint) {
  Put("kpi_orders", {{"channel", "web"}, {"region", "eu"}}, {0, 10, 20}, {1, 2, 3});
  Put("kpi_orders", {{"channel", "ads"}, {"region", "eu"}}, {0}, {5});
  Put("kpi_visits", {{"channel", "web"}, {"region", "eu"}}, {0, 10, 20}, {4, 0, 6});
  Put("kpi_visits", {{"channel", "web"}, {"region", "us"}}, {0}, {4});
  Query q;
  q.selector.metric = "kpi_orders";
  q.denominator = Selector{"kpi_visits", {}};
  q.start_ms = 0;
  q.end_ms = 30;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  std::vector<ResultSeries> got = Run(q);
  // ads has no denominator; web: 1/(4+4), 2/0 (no point), 3/6.
  std::erase_if(got, [](const ResultSeries& r) { return r.values.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metric, "kpi_orders/kpi_visits");
  EXPECT_EQ(got[0].labels, (Labels{{"channel", "web"}}));
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{0, 20}));
  EXPECT_EQ(got[0].values, (std::vector<double>{0.125, 0.5}));
}

TEST_F(QueryExamples, RateDividesByTheBucketsRealLengthOnDstDays) {
  // Europe/Paris: 2024-03-31 lasts 23 h, 2024-10-27 lasts 25 h. A counter
  // growing by one per second has a rate of exactly 1 on every day.
  constexpr int64_t kMar31 = 1'711'839'600'000, kApr1 = 1'711'922'400'000,
                    kApr2 = 1'712'008'800'000;
  constexpr int64_t kOct27 = 1'729'980'000'000, kOct28 = 1'730'070'000'000;
  constexpr int64_t kHour = 3'600'000;
  Put("kpi_counts", {{"channel", "web"}},
      {kMar31, kApr1 - kHour, kApr2 - kHour, kOct27, kOct28 - 1000},
      {0, 82'800 - 3'600, 82'800 + 86'400 - 3'600, 1e6, 1e6 + 90'000 - 1});
  Query q;
  q.selector.metric = "kpi_counts";
  q.start_ms = kMar31;
  q.end_ms = kOct28;
  q.step = {.step_ms = 0, .calendar = CalendarUnit::kDay, .time_zone = "Europe/Paris"};
  q.aggregation = Aggregation::kRate;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  // The Oct 27 bucket holds the point after a jump from 171 000 to 1e6
  // (credited to Oct 27) and the one a second before its end.
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMar31, kApr1, kOct27}));
  ASSERT_EQ(got[0].values.size(), 3u);
  EXPECT_DOUBLE_EQ(got[0].values[0], (82'800.0 - 3'600) / 82'800);
  EXPECT_DOUBLE_EQ(got[0].values[1], 86'400.0 / 86'400);
  EXPECT_DOUBLE_EQ(got[0].values[2], (1e6 + 90'000 - 1 - (82'800 + 86'400 - 3'600)) / 90'000);
}

TEST_F(QueryExamples, TimestampsAtTheEdgesOfInt64AreBucketedWithoutOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Put("kpi_visits", {{"channel", "web"}}, {kMin, kMin + 2, -1, 0, kMax - 1}, {1, 2, 3, 4, 5});
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = kMin;
  q.end_ms = kMax;
  std::vector<ResultSeries> got = Run(q);  // raw, everything
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMin, kMin + 2, -1, 0, kMax - 1}));

  q.step.step_ms = int64_t{1} << 62;  // 4 buckets cover the whole int64 range
  q.aggregation = Aggregation::kSum;
  q.fill = Fill::kNull;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms,
            (std::vector<int64_t>{kMin, kMin / 2, 0, int64_t{1} << 62}));
  EXPECT_EQ(got[0].values, (std::vector<double>{3, 3, 4, 5}));

  // Step 3: the first bucket would start at kMin - 1; its label is clamped
  // to kMin (time_buckets.h), the next starts at kMin + 2.
  q.end_ms = kMin + 5;
  q.step.step_ms = 3;
  q.fill = Fill::kNone;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMin, kMin + 2}));
  EXPECT_EQ(got[0].values, (std::vector<double>{1, 2}));
}

TEST_F(QueryExamples, StddevHasNoCancellationErrorOnLargeNearlyConstantValues) {
  // Values around 1e6 with a spread of 0.1: a sum-of-squares formula loses
  // most digits (E[x^2] - E[x]^2 ~ 1e12 - 1e12); two passes (or Welford)
  // keep them. A constant series has a standard deviation of 0, never NaN.
  std::vector<int64_t> ts;
  std::vector<double> spread, constant;
  for (int i = 0; i < 60; ++i) {
    ts.push_back(i);
    spread.push_back(1e6 + 0.1 * (i % 3));
    constant.push_back(1234.56);
  }
  Put("kpi_income", {{"channel", "web"}}, ts, spread);
  Put("kpi_income", {{"channel", "ads"}}, ts, constant);
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_income";
  q.start_ms = 0;
  q.end_ms = 60;
  q.step.step_ms = 60;
  q.aggregation = Aggregation::kStddev;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].labels, (Labels{{"channel", "ads"}}));
  ASSERT_EQ(got[0].values.size(), 1u);
  ASSERT_EQ(got[1].values.size(), 1u);
  // A few ulps of the values per point.
  EXPECT_LE(std::fabs(got[0].values[0]), 60 * 4 * kEps * 1234.56) << Format(got[0].values[0]);
  const double want = 0.1 * std::sqrt(2.0 / 3.0);  // deviations -0.1, 0, +0.1
  EXPECT_NEAR(got[1].values[0], want, 60 * 4 * kEps * 1e6) << Format(got[1].values[0]);
}

}  // namespace
}  // namespace kpidb::query
