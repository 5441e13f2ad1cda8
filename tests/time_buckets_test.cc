// BucketGrid: the [start, end) intervals a query aggregates points into.
//
// Calendar expectations are exact UTC instants taken from the system tzdata
// (checked with `zdump -v <zone>`); the DST rules of 2026/2027 used here are
// those of tzdata 2024+ (Havana, Beirut and Santiago change theirs from time
// to time, so a future tzdata may move those instants).
#include "engine/query/time_buckets.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace kpidb::query {
namespace {

constexpr int64_t kMinMs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr size_t kNoLimit = 1'000'000;

// "2026-03-28T23:00:00Z" -> Unix milliseconds.
int64_t Utc(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << rfc3339 << error;
  return absl::ToUnixMillis(t);
}

std::string Rfc3339(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

StepSpec Fixed(int64_t step_ms) {
  StepSpec step;
  step.step_ms = step_ms;
  return step;
}

StepSpec Calendar(CalendarUnit unit, std::string zone) {
  StepSpec step;
  step.calendar = unit;
  step.time_zone = std::move(zone);
  return step;
}

BucketGrid MakeOrDie(int64_t start_ms, int64_t end_ms, const StepSpec& step,
                     size_t max_buckets = kNoLimit) {
  Result<BucketGrid> grid = BucketGrid::Make(start_ms, end_ms, step, max_buckets);
  EXPECT_TRUE(grid.ok()) << grid.status().ToString();
  if (!grid.ok()) return BucketGrid::Make(0, 1, Fixed(1), 1).value();
  return std::move(grid).value();
}

// The bucket starts as RFC 3339 UTC strings, for readable failures.
std::vector<std::string> Starts(const BucketGrid& grid) {
  std::vector<std::string> starts;
  for (size_t i = 0; i < grid.size(); ++i) starts.push_back(Rfc3339(grid.bucket_start(i)));
  return starts;
}

std::vector<double> Seconds(const BucketGrid& grid) {
  std::vector<double> seconds;
  for (size_t i = 0; i < grid.size(); ++i) seconds.push_back(grid.bucket_seconds(i));
  return seconds;
}

void ExpectError(int64_t start_ms, int64_t end_ms, const StepSpec& step, size_t max_buckets,
                 StatusCode code, const std::string& message) {
  Result<BucketGrid> grid = BucketGrid::Make(start_ms, end_ms, step, max_buckets);
  ASSERT_FALSE(grid.ok());
  EXPECT_EQ(grid.status().code(), code);
  EXPECT_EQ(grid.status().message(), message);
}

// ---- Fixed steps ----------------------------------------------------------

TEST(FixedBuckets, AlignToMultiplesOfTheStepSinceTheEpoch) {
  BucketGrid grid = MakeOrDie(125, 1000, Fixed(100));
  ASSERT_EQ(grid.size(), 9u);
  for (size_t i = 0; i < grid.size(); ++i) {
    EXPECT_EQ(grid.bucket_start(i), 100 + 100 * static_cast<int64_t>(i));
    EXPECT_EQ(grid.bucket_end(i), 200 + 100 * static_cast<int64_t>(i));
    EXPECT_EQ(grid.bucket_seconds(i), 0.1);
  }
}

TEST(FixedBuckets, AlignNegativeTimesDownwardsNotTowardsZero) {
  BucketGrid grid = MakeOrDie(-250, -50, Fixed(100));
  ASSERT_EQ(grid.size(), 3u);
  EXPECT_EQ(grid.bucket_start(0), -300);
  EXPECT_EQ(grid.bucket_start(1), -200);
  EXPECT_EQ(grid.bucket_start(2), -100);
  EXPECT_EQ(grid.bucket_end(2), 0);

  BucketGrid across_epoch = MakeOrDie(-1, 1, Fixed(60'000));
  ASSERT_EQ(across_epoch.size(), 2u);
  EXPECT_EQ(across_epoch.bucket_start(0), -60'000);
  EXPECT_EQ(across_epoch.bucket_start(1), 0);
}

TEST(FixedBuckets, FirstBucketContainsStartAndLastContainsEndMinusOne) {
  // Aligned start: the first bucket begins exactly there.
  BucketGrid aligned = MakeOrDie(-200, 101, Fixed(100));
  ASSERT_EQ(aligned.size(), 4u);
  EXPECT_EQ(aligned.bucket_start(0), -200);
  EXPECT_EQ(aligned.bucket_start(3), 100);  // holds end - 1 = 100
  // An aligned end adds no empty bucket: end - 1 = 99 is in [0, 100).
  BucketGrid aligned_end = MakeOrDie(-200, 100, Fixed(100));
  ASSERT_EQ(aligned_end.size(), 3u);
  EXPECT_EQ(aligned_end.bucket_end(2), 100);
  // A one-millisecond range is one bucket.
  BucketGrid one = MakeOrDie(-7, -6, Fixed(5));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.bucket_start(0), -10);
}

TEST(FixedBuckets, BucketOfFindsTheBucketAtEveryEdge) {
  BucketGrid grid = MakeOrDie(-1234, 5678, Fixed(250));
  for (size_t i = 0; i < grid.size(); ++i) {
    const int64_t lo = std::max<int64_t>(grid.bucket_start(i), -1234);
    const int64_t hi = std::min<int64_t>(grid.bucket_end(i), 5678);
    EXPECT_EQ(grid.BucketOf(lo), i) << lo;
    EXPECT_EQ(grid.BucketOf(hi - 1), i) << hi - 1;
    if (lo == grid.bucket_start(i) && i > 0) {
      EXPECT_EQ(grid.BucketOf(lo - 1), i - 1);
    }
  }
  EXPECT_EQ(grid.BucketOf(-1234), 0u);
  EXPECT_EQ(grid.BucketOf(5677), grid.size() - 1);
}

TEST(FixedBuckets, ClampBucketsThatReachPastTheInt64Range) {
  // INT64_MIN is not a multiple of 10: bucket 0 truly starts below it.
  BucketGrid low = MakeOrDie(kMinMs, kMinMs + 25, Fixed(10));
  ASSERT_EQ(low.size(), 3u);  // [.., -...800), [-...800, -...790), [-...790, -...780)
  EXPECT_EQ(low.bucket_start(0), kMinMs);
  EXPECT_EQ(low.bucket_end(0), kMinMs + 8);  // -9223372036854775800
  EXPECT_EQ(low.bucket_start(1), kMinMs + 8);
  EXPECT_EQ(low.BucketOf(kMinMs), 0u);
  EXPECT_EQ(low.BucketOf(kMinMs + 7), 0u);
  EXPECT_EQ(low.BucketOf(kMinMs + 8), 1u);
  EXPECT_EQ(low.BucketOf(kMinMs + 24), 2u);
  EXPECT_EQ(low.bucket_seconds(0), 0.008);

  BucketGrid high = MakeOrDie(kMaxMs - 20, kMaxMs, Fixed(10));
  ASSERT_EQ(high.size(), 3u);
  EXPECT_EQ(high.bucket_start(2), kMaxMs - 7);  // 9223372036854775800
  EXPECT_EQ(high.bucket_end(2), kMaxMs);
  EXPECT_EQ(high.BucketOf(kMaxMs - 1), 2u);

  BucketGrid whole = MakeOrDie(kMinMs, kMaxMs, Fixed(kMaxMs));
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole.bucket_start(0), kMinMs);
  EXPECT_EQ(whole.bucket_start(1), -kMaxMs);
  EXPECT_EQ(whole.bucket_start(2), 0);
  EXPECT_EQ(whole.bucket_end(2), kMaxMs);
  EXPECT_EQ(whole.BucketOf(kMinMs), 0u);
  EXPECT_EQ(whole.BucketOf(-kMaxMs), 1u);
  EXPECT_EQ(whole.BucketOf(-1), 1u);
  EXPECT_EQ(whole.BucketOf(0), 2u);
  EXPECT_EQ(whole.BucketOf(kMaxMs - 1), 2u);
}

TEST(FixedBuckets, MoreThanMaxBucketsIsResourceExhaustedBeforeAllocating) {
  EXPECT_EQ(MakeOrDie(0, 1000, Fixed(10), 100).size(), 100u);
  ExpectError(0, 1001, Fixed(10), 100, StatusCode::kResourceExhausted,
              "the grid would have 101 buckets, more than max_buckets (100)");
  // Step 1 over the whole int64 range: 2^64 - 1 buckets, counted without overflow.
  ExpectError(kMinMs, kMaxMs, Fixed(1), kNoLimit, StatusCode::kResourceExhausted,
              "the grid would have 18446744073709551615 buckets, more than max_buckets "
              "(1000000)");
  ExpectError(0, 1, Fixed(10), 0, StatusCode::kResourceExhausted,
              "the grid would have 1 buckets, more than max_buckets (0)");
}

TEST(FixedBuckets, IgnoreTheTimeZoneWhichOnlyCalendarStepsUse) {
  StepSpec step = Fixed(kDayMs);
  step.time_zone = "Europe/Paris";
  EXPECT_EQ(MakeOrDie(kHourMs, 2 * kHourMs, step).bucket_start(0), 0);
}

// ---- Days across DST ------------------------------------------------------

TEST(CalendarDays, ParisSpringForwardDayHas23HoursAndFallBackDay25) {
  BucketGrid spring = MakeOrDie(Utc("2026-03-28T12:00:00Z"), Utc("2026-03-30T12:00:00Z"),
                                Calendar(CalendarUnit::kDay, "Europe/Paris"));
  EXPECT_EQ(Starts(spring),
            (std::vector<std::string>{"2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z",
                                      "2026-03-29T22:00:00Z"}));
  EXPECT_EQ(Seconds(spring), (std::vector<double>{86400, 82800, 86400}));

  BucketGrid autumn = MakeOrDie(Utc("2026-10-24T12:00:00Z"), Utc("2026-10-26T12:00:00Z"),
                                Calendar(CalendarUnit::kDay, "Europe/Paris"));
  EXPECT_EQ(Starts(autumn),
            (std::vector<std::string>{"2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z",
                                      "2026-10-25T23:00:00Z"}));
  EXPECT_EQ(Seconds(autumn), (std::vector<double>{86400, 90000, 86400}));
  // 02:30 CEST and 02:30 CET, the repeated hour, are both on the 25th.
  EXPECT_EQ(autumn.BucketOf(Utc("2026-10-25T00:30:00Z")), 1u);
  EXPECT_EQ(autumn.BucketOf(Utc("2026-10-25T01:30:00Z")), 1u);
  EXPECT_EQ(autumn.BucketOf(Utc("2026-10-25T22:59:59.999Z")), 1u);
  EXPECT_EQ(autumn.BucketOf(Utc("2026-10-25T23:00:00Z")), 2u);
}

TEST(CalendarDays, NewYorkDstDaysStartAtLocalMidnight) {
  BucketGrid spring = MakeOrDie(Utc("2026-03-08T05:00:00Z"), Utc("2026-03-09T04:00:00Z"),
                                Calendar(CalendarUnit::kDay, "America/New_York"));
  EXPECT_EQ(Starts(spring), std::vector<std::string>{"2026-03-08T05:00:00Z"});
  EXPECT_EQ(spring.bucket_end(0), Utc("2026-03-09T04:00:00Z"));
  EXPECT_EQ(spring.bucket_seconds(0), 82800);

  BucketGrid autumn = MakeOrDie(Utc("2026-11-01T04:00:00Z"), Utc("2026-11-02T05:00:00Z"),
                                Calendar(CalendarUnit::kDay, "America/New_York"));
  EXPECT_EQ(Starts(autumn), std::vector<std::string>{"2026-11-01T04:00:00Z"});
  EXPECT_EQ(autumn.bucket_end(0), Utc("2026-11-02T05:00:00Z"));
  EXPECT_EQ(autumn.bucket_seconds(0), 90000);
}

TEST(CalendarDays, KolkataDaysStartAt1830Utc) {
  BucketGrid grid = MakeOrDie(Utc("2026-01-01T00:00:00Z"), Utc("2026-01-03T00:00:00Z"),
                              Calendar(CalendarUnit::kDay, "Asia/Kolkata"));
  EXPECT_EQ(Starts(grid), (std::vector<std::string>{"2025-12-31T18:30:00Z", "2026-01-01T18:30:00Z",
                                                    "2026-01-02T18:30:00Z"}));
  EXPECT_EQ(grid.BucketOf(Utc("2026-01-01T18:29:59.999Z")), 0u);
  EXPECT_EQ(grid.BucketOf(Utc("2026-01-01T18:30:00Z")), 1u);
}

TEST(CalendarDays, UtcDaysAreExactMultiplesOfADay) {
  BucketGrid grid = MakeOrDie(-1, kDayMs + 1, Calendar(CalendarUnit::kDay, "UTC"));
  ASSERT_EQ(grid.size(), 3u);
  EXPECT_EQ(grid.bucket_start(0), -kDayMs);
  EXPECT_EQ(grid.bucket_start(1), 0);
  EXPECT_EQ(grid.bucket_start(2), kDayMs);
  EXPECT_EQ(grid.bucket_end(2), 2 * kDayMs);
}

// ---- A DST gap or overlap at midnight -------------------------------------

TEST(CalendarDays, SkippedMidnightStartsTheDayAtTheFirstInstantAfterTheGap) {
  // Havana, 2026-03-08: 23:59:59 CST (-5) is followed by 01:00:00 CDT (-4).
  BucketGrid havana = MakeOrDie(Utc("2026-03-07T12:00:00Z"), Utc("2026-03-09T12:00:00Z"),
                                Calendar(CalendarUnit::kDay, "America/Havana"));
  EXPECT_EQ(Starts(havana),
            (std::vector<std::string>{"2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z",
                                      "2026-03-09T04:00:00Z"}));
  EXPECT_EQ(Seconds(havana), (std::vector<double>{86400, 82800, 86400}));
  EXPECT_EQ(havana.BucketOf(Utc("2026-03-08T04:59:59.999Z")), 0u);
  EXPECT_EQ(havana.BucketOf(Utc("2026-03-08T05:00:00Z")), 1u);

  // Beirut, 2026-03-29: 23:59:59 EET (+2) is followed by 01:00:00 EEST (+3).
  BucketGrid beirut = MakeOrDie(Utc("2026-03-28T12:00:00Z"), Utc("2026-03-29T12:00:00Z"),
                                Calendar(CalendarUnit::kDay, "Asia/Beirut"));
  EXPECT_EQ(Starts(beirut),
            (std::vector<std::string>{"2026-03-27T22:00:00Z", "2026-03-28T22:00:00Z"}));
  EXPECT_EQ(beirut.bucket_end(1), Utc("2026-03-29T21:00:00Z"));

  // Santiago, 2026-09-06: 23:59:59 -04 is followed by 01:00:00 -03.
  BucketGrid santiago = MakeOrDie(Utc("2026-09-06T12:00:00Z"), Utc("2026-09-06T13:00:00Z"),
                                  Calendar(CalendarUnit::kDay, "America/Santiago"));
  EXPECT_EQ(Starts(santiago), std::vector<std::string>{"2026-09-06T04:00:00Z"});
  EXPECT_EQ(santiago.bucket_seconds(0), 82800);
}

TEST(CalendarDays, MidnightInsideAGapStartsTheDayWhenTheGapEnds) {
  // Toronto, 1919-03-31: 23:29:59 EST on the 30th is followed by 00:30:00 EDT.
  // Local midnight lies inside the gap; 00:30 EDT (04:30Z) is the day's first
  // instant, not 00:00 at the old offset (05:00Z, already 01:00 EDT).
  BucketGrid grid = MakeOrDie(Utc("1919-03-30T12:00:00Z"), Utc("1919-03-31T12:00:00Z"),
                              Calendar(CalendarUnit::kDay, "America/Toronto"));
  EXPECT_EQ(Starts(grid),
            (std::vector<std::string>{"1919-03-30T05:00:00Z", "1919-03-31T04:30:00Z"}));
  EXPECT_EQ(grid.bucket_end(1), Utc("1919-04-01T04:00:00Z"));
  EXPECT_EQ(Seconds(grid), (std::vector<double>{84600, 84600}));
}

TEST(CalendarDays, ADayThatNeverHappenedHasNoBucket) {
  // Apia skipped 2011-12-30: 23:59:59 -10 on the 29th was followed by
  // 00:00:00 +14 on the 31st.
  BucketGrid grid = MakeOrDie(Utc("2011-12-29T12:00:00Z"), Utc("2011-12-31T12:00:00Z"),
                              Calendar(CalendarUnit::kDay, "Pacific/Apia"));
  EXPECT_EQ(Starts(grid), (std::vector<std::string>{"2011-12-29T10:00:00Z", "2011-12-30T10:00:00Z",
                                                    "2011-12-31T10:00:00Z"}));
  EXPECT_EQ(Seconds(grid), (std::vector<double>{86400, 86400, 86400}));
}

TEST(CalendarDays, RepeatedMidnightStartsTheDayAtItsFirstOccurrence) {
  // Havana, 2027-11-07: 00:59:59 CDT (-4) is followed by 00:00:00 CST (-5).
  BucketGrid grid = MakeOrDie(Utc("2027-11-07T04:30:00Z"), Utc("2027-11-07T05:30:00Z"),
                              Calendar(CalendarUnit::kDay, "America/Havana"));
  EXPECT_EQ(Starts(grid), std::vector<std::string>{"2027-11-07T04:00:00Z"});
  EXPECT_EQ(grid.bucket_end(0), Utc("2027-11-08T05:00:00Z"));
  EXPECT_EQ(grid.bucket_seconds(0), 90000);
}

TEST(CalendarDays, HourRepeatedBeforeMidnightBelongsToTheEarlierDay) {
  // Santiago, 2026-04-05 03:00Z: 23:59:59 -03 on the 4th falls back to 23:00 -04.
  BucketGrid grid = MakeOrDie(Utc("2026-04-04T12:00:00Z"), Utc("2026-04-05T12:00:00Z"),
                              Calendar(CalendarUnit::kDay, "America/Santiago"));
  EXPECT_EQ(Starts(grid),
            (std::vector<std::string>{"2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z"}));
  EXPECT_EQ(grid.bucket_seconds(0), 90000);
  EXPECT_EQ(grid.BucketOf(Utc("2026-04-05T03:30:00Z")), 0u);  // 23:30 -04 on the 4th
}

// ---- Weeks, months, quarters, years ----------------------------------------

TEST(CalendarWeeks, IsoWeeksStartOnMondayAtLocalMidnight) {
  // 2026-01-05 is a Monday; the range starts on Wednesday the 7th.
  BucketGrid utc = MakeOrDie(Utc("2026-01-07T10:00:00Z"), Utc("2026-01-19T00:00:00Z"),
                             Calendar(CalendarUnit::kWeek, "UTC"));
  EXPECT_EQ(Starts(utc),
            (std::vector<std::string>{"2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"}));
  EXPECT_EQ(utc.BucketOf(Utc("2026-01-11T23:59:59.999Z")), 0u);  // Sunday still week 0
  EXPECT_EQ(utc.BucketOf(Utc("2026-01-12T00:00:00Z")), 1u);

  BucketGrid paris = MakeOrDie(Utc("2026-01-05T10:00:00Z"), Utc("2026-01-06T00:00:00Z"),
                               Calendar(CalendarUnit::kWeek, "Europe/Paris"));
  EXPECT_EQ(Starts(paris), std::vector<std::string>{"2026-01-04T23:00:00Z"});
  EXPECT_EQ(paris.bucket_seconds(0), 7 * 86400);

  // A Sunday belongs to the week that began six days earlier.
  BucketGrid sunday = MakeOrDie(Utc("2026-01-04T12:00:00Z"), Utc("2026-01-04T13:00:00Z"),
                                Calendar(CalendarUnit::kWeek, "UTC"));
  EXPECT_EQ(Starts(sunday), std::vector<std::string>{"2025-12-29T00:00:00Z"});
}

TEST(CalendarWeeks, WeekWithTheSpringChangeHas167Hours) {
  BucketGrid grid = MakeOrDie(Utc("2026-03-25T00:00:00Z"), Utc("2026-03-26T00:00:00Z"),
                              Calendar(CalendarUnit::kWeek, "Europe/Paris"));
  EXPECT_EQ(Starts(grid), std::vector<std::string>{"2026-03-22T23:00:00Z"});
  EXPECT_EQ(grid.bucket_end(0), Utc("2026-03-29T22:00:00Z"));
  EXPECT_EQ(grid.bucket_seconds(0), 167 * 3600);
}

TEST(CalendarMonths, MonthsHaveTheirCalendarLengthInUtc) {
  BucketGrid leap = MakeOrDie(Utc("2024-01-15T00:00:00Z"), Utc("2024-04-02T00:00:00Z"),
                              Calendar(CalendarUnit::kMonth, "UTC"));
  EXPECT_EQ(Starts(leap),
            (std::vector<std::string>{"2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z",
                                      "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"}));
  EXPECT_EQ(Seconds(leap), (std::vector<double>{31 * 86400, 29 * 86400, 31 * 86400, 30 * 86400}));

  BucketGrid february = MakeOrDie(Utc("2026-02-10T00:00:00Z"), Utc("2026-02-11T00:00:00Z"),
                                  Calendar(CalendarUnit::kMonth, "UTC"));
  EXPECT_EQ(Starts(february), std::vector<std::string>{"2026-02-01T00:00:00Z"});
  EXPECT_EQ(february.bucket_seconds(0), 28 * 86400);
}

TEST(CalendarMonths, MonthsInAZoneRunFromLocalMidnightToLocalMidnight) {
  BucketGrid grid = MakeOrDie(Utc("2026-02-10T00:00:00Z"), Utc("2026-04-10T00:00:00Z"),
                              Calendar(CalendarUnit::kMonth, "Europe/Paris"));
  EXPECT_EQ(Starts(grid), (std::vector<std::string>{"2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z",
                                                    "2026-03-31T22:00:00Z"}));
  EXPECT_EQ(grid.bucket_end(2), Utc("2026-04-30T22:00:00Z"));
  // February 28 days; March 31 days less the hour lost on the 29th; April 30.
  EXPECT_EQ(Seconds(grid), (std::vector<double>{28 * 86400, 31 * 86400 - 3600, 30 * 86400}));
}

TEST(CalendarQuarters, QuartersStartInJanuaryAprilJulyAndOctober) {
  BucketGrid grid = MakeOrDie(Utc("2026-02-14T00:00:00Z"), Utc("2026-12-31T00:00:00Z"),
                              Calendar(CalendarUnit::kQuarter, "UTC"));
  EXPECT_EQ(Starts(grid),
            (std::vector<std::string>{"2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z",
                                      "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"}));
  EXPECT_EQ(grid.bucket_end(3), Utc("2027-01-01T00:00:00Z"));
  EXPECT_EQ(Seconds(grid), (std::vector<double>{90 * 86400, 91 * 86400, 92 * 86400, 92 * 86400}));

  BucketGrid paris = MakeOrDie(Utc("2026-05-01T00:00:00Z"), Utc("2026-05-02T00:00:00Z"),
                               Calendar(CalendarUnit::kQuarter, "Europe/Paris"));
  EXPECT_EQ(Starts(paris), std::vector<std::string>{"2026-03-31T22:00:00Z"});
  EXPECT_EQ(paris.bucket_end(0), Utc("2026-06-30T22:00:00Z"));
}

TEST(CalendarYears, YearsHave365Or366DaysAndStartAtLocalNewYear) {
  BucketGrid utc = MakeOrDie(Utc("2024-06-01T00:00:00Z"), Utc("2025-06-01T00:00:00Z"),
                             Calendar(CalendarUnit::kYear, "UTC"));
  EXPECT_EQ(Starts(utc),
            (std::vector<std::string>{"2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"}));
  EXPECT_EQ(Seconds(utc), (std::vector<double>{366 * 86400, 365 * 86400}));

  BucketGrid paris = MakeOrDie(Utc("2026-06-01T00:00:00Z"), Utc("2026-06-02T00:00:00Z"),
                               Calendar(CalendarUnit::kYear, "Europe/Paris"));
  EXPECT_EQ(Starts(paris), std::vector<std::string>{"2025-12-31T23:00:00Z"});
  EXPECT_EQ(paris.bucket_end(0), Utc("2026-12-31T23:00:00Z"));
  // An instant on local New Year's Day but still the old year in UTC.
  EXPECT_EQ(paris.BucketOf(Utc("2025-12-31T23:30:00Z")), 0u);
}

TEST(CalendarGrids, MoreThanMaxBucketsIsResourceExhausted) {
  const StepSpec days = Calendar(CalendarUnit::kDay, "Europe/Paris");
  const int64_t start = Utc("2025-12-31T23:00:00Z");  // 2026-01-01 00:00 in Paris
  const int64_t end = Utc("2026-12-31T23:00:00Z");
  EXPECT_EQ(MakeOrDie(start, end, days, 365).size(), 365u);
  ExpectError(start, end, days, 364, StatusCode::kResourceExhausted,
              "the grid would have more than max_buckets (364) buckets");
  ExpectError(start, end, days, 0, StatusCode::kResourceExhausted,
              "the grid would have more than max_buckets (0) buckets");
  // The whole int64 range in days would be ~2e11 buckets: refused, not generated.
  ExpectError(kMinMs, kMaxMs, days, 1000, StatusCode::kResourceExhausted,
              "the grid would have more than max_buckets (1000) buckets");
}

TEST(CalendarGrids, ClampBucketsThatReachPastTheInt64Range) {
  BucketGrid low = MakeOrDie(kMinMs, kMinMs + 1, Calendar(CalendarUnit::kDay, "Europe/Paris"));
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low.bucket_start(0), kMinMs);
  EXPECT_GT(low.bucket_end(0), kMinMs);
  EXPECT_LE(low.bucket_end(0), kMinMs + kDayMs);
  EXPECT_EQ(low.BucketOf(kMinMs), 0u);

  BucketGrid high = MakeOrDie(kMaxMs - 1, kMaxMs, Calendar(CalendarUnit::kYear, "Asia/Kolkata"));
  ASSERT_EQ(high.size(), 1u);
  EXPECT_LE(high.bucket_start(0), kMaxMs - 1);
  EXPECT_GE(high.bucket_start(0), kMaxMs - 367 * kDayMs);
  EXPECT_EQ(high.bucket_end(0), kMaxMs);
  EXPECT_EQ(high.BucketOf(kMaxMs - 1), 0u);
}

// ---- Bad input ---------------------------------------------------------------

TEST(BucketGridErrors, EachBadInputHasItsCodeAndMessage) {
  const StepSpec minute = Fixed(60'000);
  ExpectError(10, 10, minute, kNoLimit, StatusCode::kInvalidArgument,
              "end_ms must be greater than start_ms (start_ms 10, end_ms 10)");
  ExpectError(10, -5, minute, kNoLimit, StatusCode::kInvalidArgument,
              "end_ms must be greater than start_ms (start_ms 10, end_ms -5)");
  ExpectError(0, 10, Fixed(-1), kNoLimit, StatusCode::kInvalidArgument,
              "step_ms must not be negative (step_ms -1)");
  StepSpec negative_calendar = Calendar(CalendarUnit::kDay, "UTC");
  negative_calendar.step_ms = -60'000;
  ExpectError(0, 10, negative_calendar, kNoLimit, StatusCode::kInvalidArgument,
              "step_ms must not be negative (step_ms -60000)");
  StepSpec both = Calendar(CalendarUnit::kMonth, "UTC");
  both.step_ms = 60'000;
  ExpectError(0, 10, both, kNoLimit, StatusCode::kInvalidArgument,
              "step_ms and calendar are exclusive: give a fixed step_ms or a calendar unit, not "
              "both");
  ExpectError(0, 10, StepSpec{}, kNoLimit, StatusCode::kInvalidArgument,
              "step_ms or calendar must be set: raw points (no step) are not a grid");
}

TEST(BucketGridErrors, UnknownTimeZoneIsNamedInTheError) {
  ExpectError(0, 10, Calendar(CalendarUnit::kDay, "Mars/Olympus"), kNoLimit,
              StatusCode::kInvalidArgument,
              "time_zone \"Mars/Olympus\" is not a known IANA time zone");
  ExpectError(0, 10, Calendar(CalendarUnit::kDay, ""), kNoLimit, StatusCode::kInvalidArgument,
              "time_zone \"\" is not a known IANA time zone");
  // Nor is the server's own zone.
  ExpectError(0, 10, Calendar(CalendarUnit::kDay, "localtime"), kNoLimit,
              StatusCode::kInvalidArgument,
              "time_zone \"localtime\" is not a known IANA time zone");
  // Paths are not zone names, even when they lead to a zoneinfo file.
  ExpectError(0, 10, Calendar(CalendarUnit::kDay, "/usr/share/zoneinfo/Europe/Paris"), kNoLimit,
              StatusCode::kInvalidArgument,
              "time_zone \"/usr/share/zoneinfo/Europe/Paris\" is not a known IANA time zone");
  ExpectError(0, 10, Calendar(CalendarUnit::kWeek, "../zoneinfo/Europe/Paris"), kNoLimit,
              StatusCode::kInvalidArgument,
              "time_zone \"../zoneinfo/Europe/Paris\" is not a known IANA time zone");
}

// ---- Properties over random grids ----------------------------------------------

// The promises every grid keeps, checked with `probes` random timestamps.
void ExpectWellFormed(const BucketGrid& grid, int64_t start, int64_t end, std::mt19937_64& rng,
                      int probes) {
  ASSERT_GE(grid.size(), 1u);
  EXPECT_LE(grid.bucket_start(0), start);
  EXPECT_GE(grid.bucket_end(grid.size() - 1), end);
  EXPECT_GT(grid.bucket_end(0), start);                // no bucket wholly before start
  EXPECT_LT(grid.bucket_start(grid.size() - 1), end);  // nor wholly after end
  for (size_t i = 0; i < grid.size(); ++i) {
    ASSERT_LT(grid.bucket_start(i), grid.bucket_end(i)) << i;
    if (i + 1 < grid.size()) {
      ASSERT_EQ(grid.bucket_end(i), grid.bucket_start(i + 1)) << i;
    }
    EXPECT_GT(grid.bucket_seconds(i), 0);
  }
  EXPECT_EQ(grid.BucketOf(start), 0u);
  EXPECT_EQ(grid.BucketOf(end - 1), grid.size() - 1);
  std::uniform_int_distribution<int64_t> in_range(start, end - 1);
  for (int p = 0; p < probes; ++p) {
    const int64_t ts = in_range(rng);
    const size_t i = grid.BucketOf(ts);
    ASSERT_LT(i, grid.size());
    ASSERT_LE(grid.bucket_start(i), ts);
    ASSERT_LT(ts, grid.bucket_end(i));
  }
}

TEST(BucketGridProperties, RandomFixedGridsAreContiguousAndBucketOfIsConsistent) {
  std::mt19937_64 rng(20260329);
  const int64_t steps[] = {1, 7, 1000, 60'000, 3'600'000, kDayMs, 1'234'567'891, kMaxMs / 3};
  for (int trial = 0; trial < 2000; ++trial) {
    const int64_t step = steps[rng() % std::size(steps)];
    int64_t start;
    switch (trial % 3) {
      case 0:
        start = static_cast<int64_t>(rng() % 2'000'000'000'000) - 1'000'000'000'000;
        break;
      case 1:
        start = kMinMs + static_cast<int64_t>(rng() % 10'000);
        break;
      default:
        start = kMaxMs - static_cast<int64_t>(rng() % 10'000) - 1;
        break;
    }
    // Up to ~500 buckets, never past INT64_MAX.
    const uint64_t room = static_cast<uint64_t>(kMaxMs) - static_cast<uint64_t>(start);
    const uint64_t span_limit = std::min<uint64_t>(room, static_cast<uint64_t>(step) * 500);
    const int64_t end = start + 1 + static_cast<int64_t>(rng() % span_limit);
    SCOPED_TRACE("start " + std::to_string(start) + " end " + std::to_string(end) + " step " +
                 std::to_string(step));
    BucketGrid grid = MakeOrDie(start, end, Fixed(step));
    ExpectWellFormed(grid, start, end, rng, 50);
    for (size_t i = 1; i < grid.size(); ++i) ASSERT_EQ(grid.bucket_start(i) % step, 0);
  }
}

TEST(BucketGridProperties, RandomCalendarGridsAreContiguousAndStartAtLocalBoundaries) {
  std::mt19937_64 rng(20261025);
  const char* zones[] = {"UTC",
                         "Europe/Paris",
                         "America/New_York",
                         "Asia/Kolkata",
                         "America/Havana",
                         "Asia/Beirut",
                         "America/Santiago",
                         "Australia/Lord_Howe",
                         "Pacific/Chatham",
                         "America/Toronto",
                         "Pacific/Apia"};
  const CalendarUnit units[] = {CalendarUnit::kDay, CalendarUnit::kWeek, CalendarUnit::kMonth,
                                CalendarUnit::kQuarter, CalendarUnit::kYear};
  const int64_t max_span[] = {400 * kDayMs, 3 * 365 * kDayMs, 20 * 365 * kDayMs, 50 * 365 * kDayMs,
                              200 * 365 * kDayMs};
  for (int trial = 0; trial < 1500; ++trial) {
    const std::string zone = zones[rng() % std::size(zones)];
    const size_t u = rng() % std::size(units);
    // 1900..2100, where tzdata has real rules and real history.
    const int64_t start = Utc("1900-01-01T00:00:00Z") +
                          static_cast<int64_t>(rng() % (200 * 365 * static_cast<uint64_t>(kDayMs)));
    const int64_t end = start + 1 + static_cast<int64_t>(rng() % max_span[u]);
    SCOPED_TRACE(zone + " unit " + std::to_string(u) + " " + Rfc3339(start) + " .. " +
                 Rfc3339(end));
    BucketGrid grid = MakeOrDie(start, end, Calendar(units[u], zone));
    ExpectWellFormed(grid, start, end, rng, 30);

    // Each bucket starts on the first local day of its unit: at midnight, or
    // (midnight skipped) at the first instant after the gap, whose local date
    // is already that day.
    absl::TimeZone tz;
    ASSERT_TRUE(absl::LoadTimeZone(zone, &tz));
    for (size_t i = 0; i < grid.size(); ++i) {
      const absl::CivilSecond local =
          absl::ToCivilSecond(absl::FromUnixMillis(grid.bucket_start(i)), tz);
      const absl::CivilDay day(local);
      const absl::TimeZone::TimeInfo midnight = tz.At(absl::CivilSecond(day));
      if (midnight.kind == absl::TimeZone::TimeInfo::SKIPPED) {
        EXPECT_EQ(absl::ToUnixMillis(midnight.trans), grid.bucket_start(i)) << local;
      } else {
        EXPECT_EQ(absl::ToUnixMillis(midnight.pre), grid.bucket_start(i)) << local;
      }
      switch (units[u]) {
        case CalendarUnit::kWeek:
          EXPECT_EQ(absl::GetWeekday(day), absl::Weekday::monday) << local;
          break;
        case CalendarUnit::kMonth:
          EXPECT_EQ(day.day(), 1) << local;
          break;
        case CalendarUnit::kQuarter:
          EXPECT_EQ(day.day(), 1) << local;
          EXPECT_EQ((day.month() - 1) % 3, 0) << local;
          break;
        case CalendarUnit::kYear:
          EXPECT_EQ(day.day(), 1) << local;
          EXPECT_EQ(day.month(), 1) << local;
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace
}  // namespace kpidb::query
