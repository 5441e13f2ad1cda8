// Rollup tiers (rollup.h): rows equal a naive per-bucket computation, blocks
// round-trip every bit and detect every truncation and flipped bit, and the
// engine uses a row only where it gives the points' answer: late points in
// the head or in a newer segment make the rows of their buckets unused.
#include "engine/segment/rollup.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/engine_fixture.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using query::Aggregation;
using query::CalendarUnit;
using query::Query;
using query::QueryStats;
using query::ResultSeries;

constexpr double kEps = std::numeric_limits<double>::epsilon();

struct Points {
  std::vector<int64_t> ts;
  std::vector<double> vs;
};

Points RandomPoints(std::mt19937_64& rng, int64_t base, size_t n) {
  Points p;
  int64_t t = base;
  for (size_t i = 0; i < n; ++i) {
    t += std::uniform_int_distribution<int64_t>(1, 5000)(rng);
    p.ts.push_back(t);
    p.vs.push_back(std::round(std::normal_distribution<double>(1e4, 300)(rng) * 100) / 100);
  }
  return p;
}

uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }

TEST(RollupRows, EqualANaivePerBucketComputation) {
  std::mt19937_64 rng(7);
  for (int64_t base : {int64_t{0}, int64_t{-7'777'777}, int64_t{1'700'000'000'000}}) {
    const Points p = RandomPoints(rng, base, 5000);
    for (int64_t step : {int64_t{1000}, int64_t{60'000}, int64_t{3'600'000}}) {
      std::map<int64_t, std::vector<double>> buckets;  // floor(t / step) -> values in time order
      for (size_t i = 0; i < p.ts.size(); ++i) {
        const int64_t k = p.ts[i] >= 0 ? p.ts[i] / step : -((-p.ts[i] + step - 1) / step);
        buckets[k].push_back(p.vs[i]);
      }
      const std::vector<RollupRow> rows = ComputeRollupRows(step, p.ts, p.vs);
      ASSERT_EQ(rows.size(), buckets.size());
      size_t i = 0;
      for (const auto& [k, vs] : buckets) {
        const RollupRow& r = rows[i++];
        EXPECT_EQ(r.bucket, k);
        EXPECT_EQ(RollupBucketStart(step, r.bucket), k * step);
        ASSERT_EQ(r.count, vs.size());
        int64_t cents = 0;  // the values have two decimals: the sum is exact
        for (double v : vs) cents += std::llround(v * 100);
        EXPECT_EQ(Bits(r.sum), Bits(static_cast<double>(cents) / 100));
        EXPECT_EQ(r.min, *std::min_element(vs.begin(), vs.end()));
        EXPECT_EQ(r.max, *std::max_element(vs.begin(), vs.end()));
        EXPECT_EQ(r.first, vs.front());
        EXPECT_EQ(r.last, vs.back());
        long double mean = 0, m2 = 0;
        for (double v : vs) mean += v;
        mean /= vs.size();
        for (double v : vs) m2 += (v - mean) * (v - mean);
        EXPECT_NEAR(r.m2, static_cast<double>(m2), 4 * kEps * vs.size() * 1e4 * 300 + 1e-9);
      }
    }
  }
}

TEST(RollupRows, SumsOfValuesThatAreNotShortDecimalsAreLeftToRight) {
  std::mt19937_64 rng(5);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (int i = 0; i < 1000; ++i) {
    ts.push_back(i * 10);
    vs.push_back(std::uniform_real_distribution<double>(-1e3, 1e3)(rng));
  }
  vs[3] = 0.1;  // one decimal among them changes nothing
  const std::vector<RollupRow> rows = ComputeRollupRows(10'000, ts, vs);
  ASSERT_EQ(rows.size(), 1u);
  double sum = 0;
  for (double v : vs) sum += v;
  EXPECT_EQ(Bits(rows[0].sum), Bits(sum));
  // Decimals with different numbers of digits share the finest scale.
  const std::vector<double> mixed = {0.1, 0.2, 0.003, 7};
  const std::vector<RollupRow> exact =
      ComputeRollupRows(10'000, std::span<const int64_t>(ts).first(4), mixed);
  EXPECT_EQ(Bits(exact[0].sum), Bits(7.303));  // 0.1 + 0.2 + 0.003 + 7 left to right is 7.303000000000001
}

TEST(RollupRows, ALargeValueAndAManyDigitDecimalFallBackToTheDoubleSum) {
  // At the exponent the many-digit values need, 1e15 no longer fits 2^53:
  // the exact sum is impossible and the row keeps the left-to-right sum.
  const std::vector<int64_t> ts = {0, 1, 2, 3};
  const std::vector<double> vs = {1e15, 9.0071992547409, 0.2161727821137838, 1e-18};
  const std::vector<RollupRow> rows = ComputeRollupRows(10, ts, vs);
  ASSERT_EQ(rows.size(), 1u);
  double sum = 0;
  for (double v : vs) sum += v;
  EXPECT_EQ(Bits(rows[0].sum), Bits(sum));
}

TEST(RollupRows, BucketsAtTheEndsOfTheInt64RangeAreClamped) {
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max() - 1;
  const std::vector<int64_t> ts = {lo, lo + 1, hi};
  const std::vector<double> vs = {1, 2, 3};
  const std::vector<RollupRow> rows = ComputeRollupRows(int64_t{1} << 40, ts, vs);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(RollupBucketStart(int64_t{1} << 40, rows[0].bucket), lo);
  EXPECT_EQ(rows[0].count, 2u);
  EXPECT_EQ(RollupBucketEnd(int64_t{1} << 40, rows[1].bucket), std::numeric_limits<int64_t>::max());
}

std::string SampleBlock(std::vector<RollupTier>* tiers) {
  std::mt19937_64 rng(11);
  const Points p = RandomPoints(rng, 1'700'000'000'000, 3000);
  tiers->clear();
  for (int64_t step : {int64_t{60'000}, int64_t{3'600'000}, int64_t{86'400'000}}) {
    tiers->push_back({step, /*with_m2=*/step == 60'000, ComputeRollupRows(step, p.ts, p.vs)});
  }
  // Values no decimal form holds: every bit must survive anyway.
  tiers->front().rows[0].sum = -0.0;
  tiers->front().rows[1].min = std::numeric_limits<double>::denorm_min();
  tiers->front().rows[2].max = 1.7976931348623157e308;
  std::string block;
  EncodeRollupBlock(*tiers, &block);
  return block;
}

TEST(RollupBlock, RoundTripsEveryBit) {
  std::vector<RollupTier> tiers;
  const std::string block = SampleBlock(&tiers);
  std::vector<RollupTier> back;
  ASSERT_TRUE(DecodeRollupBlock(block, &back).ok());
  ASSERT_EQ(back.size(), tiers.size());
  for (size_t t = 0; t < tiers.size(); ++t) {
    EXPECT_EQ(back[t].step_ms, tiers[t].step_ms);
    EXPECT_EQ(back[t].with_m2, tiers[t].with_m2);
    ASSERT_EQ(back[t].rows.size(), tiers[t].rows.size());
    for (size_t i = 0; i < tiers[t].rows.size(); ++i) {
      const RollupRow& a = tiers[t].rows[i];
      const RollupRow& b = back[t].rows[i];
      EXPECT_EQ(a.bucket, b.bucket);
      EXPECT_EQ(a.count, b.count);
      for (auto [x, y] : {std::pair{a.sum, b.sum}, {a.min, b.min}, {a.max, b.max},
                          {a.first, b.first}, {a.last, b.last}}) {
        ASSERT_EQ(Bits(x), Bits(y)) << "tier " << t << " row " << i;
      }
      EXPECT_EQ(b.has_m2, tiers[t].with_m2);
      if (b.has_m2) {
        EXPECT_EQ(Bits(a.m2), Bits(b.m2));
      }
    }
  }
}

TEST(RollupBlock, AReaderDecodesOneTierAtATimeInAnyOrder) {
  std::vector<RollupTier> tiers;
  const std::string block = SampleBlock(&tiers);
  std::vector<RollupTier> whole;
  ASSERT_TRUE(DecodeRollupBlock(block, &whole).ok());
  RollupBlockReader reader;
  ASSERT_TRUE(reader.Open(block).ok());
  ASSERT_EQ(reader.tier_count(), whole.size());
  for (size_t t = whole.size(); t-- > 0;) {  // coarsest first, as scans do
    EXPECT_EQ(reader.step_ms(t), whole[t].step_ms);
    RollupTier one;
    ASSERT_TRUE(reader.Decode(t, &one).ok());
    ASSERT_EQ(one.rows.size(), whole[t].rows.size());
    for (size_t i = 0; i < one.rows.size(); ++i) {
      EXPECT_EQ(one.rows[i].bucket, whole[t].rows[i].bucket);
      EXPECT_EQ(one.rows[i].count, whole[t].rows[i].count);
      EXPECT_EQ(Bits(one.rows[i].max), Bits(whole[t].rows[i].max));
    }
  }
}

TEST(RollupBlock, EveryTruncationAndFlippedBitIsCorruption) {
  std::vector<RollupTier> tiers;
  const std::string block = SampleBlock(&tiers);
  std::vector<RollupTier> back;
  for (size_t n = 0; n < block.size(); ++n) {
    Status s = DecodeRollupBlock(std::string_view(block).substr(0, n), &back);
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << "truncated to " << n;
  }
  for (size_t i = 0; i < block.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = block;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      Status s = DecodeRollupBlock(bad, &back);
      ASSERT_EQ(s.code(), StatusCode::kDataLoss) << "byte " << i << " bit " << bit;
    }
  }
}

// ---------------------------------------------------------------------------
// The engine and the query layer.

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kBase = 19'000 * kDay;  // 2022-01-08, a UTC midnight

// options_: the defaults, one 1 h tier.
class RollupQueries : public testing::EngineTest {
 protected:
  // Two days of a KPI every 10 s.
  void WriteTwoDays() {
    std::mt19937_64 rng(3);
    WriteBatch batch;
    SeriesPoints sp{"kpi_revenue", {{"channel", "web"}}, {}, {}};
    for (int64_t t = kBase; t < kBase + 2 * kDay; t += 10'000) {
      sp.timestamps_ms.push_back(t);
      sp.values.push_back(std::round(std::normal_distribution<double>(1e4, 300)(rng) * 100) / 100);
    }
    batch.series.push_back(sp);
    ASSERT_TRUE(engine_->Write(batch).ok());
    ASSERT_TRUE(engine_->Flush().ok());
  }
  void WritePoint(int64_t t, double v) {
    WriteBatch batch;
    batch.series.push_back({"kpi_revenue", {{"channel", "web"}}, {t}, {v}});
    ASSERT_TRUE(engine_->Write(batch).ok());
  }
  ResultSeries Run(Query q, QueryStats* stats) {
    std::vector<ResultSeries> got;
    Status s = query::Execute(
        *engine_, q,
        [&](ResultSeries&& r) {
          got.push_back(std::move(r));
          return Status::Ok();
        },
        stats);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? ResultSeries{} : got[0];
  }
  static Query Hourly(Aggregation a) {
    Query q;
    q.selector.metric = "kpi_revenue";
    q.start_ms = kBase;
    q.end_ms = kBase + 2 * kDay;
    q.step.step_ms = kHour;
    q.aggregation = a;
    return q;
  }
  // The query answered from rows and from points: equal (bit for bit when
  // `exact`, else within the rounding of sums); returns the rows used.
  uint64_t ExpectSameAnswer(Query q, bool exact) {
    QueryStats with, without;
    const ResultSeries a = Run(q, &with);
    q.use_precomputed = false;
    const ResultSeries b = Run(q, &without);
    EXPECT_EQ(without.rollup_rows, 0u);
    EXPECT_EQ(a.timestamps_ms, b.timestamps_ms);
    EXPECT_EQ(a.values.size(), b.values.size());
    for (size_t i = 0; i < std::min(a.values.size(), b.values.size()); ++i) {
      if (exact) {
        EXPECT_EQ(Bits(a.values[i]), Bits(b.values[i])) << i << ": " << a.values[i] << " vs " << b.values[i];
      } else {
        EXPECT_NEAR(a.values[i], b.values[i], 8640 * 4 * kEps * std::fabs(b.values[i]) + 1e-12) << i;
      }
    }
    return with.rollup_rows;
  }
};

TEST_F(RollupQueries, HourlyAndDailyQueriesReadRowsAndGiveThePointsAnswer) {
  WriteTwoDays();
  for (Aggregation a : {Aggregation::kMin, Aggregation::kMax, Aggregation::kCount,
                        Aggregation::kFirst, Aggregation::kLast}) {
    EXPECT_EQ(ExpectSameAnswer(Hourly(a), /*exact=*/true), 48u);
  }
  // Rows hold exact decimal sums; points are summed left to right.
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kSum), false), 48u);
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kAvg), false), 48u);
  // Day buckets: the chunks (2048 points, 5.7 h, never across a day) serve
  // from their stats, which are in memory; rows would need decoding.
  Query daily = Hourly(Aggregation::kAvg);
  daily.step.step_ms = kDay;
  EXPECT_EQ(ExpectSameAnswer(daily, false), 0u);
  Query six = Hourly(Aggregation::kSum);
  six.step.step_ms = 6 * kHour;  // unions of 1 h rows
  EXPECT_EQ(ExpectSameAnswer(six, false), 48u);
  // Stddev needs m2, not stored by default; rate needs the points; 20-minute
  // buckets are finer than any tier.
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kStddev), false), 0u);
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kIncrease), true), 0u);
  Query fine = Hourly(Aggregation::kAvg);
  fine.step.step_ms = 20 * 60'000;
  EXPECT_EQ(ExpectSameAnswer(fine, true), 0u);
}

TEST_F(RollupQueries, ADailyTierServesDaysWithOneRowAndM2ServesStddev) {
  options_.rollup_tiers_ms = {kHour, kDay};
  options_.rollup_stddev = true;
  Open();
  WriteTwoDays();
  Query daily = Hourly(Aggregation::kMax);
  daily.step.step_ms = kDay;
  EXPECT_EQ(ExpectSameAnswer(daily, true), 0u);  // chunk stats serve (see above)
  Query stddev = Hourly(Aggregation::kStddev);
  stddev.step.step_ms = 6 * kHour;
  EXPECT_EQ(ExpectSameAnswer(stddev, false), 48u);
  stddev.step.step_ms = kDay;
  EXPECT_EQ(ExpectSameAnswer(stddev, false), 2u);
}

TEST_F(RollupQueries, ARangeNotOnTierBoundariesUsesRowsInsideAndPointsAtTheEdges) {
  WriteTwoDays();
  Query q = Hourly(Aggregation::kSum);
  q.start_ms = kBase + 90 * 60'000;            // 01:30
  q.end_ms = kBase + kDay + 150 * 60'000;      // next day 02:30
  q.step.step_ms = 3 * kHour;
  QueryStats stats;
  Run(q, &stats);
  EXPECT_GT(stats.points, 0u);  // the edges
  EXPECT_GT(ExpectSameAnswer(q, false), 20u);
}

TEST_F(RollupQueries, LatePointsMakeTheRowsOfTheirBucketsUnused) {
  WriteTwoDays();
  // A correction in the head, then in a newer segment: the row of its hour
  // no longer tells the truth, every other row still does.
  WritePoint(kBase + 5 * kHour + 10'000, 1e6);
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kMax), true), 47u);
  EXPECT_EQ(Run(Hourly(Aggregation::kMax), nullptr).values[5], 1e6);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kMax), true), 47u);
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kAvg), false), 47u);
  Query daily = Hourly(Aggregation::kSum);
  daily.step.step_ms = kDay;
  // Day 1: 23 rows and the points around the correction; day 2: chunk stats.
  EXPECT_EQ(ExpectSameAnswer(daily, false), 23u);
  Open();  // and after recovery
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kMax), true), 47u);
}

TEST_F(RollupQueries, CalendarDaysInAHalfHourZoneUseTheRowsThatFitInside) {
  WriteTwoDays();
  Query q = Hourly(Aggregation::kMax);
  q.step = {.step_ms = 0, .calendar = CalendarUnit::kDay, .time_zone = "Asia/Kolkata"};
  // Local midnight is 18:30 UTC: the 18:00 row straddles it and is not used.
  EXPECT_EQ(ExpectSameAnswer(q, true), 46u);
  q.step.time_zone = "Europe/Paris";  // whole hours: every 1 h row fits
  EXPECT_EQ(ExpectSameAnswer(q, true), 48u);
}

TEST_F(RollupQueries, StddevFromRowsKeepsTheDigitsOfLargeNearlyConstantValues) {
  options_.rollup_stddev = true;
  Open();
  WriteBatch batch;
  SeriesPoints sp{"kpi_revenue", {{"channel", "web"}}, {}, {}};
  for (int64_t t = kBase; t < kBase + kDay; t += 10'000) {
    sp.timestamps_ms.push_back(t);
    sp.values.push_back(1e9 + 0.1 * static_cast<double>((t / 10'000) % 3));
  }
  batch.series.push_back(sp);
  ASSERT_TRUE(engine_->Write(batch).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  Query q = Hourly(Aggregation::kStddev);
  q.end_ms = kBase + kDay;
  q.step.step_ms = 12 * kHour;
  QueryStats stats;
  const ResultSeries r = Run(q, &stats);
  EXPECT_EQ(stats.rollup_rows, 24u);
  ASSERT_EQ(r.values.size(), 2u);
  const double want = 0.1 * std::sqrt(2.0 / 3.0);  // deviations -0.1, 0, +0.1
  for (double v : r.values) EXPECT_NEAR(v, want, 4320 * 4 * kEps * 1e9);
}

TEST_F(RollupQueries, ASparseSeriesGetsNoRowsItsDenseNeighbourDoesAndAnswersAgree) {
  // Default rollup_min_points_per_row (32): 10 s data keeps its 1 h rows
  // (360 points each), 5-minute data (12 a row) gets none.
  options_.rollup_tiers_ms = {kHour, kDay};
  Open();
  WriteTwoDays();
  WriteBatch sparse;
  SeriesPoints sp{"kpi_sparse", {}, {}, {}};
  for (int64_t t = kBase; t < kBase + 2 * kDay; t += 300'000) {
    sp.timestamps_ms.push_back(t);
    sp.values.push_back(static_cast<double>(t % 977) / 100);
  }
  sparse.series.push_back(sp);
  ASSERT_TRUE(engine_->Write(sparse).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kMax), true), 48u);  // kpi_revenue
  Query q = Hourly(Aggregation::kMax);
  q.selector.metric = "kpi_sparse";
  EXPECT_EQ(ExpectSameAnswer(q, true), 0u);  // points, not rows
  q.step.step_ms = 6 * kHour;
  q.aggregation = Aggregation::kSum;
  EXPECT_EQ(ExpectSameAnswer(q, false), 0u);
  // A lower bar keeps 5-minute data's 1 h rows.
  options_.rollup_min_points_per_row = 12;
  Open();
  WriteBatch again = sparse;
  again.series[0].metric = "kpi_sparse_rows";
  ASSERT_TRUE(engine_->Write(again).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  q = Hourly(Aggregation::kMax);
  q.selector.metric = "kpi_sparse_rows";
  EXPECT_EQ(ExpectSameAnswer(q, true), 48u);
}

TEST_F(RollupQueries, NoTiersConfiguredMeansNoRowsAndTheSameAnswers) {
  options_.rollup_tiers_ms.clear();
  Open();
  WriteTwoDays();
  EXPECT_EQ(ExpectSameAnswer(Hourly(Aggregation::kAvg), true), 0u);
  options_.rollup_tiers_ms = {kHour, kHour};
  EXPECT_EQ(EngineCore::Open(dir_.path() + "/other", options_).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kpidb
