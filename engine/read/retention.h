// Retention cutoffs at one moment: which raw points and which rollup rows a
// read may still return (EngineOptions::raw_retention_ms and
// rollup_retention_ms). A query takes one snapshot for all its series; the
// compactor takes one per merge, and drops what has expired from the files
// it writes (docs/internals.md, "Retention").
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <vector>

#include "kpidb/options.h"

namespace kpidb {

// How far the compactor's drop cutoff trails the raw cutoff: longer than a
// write can take between its check against the raw cutoff and its append
// to the head, so that no point can reach the head below the drop cutoff.
inline constexpr int64_t kDropMarginMs = 3'600'000;

struct Retention {
  // Raw points at or after this time are live; earlier ones are expired.
  int64_t raw_from_ms = INT64_MIN;
  // Where the compactor drops raw points: kDropMarginMs before raw_from_ms,
  // rounded down to a multiple of the coarsest tier's step (so that no row
  // of a tier whose step divides it holds points on both sides), INT64_MIN
  // when raw points are kept for ever.
  int64_t raw_drop_before_ms = INT64_MIN;
  // The configured tiers, and for each the time from which its rows are
  // live: a row is expired once its bucket ends at or before it.
  std::vector<int64_t> tier_steps_ms;
  std::vector<int64_t> tier_from_ms;

  bool raw_expires() const { return raw_from_ms != INT64_MIN; }
  // The time from which rows of `step_ms` are live. A step that is not
  // configured (any more) lives as long as the raw points.
  int64_t RowsFrom(int64_t step_ms) const;
  // Whether the row of bucket `bucket` of tier `step_ms` is live.
  bool RowLive(int64_t step_ms, int64_t bucket) const;
};

// Everything live: no retention configured.
inline Retention KeepEverything() { return Retention{}; }

// The cutoffs of `options` at `now_ms`.
Retention RetentionAt(const EngineOptions& options, int64_t now_ms);

// The wall clock of `options` (wall_clock_ms, or the system clock), in ms.
int64_t WallClockMs(const EngineOptions& options);

// INVALID_ARGUMENT naming the field when the retention options are
// inconsistent (see EngineOptions).
Status ValidateRetention(const EngineOptions& options);

}  // namespace kpidb
