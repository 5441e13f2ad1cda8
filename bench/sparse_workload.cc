#include "bench/sparse_workload.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

namespace kpidb::bench {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kFirstStart = 1'609'459'200'000;  // 2021-01-01T00:00:00Z

enum class Values {
  kPercent3,      // a bounded random walk with a daily cycle, 3 decimals
  kBytes,         // lognormal integers
  kCount,         // Poisson-like integers with a daily cycle
  kRatio,         // a ratio of two counts: every digit of a double
  kSmallInt,      // integers around a level (speed, travel time)
  kFraction2,     // 0..1 with 2 decimals
  kTemperature,   // a slow walk with 6 to 8 decimals
  kRevenue,       // a sum of decimal line items, binary-float noise and all
};

enum class Clock {
  kRegular,       // exact multiples of the interval, a few missing
  kJittered,      // whole minutes around the interval, missing points, outages
  kIrregular,     // exponential gaps around the interval
};

struct Profile {
  const char* metric;
  const char* source;
  int series;
  int64_t interval_ms;
  int min_points, max_points;
  Clock clock;
  double missing;  // probability a point is skipped
  std::vector<Values> values;  // cycled over the profile's series
};

double Quantize(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace

std::vector<KpiSeries> GenerateSparseWorkload(uint64_t seed) {
  const std::vector<Profile> profiles = {
      {"cloud_metric", "cloudwatch", 17, 5 * kMinute, 3500, 4700, Clock::kRegular, 0.01,
       {Values::kPercent3, Values::kBytes, Values::kCount, Values::kPercent3}},
      {"ad_price", "adexchange", 6, kHour, 1450, 1650, Clock::kRegular, 0.005, {Values::kRatio}},
      {"road_traffic", "traffic", 7, 5 * kMinute, 1100, 2600, Clock::kJittered, 0.05,
       {Values::kSmallInt, Values::kSmallInt, Values::kFraction2}},
      {"social_mentions", "social", 10, 5 * kMinute, 15800, 15900, Clock::kRegular, 0.0,
       {Values::kCount}},
      {"machine_reading", "machine", 7, 5 * kMinute, 1900, 22700, Clock::kRegular, 0.002,
       {Values::kTemperature, Values::kCount, Values::kPercent3, Values::kTemperature}},
      {"business_kpi", "business", 11, 6 * kHour, 2900, 5800, Clock::kJittered, 0.03,
       {Values::kRevenue, Values::kRatio}},
  };
  std::mt19937_64 rng(seed);
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto normal = [&](double sd) { return std::normal_distribution<double>(0, sd)(rng); };
  std::vector<KpiSeries> out;
  for (const Profile& p : profiles) {
    for (int k = 0; k < p.series; ++k) {
      KpiSeries s;
      s.metric = p.metric;
      s.labels = {{"series", std::to_string(k)}, {"source", p.source}};
      const int n = std::uniform_int_distribution<int>(p.min_points, p.max_points)(rng);
      // Start anywhere in the four years, at a whole minute, leaving room.
      const int64_t span = static_cast<int64_t>(n) * p.interval_ms;
      const int64_t latest = kFirstStart + 4 * 365 * kDay - span;
      int64_t t = kFirstStart +
                  std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, latest - kFirstStart))(rng) /
                      kMinute * kMinute;
      // Every fourth machine series keeps its own irregular clock, at whole
      // seconds (event-driven readings).
      const Clock clock = p.clock == Clock::kRegular && std::string(p.source) == "machine" && k % 4 == 3
                              ? Clock::kIrregular
                              : p.clock;
      if (clock == Clock::kRegular) t = t / p.interval_ms * p.interval_ms;
      const Values kind = p.values[static_cast<size_t>(k) % p.values.size()];
      double level = uniform(10, 90), walk = 0;
      const double scale = std::pow(10.0, uniform(2, 7));
      const int decimals = 6 + k % 3;
      for (int i = 0; i < n; ++i) {
        // The next timestamp.
        switch (clock) {
          case Clock::kRegular:
            t += p.interval_ms;
            break;
          case Clock::kJittered:
            t += p.interval_ms + (std::uniform_int_distribution<int>(-1, 1)(rng)) * kMinute;
            if (uniform(0, 1) < 0.002) t += std::uniform_int_distribution<int64_t>(1, 72)(rng) * kHour;
            break;
          case Clock::kIrregular: {
            const double gap = std::exponential_distribution<double>(1.0)(rng) * static_cast<double>(p.interval_ms);
            t += std::max<int64_t>(1000, static_cast<int64_t>(gap) / 1000 * 1000);
            break;
          }
        }
        if (uniform(0, 1) < p.missing) continue;
        const double day_phase = std::sin(2 * M_PI * static_cast<double>(t % kDay) / kDay);
        double v = 0;
        switch (kind) {
          case Values::kPercent3:
            walk = std::clamp(walk + normal(0.8), -40.0, 40.0);
            v = Quantize(std::clamp(level + walk + 8 * day_phase + normal(1.5), 0.0, 100.0), 3);
            break;
          case Values::kBytes:
            v = std::round(std::exp(normal(0.6)) * scale * (1.2 + day_phase));
            break;
          case Values::kCount:
            v = std::max(0.0, std::round(level * (1.1 + day_phase) + normal(std::sqrt(level))));
            break;
          case Values::kRatio: {
            // As an export prints a computed ratio: 8 significant digits.
            const double clicks = std::max(1.0, std::round(level * 10 * (1.2 + day_phase) + normal(5)));
            const double cost = Quantize(clicks * uniform(0.05, 0.4), 2);
            const double ratio = cost / clicks;
            v = Quantize(ratio, 7 - static_cast<int>(std::floor(std::log10(ratio))));
            break;
          }
          case Values::kSmallInt:
            v = std::max(0.0, std::round(level + 10 * day_phase + normal(4)));
            break;
          case Values::kFraction2:
            v = Quantize(std::clamp(0.08 + 0.06 * day_phase + normal(0.03), 0.0, 1.0), 2);
            break;
          case Values::kTemperature:
            walk += normal(0.05);
            v = Quantize(level + walk + 2 * day_phase + normal(0.3), decimals);
            break;
          case Values::kRevenue: {
            // Line items in cents, summed as doubles the way an export does.
            const int items = 1 + static_cast<int>(uniform(0, 6));
            for (int j = 0; j < items; ++j) v += Quantize(uniform(0.5, 300), 2);
            break;
          }
        }
        if (!s.timestamps_ms.empty() && t <= s.timestamps_ms.back()) continue;
        s.timestamps_ms.push_back(t);
        s.values.push_back(v);
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace kpidb::bench
