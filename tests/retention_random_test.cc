// Randomized: the same queries with rollup rows on and off, against a naive
// reference holding every point ever written, while a clock runs, raw points
// and hourly rows expire, the background compactor merges and drops what
// expired, and the engine is reopened now and then. Writes are late (out of
// order) and correct earlier points; deletes remove ranges.
//
// What the answers must be, per bucket of a query (see docs/query.md,
// "Retention"):
// - rows on: a bucket the live rows can answer (it starts after the raw
//   cutoff, or it is a union of daily rows, kept for ever, or of live hourly
//   rows) holds the value of every point written there, expired or not
//   (exact for min, max, count, first, last; sums to 1e-9); any other bucket
//   with points may be missing or partial, and the query says incomplete.
//   Right after Flush and Compact the files are merged, and this is exact:
//   incomplete exactly when such a bucket exists. Between, a bucket the rows
//   cannot answer yet (unmerged files) may differ only if the query says so.
// - rows off: the live points only, exactly; incomplete when any point of
//   the range has expired.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <bit>
#include <cmath>
#include <map>
#include <random>
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
constexpr int64_t kT0 = 20'000 * kDay;
constexpr int64_t kRawRetention = 4 * kDay;
constexpr int64_t kHourlyRetention = 12 * kDay;
const char* const kLabels[] = {"a", "b", "c"};

using Points = std::map<int64_t, double>;
using Answer = std::map<int64_t, double>;

double Aggregate(const std::vector<double>& vs, Aggregation a) {
  double v = vs.front();
  switch (a) {
    case Aggregation::kMin: for (double x : vs) v = std::min(v, x); return v;
    case Aggregation::kMax: for (double x : vs) v = std::max(v, x); return v;
    case Aggregation::kCount: return static_cast<double>(vs.size());
    case Aggregation::kFirst: return vs.front();
    case Aggregation::kLast: return vs.back();
    default: break;
  }
  v = 0;
  for (double x : vs) v += x;
  return a == Aggregation::kAvg ? v / static_cast<double>(vs.size()) : v;
}

bool Same(double got, double want, Aggregation a) {
  if (a == Aggregation::kSum || a == Aggregation::kAvg) {
    return std::abs(got - want) <= 1e-9 * std::max(1.0, std::abs(want));
  }
  return std::bit_cast<uint64_t>(got) == std::bit_cast<uint64_t>(want);
}

class RetentionRandom : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.segment_partition_ms = kDay;
    options_.rollup_tiers_ms = {kHour, kDay};
    options_.raw_retention_ms = kRawRetention;
    options_.rollup_retention_ms = {kHourlyRetention, 0};
    options_.head_max_bytes = 48 << 10;  // flushes now and then
    options_.auto_compaction = true;
    options_.compaction_interval_ms = 20;
    options_.compaction_quiet_ms = 0;
    options_.compaction_trigger_files = 2;
    options_.partition_level_factors = {4};
    options_.partition_merge_after_ms = 0;
    options_.wall_clock_ms = [this] { return now_.load(); };
    EngineTest::SetUp();
  }

  int64_t RawFrom() const { return now_ - kRawRetention; }
  int64_t HourlyFrom() const { return now_ - kHourlyRetention; }

  // Whether point `t` of bucket [b, b + step) reaches the answer: it is
  // live, or a live row holding it lies inside the bucket (daily rows are
  // kept for ever, hourly ones while they end after HourlyFrom).
  bool Answered(int64_t t, int64_t b, int64_t step) const {
    if (t >= RawFrom()) return true;
    for (int64_t tier : {kDay, kHour}) {
      const int64_t row = t / tier * tier;
      const bool live = tier == kDay || row + tier > HourlyFrom();
      if (live && row >= b && row + tier <= b + step) return true;
    }
    return false;
  }

  void WriteRandom() {
    WriteBatch batch;
    for (const char* label : kLabels) {
      SeriesPoints p{"kpi", {{"k", label}}, {}, {}};
      Points& mine = ref_[label];
      std::map<int64_t, double> chosen;
      const int n = static_cast<int>(rng_() % 60);
      for (int i = 0; i < n; ++i) {
        int64_t t;
        if (rng_() % 4 == 0 && !mine.empty()) {
          // A correction of a live point.
          auto it = mine.lower_bound(RawFrom() + kMinute + static_cast<int64_t>(rng_() % (3 * kDay)));
          if (it == mine.end()) continue;
          t = it->first;
        } else {
          // Anywhere from just after the cutoff to two hours ahead: late
          // and out of order.
          const int64_t span = kRawRetention + 2 * kHour - 2 * kMinute;
          t = RawFrom() + kMinute + static_cast<int64_t>(rng_() % static_cast<uint64_t>(span));
          t = t / 1000 * 1000;
        }
        chosen[t] = static_cast<double>(static_cast<int64_t>(rng_() % 200'000) - 50'000) / 100;
      }
      for (const auto& [t, v] : chosen) {
        p.timestamps_ms.push_back(t);
        p.values.push_back(v);
      }
      if (!p.timestamps_ms.empty()) batch.series.push_back(std::move(p));
    }
    if (batch.series.empty()) return;
    ASSERT_TRUE(engine_->Write(batch).ok());
    for (const SeriesPoints& p : batch.series) {
      for (size_t i = 0; i < p.timestamps_ms.size(); ++i) {
        ref_[p.labels[0].value][p.timestamps_ms[i]] = p.values[i];
      }
    }
  }

  void DeleteRandom() {
    const char* label = kLabels[rng_() % 3];
    auto id = engine_->FindSeries("kpi", {{"k", label}});
    if (!id) return;
    const int64_t from = RawFrom() + kHour + static_cast<int64_t>(rng_() % (3 * kDay));
    const int64_t to = from + static_cast<int64_t>(rng_() % (6 * kHour)) + 1;
    ASSERT_TRUE(engine_->Delete({*id}, from, to).ok());
    Points& mine = ref_[label];
    mine.erase(mine.lower_bound(from), mine.lower_bound(to));
  }

  std::map<std::string, Answer> Ask(const Query& q, QueryStats* stats) {
    std::map<std::string, Answer> out;
    Status s = query::Execute(*engine_, q, [&](ResultSeries&& r) {
      Answer& a = out[r.labels.at(0).value];
      for (size_t i = 0; i < r.timestamps_ms.size(); ++i) a[r.timestamps_ms[i]] = r.values[i];
      return Status::Ok();
    }, stats);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // One random query with rows on and off, checked as the header says.
  // `merged`: right after Flush and Compact.
  void CheckQuery(bool merged) {
    static const int64_t kSteps[] = {kHour, 2 * kHour, 3 * kHour, 90 * kMinute, kDay, 2 * kDay};
    static const Aggregation kAggs[] = {Aggregation::kMin,   Aggregation::kMax,  Aggregation::kCount,
                                        Aggregation::kFirst, Aggregation::kLast, Aggregation::kSum,
                                        Aggregation::kAvg};
    const int64_t step = kSteps[rng_() % std::size(kSteps)];
    const Aggregation agg = kAggs[rng_() % std::size(kAggs)];
    Query q;
    q.selector.metric = "kpi";
    const int64_t back = static_cast<int64_t>(rng_() % (16 * kDay));
    // Two in three ranges are whole days (no daily row cut by the range:
    // then whether the answer is incomplete is known exactly).
    const bool whole_days = rng_() % 3 != 0;
    if (whole_days) {
      const int64_t unit = std::max(step, kDay);  // every step divides a day or is whole days
      q.start_ms = (now_ - back) / unit * unit;
      q.end_ms = q.start_ms + unit * static_cast<int64_t>(1 + rng_() % 5);
    } else {
      q.start_ms = (now_ - back) / step * step;
      q.end_ms = q.start_ms + step * static_cast<int64_t>(1 + rng_() % 60);
    }
    q.step.step_ms = step;
    q.aggregation = agg;
    SCOPED_TRACE("step " + std::to_string(step) + " agg " + std::to_string(static_cast<int>(agg)) +
                 " from now-" + std::to_string(now_ - q.start_ms) + " for " +
                 std::to_string(q.end_ms - q.start_ms) + (merged ? " (merged)" : "") +
                 (whole_days ? " (whole days)" : ""));

    QueryStats on_stats, off_stats;
    const auto on = Ask(q, &on_stats);
    q.use_precomputed = false;
    const auto off = Ask(q, &off_stats);
    const int64_t raw_from = RawFrom();
    EXPECT_EQ(on_stats.raw_expired_before_ms, q.start_ms < raw_from ? raw_from : 0);

    bool unanswerable = false, expired_points = false;
    for (const char* label : kLabels) {
      SCOPED_TRACE(label);
      std::map<int64_t, std::vector<double>> all, live;
      std::map<int64_t, bool> answerable;  // by bucket
      const Points& mine = ref_[label];
      for (auto it = mine.lower_bound(q.start_ms); it != mine.end() && it->first < q.end_ms; ++it) {
        const int64_t b = it->first / step * step;
        all[b].push_back(it->second);
        auto [slot, fresh] = answerable.try_emplace(b, true);
        slot->second = slot->second && Answered(it->first, b, step);
        (void)fresh;
        if (it->first >= raw_from) {
          live[b].push_back(it->second);
        } else {
          expired_points = true;
        }
      }
      auto find = [](const std::map<std::string, Answer>& r, const char* l) -> const Answer* {
        auto it = r.find(l);
        return it == r.end() ? nullptr : &it->second;
      };
      // Rows off: the live points, exactly.
      const Answer* got_off = find(off, label);
      ASSERT_EQ(got_off ? got_off->size() : 0, live.size());
      for (const auto& [b, vs] : live) {
        ASSERT_TRUE(got_off->count(b)) << b;
        EXPECT_TRUE(Same(got_off->at(b), Aggregate(vs, agg), agg)) << "rows off, bucket " << b;
      }
      // Rows on.
      const Answer* got_on = find(on, label);
      if (got_on != nullptr) {
        for (const auto& [b, v] : *got_on) {
          ASSERT_TRUE(all.count(b)) << "a bucket no point was ever written in: " << b;
        }
      }
      for (const auto& [b, vs] : all) {
        const bool whole = answerable.at(b);
        unanswerable = unanswerable || !whole;
        const bool right = got_on != nullptr && got_on->count(b) && Same(got_on->at(b), Aggregate(vs, agg), agg);
        if (whole && (merged || !right)) {
          if (!merged && on_stats.incomplete && b < raw_from) continue;  // unmerged files
          EXPECT_TRUE(right) << "rows on, bucket " << b << ": got "
                             << (got_on && got_on->count(b) ? std::to_string(got_on->at(b)) : "none")
                             << ", want " << Aggregate(vs, agg);
        }
      }
    }
    if (unanswerable) {
      EXPECT_TRUE(on_stats.incomplete);
    }
    // Exact when merged over whole days; otherwise a daily row cut by the
    // range, or a bucket whose rows are in unmerged files, may be flagged
    // without need (never the other way round).
    if (merged && whole_days && !unanswerable) {
      EXPECT_FALSE(on_stats.incomplete);
    }
    if (expired_points) {
      EXPECT_TRUE(off_stats.incomplete);
    }
    if (q.start_ms >= raw_from) {
      EXPECT_FALSE(on_stats.incomplete);
      EXPECT_FALSE(off_stats.incomplete);
    }
  }

  void Reopen() {
    const EngineStats st = engine_->GetStats();
    points_expired_ += st.retention.points_expired;
    rewrites_ += st.retention.rewrites;
    Open();
  }

  uint64_t points_expired_ = 0, rewrites_ = 0;
  // KPIDB_TEST_SEED replaces the seed (to explore); CI uses the fixed one.
  std::mt19937_64 rng_{std::getenv("KPIDB_TEST_SEED") ? std::strtoull(std::getenv("KPIDB_TEST_SEED"), nullptr, 10)
                                                      : 20261204};
  std::atomic<int64_t> now_{kT0};
  std::map<std::string, Points> ref_;
};

TEST_F(RetentionRandom, RowsOnAndOffAgreeWithTheReferenceAsPointsAndRowsExpire) {
  for (int step = 0; step < 90; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    now_ += static_cast<int64_t>(rng_() % (6 * kHour)) + kHour;
    WriteRandom();
    const uint64_t action = rng_() % 10;
    if (action == 0) DeleteRandom();
    if (action == 1) {
      ASSERT_TRUE(engine_->Flush().ok());
    }
    if (action == 2) {
      ASSERT_TRUE(engine_->StartCompaction().ok());
    }
    if (action == 3) Reopen();  // a restart, whatever the compactor was doing
    bool merged = false;
    if (action == 4 || step % 15 == 14) {
      ASSERT_TRUE(engine_->Flush().ok());
      ASSERT_TRUE(engine_->Compact().ok());
      merged = true;
    }
    for (int i = 0; i < 6; ++i) CheckQuery(merged);
    if (::testing::Test::HasFailure()) return;
  }
  Reopen();
  EXPECT_GT(points_expired_, 1000u);
  EXPECT_GT(rewrites_, 5u);
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(engine_->Compact().ok());
  for (int i = 0; i < 40; ++i) CheckQuery(/*merged=*/true);
}

}  // namespace
}  // namespace kpidb
