#include "engine/read/retention.h"

#include <chrono>
#include <string>

#include "engine/segment/rollup.h"

namespace kpidb {
namespace {

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out;
  return __builtin_sub_overflow(a, b, &out) ? INT64_MIN : out;
}

// The largest multiple of `step` at or below t (floor division), or
// INT64_MIN when that is below the int64 range.
int64_t FloorTo(int64_t t, int64_t step) {
  const int64_t q = t / step - (t % step < 0 ? 1 : 0);
  int64_t out;
  return __builtin_mul_overflow(q, step, &out) ? INT64_MIN : out;
}

}  // namespace

int64_t Retention::RowsFrom(int64_t step_ms) const {
  for (size_t i = 0; i < tier_steps_ms.size(); ++i) {
    if (tier_steps_ms[i] == step_ms) return tier_from_ms[i];
  }
  return raw_from_ms;
}

bool Retention::RowLive(int64_t step_ms, int64_t bucket) const {
  const int64_t from = RowsFrom(step_ms);
  return from == INT64_MIN || RollupBucketEnd(step_ms, bucket) > from;
}

Retention RetentionAt(const EngineOptions& options, int64_t now_ms) {
  Retention r;
  if (options.raw_retention_ms > 0) {
    r.raw_from_ms = SaturatingSub(now_ms, options.raw_retention_ms);
    // The drop cutoff trails by kDropMarginMs: a write checked against the
    // raw cutoff just before it moved, and appended to the head after
    // (behind a group commit, or waiting for room), is then still above it.
    r.raw_drop_before_ms = SaturatingSub(r.raw_from_ms, kDropMarginMs);
    if (!options.rollup_tiers_ms.empty() && r.raw_drop_before_ms != INT64_MIN) {
      r.raw_drop_before_ms = FloorTo(r.raw_drop_before_ms, options.rollup_tiers_ms.back());
    }
  }
  r.tier_steps_ms = options.rollup_tiers_ms;
  for (size_t i = 0; i < options.rollup_tiers_ms.size(); ++i) {
    const int64_t keep = i < options.rollup_retention_ms.size() ? options.rollup_retention_ms[i] : 0;
    r.tier_from_ms.push_back(keep > 0 ? SaturatingSub(now_ms, keep) : INT64_MIN);
  }
  return r;
}

int64_t WallClockMs(const EngineOptions& options) {
  if (options.wall_clock_ms) return options.wall_clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ValidateRetention(const EngineOptions& o) {
  const auto& tiers = o.rollup_tiers_ms;
  const auto& keep = o.rollup_retention_ms;
  if (o.raw_retention_ms < 0) return Status::InvalidArgument("raw_retention_ms must not be negative");
  if (!keep.empty() && keep.size() != tiers.size()) {
    return Status::InvalidArgument("rollup_retention_ms must have one entry per rollup tier (" +
                                   std::to_string(tiers.size()) + "), or none");
  }
  for (size_t i = 0; i < keep.size(); ++i) {
    std::string field = "rollup_retention_ms[";
    field += std::to_string(i);
    field += "]";
    if (keep[i] < 0) return Status::InvalidArgument(field + " must not be negative");
    if (o.raw_retention_ms == 0) continue;
    if (keep[i] != 0 && keep[i] < o.raw_retention_ms) {
      return Status::InvalidArgument(field + " must be 0 (for ever) or at least raw_retention_ms");
    }
    if (i > 0 && keep[i] != 0 && (keep[i - 1] == 0 || keep[i] < keep[i - 1])) {
      return Status::InvalidArgument(field + " must be 0 (for ever) or at least the finer tier's");
    }
  }
  if (o.raw_retention_ms > 0) {
    for (size_t i = 1; i < tiers.size(); ++i) {
      if (tiers[i] % tiers[i - 1] != 0) {
        return Status::InvalidArgument(
            "with raw_retention_ms set, each of rollup_tiers_ms must divide the next");
      }
    }
  }
  return Status::Ok();
}

}  // namespace kpidb
