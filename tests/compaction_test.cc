// Compaction: the segments of each partition merge into one, newest write
// winning, with nothing lost or changed (checked against a reference, also
// after reopening), and the merged file's rollup rows serve again where late
// points had made the old ones unusable (reads during compaction:
// concurrency_compaction_test.cc). Delete leaves out a range of series.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "tests/compaction_fixture.h"

namespace kpidb {
namespace {

using testing::Compaction;
using testing::kBase;
using testing::kDay;
using testing::kHour;

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
