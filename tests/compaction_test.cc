// Compaction: the segments of each partition merge into one, newest write
// winning, with nothing lost or changed (checked against a reference, also
// after reopening), and the merged file's rollup rows serve again where late
// points had made the old ones unusable. Reads during compaction see the
// data throughout.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/query/query.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::TempDir;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kBase = 20'000 * kDay;

class Compaction : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.logger = [](std::string_view) {};
    options_.wal_sync = WalSyncPolicy::kNone;
    Open();
  }
  void Open() {
    engine_.reset();
    auto e = Engine::Open(dir_.path(), options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }
  // Random points over 3 days for 4 series, out of order, with rewrites;
  // flushed after every batch so each day gets many segments.
  void WriteRounds(int rounds, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int r = 0; r < rounds; ++r) {
      WriteBatch batch;
      for (int s = 0; s < 4; ++s) {
        SeriesPoints sp{"kpi_c", {{"s", std::to_string(s)}}, {}, {}};
        for (int i = 0; i < 300; ++i) {
          const int64_t t = kBase + std::uniform_int_distribution<int64_t>(0, 3 * 2880 - 1)(rng) * 30'000;
          if (std::find(sp.timestamps_ms.begin(), sp.timestamps_ms.end(), t) != sp.timestamps_ms.end()) continue;
          sp.timestamps_ms.push_back(t);
          sp.values.push_back(std::round(std::uniform_real_distribution<double>(0, 100)(rng) * 100) / 100);
          ref_[s][t] = sp.values.back();
        }
        batch.series.push_back(std::move(sp));
      }
      ASSERT_TRUE(engine_->Write(batch).ok());
      ASSERT_TRUE(engine_->Flush().ok());
    }
  }
  void ExpectReference() {
    for (int s = 0; s < 4; ++s) {
      auto id = engine_->FindSeries("kpi_c", {{"s", std::to_string(s)}});
      ASSERT_TRUE(id.has_value());
      auto data = engine_->Read(*id, INT64_MIN, INT64_MAX);
      ASSERT_TRUE(data.ok());
      ASSERT_EQ(data->timestamps_ms.size(), ref_[s].size());
      size_t i = 0;
      for (const auto& [t, v] : ref_[s]) {
        ASSERT_EQ(data->timestamps_ms[i], t);
        ASSERT_EQ(std::bit_cast<uint64_t>(data->values[i]), std::bit_cast<uint64_t>(v)) << t;
        ++i;
      }
    }
  }
  uint64_t RollupRowsOfHourlyMax() {
    query::Query q;
    q.selector.metric = "kpi_c";
    q.start_ms = kBase;
    q.end_ms = kBase + 3 * kDay;
    q.step.step_ms = kHour;
    q.aggregation = query::Aggregation::kMax;
    query::QueryStats stats;
    EXPECT_TRUE(query::Execute(*engine_, q, [](query::ResultSeries&&) { return Status::Ok(); }, &stats).ok());
    return stats.rollup_rows;
  }

  TempDir dir_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
  std::map<int, std::map<int64_t, double>> ref_;
};

TEST_F(Compaction, MergesEachPartitionIntoOneFileLosingNothing) {
  WriteRounds(8, 1);
  ASSERT_EQ(engine_->GetStats().segments, 24u);  // 8 flushes x 3 days
  ExpectReference();
  const uint64_t rows_before = RollupRowsOfHourlyMax();
  uint64_t merged = 0;
  ASSERT_TRUE(engine_->Compact(&merged).ok());
  EXPECT_EQ(merged, 24u);
  EXPECT_EQ(engine_->GetStats().segments, 3u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/segments")) {
    files += e.path().extension() == ".kps";
  }
  EXPECT_EQ(files, 3u);  // the old files are gone
  ExpectReference();
  // Every hour of every series now reads its row (4 series x 72 hours).
  EXPECT_LT(rows_before, 4u * 72);
  EXPECT_EQ(RollupRowsOfHourlyMax(), 4u * 72);
  Open();
  ExpectReference();
  ASSERT_TRUE(engine_->Compact(&merged).ok());  // nothing left to do
  EXPECT_EQ(merged, 0u);
  // New late writes, then compaction again: the newest value wins.
  WriteRounds(3, 2);
  ASSERT_TRUE(engine_->Compact(&merged).ok());
  EXPECT_EQ(merged, 12u);
  ExpectReference();
}

TEST_F(Compaction, LeavesAPartitionAloneThatANewerSpanningFileOverlaps) {
  // Written with week partitions: A (Monday only), then F (Monday and
  // Tuesday, rewriting A's point). Reopened with day partitions, F spans
  // two; a late Monday write adds B. Merging A and B would put them ahead
  // of F, the newer file: Monday is left as it is.
  const int64_t monday = kBase + 10 * kHour;
  options_.segment_partition_ms = 7 * kDay;
  Open();
  auto put = [&](int64_t t, double v) {
    WriteBatch batch;
    batch.series.push_back({"kpi_c", {{"s", "0"}}, {t}, {v}});
    ASSERT_TRUE(engine_->Write(batch).ok());
  };
  put(monday, 1);
  ASSERT_TRUE(engine_->Flush().ok());  // A
  put(monday, 2);
  put(monday + kDay, 3);
  ASSERT_TRUE(engine_->Flush().ok());  // F
  options_.segment_partition_ms = kDay;
  Open();
  put(monday + kHour, 4);
  ASSERT_TRUE(engine_->Flush().ok());  // B
  ASSERT_TRUE(engine_->Compact().ok());
  auto id = engine_->FindSeries("kpi_c", {{"s", "0"}});
  auto data = engine_->Read(*id, monday, monday + 1);
  ASSERT_TRUE(data.ok());
  ASSERT_EQ(data->values.size(), 1u);
  EXPECT_EQ(data->values[0], 2);  // F's rewrite, not A's original
}

TEST_F(Compaction, DeleteRemovesTheRangeOfTheSeriesGivenAndNothingElse) {
  WriteRounds(4, 5);
  // Some of it still in the head (written before the delete: deleted too).
  WriteBatch late;
  late.series.push_back({"kpi_c", {{"s", "0"}}, {kBase + kDay + 5}, {7}});
  ASSERT_TRUE(engine_->Write(late).ok());
  ref_[0][kBase + kDay + 5] = 7;
  auto id0 = engine_->FindSeries("kpi_c", {{"s", "0"}});
  auto id1 = engine_->FindSeries("kpi_c", {{"s", "1"}});
  uint64_t expected = 0;
  for (int s : {0, 1}) {
    for (auto it = ref_[s].lower_bound(kBase + kDay); it != ref_[s].end() && it->first < kBase + 2 * kDay;) {
      ++expected;
      it = ref_[s].erase(it);
    }
  }
  uint64_t deleted = 0;
  ASSERT_TRUE(engine_->Delete({*id0, *id1}, kBase + kDay, kBase + 2 * kDay, &deleted).ok());
  EXPECT_EQ(deleted, expected);
  ExpectReference();
  Open();  // durable
  ExpectReference();
  // Deleting again deletes nothing; writing into the range afterwards shows.
  ASSERT_TRUE(engine_->Delete({*id0, *id1}, kBase + kDay, kBase + 2 * kDay, &deleted).ok());
  EXPECT_EQ(deleted, 0u);
  WriteBatch after;
  after.series.push_back({"kpi_c", {{"s", "0"}}, {kBase + kDay + 60'000}, {9}});
  ASSERT_TRUE(engine_->Write(after).ok());
  ref_[0][kBase + kDay + 60'000] = 9;
  ExpectReference();
  // All of a series' points.
  ASSERT_TRUE(engine_->Delete({*id1}, INT64_MIN, INT64_MAX, &deleted).ok());
  EXPECT_GT(deleted, 0u);
  ref_[1].clear();
  ExpectReference();
  EXPECT_EQ(engine_->Delete({*id1}, 5, 5).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kpidb
