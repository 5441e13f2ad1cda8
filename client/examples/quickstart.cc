// Quickstart: writes a week of hourly visits for three channels through a
// BatchWriter, then asks for daily sums by channel (in Europe/Paris) and
// prints them.
//
//   scripts/run.sh &                      # a server on 127.0.0.1:7411
//   build/client/kpidb-quickstart [HOST:PORT]
#include <cstdio>
#include <ctime>

#include "client/batch_writer.h"
#include "client/client.h"

int main(int argc, char** argv) {
  const std::string address = argc > 1 ? argv[1] : "127.0.0.1:7411";
  auto connected = kpidb::Client::Connect(address);
  if (!connected.ok()) {
    std::fprintf(stderr, "connect: %s\n", connected.status().ToString().c_str());
    return 1;
  }
  kpidb::Client& client = **connected;

  constexpr int64_t kHour = 3'600'000;
  constexpr int64_t kWeekStart = 1'767'571'200'000;  // Monday 2026-01-05 00:00 UTC
  const char* channels[] = {"email", "search", "social"};
  {
    kpidb::BatchWriter writer(client);
    for (int c = 0; c < 3; ++c) {
      for (int h = 0; h < 7 * 24; ++h) {
        const double visits = 100.0 * (c + 1) + (h % 24) * 10;  // a daily shape per channel
        kpidb::Status s = writer.Add("kpi_visits", {{"channel", channels[c]}}, kWeekStart + h * kHour,
                                     visits);
        if (!s.ok()) {
          std::fprintf(stderr, "add: %s\n", s.ToString().c_str());
          return 1;
        }
      }
    }
    kpidb::Status s = writer.Flush();
    if (!s.ok()) {
      std::fprintf(stderr, "write: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("wrote %llu points\n",
                static_cast<unsigned long long>(writer.counters().points_sent));
  }

  kpidb::query::Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = kWeekStart - kHour;  // Paris midnight is 23:00 UTC
  q.end_ms = kWeekStart + 7 * 24 * kHour;
  q.step = {.calendar = kpidb::query::CalendarUnit::kDay, .time_zone = "Europe/Paris"};
  q.aggregation = kpidb::query::Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  auto result = client.QueryRange(q);
  if (!result.ok()) {
    std::fprintf(stderr, "query: %s\n", result.status().ToString().c_str());
    return 1;
  }
  for (const kpidb::query::ResultSeries& r : *result) {
    std::printf("%s\n", kpidb::SeriesKey{r.metric, r.labels}.ToString().c_str());
    for (size_t i = 0; i < r.timestamps_ms.size(); ++i) {
      const std::time_t t = r.timestamps_ms[i] / 1000;
      char day[32];
      std::strftime(day, sizeof day, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
      std::printf("  %s  %.0f\n", day, r.values[i]);
    }
  }
  return 0;
}
