#include "engine/query/time_buckets.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "engine/common/coding.h"

namespace kpidb::query {
namespace {

constexpr int64_t kMinMs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();


// IANA names are relative paths of letters, digits, '_', '-', '+' and '/'.
// Anything else (an absolute path, "..") must not reach the zoneinfo loader,
// which would happily open it as a file; nor "localtime", which it maps to
// the server's own zone.
bool LooksLikeIanaName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name == "localtime") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '+' || c == '/';
  });
}

// The first day of the calendar unit containing `day`.
absl::CivilDay UnitStart(absl::CivilDay day, CalendarUnit unit) {
  switch (unit) {
    case CalendarUnit::kWeek:
      return absl::PrevWeekday(day + 1, absl::Weekday::monday);  // ISO: Monday
    case CalendarUnit::kMonth:
      return absl::CivilDay(absl::CivilMonth(day));
    case CalendarUnit::kQuarter:
      return absl::CivilDay(day.year(), (day.month() - 1) / 3 * 3 + 1, 1);
    case CalendarUnit::kYear:
      return absl::CivilDay(absl::CivilYear(day));
    case CalendarUnit::kDay:
    case CalendarUnit::kNone:
      break;
  }
  return day;
}

// The first day of the unit `n` units after (n < 0: before) the unit that
// starts on `unit_start`.
absl::CivilDay AddUnits(absl::CivilDay unit_start, CalendarUnit unit, int n) {
  switch (unit) {
    case CalendarUnit::kWeek:
      return unit_start + 7 * n;
    case CalendarUnit::kMonth:
      return absl::CivilDay(absl::CivilMonth(unit_start) + n);
    case CalendarUnit::kQuarter:
      return absl::CivilDay(absl::CivilMonth(unit_start) + 3 * n);
    case CalendarUnit::kYear:
      return absl::CivilDay(absl::CivilYear(unit_start) + n);
    case CalendarUnit::kDay:
    case CalendarUnit::kNone:
      break;
  }
  return unit_start + n;
}

// The instant local `day` begins in `tz`: its midnight; if midnight is
// repeated (clocks fall back to it), the first occurrence; if it is skipped
// (a DST gap), the first instant after the gap.
int64_t DayStartMs(const absl::TimeZone& tz, absl::CivilDay day) {
  const absl::TimeZone::TimeInfo info = tz.At(absl::CivilSecond(day));
  const absl::Time start = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
  return absl::ToUnixMillis(start);  // saturates outside the int64 range
}

// A lower bound on the length of one unit, only to size the boundary vector.
int64_t ShortestUnitMs(CalendarUnit unit) {
  constexpr int64_t kHour = 3'600'000;
  switch (unit) {
    case CalendarUnit::kWeek:
      return 6 * 24 * kHour;
    case CalendarUnit::kMonth:
      return 27 * 24 * kHour;
    case CalendarUnit::kQuarter:
      return 88 * 24 * kHour;
    case CalendarUnit::kYear:
      return 364 * 24 * kHour;
    case CalendarUnit::kDay:
    case CalendarUnit::kNone:
      break;
  }
  return 22 * kHour;
}

}  // namespace

Result<BucketGrid> BucketGrid::Make(int64_t start_ms, int64_t end_ms, const StepSpec& step,
                                    size_t max_buckets) {
  if (end_ms <= start_ms) {
    return Status::InvalidArgument("end_ms must be greater than start_ms (start_ms " +
                                   std::to_string(start_ms) + ", end_ms " + std::to_string(end_ms) +
                                   ")");
  }
  if (step.step_ms < 0) {
    return Status::InvalidArgument("step_ms must not be negative (step_ms " +
                                   std::to_string(step.step_ms) + ")");
  }
  const bool calendar = step.calendar != CalendarUnit::kNone;
  if (step.step_ms > 0 && calendar) {
    return Status::InvalidArgument(
        "step_ms and calendar are exclusive: give a fixed step_ms or a calendar unit, not both");
  }
  if (step.step_ms == 0 && !calendar) {
    return Status::InvalidArgument(
        "step_ms or calendar must be set: raw points (no step) are not a grid");
  }

  BucketGrid grid;
  if (!calendar) {
    // Count arithmetically, before any allocation. The count is at most
    // 2^64 - 1 (step 1 over the whole int64 range), so it fits in uint64.
    const int64_t first_index = FloorDiv(start_ms, step.step_ms);
    const int64_t last_index = FloorDiv(end_ms - 1, step.step_ms);
    const uint64_t count =
        static_cast<uint64_t>(last_index) - static_cast<uint64_t>(first_index) + 1;
    if (count > max_buckets) {
      return Status::ResourceExhausted("the grid would have " + std::to_string(count) +
                                       " buckets, more than max_buckets (" +
                                       std::to_string(max_buckets) + ")");
    }
    grid.step_ms_ = step.step_ms;
    grid.first_ = SaturateInt64(static_cast<__int128>(first_index) * step.step_ms);
    grid.count_ = static_cast<size_t>(count);
    return grid;
  }

  absl::TimeZone tz;
  if (!LooksLikeIanaName(step.time_zone) || !absl::LoadTimeZone(step.time_zone, &tz)) {
    return Status::InvalidArgument("time_zone \"" + step.time_zone +
                                   "\" is not a known IANA time zone");
  }
  const CalendarUnit unit = step.calendar;

  // Start one unit early: where clocks fall back across midnight, an instant
  // whose local date is D may already lie past the start of D + 1.
  absl::CivilDay day =
      AddUnits(UnitStart(absl::ToCivilDay(absl::FromUnixMillis(start_ms), tz), unit), unit, -1);
  int64_t lo = DayStartMs(tz, day);
  while (lo > start_ms) {  // only in zones with pathological offset changes
    day = AddUnits(day, unit, -1);
    lo = DayStartMs(tz, day);
  }
  // Advance to the bucket containing start_ms. A boundary that is not after
  // the previous one (clamped at INT64_MIN, or a zone jumping back over a
  // whole unit) would make an empty bucket: skip it.
  for (;;) {
    const absl::CivilDay next = AddUnits(day, unit, 1);
    const int64_t hi = DayStartMs(tz, next);
    if (hi > start_ms && hi > lo) break;
    day = next;
    lo = std::max(lo, hi);
  }

  const uint64_t span = static_cast<uint64_t>(end_ms) - static_cast<uint64_t>(start_ms);
  const uint64_t estimate = span / static_cast<uint64_t>(ShortestUnitMs(unit)) + 2;
  grid.boundaries_.reserve(static_cast<size_t>(std::min<uint64_t>(estimate, max_buckets)) + 1);
  grid.boundaries_.push_back(lo);
  while (grid.boundaries_.back() < end_ms) {
    if (grid.boundaries_.size() - 1 == max_buckets) {
      return Status::ResourceExhausted("the grid would have more than max_buckets (" +
                                       std::to_string(max_buckets) + ") buckets");
    }
    day = AddUnits(day, unit, 1);
    const int64_t boundary = DayStartMs(tz, day);
    if (boundary > grid.boundaries_.back()) grid.boundaries_.push_back(boundary);
  }
  grid.count_ = grid.boundaries_.size() - 1;
  grid.first_ = grid.boundaries_.front();
  return grid;
}

size_t BucketGrid::size() const { return count_; }

int64_t BucketGrid::bucket_start(size_t i) const {
  if (step_ms_ == 0) return boundaries_[i];
  if (i == 0) return first_;
  // first_ is clamped to INT64_MIN when the true start lies below it; the
  // bucket's index since the epoch is still floor(first_ / step).
  return SaturateInt64((static_cast<__int128>(FloorDiv(first_, step_ms_)) + i) * step_ms_);
}

int64_t BucketGrid::bucket_end(size_t i) const {
  if (step_ms_ == 0) return boundaries_[i + 1];
  return SaturateInt64((static_cast<__int128>(FloorDiv(first_, step_ms_)) + i + 1) * step_ms_);
}

size_t BucketGrid::BucketOf(int64_t ts) const {
  if (step_ms_ > 0) {
    const uint64_t step = static_cast<uint64_t>(step_ms_);
    if (first_ != kMinMs) {  // first_ is a multiple of the step: one division
      return static_cast<size_t>((static_cast<uint64_t>(ts) - static_cast<uint64_t>(first_)) /
                                 step);
    }
    return static_cast<size_t>(static_cast<uint64_t>(FloorDiv(ts, step_ms_)) -
                               static_cast<uint64_t>(FloorDiv(first_, step_ms_)));
  }
  // The last boundary not after ts starts its bucket.
  const auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), ts);
  return static_cast<size_t>(it - boundaries_.begin()) - 1;
}

double BucketGrid::bucket_seconds(size_t i) const {
  const uint64_t ms = static_cast<uint64_t>(bucket_end(i)) - static_cast<uint64_t>(bucket_start(i));
  return static_cast<double>(ms) / 1000.0;
}

}  // namespace kpidb::query
