// Several writers, readers and flushes at once (run under ThreadSanitizer in
// CI). Every value is a function of (series, timestamp), so whatever the
// interleaving, a reader must see sorted points with exactly those values,
// and in the end every written point is there.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "engine/core/engine_core.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

double ValueOf(int series, int64_t ts) { return series * 1e6 + static_cast<double>(ts) / 8.0; }

TEST(ConcurrentEngine, WritersReadersAndFlushesAgreeOnEveryPoint) {
  testing::TempDir dir;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  o.head_max_bytes = 96 << 10;
  o.segment_partition_ms = 20'000;
  o.max_points_per_chunk = 64;
  auto opened = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(opened.ok());
  EngineCore& engine = **opened;

  constexpr int kWriters = 4, kSeriesPerWriter = 3, kBatches = 150, kPoints = 40;
  std::atomic<bool> writers_done{false};
  std::atomic<int> read_errors{0};
  // written[s]: the timestamps written to series s (each writer owns its
  // series, so no two threads touch one set).
  std::vector<std::set<int64_t>> written(kWriters * kSeriesPerWriter);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w));
      for (int b = 0; b < kBatches; ++b) {
        WriteBatch batch;
        int series = w * kSeriesPerWriter + static_cast<int>(rng() % kSeriesPerWriter);
        SeriesPoints p{"kpi_c", {{"s", std::to_string(series)}}, {}, {}};
        for (int i = 0; i < kPoints; ++i) {
          // Mostly forward in time, sometimes rewriting the past.
          int64_t ts = (rng() % 10 == 0) ? static_cast<int64_t>(rng() % (b * kPoints + 1))
                                          : static_cast<int64_t>(b * kPoints + i);
          p.timestamps_ms.push_back(ts);
          p.values.push_back(ValueOf(series, ts));
          written[static_cast<size_t>(series)].insert(ts);
        }
        batch.series.push_back(std::move(p));
        Status s = engine.Write(batch);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(100u + static_cast<unsigned>(r));
      while (!writers_done.load()) {
        int series = static_cast<int>(rng() % (kWriters * kSeriesPerWriter));
        auto id = engine.FindSeries("kpi_c", {{"s", std::to_string(series)}});
        if (!id) continue;
        auto d = engine.Read(*id, 0, INT64_MAX);
        if (!d.ok()) {
          ++read_errors;
          continue;
        }
        for (size_t i = 0; i < d->values.size(); ++i) {
          if ((i > 0 && d->timestamps_ms[i] <= d->timestamps_ms[i - 1]) ||
              d->values[i] != ValueOf(series, d->timestamps_ms[i])) {
            ++read_errors;
            break;
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (!writers_done.load()) {
      EXPECT_TRUE(engine.Flush().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[static_cast<size_t>(w)].join();
  writers_done = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(read_errors.load(), 0);

  // Exactly the written timestamps are there, with their values.
  for (int series = 0; series < kWriters * kSeriesPerWriter; ++series) {
    const auto& want = written[static_cast<size_t>(series)];
    auto id = engine.FindSeries("kpi_c", {{"s", std::to_string(series)}});
    ASSERT_EQ(id.has_value(), !want.empty());
    if (!id) continue;
    auto d = engine.Read(*id, 0, INT64_MAX);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(std::set<int64_t>(d->timestamps_ms.begin(), d->timestamps_ms.end()), want);
    for (size_t i = 0; i < d->values.size(); ++i) {
      ASSERT_EQ(d->values[i], ValueOf(series, d->timestamps_ms[i]));
    }
  }
  EngineStats st = engine.GetStats();
  EXPECT_GT(st.flushes, 0u);
  EXPECT_EQ(st.series, static_cast<uint64_t>(kWriters * kSeriesPerWriter));
}

}  // namespace
}  // namespace kpidb
