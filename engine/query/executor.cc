// Query execution (query.h): validate, select, aggregate per series (in
// parallel, in ordered blocks), then per group or as a ratio, fill, and
// stream the results to the sink.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <thread>

#include "engine/query/query.h"
#include "engine/query/selector.h"
#include "engine/query/series_aggregator.h"
#include "engine/query/task_pool.h"

namespace kpidb::query {
namespace {

constexpr size_t kBlockSeries = 64;  // series aggregated in parallel, then emitted in order

bool IsRaw(const StepSpec& step) { return step.step_ms == 0 && step.calendar == CalendarUnit::kNone; }

const char* AggregationName(Aggregation a) {
  switch (a) {
    case Aggregation::kAvg: return "avg";
    case Aggregation::kSum: return "sum";
    case Aggregation::kMin: return "min";
    case Aggregation::kMax: return "max";
    case Aggregation::kCount: return "count";
    case Aggregation::kFirst: return "first";
    case Aggregation::kLast: return "last";
    case Aggregation::kStddev: return "stddev";
    case Aggregation::kRate: return "rate";
    case Aggregation::kIncrease: return "increase";
  }
  return "?";
}

bool KeyLess(const SeriesKey& a, const SeriesKey& b) {
  return std::tie(a.metric, a.labels) < std::tie(b.metric, b.labels);
}

// Everything one execution shares.
struct Run {
  const EngineCore& engine;
  const Query& query;
  const ResultSink& sink;
  Clock::time_point deadline;
  size_t points_emitted = 0;
  QueryStats stats;  // updated by the thread that runs Execute only
  // What has expired, one moment for every series of the query.
  Retention retention = engine.CurrentRetention();

  // Folds one scan's reading into stats.
  void Count(const QueryStats& read, bool incomplete) {
    stats.points += read.points;
    stats.chunk_stats += read.chunk_stats;
    stats.rollup_rows += read.rollup_rows;
    for (int64_t step : read.rollup_steps_ms) {
      auto& steps = stats.rollup_steps_ms;
      if (std::find(steps.begin(), steps.end(), step) == steps.end()) {
        steps.insert(std::upper_bound(steps.begin(), steps.end(), step), step);
      }
    }
    stats.incomplete = stats.incomplete || incomplete;
  }

  Status CheckDeadline() const {
    if (Clock::now() > deadline) return Status::DeadlineExceeded("query passed its timeout");
    return Status::Ok();
  }

  // Everything a query materialises at once (a result, a raw series, a
  // block of per-series buckets, group cells) must fit max_memory_bytes.
  Status CheckMemory(size_t bytes, std::string_view what) const {
    if (bytes <= query.limits.max_memory_bytes) return Status::Ok();
    return Status::ResourceExhausted(std::string(what) + " needs " + std::to_string(bytes) +
                                     " bytes, over max_memory_bytes=" +
                                     std::to_string(query.limits.max_memory_bytes));
  }

  Status Emit(ResultSeries&& r) {
    points_emitted += r.timestamps_ms.size();
    if (points_emitted > query.limits.max_points) {
      return Status::ResourceExhausted("the query returns more than max_points=" +
                                       std::to_string(query.limits.max_points) + " points");
    }
    return sink(std::move(r));
  }
};

// The selected series, sorted by key.
Result<std::vector<std::pair<SeriesId, SeriesKey>>> Select(const Run& run, const Selector& selector,
                                                           std::string_view field) {
  KPIDB_ASSIGN_OR_RETURN(auto matchers, CompileSelector(selector, field));
  KPIDB_ASSIGN_OR_RETURN(auto ids, SelectSeries(run.engine.series_index(), selector, matchers,
                                                run.query.limits.max_series));
  std::vector<std::pair<SeriesId, SeriesKey>> out;
  out.reserve(ids.size());
  for (SeriesId id : ids) {
    auto key = run.engine.SeriesKeyOf(id);
    if (key) out.emplace_back(id, std::move(*key));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return KeyLess(a.second, b.second); });
  return out;
}

// How many time slices to cut one series' scan into, so that a few series
// with many points still use every core. Slices are whole buckets; rate and
// increase carry the previous point across buckets, so they are not cut.
// Cutting pays only where points are decoded: not when the buckets are
// unions of a rollup tier's (calendar steps, or a multiple of a tier's step),
// where rows answer and a thread would cost more than it saves.
size_t SlicesPerSeries(const Run& run, const BucketGrid& grid, size_t series, size_t cores) {
  const Aggregation a = run.query.aggregation;
  if (a == Aggregation::kRate || a == Aggregation::kIncrease) return 1;
  if (series == 0 || series >= cores) return 1;
  const int64_t step = run.query.step.step_ms;
  const bool rows_serve = a != Aggregation::kStddev || run.engine.options().rollup_stddev;
  if (run.query.use_precomputed && rows_serve && !run.engine.options().rollup_tiers_ms.empty()) {
    if (step == 0) return 1;  // calendar
    for (int64_t tier : run.engine.options().rollup_tiers_ms) {
      if (step % tier == 0) return 1;
    }
  }
  constexpr size_t kMinBucketsPerSlice = 64;
  return std::max<size_t>(1, std::min(cores / series, grid.size() / kMinBucketsPerSlice));
}

// Aggregates every series per bucket, in parallel blocks, and hands each
// result to `consume` in key order.
template <typename Consume>
Status ForEachSeries(Run& run, const BucketGrid& grid,
                     const std::vector<std::pair<SeriesId, SeriesKey>>& series, Consume consume) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  // One task per (series, slice); a slice's results follow the previous one's.
  const size_t slices = SlicesPerSeries(run, grid, series.size(), cores);
  std::vector<BucketValues> results;
  std::vector<Status> statuses;
  std::vector<QueryStats> read;
  std::vector<char> incomplete;
  for (size_t block = 0; block < series.size(); block += kBlockSeries) {
    KPIDB_RETURN_IF_ERROR(run.CheckDeadline());
    const size_t n = std::min(kBlockSeries, series.size() - block);
    const size_t tasks = n * slices;
    results.assign(tasks, BucketValues{});
    statuses.assign(tasks, Status::Ok());
    read.assign(tasks, QueryStats{});
    incomplete.assign(tasks, 0);
    std::atomic<size_t> next{0};
    const size_t threads = tasks < 2 || (slices == 1 && n < 4) ? 1 : std::min(tasks, cores);
    auto work = [&] {
      for (size_t t = next++; t < tasks; t = next++) {
        const size_t i = t / slices, slice = t % slices;
        int64_t start_ms = run.query.start_ms, end_ms = run.query.end_ms;
        if (slices > 1) {
          if (slice > 0) start_ms = std::max(start_ms, grid.bucket_start(grid.size() * slice / slices));
          if (slice + 1 < slices) {
            end_ms = std::min(end_ms, grid.bucket_start(grid.size() * (slice + 1) / slices));
          }
        }
        SeriesAggregator aggregator(grid, run.query.aggregation, run.deadline,
                                    run.query.limits.max_memory_bytes / threads,
                                    run.query.use_precomputed);
        bool cut = false;
        statuses[t] = run.engine.Scan(series[block + i].first, start_ms, end_ms, &aggregator,
                                      run.retention, &cut);
        incomplete[t] = cut;
        if (statuses[t].ok()) results[t] = aggregator.Finish();
        read[t] = aggregator.read();
      }
    };
    RunInParallel(threads - 1, work);
    size_t block_bytes = 0;
    for (size_t t = 0; t < tasks; ++t) {
      KPIDB_RETURN_IF_ERROR(statuses[t]);
      run.Count(read[t], incomplete[t] != 0);
      block_bytes += results[t].buckets.size() * (sizeof(uint32_t) + sizeof(double));
    }
    KPIDB_RETURN_IF_ERROR(run.CheckMemory(block_bytes, "a block of per-series buckets"));
    for (size_t i = 0; i < n; ++i) {
      BucketValues& whole = results[i * slices];
      for (size_t slice = 1; slice < slices; ++slice) {
        BucketValues& part = results[i * slices + slice];
        whole.buckets.insert(whole.buckets.end(), part.buckets.begin(), part.buckets.end());
        whole.values.insert(whole.values.end(), part.values.begin(), part.values.end());
      }
      run.stats.series += 1;
      KPIDB_RETURN_IF_ERROR(consume(series[block + i].second, std::move(whole)));
    }
  }
  return Status::Ok();
}

// Applies the fill policy and turns bucket indices into timestamps.
// REQUIRES: bv has at least one bucket (empty results are never emitted).
Result<ResultSeries> Filled(const Run& run, const BucketGrid& grid, std::string metric,
                            Labels labels, const BucketValues& bv) {
  const Fill fill = run.query.fill;
  const size_t n = bv.buckets.size();
  size_t points = n;
  if (fill == Fill::kNull || fill == Fill::kZero) points = grid.size();
  if (fill == Fill::kPrevious) points = grid.size() - bv.buckets.front();
  if (fill == Fill::kLinear) points = bv.buckets.back() - bv.buckets.front() + 1;
  KPIDB_RETURN_IF_ERROR(
      run.CheckMemory(points * (sizeof(int64_t) + sizeof(double)), "a filled result"));
  ResultSeries r{std::move(metric), std::move(labels), {}, {}};
  r.timestamps_ms.reserve(points);
  r.values.reserve(points);
  auto put = [&](size_t bucket, double v) {
    r.timestamps_ms.push_back(grid.bucket_start(bucket));
    r.values.push_back(v);
  };
  if (fill == Fill::kNone) {
    for (size_t i = 0; i < n; ++i) put(bv.buckets[i], bv.values[i]);
    return r;
  }
  size_t from = 0, to = grid.size();  // buckets to emit
  if (fill == Fill::kPrevious) from = bv.buckets.front();
  if (fill == Fill::kLinear) {
    from = bv.buckets.front();
    to = bv.buckets.back() + 1;
  }
  size_t k = 0;  // next present bucket
  for (size_t b = from; b < to; ++b) {
    if (k < n && bv.buckets[k] == b) {
      put(b, bv.values[k++]);
      continue;
    }
    switch (fill) {
      case Fill::kNull: put(b, std::numeric_limits<double>::quiet_NaN()); break;
      case Fill::kZero: put(b, 0); break;
      case Fill::kPrevious: put(b, bv.values[k - 1]); break;
      case Fill::kLinear: {
        const double t0 = static_cast<double>(grid.bucket_start(bv.buckets[k - 1]));
        const double t1 = static_cast<double>(grid.bucket_start(bv.buckets[k]));
        const double t = static_cast<double>(grid.bucket_start(b));
        const double v0 = bv.values[k - 1], v1 = bv.values[k];
        const double d = v1 - v0;
        // v1 - v0 overflows for huge values of opposite signs: blend instead.
        if (std::isfinite(d)) {
          put(b, v0 + d * (t - t0) / (t1 - t0));
        } else {
          const double f = (t - t0) / (t1 - t0);
          put(b, v0 * (1 - f) + v1 * f);
        }
        break;
      }
      case Fill::kNone: break;
    }
  }
  return r;
}

// Cross-series accumulation of one group: dense over the grid.
struct GroupCells {
  std::vector<double> acc;
  std::vector<uint32_t> count;

  void Add(CrossAggregation cross, const BucketValues& bv) {
    for (size_t i = 0; i < bv.buckets.size(); ++i) {
      const uint32_t b = bv.buckets[i];
      const double v = bv.values[i];
      if (count[b] == 0) {
        acc[b] = cross == CrossAggregation::kCount ? 0 : v;
      } else if (cross == CrossAggregation::kMin) {
        if (v < acc[b]) acc[b] = v;
      } else if (cross == CrossAggregation::kMax) {
        if (v > acc[b]) acc[b] = v;
      } else if (cross != CrossAggregation::kCount) {
        acc[b] += v;  // sum, avg
      }
      ++count[b];
    }
  }

  BucketValues Finish(CrossAggregation cross) const {
    BucketValues out;
    for (uint32_t b = 0; b < count.size(); ++b) {
      if (count[b] == 0) continue;
      double v = acc[b];
      if (cross == CrossAggregation::kAvg) v /= count[b];
      if (cross == CrossAggregation::kCount) v = count[b];
      out.buckets.push_back(b);
      out.values.push_back(v);
    }
    return out;
  }
};

Labels GroupLabels(const std::vector<std::string>& group_by, const SeriesKey& key) {
  Labels out;
  for (const std::string& name : group_by) {
    for (const Label& l : key.labels) {
      if (l.name == name) out.push_back(l);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Per-series or per-group values of one selector, keyed by the labels that
// results carry (group_by labels, or the series' labels).
using Keyed = std::map<Labels, BucketValues>;

Status Compute(Run& run, const BucketGrid& grid, const Selector& selector, std::string_view field,
               const std::function<Status(const SeriesKey&, BucketValues&&)>& per_series,
               Keyed* groups) {
  KPIDB_ASSIGN_OR_RETURN(auto series, Select(run, selector, field));
  const Query& q = run.query;
  if (!q.group) {
    return ForEachSeries(run, grid, series, per_series);
  }
  std::map<Labels, GroupCells> cells;
  const size_t cell_bytes = grid.size() * (sizeof(double) + sizeof(uint32_t));
  KPIDB_RETURN_IF_ERROR(ForEachSeries(
      run, grid, series, [&](const SeriesKey& key, BucketValues&& bv) -> Status {
        Labels labels = GroupLabels(q.group_by, key);
        auto it = cells.find(labels);
        if (it == cells.end()) {
          KPIDB_RETURN_IF_ERROR(run.CheckMemory((cells.size() + 1) * cell_bytes,
                                                "grouping (" + std::to_string(cells.size() + 1) +
                                                    " groups x " + std::to_string(grid.size()) +
                                                    " buckets)"));
          it = cells.emplace(std::move(labels), GroupCells{}).first;
          it->second.acc.assign(grid.size(), 0);
          it->second.count.assign(grid.size(), 0);
        }
        it->second.Add(q.cross, bv);
        return Status::Ok();
      }));
  for (auto& [labels, c] : cells) (*groups)[labels] = c.Finish(q.cross);
  return Status::Ok();
}

// Collects one series' raw points, checking the deadline and the memory
// bound as they arrive (a series can hold more points than memory).
class RawCollector : public ScanVisitor {
 public:
  RawCollector(const Run& run, ResultSeries* out) : run_(run), out_(out) {}
  bool OnChunkStats(const ChunkStats&) override { return false; }
  Status OnPoints(std::span<const int64_t> ts, std::span<const double> vs) override {
    KPIDB_RETURN_IF_ERROR(run_.CheckDeadline());
    const size_t points = out_->timestamps_ms.size() + ts.size();
    KPIDB_RETURN_IF_ERROR(run_.CheckMemory(points * (sizeof(int64_t) + sizeof(double)), "a raw series"));
    if (run_.points_emitted + points > run_.query.limits.max_points) {
      return Status::ResourceExhausted("the query returns more than max_points=" +
                                       std::to_string(run_.query.limits.max_points) + " points");
    }
    out_->timestamps_ms.insert(out_->timestamps_ms.end(), ts.begin(), ts.end());
    out_->values.insert(out_->values.end(), vs.begin(), vs.end());
    return Status::Ok();
  }

 private:
  const Run& run_;
  ResultSeries* out_;
};

Status RunRaw(Run& run) {
  KPIDB_ASSIGN_OR_RETURN(auto series, Select(run, run.query.selector, "selector"));
  for (const auto& [id, key] : series) {
    KPIDB_RETURN_IF_ERROR(run.CheckDeadline());
    ResultSeries r{key.metric, key.labels, {}, {}};
    RawCollector collect(run, &r);
    bool cut = false;
    KPIDB_RETURN_IF_ERROR(run.engine.Scan(id, run.query.start_ms, run.query.end_ms, &collect,
                                          run.retention, &cut));
    run.stats.incomplete = run.stats.incomplete || cut;
    run.stats.series += 1;
    run.stats.points += r.timestamps_ms.size();
    if (r.timestamps_ms.empty()) continue;
    KPIDB_RETURN_IF_ERROR(run.Emit(std::move(r)));
  }
  return Status::Ok();
}

Status RunRatio(Run& run, const BucketGrid& grid) {
  const Query& q = run.query;
  Keyed num, den;
  size_t held_bytes = 0;  // both sides are held until they are matched
  auto keep = [&run, &held_bytes](Keyed* out, const char* side) {
    return [&run, &held_bytes, out, side](const SeriesKey& key, BucketValues&& bv) -> Status {
      if (bv.buckets.empty()) return Status::Ok();  // no points in range: nothing to match
      held_bytes += bv.buckets.size() * (sizeof(uint32_t) + sizeof(double));
      KPIDB_RETURN_IF_ERROR(run.CheckMemory(held_bytes, "the two sides of the ratio"));
      if (!out->emplace(key.labels, std::move(bv)).second) {
        return Status::InvalidArgument(std::string(side) + ": several series have the labels of " +
                                       key.ToString() + "; group them (group_by) to form a ratio");
      }
      return Status::Ok();
    };
  };
  KPIDB_RETURN_IF_ERROR(Compute(run, grid, q.selector, "selector", keep(&num, "selector"), &num));
  KPIDB_RETURN_IF_ERROR(
      Compute(run, grid, *q.denominator, "denominator", keep(&den, "denominator"), &den));
  const std::string metric = q.selector.metric + "/" + q.denominator->metric;
  for (const auto& [labels, n] : num) {
    auto d = den.find(labels);
    if (d == den.end()) continue;
    BucketValues ratio;
    size_t j = 0;
    for (size_t i = 0; i < n.buckets.size(); ++i) {
      while (j < d->second.buckets.size() && d->second.buckets[j] < n.buckets[i]) ++j;
      if (j == d->second.buckets.size()) break;
      if (d->second.buckets[j] != n.buckets[i] || d->second.values[j] == 0) continue;
      ratio.buckets.push_back(n.buckets[i]);
      ratio.values.push_back(n.values[i] / d->second.values[j]);
    }
    if (ratio.buckets.empty()) continue;
    KPIDB_ASSIGN_OR_RETURN(ResultSeries r, Filled(run, grid, metric, labels, ratio));
    KPIDB_RETURN_IF_ERROR(run.Emit(std::move(r)));
  }
  return Status::Ok();
}

}  // namespace

namespace {

// At least how long one bucket of `step` is (calendar units: a day of 23 h,
// at a daylight-saving change).
int64_t ShortestBucketMs(const StepSpec& step) {
  constexpr int64_t kShortDay = 23 * 3'600'000;
  switch (step.calendar) {
    case CalendarUnit::kNone: return step.step_ms;
    case CalendarUnit::kDay: return kShortDay;
    case CalendarUnit::kWeek: return 7 * kShortDay;
    case CalendarUnit::kMonth: return 28 * kShortDay;
    case CalendarUnit::kQuarter: return 89 * kShortDay;
    case CalendarUnit::kYear: return 365 * kShortDay;
  }
  return step.step_ms;
}

}  // namespace

std::optional<uint64_t> EstimatePoints(const EngineCore& engine, const Query& query,
                                       size_t max_series, uint64_t enough, size_t max_lookups) {
  const SeriesIndex& index = engine.series_index();
  uint64_t points = 0;
  uint64_t series = 0;
  for (const Selector* selector : {&query.selector, query.denominator ? &*query.denominator : nullptr}) {
    if (selector == nullptr) continue;
    // The smallest postings list that bounds the selection.
    size_t bound = selector->metric.empty() ? SIZE_MAX : index.PostingsSize("__name__", selector->metric);
    for (const LabelMatcher& m : selector->matchers) {
      if (m.op == MatchOp::kRegex || m.op == MatchOp::kNotRegex) return std::nullopt;
      if (m.op == MatchOp::kNotEqual && m.value.empty()) return std::nullopt;
      if (m.op == MatchOp::kEqual && !m.value.empty()) {
        bound = std::min(bound, index.PostingsSize(m.name, m.value));
      }
    }
    if (bound > max_series) return std::nullopt;
    auto matchers = CompileSelector(*selector, "selector");
    if (!matchers.ok()) return std::nullopt;
    auto ids = SelectSeries(index, *selector, *matchers, max_series);
    if (!ids.ok()) return std::nullopt;
    series += ids->size();
    const std::optional<uint64_t> more =
        engine.EstimatePoints(*ids, query.start_ms, query.end_ms, enough, max_lookups);
    if (!more) return std::nullopt;
    points += *more;
    if (points > enough) return points;
  }
  // A fill returns up to a point per bucket of every series, with no point
  // read for most of them (without one, each returned point has one read).
  if (!IsRaw(query.step) && query.fill != Fill::kNone && query.end_ms > query.start_ms) {
    const int64_t shortest = std::max<int64_t>(1, ShortestBucketMs(query.step));
    const uint64_t range = static_cast<uint64_t>(query.end_ms) - static_cast<uint64_t>(query.start_ms);
    const uint64_t buckets = std::min<uint64_t>(query.limits.max_buckets,
                                                range / static_cast<uint64_t>(shortest) + 2);
    points += series * buckets;
  }
  return points;
}

Status ValidateQuery(const Query& q) {
  if (q.end_ms <= q.start_ms) {
    return Status::InvalidArgument("end_ms must be greater than start_ms (start_ms=" +
                                   std::to_string(q.start_ms) + ", end_ms=" +
                                   std::to_string(q.end_ms) + ")");
  }
  KPIDB_RETURN_IF_ERROR(CompileSelector(q.selector, "selector").status());
  if (q.denominator) KPIDB_RETURN_IF_ERROR(CompileSelector(*q.denominator, "denominator").status());
  for (size_t i = 0; i < q.group_by.size(); ++i) {
    if (!IsValidLabelName(q.group_by[i])) {
      return Status::InvalidArgument("group_by[" + std::to_string(i) + "]: invalid label name \"" +
                                     q.group_by[i] + "\"");
    }
  }
  if (q.limits.max_buckets > UINT32_MAX) {
    return Status::InvalidArgument("limits.max_buckets must be at most " + std::to_string(UINT32_MAX));
  }
  for (size_t i = 0; i < q.group_by.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (q.group_by[k] == q.group_by[i]) {
        return Status::InvalidArgument("group_by[" + std::to_string(i) + "]: duplicate label \"" +
                                       q.group_by[i] + "\"");
      }
    }
  }
  if (q.limits.timeout.count() <= 0) {
    return Status::InvalidArgument("limits.timeout must be positive");
  }
  if (IsRaw(q.step)) {
    if (q.group) return Status::InvalidArgument("group: grouping needs a step (step_ms or calendar)");
    if (q.denominator) return Status::InvalidArgument("denominator: a ratio needs a step (step_ms or calendar)");
    if (q.fill != Fill::kNone) return Status::InvalidArgument("fill: filling needs a step (step_ms or calendar)");
    return Status::Ok();
  }
  if (q.denominator && (q.aggregation == Aggregation::kRate || q.aggregation == Aggregation::kIncrease)) {
    return Status::InvalidArgument(std::string("aggregation: ") + AggregationName(q.aggregation) +
                                   " is not defined on a ratio");
  }
  return BucketGrid::Make(q.start_ms, q.end_ms, q.step, q.limits.max_buckets).status();
}

namespace {

Status ExecuteValid(Run& run) {
  const Query& query = run.query;
  if (IsRaw(query.step)) return RunRaw(run);
  KPIDB_ASSIGN_OR_RETURN(BucketGrid grid, BucketGrid::Make(query.start_ms, query.end_ms, query.step,
                                                            query.limits.max_buckets));
  if (query.denominator) return RunRatio(run, grid);
  Keyed groups;
  KPIDB_RETURN_IF_ERROR(Compute(
      run, grid, query.selector, "selector",
      [&](const SeriesKey& key, BucketValues&& bv) -> Status {
        if (bv.buckets.empty()) return Status::Ok();
        KPIDB_ASSIGN_OR_RETURN(ResultSeries r, Filled(run, grid, key.metric, key.labels, bv));
        return run.Emit(std::move(r));
      },
      &groups));
  for (const auto& [labels, bv] : groups) {
    if (bv.buckets.empty()) continue;
    KPIDB_ASSIGN_OR_RETURN(ResultSeries r, Filled(run, grid, query.selector.metric, labels, bv));
    KPIDB_RETURN_IF_ERROR(run.Emit(std::move(r)));
  }
  return Status::Ok();
}

}  // namespace

Status Execute(const EngineCore& engine, const Query& query, const ResultSink& sink,
               QueryStats* stats) {
  KPIDB_RETURN_IF_ERROR(ValidateQuery(query));
  Run run{engine, query, sink, Clock::now() + query.limits.timeout};
  if (run.retention.raw_expires() && query.start_ms < run.retention.raw_from_ms) {
    run.stats.raw_expired_before_ms = run.retention.raw_from_ms;
  }
  Status s = ExecuteValid(run);
  if (stats != nullptr) *stats = run.stats;
  return s;
}

}  // namespace kpidb::query
