// Stats counts each stored point once: copies of a point in several segment
// files (a rewrite, or a file imported twice, before a merge folds them)
// count once, and the count does not change when the merge happens.
#include <gtest/gtest.h>

#include <vector>

#include "tests/engine_fixture.h"

namespace kpidb {
namespace {

constexpr int64_t kT0 = 20'000LL * 86'400'000;

class StatsPoints : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.auto_compaction = false;
    EngineTest::SetUp();
  }
  void Write(int64_t from, int64_t count, int64_t step, double v, const char* label = "a") {
    WriteBatch b;
    SeriesPoints p{"kpi", {{"k", label}}, {}, {}};
    for (int64_t i = 0; i < count; ++i) {
      p.timestamps_ms.push_back(from + i * step);
      p.values.push_back(v);
    }
    b.series.push_back(std::move(p));
    ASSERT_TRUE(engine_->Write(b).ok());
  }
};

TEST_F(StatsPoints, CopiesOfAPointInSeveralFilesCountOnce) {
  Write(kT0, 5000, 1000, 1.0);
  Write(kT0, 100, 1000, 1.0, "b");
  ASSERT_TRUE(engine_->Flush().ok());
  // The same file imported again, plus 500 points after it, and an
  // interleaved series the second file holds alone.
  Write(kT0, 5500, 1000, 2.0);
  Write(kT0 + 500, 100, 1000, 3.0, "c");
  ASSERT_TRUE(engine_->Flush().ok());
  EngineStats st = engine_->GetStats();
  EXPECT_EQ(st.segments, 2u);
  EXPECT_EQ(st.segment_points, 5000u + 100 + 5500 + 100);
  EXPECT_EQ(st.segment_distinct_points, 5500u + 100 + 100);
  ASSERT_TRUE(engine_->Compact().ok());
  st = engine_->GetStats();
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.segment_points, 5700u);
  EXPECT_EQ(st.segment_distinct_points, 5700u);
}

TEST_F(StatsPoints, FilesThatDoNotShareTimestampsAreCountedFromTheIndex) {
  Write(kT0, 1000, 2000, 1.0);
  ASSERT_TRUE(engine_->Flush().ok());
  Write(kT0 + 1000, 1000, 2000, 1.0);  // interleaved: overlapping spans, no shared timestamp
  ASSERT_TRUE(engine_->Flush().ok());
  const EngineStats st = engine_->GetStats();
  EXPECT_EQ(st.segment_points, 2000u);
  EXPECT_EQ(st.segment_distinct_points, 2000u);
}

}  // namespace
}  // namespace kpidb
