// The query layer against a naive reference (reference_model.h), on random
// data and random queries.
//
// The engine is opened with tiny chunks (7 points) and small segment
// partitions, flushed at random moments, and fed out-of-order writes,
// rewrites of flushed points and series that only live in the head, so that
// every read path (head, segments, overlapping segments, chunk-stats
// pushdown) is exercised.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/query_reference/reference_model.h"
#include "tests/test_util.h"

namespace kpidb::query {
namespace {

using kpidb::testing::TempDir;
using reference::Compare;
using reference::Describe;
using reference::DescribeData;
using reference::Expected;
using reference::FloorDiv;
using reference::Key;
using reference::Reference;
using reference::SelectsEverything;
using reference::Store;

// ---------------------------------------------------------------------------
// Random data.

enum class Kind { kVisits, kOrders, kIncome, kCounter };

struct SeriesDef {
  Key key;
  Kind kind;
};

struct Write {
  size_t series;
  int64_t ts;
  double value;
};

const char* const kChannels[] = {"ads", "app", "seo", "web"};
const char* const kRegions[] = {"as", "eu", "us"};

class World {
 public:
  explicit World(uint32_t seed) : rng_(seed) {
    const int64_t kDay = 86'400'000;
    const int64_t bases[] = {0, 1'711'843'200'000 /* 2024-03-31, Paris DST starts */,
                             1'729'987'200'000 /* 2024-10-27, Paris DST ends */,
                             1'704'067'200'000 /* 2024-01-01 */, -400 * kDay};
    const int64_t spans[] = {2'000, 600'000, 3 * kDay, 200 * kDay};
    base_ = bases[Uniform(0, 4)];
    span_ = spans[Uniform(0, 3)];
    options_.logger = [](std::string_view) {};
    options_.wal_sync = WalSyncPolicy::kNone;
    options_.max_points_per_chunk = 7;
    options_.segment_partition_ms = std::max<int64_t>(1000, 2 * span_ / Uniform(2, 8));
    // Rollup tiers: none, or steps the queries' steps are often unions of,
    // with the partition a multiple of the coarsest so that rows can serve.
    options_.rollup_tiers_ms.clear();
    options_.rollup_stddev = Chance(0.5);
    // Sometimes a series' tier is left out where it has few points a row.
    options_.rollup_min_points_per_row = Chance(0.5) ? 1 : static_cast<uint32_t>(Uniform(2, 8));
    if (Chance(0.8)) {
      for (int64_t step : {10, 1000, 60'000, 3'600'000, 86'400'000}) {
        if (Chance(0.5)) options_.rollup_tiers_ms.push_back(step);
      }
      if (!options_.rollup_tiers_ms.empty()) {
        const int64_t top = options_.rollup_tiers_ms.back();
        options_.segment_partition_ms = (options_.segment_partition_ms + top - 1) / top * top;
      }
    }
  }

  int64_t Uniform(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Uniform(0, N - 1)];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Uniform(0, static_cast<int64_t>(items.size()) - 1)];
  }

  const EngineOptions& options() const { return options_; }
  const Store& store() const { return store_; }
  int64_t base() const { return base_; }
  int64_t span() const { return span_; }

  // Writes random data into `engine` and the reference, flushing at random.
  void Populate(EngineCore& engine) {
    const char* const metrics[] = {"kpi_visits", "kpi_orders", "kpi_income", "kpi_counts"};
    std::set<Key> keys;
    const int n_series = static_cast<int>(Uniform(8, 16));
    while (static_cast<int>(defs_.size()) < n_series) {
      const int kind = static_cast<int>(Uniform(0, 3));
      Labels labels = {{"channel", Pick(kChannels)}};
      if (Chance(0.8)) labels.push_back({"region", Pick(kRegions)});
      if (Chance(0.3)) labels.push_back({"tier", "gold"});
      std::sort(labels.begin(), labels.end());
      Key key{metrics[kind], labels};
      if (keys.insert(key).second) defs_.push_back({key, static_cast<Kind>(kind)});
    }
    // The last few series are written after the last flush: head only.
    const size_t head_only = static_cast<size_t>(Uniform(1, 3));

    std::vector<Write> first, rewrites, late;
    for (size_t s = 0; s < defs_.size(); ++s) {
      std::vector<Write>& into = s + head_only >= defs_.size() ? late : first;
      const int n = static_cast<int>(Uniform(1, 60));
      std::set<int64_t> stamps;
      for (int i = 0; i < n; ++i) stamps.insert(RandomTimestamp());
      double counter = static_cast<double>(Uniform(0, 100));
      for (int64_t ts : stamps) {
        double v;
        if (defs_[s].kind == Kind::kCounter) {
          counter = Chance(0.07) ? static_cast<double>(Uniform(0, 5))
                                 : counter + static_cast<double>(Uniform(0, 20));
          v = counter;
        } else {
          v = RandomValue(defs_[s].kind);
        }
        into.push_back({s, ts, v});
      }
    }
    // Rewrites (corrections) of existing points, many of them already
    // flushed by then, and a few brand-new points among them.
    for (size_t k = 0, n = first.size() / 4; k < n; ++k) {
      const Write& w = Pick(first);
      const double v = defs_[w.series].kind == Kind::kCounter
                           ? w.value + static_cast<double>(Uniform(-2, 3))
                           : RandomValue(defs_[w.series].kind);
      rewrites.push_back({w.series, Chance(0.9) ? w.ts : RandomTimestamp(), std::max(v, 0.0)});
    }
    std::shuffle(first.begin(), first.end(), rng_);
    std::shuffle(late.begin(), late.end(), rng_);
    WriteAll(engine, first, 0.12);
    WriteAll(engine, rewrites, 0.2);
    ASSERT_TRUE(engine.Flush().ok());
    WriteAll(engine, late, 0.0);
    for (const auto& [key, points] : store_) {
      for (const auto& [ts, v] : points) timestamps_.push_back(ts);
    }
  }

  int64_t RandomTimestamp() {
    int64_t ts = base_ + Uniform(-span_, span_);
    // Points on round instants land on bucket boundaries.
    const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
    const int64_t unit = Pick(units);
    if (unit < span_ && Chance(0.3)) ts = FloorDiv(ts, unit) * unit;
    return ts;
  }

  double RandomValue(Kind kind) {
    switch (kind) {
      case Kind::kVisits:
        return static_cast<double>(Uniform(0, 50));
      case Kind::kOrders:
        return Chance(0.3) ? 0.0 : static_cast<double>(Uniform(0, 10));
      case Kind::kIncome:
        return static_cast<double>(Uniform(-2000, 100'000)) / 100.0;  // refunds are negative
      case Kind::kCounter:
        break;
    }
    return static_cast<double>(Uniform(0, 1000));
  }

  // Writes in batches of random size (a (series, timestamp) at most once per
  // batch), flushing before a batch with probability `flush_chance`.
  void WriteAll(EngineCore& engine, const std::vector<Write>& writes, double flush_chance) {
    size_t i = 0;
    while (i < writes.size()) {
      if (Chance(flush_chance)) {
        ASSERT_TRUE(engine.Flush().ok());
      }
      const size_t batch_size = static_cast<size_t>(Uniform(1, 25));
      std::map<size_t, SeriesPoints> by_series;
      std::set<std::pair<size_t, int64_t>> in_batch;
      size_t taken = 0;
      while (i < writes.size() && taken < batch_size) {
        const Write& w = writes[i];
        if (!in_batch.insert({w.series, w.ts}).second) break;
        SeriesPoints& sp = by_series[w.series];
        sp.metric = defs_[w.series].key.first;
        sp.labels = defs_[w.series].key.second;
        sp.timestamps_ms.push_back(w.ts);
        sp.values.push_back(w.value);
        store_[defs_[w.series].key][w.ts] = w.value;
        ++i;
        ++taken;
      }
      WriteBatch batch;
      for (auto& [s, sp] : by_series) batch.series.push_back(std::move(sp));
      Status st = engine.Write(batch);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  }

  // ---- random queries ----

  Selector RandomSelector(bool need_metric) {
    Selector s;
    const char* const metrics[] = {"kpi_visits", "kpi_orders", "kpi_income", "kpi_counts"};
    if (need_metric || Chance(0.8)) s.metric = Pick(metrics);
    const int n = static_cast<int>(Uniform(0, 3));
    for (int i = 0; i < n; ++i) s.matchers.push_back(RandomMatcher());
    return s;
  }

  LabelMatcher RandomMatcher() {
    if (Chance(0.08)) {
      const std::vector<std::string> res = {"kpi_(visits|orders)", "kpi_.*s", "kpi_income"};
      return {"__name__", Chance(0.8) ? MatchOp::kRegex : MatchOp::kNotRegex, Pick(res)};
    }
    switch (Uniform(0, 9)) {
      case 0:
        return {"channel", MatchOp::kEqual, Chance(0.9) ? Pick(kChannels) : "nope"};
      case 1:
        return {"channel", MatchOp::kNotEqual, Pick(kChannels)};
      case 2: {
        const std::vector<std::string> res = {"ads|web", "a.*", "(app|seo)", ".*e.*", "[a-m]+",
                                              "ap", "web|", "s.o"};
        return {"channel", MatchOp::kRegex, Pick(res)};
      }
      case 3: {
        const std::vector<std::string> res = {"ads|web", "a.*", "seo", ".*p.*"};
        return {"channel", MatchOp::kNotRegex, Pick(res)};
      }
      case 4:
        return {"region", Chance(0.5) ? MatchOp::kEqual : MatchOp::kNotEqual,
                Chance(0.5) ? "" : Pick(kRegions)};
      case 5: {
        const std::vector<std::string> res = {".*", ".+", "eu|us", "", "e.", "as|"};
        return {"region", Chance(0.5) ? MatchOp::kRegex : MatchOp::kNotRegex, Pick(res)};
      }
      case 6:
        return {"tier", Chance(0.5) ? MatchOp::kEqual : MatchOp::kNotEqual,
                Chance(0.5) ? "" : "gold"};
      case 7:
        return {"tier", MatchOp::kRegex, Chance(0.5) ? "gold|" : "g.*"};
      case 8:  // a label no series has: "" matches everything, anything else nothing
        return {"nolabel", Chance(0.5) ? MatchOp::kEqual : MatchOp::kRegex,
                Chance(0.7) ? "" : "x"};
      default:
        return {"nolabel", MatchOp::kNotRegex, Chance(0.5) ? ".+" : ""};
    }
  }

  Query RandomQuery() {
    Query q;
    const int64_t reach = span_ + span_ / 5;
    q.start_ms = base_ + Uniform(-reach, reach);
    int64_t length = Chance(0.1) ? Uniform(1, 10) : Uniform(1, 2 * reach);
    q.end_ms = q.start_ms + length;
    const int64_t edges = Uniform(0, 9);
    if (edges < 3) {
      // Range edges on written points: the first point in range, the last
      // one, chunks cut by the range.
      int64_t a = Pick(timestamps_) + Uniform(0, 1), z = Pick(timestamps_) + Uniform(0, 1);
      if (a > z) std::swap(a, z);
      q.start_ms = a;
      q.end_ms = std::max(z, a + 1);
    } else if (edges < 5) {
      // Range edges on round instants (bucket boundaries of round steps).
      const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
      const int64_t unit = Pick(units);
      q.start_ms = FloorDiv(q.start_ms, unit) * unit;
      q.end_ms = std::max(FloorDiv(q.end_ms, unit) * unit, q.start_ms + unit);
    }
    length = q.end_ms - q.start_ms;

    const int64_t shape = Uniform(0, 99);
    const bool raw = shape < 10;
    const bool ratio = shape >= 80;
    q.selector = RandomSelector(ratio);
    if (raw) return q;

    RandomStep(q, length);
    const Aggregation aggregations[] = {
        Aggregation::kAvg,   Aggregation::kSum,  Aggregation::kMin,    Aggregation::kMax,
        Aggregation::kCount, Aggregation::kFirst, Aggregation::kLast, Aggregation::kStddev,
        Aggregation::kRate,  Aggregation::kIncrease};
    q.aggregation = aggregations[Uniform(0, ratio ? 7 : 9)];
    const Fill fills[] = {Fill::kNone, Fill::kNull, Fill::kZero, Fill::kPrevious, Fill::kLinear};
    q.fill = Pick(fills);
    if ((shape >= 60 && shape < 80) || (ratio && Chance(0.5))) {
      q.group = true;
      for (const char* name : {"channel", "region", "tier"}) {
        if (Chance(0.4)) q.group_by.push_back(name);
      }
      const CrossAggregation crosses[] = {CrossAggregation::kSum, CrossAggregation::kAvg,
                                          CrossAggregation::kMin, CrossAggregation::kMax,
                                          CrossAggregation::kCount};
      q.cross = Pick(crosses);
    }
    if (ratio) {
      // Half the time the denominator keeps the numerator's matchers (the
      // usual "orders / visits of the same slice"), so that many series match.
      Selector den = Chance(0.5) ? q.selector : RandomSelector(true);
      // Denominators count things (never negative), so a zero denominator is
      // exactly zero, never a rounding residue.
      den.metric = Chance(0.5) ? "kpi_visits" : "kpi_orders";
      q.denominator = den;
    }
    return q;
  }

  void RandomStep(Query& q, int64_t length) {
    const int64_t choice = Uniform(0, 9);
    if (choice == 0) {
      const CalendarUnit units[] = {CalendarUnit::kDay,   CalendarUnit::kDay,
                                    CalendarUnit::kWeek,  CalendarUnit::kMonth,
                                    CalendarUnit::kQuarter, CalendarUnit::kYear};
      q.step.calendar = Pick(units);
      q.step.time_zone = Chance(0.5) ? "UTC" : "Europe/Paris";
      // Keep the grid small: at most a few hundred days of day buckets.
      if (q.step.calendar == CalendarUnit::kDay && length > 400 * 86'400'000LL) {
        q.step.calendar = CalendarUnit::kMonth;
      }
      return;
    }
    int64_t step;
    switch (choice) {
      case 1:
        step = 1;
        break;
      case 2:
        step = length + Uniform(1, 2 * length);  // larger than the range
        break;
      case 3: {
        const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
        step = Pick(units);
        break;
      }
      case 4:
        step = Uniform(1, 50);
        break;
      default:
        step = std::max<int64_t>(1, length / Uniform(1, 60) + Uniform(-3, 3));  // rarely divides
        break;
    }
    constexpr int64_t kMaxBuckets = 3000;
    if (length / step > kMaxBuckets) step = length / kMaxBuckets + 1 + Uniform(0, 7);
    q.step.step_ms = step;
  }

 private:
  std::mt19937_64 rng_;
  int64_t base_ = 0;
  int64_t span_ = 0;
  EngineOptions options_;
  std::vector<SeriesDef> defs_;
  Store store_;
  std::vector<int64_t> timestamps_;  // of every written point
};

// Runs 200 random queries on the world of `seed`, each checked against the
// reference; returns what the executions read, summed.
QueryStats CheckRandomQueries(uint32_t seed) {
  QueryStats total;
  World world(seed);
  TempDir dir;
  auto opened = EngineCore::Open(dir.path(), world.options());
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return total;
  std::unique_ptr<EngineCore> engine = std::move(opened).value();
  world.Populate(*engine);
  if (::testing::Test::HasFatalFailure()) return total;

  constexpr int kQueries = 200;
  int failures = 0;
  for (int i = 0; i < kQueries && failures < 3; ++i) {
    const Query q = world.RandomQuery();
    const std::vector<Expected> want = Reference(world.store(), q);
    std::vector<ResultSeries> got;
    QueryStats read;
    Status s = Execute(
        *engine, q,
        [&](ResultSeries&& r) {
          got.push_back(std::move(r));
          return Status::Ok();
        },
        &read);
    total.series += read.series;
    total.points += read.points;
    total.chunk_stats += read.chunk_stats;
    total.rollup_rows += read.rollup_rows;
    std::string diff;
    const bool refused = SelectsEverything(q.selector) ||
                         (q.denominator && SelectsEverything(*q.denominator));
    if (refused) {
      if (s.code() != StatusCode::kInvalidArgument ||
          s.message().find("selects every series") == std::string::npos) {
        diff = "expected INVALID_ARGUMENT for a selector of every series, got " + s.ToString() + "\n";
      }
    } else if (!s.ok()) {
      diff = "Execute failed: " + s.ToString() + "\n";
    } else {
      diff = Compare(q, want, got);
    }
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " query " << i << " (data base " << world.base()
                    << " span " << world.span() << ", rollup tiers "
                    << ::testing::PrintToString(world.options().rollup_tiers_ms) << ")\n  "
                    << Describe(q) << "\n"
                    << diff << DescribeData(world.store(), q);
    }
  }
  return total;
}

class QueryReference : public ::testing::TestWithParam<uint32_t> {};

// For many random data sets and queries, Execute returns exactly what the
// reference computes from the raw points.
TEST_P(QueryReference, EveryQueryMatchesTheNaiveReference) { CheckRandomQueries(GetParam()); }

// The comparison above means something for the precomputed paths only if
// they serve some of the queries: rollup rows and chunk stats both do.
TEST(QueryReferenceCoverage, RollupRowsAndChunkStatsServeSomeQueries) {
  QueryStats total;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    const QueryStats read = CheckRandomQueries(seed);
    total.rollup_rows += read.rollup_rows;
    total.chunk_stats += read.chunk_stats;
    total.points += read.points;
  }
  EXPECT_GT(total.rollup_rows, 100u);
  EXPECT_GT(total.chunk_stats, 20u);
  EXPECT_GT(total.points, 1000u);
  std::printf("rollup rows %llu, chunk stats %llu, points %llu\n",
              static_cast<unsigned long long>(total.rollup_rows),
              static_cast<unsigned long long>(total.chunk_stats),
              static_cast<unsigned long long>(total.points));
}

INSTANTIATE_TEST_SUITE_P(Seeds, QueryReference, ::testing::Range<uint32_t>(1, 33));

}  // namespace
}  // namespace kpidb::query
