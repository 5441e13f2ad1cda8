// The query layer: select series, bucket their points in time, aggregate
// per bucket, optionally across series (group by) and as a ratio of two
// selectors, fill empty buckets, and stream the result out.
//
//   Query q;
//   q.selector = {"kpi_visits", {{"channel", MatchOp::kRegex, "email|search"}}};
//   q.start_ms = ...; q.end_ms = ...;                 // [start, end)
//   q.step = {.calendar = CalendarUnit::kDay, .time_zone = "Europe/Paris"};
//   q.aggregation = Aggregation::kSum;
//   q.group = true; q.group_by = {"channel"};         // sum by (channel)
//   Status s = Execute(engine, q, [](ResultSeries&& r) { ...; return Status::Ok(); });
//
// Semantics (docs/query.md has the full text):
// - Selector: metric (empty: any) and label matchers =, !=, =~, !~. Regexes
//   are RE2, fully anchored. A missing label has the value "", as in
//   Prometheus: {region!="eu"} matches series without a region.
// - Raw query (no step): each series' points in [start, end); no
//   aggregation, group, ratio or fill.
// - Step (time_buckets.h): per series, the points of each bucket aggregate
//   to one value: avg, sum, min, max, count, first, last, stddev
//   (population), increase, rate. increase sums, over consecutive points
//   of the series inside [start, end), v[i] - v[i-1], or v[i] when the
//   counter reset (v[i] < v[i-1]), into the bucket of point i; rate is
//   increase / bucket seconds. A bucket gets a value for increase/rate only
//   if it holds a point with a predecessor in range. Empty buckets have no
//   value.
// - Group (group = true): series are grouped by the values of the group_by
//   labels (all into one group when the list is empty); per bucket, the
//   values of the group's series that have one are combined by `cross`
//   (sum, avg, min, max, count). A result carries the group_by labels.
//   group_by is ignored unless group is true; a label named twice is
//   INVALID_ARGUMENT.
// - Ratio (denominator set): numerator and denominator are each computed as
//   above, matched on the group_by labels when grouped, on the full label
//   set otherwise; per bucket num / den where both exist and den != 0
//   (division by zero gives no point). Not defined for rate or increase.
// - Fill, applied to each result last: none (empty buckets absent), null
//   (every bucket present, NaN where empty), zero, previous (the last value
//   before; nothing before the first value), linear (interpolated between
//   the neighbours; nothing before the first or after the last value).
// - Limits (QueryLimits): exceeding one is RESOURCE_EXHAUSTED naming it
//   (max_series=..., max_points=...); passing the timeout is
//   DEADLINE_EXCEEDED. Nothing past the error is sent to the sink.
// - Results stream: one ResultSeries per series (sorted by series key), or
//   per group or ratio (sorted by labels); a sink error stops the query. A
//   result with no value in any bucket (no points in range) is not sent,
//   whatever the fill. An ungrouped ratio matching two series with the same
//   labels on one side is INVALID_ARGUMENT (ambiguous: group them).
//
// Floating point: a bucket's sum adds its points' values in time order in
// eight interleaved partial sums (one every eighth point; a plain
// left-to-right sum where those overflow), a segment chunk lying wholly in
// one bucket contributes its stored sum and a rollup row its stored sum:
// results may differ from a strict left-to-right sum by rounding only (a few
// ulps per point). min, max, count, first and last are exact.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/engine_core.h"
#include "kpidb/query.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb::query {


// INVALID_ARGUMENT naming the field for a malformed query (end_ms <= start_ms,
// negative step_ms, bad regex, unknown time zone, rate on a ratio, group or
// fill or ratio without a step...).
Status ValidateQuery(const Query& query);

// An estimate, from in-memory indexes only, of the points `query` would read
// (EngineCore::EstimatePoints over the series its selectors select: whole chunks
// overlapping the range, and head points) plus, with a fill, the points it
// would return (a point per bucket of every series), to tell a cheap query
// from a costly one before running it; counting stops once past `enough`.
// Not an exact bound of the work: a chunk at the edge of a time slice is
// decoded once per slice, and points written meanwhile are not counted. nullopt where
// finding out would itself cost more than a lookup: a selector that no
// metric or equality matcher narrows to at most `max_series` series, a
// regular-expression matcher, a "label present" matcher (!= ""), a selector
// that does not compile, or more than `max_lookups` (series, segment) pairs
// to look up (a long range over many segments).
std::optional<uint64_t> EstimatePoints(const EngineCore& engine, const Query& query,
                                       size_t max_series, uint64_t enough = UINT64_MAX,
                                       size_t max_lookups = SIZE_MAX);

// Runs the query against the engine's current data; fills *stats if given.
Status Execute(const EngineCore& engine, const Query& query, const ResultSink& sink,
               QueryStats* stats = nullptr);

}  // namespace kpidb::query
