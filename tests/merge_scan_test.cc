// The merge scan's steps on their own (engine/read/merge_scan.h), on real
// segment files: which chunks it gathers and in what order, which sources
// it sees as overlapping, how it groups chunks into components, which rollup
// rows it takes, and what reaches the visitor.
#include "engine/read/merge_scan.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_util.h"

namespace kpidb {
namespace {

using kpidb::testing::TempDir;

constexpr SeriesId kId = 7;

struct Points {
  std::vector<int64_t> ts;
  std::vector<double> vs;
};

// Points at t = from, from + every, ... (< to), value t / 1000 + bias.
Points Range(int64_t from, int64_t to, int64_t every, double bias = 0) {
  Points p;
  for (int64_t t = from; t < to; t += every) {
    p.ts.push_back(t);
    p.vs.push_back(static_cast<double>(t) / 1000 + bias);
  }
  return p;
}

class MergeScanTest : public ::testing::Test {
 protected:
  // A segment holding `p` for kId, chunks of `chunk_points`, rollup tiers `steps`.
  const SegmentReader& Segment(const Points& p, uint32_t chunk_points,
                               std::vector<int64_t> steps = {}) {
    const std::string path = dir_.path() + "/" + std::to_string(segments_.size()) + ".kps";
    auto w = SegmentWriter::Create(path, chunk_points, std::move(steps));
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->AddSeries(kId, "m{}", p.ts, p.vs).ok());
    EXPECT_TRUE((*w)->Finish().ok());
    auto r = SegmentReader::Open(path, true);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    segments_.push_back(std::move(*r));
    return *segments_.back();
  }

  TempDir dir_;
  std::vector<std::unique_ptr<SegmentReader>> segments_;
};

// Records what the scan delivers; takes stats and rows as configured.
class Recorder : public ScanVisitor {
 public:
  bool take_stats = false;
  bool rollups = false;
  std::vector<std::string> events;  // "stats N", "row STEP@START", "points N"
  Points points;

  bool OnChunkStats(const ChunkStats& s) override {
    if (take_stats) events.push_back("stats " + std::to_string(s.count));
    return take_stats;
  }
  bool UsesRollups() const override { return rollups; }
  bool WantsRollupRow(int64_t, const RollupRow&) override { return true; }
  Status OnRollupRow(int64_t step_ms, const RollupRow& row) override {
    events.push_back("row " + std::to_string(step_ms) + "@" +
                     std::to_string(RollupBucketStart(step_ms, row.bucket)));
    return Status::Ok();
  }
  Status OnPoints(std::span<const int64_t> ts, std::span<const double> vs) override {
    events.push_back("points " + std::to_string(ts.size()));
    points.ts.insert(points.ts.end(), ts.begin(), ts.end());
    points.vs.insert(points.vs.end(), vs.begin(), vs.end());
    return Status::Ok();
  }
};

TEST_F(MergeScanTest, GathersTheChunksOverlappingTheRangeSortedByStartOlderSegmentFirst) {
  const SegmentReader& old_seg = Segment(Range(0, 10'000, 1000), 5);    // chunks [0,4s] [5s,9s]
  const SegmentReader& new_seg = Segment(Range(5000, 8000, 1000), 5);   // chunk [5s,7s]
  Recorder v;
  MergeScan scan(4500, 20'000, &v);
  ASSERT_TRUE(scan.AddSegment(old_seg, kId).ok());
  ASSERT_TRUE(scan.AddSegment(new_seg, kId).ok());
  ASSERT_TRUE(scan.AddSegment(old_seg, kId + 1).ok());  // not in it: nothing, but counts as a segment
  ASSERT_EQ(scan.chunks().size(), 2u);  // [0,4s] ends before the range
  EXPECT_EQ(scan.chunks()[0].age, 0u);
  EXPECT_EQ(scan.chunks()[1].age, 1u);
  EXPECT_EQ(scan.chunks()[0].chunk->stats.min_timestamp_ms, 5000);
  EXPECT_EQ(scan.chunks()[1].chunk->stats.min_timestamp_ms, 5000);
}

TEST_F(MergeScanTest, OthersMayHavePointsSeesTheHeadAndOtherSegmentsNotTheSegmentItself) {
  const SegmentReader& a = Segment(Range(0, 10'000, 1000), 100);
  const SegmentReader& b = Segment(Range(20'000, 30'000, 1000), 100);
  Recorder v;
  MergeScan scan(0, 100'000, &v);
  scan.SetHeadPoints({50'000}, {1.0});
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.AddSegment(b, kId).ok());
  EXPECT_FALSE(scan.OthersMayHavePoints(0, 0, 10'000));   // only segment 0 there
  EXPECT_TRUE(scan.OthersMayHavePoints(1, 0, 10'000));    // segment 0 is another source
  EXPECT_TRUE(scan.OthersMayHavePoints(0, 9000, 21'000)); // meets segment 1's chunk
  EXPECT_FALSE(scan.OthersMayHavePoints(0, 10'000, 20'000));  // the gap between them
  EXPECT_TRUE(scan.OthersMayHavePoints(0, 40'000, 50'001));   // the head point
  EXPECT_FALSE(scan.OthersMayHavePoints(0, 40'000, 50'000));  // [s, e): 50 s is outside
}

TEST_F(MergeScanTest, ComponentsJoinOverlappingChunksTransitivelyWithTheHeadPointsInTheirSpan) {
  const SegmentReader& a = Segment(Range(0, 20'000, 1000), 5);  // [0,4] [5,9] [10,14] [15,19] s
  const SegmentReader& b = Segment(Range(4000, 6000, 1000), 5);  // [4,5] s: joins the first two
  Recorder v;
  MergeScan scan(0, 100'000, &v);
  scan.SetHeadPoints({12'000, 30'000}, {-1, -2});
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.AddSegment(b, kId).ok());
  const std::vector<ScanComponent> cs = scan.Components();
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].first, 0u);
  EXPECT_EQ(cs[0].last, 3u);  // [0,4], [4,5], [5,9]
  EXPECT_EQ(cs[0].lo, 0);
  EXPECT_EQ(cs[0].hi, 9000);
  EXPECT_EQ(cs[0].head_first, cs[0].head_last);  // no head point in [0, 9 s]
  EXPECT_EQ(cs[1].lo, 10'000);
  EXPECT_EQ(cs[1].head_first, 0u);  // 12 s
  EXPECT_EQ(cs[1].head_last, 1u);
  EXPECT_EQ(cs[2].head_first, 1u);  // 30 s is after every chunk: left for Finish
  EXPECT_EQ(cs[2].head_last, 1u);
}

TEST_F(MergeScanTest, AComponentMergesItsSourcesNewestWriteWinning) {
  const SegmentReader& a = Segment(Range(0, 5000, 1000, 0), 100);    // values t + 0
  const SegmentReader& b = Segment(Range(2000, 4000, 1000, 100), 100);  // t + 100 at 2 s, 3 s
  Recorder v;
  MergeScan scan(0, 100'000, &v);
  scan.SetHeadPoints({3000}, {-5});  // the head is newest of all
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.AddSegment(b, kId).ok());
  const std::vector<ScanComponent> cs = scan.Components();
  ASSERT_EQ(cs.size(), 1u);
  ASSERT_TRUE(scan.EmitComponent(cs[0]).ok());
  ASSERT_TRUE(scan.Finish().ok());
  EXPECT_EQ(v.points.ts, (std::vector<int64_t>{0, 1000, 2000, 3000, 4000}));
  EXPECT_EQ(v.points.vs, (std::vector<double>{0, 1, 102, -5, 4}));
}

TEST_F(MergeScanTest, AChunkAloneInsideTheRangeIsOfferedAsStatsAndCutAtTheRangeOtherwise) {
  const SegmentReader& a = Segment(Range(0, 10'000, 1000), 5);  // [0,4] [5,9] s
  Recorder v;
  v.take_stats = true;
  MergeScan scan(2000, 100'000, &v);
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.Run().ok());
  // The first chunk starts before the range: decoded and cut to [2 s, 4 s].
  EXPECT_EQ(v.events, (std::vector<std::string>{"points 3", "stats 5"}));
  EXPECT_EQ(v.points.ts, (std::vector<int64_t>{2000, 3000, 4000}));
}

TEST_F(MergeScanTest, ChoosesCoarsestRowsInsideTheRangeThatNoOtherSourceTouches) {
  // One point per second over [0, 40 s), tiers of 10 s and 20 s.
  const SegmentReader& a = Segment(Range(0, 40'000, 1000), 1000, {10'000, 20'000});
  Recorder v;
  v.rollups = true;
  MergeScan scan(0, 40'000, &v);
  scan.SetHeadPoints({25'500}, {9});  // a head point in [20 s, 30 s)
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.ChooseRollupRows().ok());
  std::vector<std::pair<int64_t, int64_t>> rows;  // (step, start)
  for (const TakenRow& r : scan.taken()) rows.push_back({r.step_ms, r.start});
  // [0, 20 s) as one 20 s row; [20, 40 s) has the head point: only its
  // untouched 10 s row [30, 40 s).
  EXPECT_EQ(rows, (std::vector<std::pair<int64_t, int64_t>>{{20'000, 0}, {10'000, 30'000}}));
}

TEST_F(MergeScanTest, TakenRowsReplaceThePointsTheyCoverInTimeOrder) {
  const SegmentReader& a = Segment(Range(0, 40'000, 1000), 1000, {10'000, 20'000});
  Recorder v;
  v.rollups = true;
  MergeScan scan(0, 40'000, &v);
  scan.SetHeadPoints({25'500}, {9});
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.Run().ok());
  // The row [0, 20 s), the 11 points of [20 s, 30 s) (10 + the head's),
  // then the row [30 s, 40 s).
  EXPECT_EQ(v.events, (std::vector<std::string>{"row 20000@0", "points 11", "row 10000@30000"}));
  EXPECT_EQ(v.points.ts.front(), 20'000);
  EXPECT_EQ(v.points.ts.back(), 29'000);
}

TEST_F(MergeScanTest, AnEmptyRangeDeliversNothing) {
  const SegmentReader& a = Segment(Range(0, 10'000, 1000), 5);
  Recorder v;
  MergeScan scan(5000, 5000, &v);
  scan.SetHeadPoints({5000}, {1});
  ASSERT_TRUE(scan.AddSegment(a, kId).ok());
  ASSERT_TRUE(scan.Run().ok());
  EXPECT_TRUE(v.events.empty());
}

}  // namespace
}  // namespace kpidb
