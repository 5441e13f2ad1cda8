// EngineCore::EstimatePoints and query::EstimatePoints: an upper bound of what a
// query reads (never below the points it actually decodes, from the head and
// segments), and no estimate where finding one would itself cost.
#include <gtest/gtest.h>

#include <random>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/engine_fixture.h"

namespace kpidb {
namespace {

using query::MatchOp;
using query::Query;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kBase = 1'767'225'600'000;  // 2026-01-01

class Estimate : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.max_points_per_chunk = 100;
    EngineTest::SetUp();
  }
  // `n` points a minute apart from `from`, for kpi_e{shard=s} of every s < shards.
  void Write(int shards, int64_t from, int n) {
    WriteBatch batch;
    for (int s = 0; s < shards; ++s) {
      SeriesPoints sp{"kpi_e", {{"shard", std::to_string(s)}}, {}, {}};
      for (int i = 0; i < n; ++i) {
        sp.timestamps_ms.push_back(from + i * kMinute);
        sp.values.push_back(i);
      }
      batch.series.push_back(std::move(sp));
    }
    ASSERT_TRUE(engine_->Write(batch).ok());
  }
  SeriesId Id(int shard) const {
    return *engine_->FindSeries("kpi_e", {{"shard", std::to_string(shard)}});
  }
  // What a query reading every point of the range decodes.
  uint64_t PointsRead(const Query& q) {
    Query raw = q;
    raw.use_precomputed = false;
    query::QueryStats stats;
    EXPECT_TRUE(query::Execute(*engine_, raw, [](query::ResultSeries&&) { return Status::Ok(); },
                               &stats).ok());
    return stats.points;
  }
};

TEST_F(Estimate, CountsOverlappingChunksAndHeadPoints) {
  Write(1, kBase, 1000);  // 10 chunks of 100 once flushed
  ASSERT_TRUE(engine_->Flush().ok());
  Write(1, kBase + 1000 * kMinute, 50);  // in the head
  const SeriesId id = Id(0);
  const std::vector<SeriesId> ids = {id};
  EXPECT_EQ(engine_->EstimatePoints(ids, kBase, kBase + 2000 * kMinute), 1050u);
  // [150, 250) minutes overlaps chunks 1 and 2; the head's points count whole.
  EXPECT_EQ(engine_->EstimatePoints(ids, kBase + 150 * kMinute, kBase + 250 * kMinute), 250u);
  EXPECT_EQ(engine_->EstimatePoints(ids, kBase, kBase), 0u);
  // Counting stops past `enough` (after the series that crossed it).
  Write(3, kBase, 10);
  const std::vector<SeriesId> all = {Id(0), Id(1), Id(2)};
  EXPECT_EQ(engine_->EstimatePoints(all, kBase, kBase + 2000 * kMinute, 100), 1060u);
  // One segment: three series are three lookups.
  EXPECT_EQ(engine_->EstimatePoints(all, kBase, kBase + 2000 * kMinute, UINT64_MAX, 3), 1080u);
  EXPECT_EQ(engine_->EstimatePoints(all, kBase, kBase + 2000 * kMinute, UINT64_MAX, 2), std::nullopt);
  // A range before every segment looks nothing up (head points count whole).
  EXPECT_EQ(engine_->EstimatePoints(all, kBase - 10 * kMinute, kBase - kMinute, UINT64_MAX, 0), 80u);
}

TEST_F(Estimate, NeverBelowWhatARandomQueryReads) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 6; ++round) {
    Write(1 + static_cast<int>(rng() % 4), kBase + static_cast<int64_t>(rng() % 3000) * kMinute,
          1 + static_cast<int>(rng() % 700));
    if (rng() % 2) {
      ASSERT_TRUE(engine_->Flush().ok());
    }
  }
  for (int i = 0; i < 200; ++i) {
    Query q;
    q.selector = {"kpi_e", {}};
    if (rng() % 2) q.selector.matchers = {{"shard", MatchOp::kEqual, std::to_string(rng() % 4)}};
    q.start_ms = kBase + static_cast<int64_t>(rng() % 4000) * kMinute - 100 * kMinute;
    q.end_ms = q.start_ms + static_cast<int64_t>(1 + rng() % 2000) * kMinute;
    if (rng() % 2) {  // aggregated, maybe cut in time slices
      q.step.step_ms = (1 + static_cast<int64_t>(rng() % 30)) * kMinute;
      q.aggregation = rng() % 2 ? query::Aggregation::kSum : query::Aggregation::kMax;
    }
    auto estimate = query::EstimatePoints(*engine_, q, 64);
    ASSERT_TRUE(estimate.has_value());
    ASSERT_GE(*estimate, PointsRead(q)) << "query " << i;
  }
}

TEST_F(Estimate, AFillCountsAPointPerBucketOfEverySeries) {
  Write(3, kBase, 10);
  Query q;
  q.selector = {"kpi_e", {}};
  q.start_ms = kBase;
  q.end_ms = kBase + 600 * kMinute;
  q.step.step_ms = kMinute;
  q.aggregation = query::Aggregation::kAvg;
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 30u);  // no fill: only what is read
  q.fill = query::Fill::kNull;
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 30u + 3 * 602);  // 600 buckets (+2)
  q.step = {0, query::CalendarUnit::kDay, "Europe/Paris"};
  q.end_ms = kBase + 10 * 24 * 60 * kMinute;
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 30u + 3 * (10 * 24 / 23 + 2));
  // Queries that aggregate read every point of their chunks at most.
  q.fill = query::Fill::kNone;
  EXPECT_GE(*query::EstimatePoints(*engine_, q, 64), PointsRead(q));
}

TEST_F(Estimate, NoneWhereFindingOutWouldCost) {
  Write(5, kBase, 10);
  Query q;
  q.start_ms = kBase;
  q.end_ms = kBase + 60 * kMinute;
  q.selector = {"kpi_e", {}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 50u);
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 4), std::nullopt);  // 5 series > 4
  q.selector = {"", {{"shard", MatchOp::kEqual, "3"}}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 4), 10u);  // an equality matcher narrows it
  q.selector = {"", {}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), std::nullopt);  // every series
  q.selector = {"kpi_e", {{"shard", MatchOp::kRegex, "1|2"}}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), std::nullopt);
  q.selector = {"kpi_e", {{"shard", MatchOp::kNotEqual, ""}}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), std::nullopt);
  q.selector = {"kpi_e", {{"shard", MatchOp::kNotEqual, "1"}}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 40u);
  // A ratio counts both selectors.
  q.selector = {"kpi_e", {{"shard", MatchOp::kEqual, "1"}}};
  q.denominator = query::Selector{"kpi_e", {{"shard", MatchOp::kEqual, "2"}}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 20u);
  q.selector = {"kpi_nothing", {}};
  q.denominator.reset();
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64), 0u);
  // Five series in one segment: five lookups.
  ASSERT_TRUE(engine_->Flush().ok());
  q.selector = {"kpi_e", {}};
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64, UINT64_MAX, 5), 50u);
  EXPECT_EQ(query::EstimatePoints(*engine_, q, 64, UINT64_MAX, 4), std::nullopt);
}

}  // namespace
}  // namespace kpidb
