// Time buckets for downsampling: the grid of [start, end) intervals a query
// aggregates points into.
//
// - Fixed step (step_ms > 0): buckets [k*step, (k+1)*step) aligned to
//   multiples of the step since the Unix epoch (also for negative times),
//   each labelled by its start.
// - Calendar step (day, week = ISO week starting Monday, month, quarter,
//   year) in an IANA time zone: buckets run from one local calendar boundary
//   (local midnight of the first day of the unit) to the next, labelled by
//   the bucket's start instant (UTC ms). DST days have 23 or 25 hours; a
//   local midnight that does not exist (a DST gap at midnight) starts at the
//   first instant after the gap.
//
// The grid covers the query range [start_ms, end_ms): the first bucket is the
// one containing start_ms (so it may begin before it), the last the one
// containing end_ms - 1. Only points inside [start_ms, end_ms) are ever put
// in buckets; the buckets themselves keep their full calendar extent.
//
// Thread-safety: a BucketGrid is immutable after Make; share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kpidb/query.h"
#include "kpidb/status.h"

namespace kpidb::query {

class BucketGrid {
 public:
  // Errors (INVALID_ARGUMENT, naming the field): end_ms <= start_ms
  // ("end_ms"), step_ms < 0 ("step_ms"), both a fixed and a calendar step,
  // neither (raw is not a grid), an unknown time zone ("time_zone
  // \"Mars/Olympus\" is not a known IANA time zone"); RESOURCE_EXHAUSTED when
  // the grid would have more than max_buckets buckets.
  static Result<BucketGrid> Make(int64_t start_ms, int64_t end_ms, const StepSpec& step,
                                 size_t max_buckets);

  size_t size() const;
  int64_t bucket_start(size_t i) const;  // also the bucket's label
  int64_t bucket_end(size_t i) const;    // exclusive
  // Index of the bucket containing ts. REQUIRES start_ms <= ts < end_ms.
  size_t BucketOf(int64_t ts) const;
  // Seconds in bucket i (for rate): (end - start) / 1000.
  double bucket_seconds(size_t i) const;

 private:
  // Fixed: first_ + i * step_. Calendar: boundaries_[i], boundaries_[i + 1].
  int64_t step_ms_ = 0;
  int64_t first_ = 0;
  size_t count_ = 0;
  std::vector<int64_t> boundaries_;  // calendar grids only; size() + 1 entries
};

}  // namespace kpidb::query
