// Retention per tier (EngineOptions::raw_retention_ms, rollup_retention_ms):
// expired points and rows are never returned, rows answer exactly after
// their points are gone, the compactor drops what expired (whole files where
// it can), and queries say when what they need has expired.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/query/query.h"
#include "tests/engine_fixture.h"

namespace kpidb {
namespace {

using query::Aggregation;
using query::Query;
using query::QueryStats;
using query::ResultSeries;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kBaseDay = 20'000;  // 2024-10-04

int64_t Day(int64_t d) { return (kBaseDay + d) * kDay; }

// One series' answer: bucket start (or raw timestamp) -> value.
using Answer = std::map<int64_t, double>;

struct Result {
  std::map<std::string, Answer> series;  // by labels
  QueryStats stats;
};

Result Ask(const EngineCore& engine, const Query& q) {
  Result r;
  Status s = query::Execute(
      engine, q,
      [&](ResultSeries&& rs) {
        Answer& a = r.series[SeriesKey(rs.metric, rs.labels).ToString()];
        for (size_t i = 0; i < rs.timestamps_ms.size(); ++i) a[rs.timestamps_ms[i]] = rs.values[i];
        return Status::Ok();
      },
      &r.stats);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

Query Make(int64_t start, int64_t end, int64_t step, Aggregation a) {
  Query q;
  q.selector.metric = "kpi";
  q.start_ms = start;
  q.end_ms = end;
  q.step.step_ms = step;
  q.aggregation = a;
  return q;
}

// The reference: aggregates the points of `ref` in [start, end) whose
// timestamp passes `keep`, per bucket of `step` (0: raw).
template <typename Keep>
Answer Expected(const std::map<int64_t, double>& ref, int64_t start, int64_t end, int64_t step,
                Aggregation a, Keep keep) {
  std::map<int64_t, std::vector<double>> buckets;
  for (auto it = ref.lower_bound(start); it != ref.end() && it->first < end; ++it) {
    if (!keep(it->first)) continue;
    const int64_t b = step == 0 ? it->first : start + (it->first - start) / step * step;
    buckets[b].push_back(it->second);
  }
  Answer out;
  for (const auto& [b, vs] : buckets) {
    double v = vs.front();
    for (double x : vs) {
      switch (a) {
        case Aggregation::kMax: v = std::max(v, x); break;
        case Aggregation::kMin: v = std::min(v, x); break;
        default: break;
      }
    }
    if (a == Aggregation::kCount) v = static_cast<double>(vs.size());
    if (a == Aggregation::kLast) v = vs.back();
    if (a == Aggregation::kSum || a == Aggregation::kAvg) {
      v = 0;
      for (double x : vs) v += x;
      if (a == Aggregation::kAvg) v /= static_cast<double>(vs.size());
    }
    out[b] = v;
  }
  return out;
}

Answer All(const std::map<int64_t, double>& ref, int64_t start, int64_t end, int64_t step,
           Aggregation a) {
  return Expected(ref, start, end, step, a, [](int64_t) { return true; });
}

void ExpectBits(const Answer& got, const Answer& want) {
  ASSERT_EQ(got.size(), want.size());
  for (auto g = got.begin(), w = want.begin(); g != got.end(); ++g, ++w) {
    ASSERT_EQ(g->first, w->first);
    EXPECT_EQ(std::bit_cast<uint64_t>(g->second), std::bit_cast<uint64_t>(w->second))
        << "at " << g->first << ": " << g->second << " vs " << w->second;
  }
}

void ExpectNear(const Answer& got, const Answer& want) {
  ASSERT_EQ(got.size(), want.size());
  for (auto g = got.begin(), w = want.begin(); g != got.end(); ++g, ++w) {
    ASSERT_EQ(g->first, w->first);
    EXPECT_NEAR(g->second, w->second, 1e-9 * std::max(1.0, std::abs(w->second))) << g->first;
  }
}

class RetentionTest : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.segment_partition_ms = kDay;
    options_.rollup_tiers_ms = {kHour, kDay};
    options_.raw_retention_ms = 3 * kDay;
    options_.rollup_retention_ms = {10 * kDay, 0};  // hourly rows 10 days, daily for ever
    options_.auto_compaction = false;
    options_.partition_level_factors = {};
    options_.wall_clock_ms = [this] { return now_.load(); };
    EngineTest::SetUp();
  }

  Status Write(const std::vector<int64_t>& ts, const std::vector<double>& vs,
               const std::string& label = "a") {
    WriteBatch b;
    b.series.push_back({"kpi", {{"k", label}}, ts, vs});
    Status s = engine_->Write(b);
    if (s.ok()) {
      for (size_t i = 0; i < ts.size(); ++i) ref_[ts[i]] = vs[i];
    }
    return s;
  }

  // Points every 5 minutes over days [from, to), decimal values.
  void WriteDays(int64_t from, int64_t to) {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    for (int64_t t = Day(from); t < Day(to); t += 5 * kMinute) {
      ts.push_back(t);
      vs.push_back(static_cast<double>((t / kMinute) % 97) * 0.25 + 1);
    }
    ASSERT_TRUE(Write(ts, vs).ok());
  }

  const Answer& Only(const Result& r) {
    static const Answer kEmpty;
    return r.series.empty() ? kEmpty : r.series.begin()->second;
  }

  std::atomic<int64_t> now_{Day(0)};
  std::map<int64_t, double> ref_;
};

TEST_F(RetentionTest, RowsAnswerExactlyAfterTheirPointsExpiredAndQueriesSaySo) {
  WriteDays(0, 10);
  ASSERT_TRUE(engine_->Flush().ok());
  now_ = Day(10) + kHour;  // raw from day 7 01:00; hourly rows from day 0 01:00
  const int64_t raw_from = Day(7) + kHour;
  auto live = [&](int64_t t) { return t >= raw_from; };

  // Every query, before and after the retention drops the files' points,
  // and after a reopen: the same answers.
  auto check = [&] {
    // Raw: only the live points, and the query says the rest expired.
    Result raw = Ask(*engine_, Make(Day(0), Day(11), 0, Aggregation::kAvg));
    ExpectBits(Only(raw), Expected(ref_, Day(0), Day(11), 0, Aggregation::kAvg, live));
    EXPECT_EQ(raw.stats.raw_expired_before_ms, raw_from);
    EXPECT_TRUE(raw.stats.incomplete);

    // Daily: the 1 d rows (kept for ever) answer every day exactly.
    Result daily = Ask(*engine_, Make(Day(0), Day(11), kDay, Aggregation::kMax));
    ExpectBits(Only(daily), All(ref_, Day(0), Day(11), kDay, Aggregation::kMax));
    EXPECT_FALSE(daily.stats.incomplete);
    EXPECT_EQ(daily.stats.raw_expired_before_ms, raw_from);
    EXPECT_EQ(daily.stats.rollup_steps_ms, std::vector<int64_t>{kDay});
    Result counts = Ask(*engine_, Make(Day(0), Day(11), kDay, Aggregation::kCount));
    ExpectBits(Only(counts), All(ref_, Day(0), Day(11), kDay, Aggregation::kCount));
    Result sums = Ask(*engine_, Make(Day(0), Day(11), kDay, Aggregation::kSum));
    ExpectNear(Only(sums), All(ref_, Day(0), Day(11), kDay, Aggregation::kSum));

    // Hourly, where the hourly rows live: exact and complete.
    Result hourly = Ask(*engine_, Make(Day(1), Day(11), kHour, Aggregation::kMax));
    ExpectBits(Only(hourly), All(ref_, Day(1), Day(11), kHour, Aggregation::kMax));
    EXPECT_FALSE(hourly.stats.incomplete);
    Result first = Ask(*engine_, Make(Day(1), Day(11), kHour, Aggregation::kFirst));
    ExpectBits(Only(first), Expected(ref_, Day(1), Day(11), kHour, Aggregation::kFirst,
                                     [](int64_t) { return true; }));

    // Hourly from day 0: its first hour's row has expired and a daily row
    // cannot answer an hour, so that hour is missing and the query says so.
    Result early = Ask(*engine_, Make(Day(0), Day(11), kHour, Aggregation::kMax));
    Answer want = All(ref_, Day(0), Day(11), kHour, Aggregation::kMax);
    want.erase(Day(0));
    ExpectBits(Only(early), want);
    EXPECT_TRUE(early.stats.incomplete);

    // Finer than any row: only the live points, flagged incomplete.
    Result fine = Ask(*engine_, Make(Day(6), Day(11), 20 * kMinute, Aggregation::kMax));
    ExpectBits(Only(fine), Expected(ref_, Day(6), Day(11), 20 * kMinute, Aggregation::kMax, live));
    EXPECT_TRUE(fine.stats.incomplete);

    // Rows off: the live points only.
    Query points_only = Make(Day(0), Day(11), kHour, Aggregation::kMax);
    points_only.use_precomputed = false;
    Result off = Ask(*engine_, points_only);
    ExpectBits(Only(off), Expected(ref_, Day(0), Day(11), kHour, Aggregation::kMax, live));
    EXPECT_TRUE(off.stats.incomplete);
    EXPECT_TRUE(off.stats.rollup_steps_ms.empty());

    // A range wholly after the cutoff is complete and says nothing.
    Result recent = Ask(*engine_, Make(Day(8), Day(10), 0, Aggregation::kAvg));
    EXPECT_EQ(recent.stats.raw_expired_before_ms, 0);
    EXPECT_FALSE(recent.stats.incomplete);
  };
  {
    SCOPED_TRACE("before the retention ran");
    check();
  }
  const uint64_t expired = static_cast<uint64_t>(
      std::distance(ref_.begin(), ref_.lower_bound(Day(7))));  // dropped below day 7 (whole days)
  ASSERT_TRUE(engine_->Compact().ok());
  EngineStats st = engine_->GetStats();
  EXPECT_EQ(st.retention.points_expired, expired);
  EXPECT_GE(st.retention.rewrites, 1u);
  EXPECT_EQ(st.retention.raw_expired_before_ms, raw_from);
  EXPECT_EQ(st.segment_points, ref_.size() - expired);
  {
    SCOPED_TRACE("after the retention dropped the expired points");
    check();
  }
  options_.verify_segments_on_open = true;  // history rows are checked, and pass
  Open();
  EXPECT_EQ(engine_->GetStats().quarantined_segments, 0u);
  {
    SCOPED_TRACE("after a reopen");
    check();
  }
  // Nothing left to do: a second pass rewrites nothing.
  ASSERT_TRUE(engine_->Compact().ok());
  EXPECT_EQ(engine_->GetStats().retention.rewrites, 0u);
}

TEST_F(RetentionTest, ExpiredTiersAndThenWholeFilesAreDropped) {
  options_.rollup_retention_ms = {5 * kDay, 8 * kDay};
  Open();
  WriteDays(0, 4);
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->GetStats().segments, 4u);

  // Day 10: raw points and hourly rows of days 0-3 have expired, daily
  // rows live from day 2: days 0 and 1 go whole, days 2 and 3 keep a
  // daily row.
  now_ = Day(10);
  ASSERT_TRUE(engine_->Compact().ok());
  EngineStats st = engine_->GetStats();
  EXPECT_EQ(st.segment_points, 0u);
  EXPECT_EQ(st.retention.points_expired, ref_.size());
  Result daily = Ask(*engine_, Make(Day(0), Day(11), kDay, Aggregation::kMax));
  Answer want = All(ref_, Day(2), Day(4), kDay, Aggregation::kMax);
  ExpectBits(Only(daily), want);
  Result hourly = Ask(*engine_, Make(Day(0), Day(4), kHour, Aggregation::kMax));
  EXPECT_TRUE(Only(hourly).empty());
  EXPECT_TRUE(hourly.stats.incomplete);

  // Day 20: everything has expired; no file is left.
  now_ = Day(20);
  ASSERT_TRUE(engine_->Compact().ok());
  st = engine_->GetStats();
  EXPECT_EQ(st.segments, 0u);
  EXPECT_TRUE(Ask(*engine_, Make(Day(0), Day(11), kDay, Aggregation::kMax)).series.empty());
  Open();
  EXPECT_EQ(engine_->GetStats().segments, 0u);
}

TEST_F(RetentionTest, WritesOfExpiredPointsAreRefusedWholeNamingThePoint) {
  now_ = Day(10);
  Status s = Write({Day(9), Day(6), Day(8)}, {1, 2, 3});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("series[0] kpi{k=\"a\"} point[1]"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("raw_retention_ms=259200000"), std::string::npos) << s.ToString();
  // Nothing of the batch was written.
  EXPECT_TRUE(Ask(*engine_, Make(Day(0), Day(11), 0, Aggregation::kAvg)).series.empty());
  EXPECT_TRUE(Write({Day(7) + 1}, {1}).ok());  // just inside
}

TEST_F(RetentionTest, ExpiredPointsStillInTheHeadAreHiddenUntilTheirRowsAreWritten) {
  WriteDays(0, 2);
  now_ = Day(5);  // raw from day 2: everything expired, nothing flushed
  Result raw = Ask(*engine_, Make(Day(0), Day(2), 0, Aggregation::kAvg));
  EXPECT_TRUE(raw.series.empty());
  EXPECT_TRUE(raw.stats.incomplete);
  Result hourly = Ask(*engine_, Make(Day(0), Day(2), kHour, Aggregation::kMax));
  EXPECT_TRUE(hourly.series.empty());
  EXPECT_TRUE(hourly.stats.incomplete);
  // The flush writes their rows: the hourly answer is whole again.
  ASSERT_TRUE(engine_->Flush().ok());
  hourly = Ask(*engine_, Make(Day(0), Day(2), kHour, Aggregation::kMax));
  ExpectBits(Only(hourly), All(ref_, Day(0), Day(2), kHour, Aggregation::kMax));
  EXPECT_FALSE(hourly.stats.incomplete);
}

TEST_F(RetentionTest, UnmergedFilesOfAnExpiredDayAreMergedBeforeTheirPointsGo) {
  // Two files for day 0, interleaved in time, with a correction of a point
  // in the first: the retention merges them (the newest write wins) before
  // it keeps only rows.
  std::vector<int64_t> a, b;
  for (int64_t t = Day(0); t < Day(1); t += 10 * kMinute) a.push_back(t);
  for (int64_t t = Day(0) + 5 * kMinute; t < Day(1); t += 10 * kMinute) b.push_back(t);
  ASSERT_TRUE(Write(a, std::vector<double>(a.size(), 1.5)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(Write(b, std::vector<double>(b.size(), 2.5)).ok());
  ASSERT_TRUE(Write({Day(0) + 10 * kMinute}, {9.75}).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(engine_->GetStats().segments, 2u);
  now_ = Day(5);
  // Before the merge, rows of one file cannot answer for the other's
  // (expired, hidden) points: the hourly query says it is incomplete.
  Result before = Ask(*engine_, Make(Day(0), Day(1), kHour, Aggregation::kSum));
  EXPECT_TRUE(before.stats.incomplete);
  ASSERT_TRUE(engine_->Compact().ok());
  EXPECT_EQ(engine_->GetStats().segments, 1u);
  EXPECT_EQ(engine_->GetStats().segment_points, 0u);
  for (Aggregation agg : {Aggregation::kSum, Aggregation::kMax, Aggregation::kCount}) {
    Result after = Ask(*engine_, Make(Day(0), Day(1), kHour, agg));
    ExpectNear(Only(after), All(ref_, Day(0), Day(1), kHour, agg));
    EXPECT_FALSE(after.stats.incomplete);
  }
}

TEST_F(RetentionTest, DeletesInAnExpiredRangeRemoveTheRowsTheyMeet) {
  WriteDays(0, 2);
  ASSERT_TRUE(Write({Day(0), Day(4)}, {1, 2}, "b").ok());
  ASSERT_TRUE(engine_->Flush().ok());
  now_ = Day(5);
  ASSERT_TRUE(engine_->Compact().ok());
  auto id = engine_->FindSeries("kpi", {{"k", "a"}});
  ASSERT_TRUE(id.has_value());
  // 10:30 to 12:00 of day 0: the rows of 10:00 and 11:00 go (and day 0's).
  ASSERT_TRUE(engine_->Delete({*id}, Day(0) + 10 * kHour + 30 * kMinute, Day(0) + 12 * kHour).ok());
  Query q = Make(Day(0), Day(2), kHour, Aggregation::kCount);
  q.selector.matchers.push_back({"k", query::MatchOp::kEqual, "a"});
  Result r = Ask(*engine_, q);
  Answer want = All(ref_, Day(0), Day(2), kHour, Aggregation::kCount);
  want.erase(Day(0) + 10 * kHour);
  want.erase(Day(0) + 11 * kHour);
  ExpectBits(Only(r), want);
  // Day 0's daily row went too; its other hours' rows answer for it.
  q.step.step_ms = kDay;
  r = Ask(*engine_, q);
  want = All(ref_, Day(0), Day(2), kDay, Aggregation::kCount);
  want[Day(0)] -= 24;  // two hours of 5-minute points
  ExpectBits(Only(r), want);
  // The other series is untouched.
  q.selector.matchers[0].value = "b";
  q.end_ms = Day(5);
  EXPECT_EQ(Only(Ask(*engine_, q)).size(), 2u);  // day 0 (a row) and day 4 (a point)
}

TEST_F(RetentionTest, ADeletedHourOfAHistoryFileLeavesTheDaysOtherHoursAnswering) {
  // Two days in one file: after the delete, day 0 has no daily row but the
  // file still has daily rows (day 1's), and day 0's hourly rows must answer.
  options_.segment_partition_ms = 2 * kDay;
  Open();
  WriteDays(0, 2);
  ASSERT_TRUE(engine_->Flush().ok());
  now_ = Day(6);
  ASSERT_TRUE(engine_->Compact().ok());
  EXPECT_EQ(engine_->GetStats().segment_points, 0u);
  auto id = engine_->FindSeries("kpi", {{"k", "a"}});
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(engine_->Delete({*id}, Day(0) + 10 * kHour, Day(0) + 11 * kHour).ok());
  for (int64_t step : {kDay, kHour}) {
    SCOPED_TRACE(step);
    Result r = Ask(*engine_, Make(Day(0), Day(1), step, Aggregation::kCount));
    Answer want = All(ref_, Day(0), Day(1), step, Aggregation::kCount);
    if (step == kDay) want[Day(0)] -= 12;
    if (step == kHour) want.erase(Day(0) + 10 * kHour);
    ExpectBits(Only(r), want);
  }
}

TEST(RetentionOptions, InconsistentRetentionIsRefusedNamingTheField) {
  testing::TempDir dir;
  auto open = [&](auto change) -> Status {
    EngineOptions o;
    o.logger = [](std::string_view) {};
    o.raw_retention_ms = 3 * kDay;
    change(o);
    return EngineCore::Open(dir.path(), o).status();
  };
  Status s = open([](EngineOptions& o) { o.rollup_retention_ms = {kDay}; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rollup_retention_ms must have one entry per rollup tier"), std::string::npos);
  s = open([](EngineOptions& o) { o.rollup_retention_ms = {kDay, 0}; });
  EXPECT_NE(s.message().find("rollup_retention_ms[0] must be 0 (for ever) or at least raw_retention_ms"),
            std::string::npos) << s.ToString();
  s = open([](EngineOptions& o) { o.rollup_retention_ms = {0, 5 * kDay}; });
  EXPECT_NE(s.message().find("rollup_retention_ms[1]"), std::string::npos) << s.ToString();
  s = open([](EngineOptions& o) { o.rollup_tiers_ms = {7 * kMinute, kDay}; });
  EXPECT_NE(s.message().find("must divide the next"), std::string::npos) << s.ToString();
  s = open([](EngineOptions& o) { o.raw_retention_ms = -1; });
  EXPECT_NE(s.message().find("raw_retention_ms must not be negative"), std::string::npos);
  EXPECT_TRUE(open([](EngineOptions& o) { o.rollup_retention_ms = {10 * kDay, 0}; }).ok());
}

}  // namespace
}  // namespace kpidb
