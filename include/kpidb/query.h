// The query types that travel between a caller and kpidb (in process, or
// over gRPC through the client): a selector, a query with its step,
// aggregation, grouping, ratio, fill and limits, and the result series.
// Their semantics are in docs/query.md; engine/query/query.h executes them.
// Part of the public API (include/kpidb/).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb::query {

enum class CalendarUnit { kNone, kDay, kWeek, kMonth, kQuarter, kYear };

struct StepSpec {
  int64_t step_ms = 0;                       // fixed step; 0 with kNone = raw
  CalendarUnit calendar = CalendarUnit::kNone;  // if set, step_ms must be 0
  std::string time_zone = "UTC";             // IANA name, for calendar steps
};

enum class MatchOp { kEqual, kNotEqual, kRegex, kNotRegex };

struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEqual;
  std::string value;
};

struct Selector {
  std::string metric;  // empty: any metric
  std::vector<LabelMatcher> matchers;
};

// The text form users write everywhere (PromQL's vector selector, without
// a range or offset): `kpi_visits{channel="email",region=~"eu|us"}`,
// `kpi_visits`, `{__name__=~"kpi_.+"}`. Values are in double or single
// quotes with the escapes \\ \" \' \n \t \r. Only the syntax is checked
// here (label names and regexes are checked where the selector is used);
// INVALID_ARGUMENT gives the column and what was expected there.
Result<Selector> ParseSelector(std::string_view text);
// The text form of a selector; ParseSelector reads it back to the same.
std::string FormatSelector(const Selector& selector);

enum class Aggregation { kAvg, kSum, kMin, kMax, kCount, kFirst, kLast, kStddev, kRate, kIncrease };
enum class CrossAggregation { kSum, kAvg, kMin, kMax, kCount };
enum class Fill { kNone, kNull, kZero, kPrevious, kLinear };

struct QueryLimits {
  std::chrono::milliseconds timeout{30'000};
  size_t max_series = 100'000;         // selected series, per selector
  size_t max_points = 10'000'000;      // points returned, all results together
  size_t max_buckets = 1'000'000;      // buckets in the grid
  size_t max_memory_bytes = 1u << 30;  // working memory of the query
};

struct Query {
  Selector selector;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  StepSpec step;  // raw when step.step_ms == 0 and step.calendar == kNone
  Aggregation aggregation = Aggregation::kAvg;
  bool group = false;
  std::vector<std::string> group_by;
  CrossAggregation cross = CrossAggregation::kSum;
  Fill fill = Fill::kNone;
  std::optional<Selector> denominator;  // ratio: selector / denominator
  QueryLimits limits;
  // Answer from rollup rows and chunk stats where they give the points'
  // answer (the default); false reads every point. Either way the result is
  // the same up to the rounding of sums (see above); false exists for checks
  // and measurements.
  bool use_precomputed = true;
};

// What an execution read, for tests, benchmarks and logs.
struct QueryStats {
  uint64_t series = 0;       // series scanned (both sides of a ratio)
  uint64_t points = 0;       // points read one by one
  uint64_t chunk_stats = 0;  // chunks answered from their stored stats
  uint64_t rollup_rows = 0;  // rollup rows used in place of points
  // The tiers whose rows served (steps in ms, increasing); empty: points
  // and chunk stats only.
  std::vector<int64_t> rollup_steps_ms;
  // Retention (EngineOptions::raw_retention_ms): when the range starts
  // before the raw cutoff, the cutoff (raw points before it have expired,
  // and only rollup rows answer there); 0 otherwise.
  int64_t raw_expired_before_ms = 0;
  // Some data before raw_expired_before_ms could not be answered: the query
  // needs raw points there (a raw query, buckets finer than the rows kept,
  // use_precomputed off, rate or increase, or stddev without m2 rows), or
  // the rows kept do not cover it. Buckets (or points) before the cutoff
  // are then missing or partial: the answer is only what exists.
  bool incomplete = false;
};

struct ResultSeries {
  std::string metric;  // the series' metric; a group's: the selector's; a ratio's: "num/den"
  Labels labels;       // the series' labels, or the group_by labels of a group
  std::vector<int64_t> timestamps_ms;  // bucket starts (or raw timestamps), increasing
  std::vector<double> values;          // NaN only with Fill::kNull
};

using ResultSink = std::function<Status(ResultSeries&&)>;

}  // namespace kpidb::query
