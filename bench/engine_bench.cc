// Embedded engine benchmarks on the reference KPI workload (bench/README.md):
//   BM_Ingest/<writers>/<policy>/<wait_us>  points/s written by N threads
//                                 in 1,000-point batches (policy 0 = always,
//                                 1 = interval 100 ms, 2 = none; wait_us =
//                                 group_commit_wait_us)
//   BM_FlushedBytesPerPoint       bytes on disk per point after a flush
//   BM_RangeScan                  points/s reading every series whole
// Data: $KPIDB_KPI_BIN (gen_kpi.py output) or the C++ imitation, 2 days by
// default ($KPIDB_DAYS to change). Each ingest iteration starts from an
// empty data dir under $TMPDIR.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bench/engine_fixture.h"
#include "bench/kpi_workload.h"
#include "engine/core/engine_core.h"

namespace kpidb::bench {
namespace {

EngineOptions BenchOptions(WalSyncPolicy policy, uint32_t group_commit_wait_us = 200) {
  EngineOptions o;
  o.wal_sync = policy;
  o.group_commit_wait_us = group_commit_wait_us;
  o.logger = [](std::string_view) {};
  o.head_max_bytes = 1ull << 30;  // ingest measures the write path, not flushes
  return o;
}

void BM_Ingest(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  const auto policy = static_cast<WalSyncPolicy>(state.range(1));
  const auto wait_us = static_cast<uint32_t>(state.range(2));
  Batches();  // build outside the timing
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = FreshDir();
    auto engine = OpenOrDie(dir, BenchOptions(policy, wait_us));
    state.ResumeTiming();
    WriteAll(*engine, writers);
    state.PauseTiming();
    engine.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["points/s"] = benchmark::Counter(
      static_cast<double>(TotalPoints()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
// policy 0 (always) with and without the group-commit wait, side by side.
BENCHMARK(BM_Ingest)
    ->ArgsProduct({{1, 2, 4}, {0}, {0, 200}})
    ->ArgsProduct({{1, 2, 4}, {1, 2}, {0}})
    ->ArgNames({"writers", "policy", "wait_us"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

// One flushed data dir shared by the read benchmarks.
struct Flushed {
  std::string dir;
  std::unique_ptr<EngineCore> engine;
  std::vector<SeriesId> ids;
};
Flushed& FlushedEngine() {
  static Flushed f = [] {
    Flushed out;
    out.dir = FreshDir();
    out.engine = OpenOrDie(out.dir, BenchOptions(WalSyncPolicy::kNone));
    WriteAll(*out.engine, 2);
    if (!out.engine->Flush().ok()) std::abort();
    out.ids = out.engine->SelectSeries("", {});
    return out;
  }();
  return f;
}

void BM_FlushedBytesPerPoint(benchmark::State& state) {
  Flushed& f = FlushedEngine();
  for (auto _ : state) benchmark::DoNotOptimize(f.engine->GetStats());
  EngineStats st = f.engine->GetStats();
  uint64_t dir_bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(f.dir)) {
    if (e.is_regular_file()) dir_bytes += e.file_size();
  }
  state.counters["segment_bytes/point"] =
      static_cast<double>(st.segment_bytes) / static_cast<double>(st.segment_points);
  state.counters["dir_bytes/point"] =
      static_cast<double>(dir_bytes) / static_cast<double>(st.segment_points);
  state.counters["points"] = static_cast<double>(st.segment_points);
  state.counters["segments"] = static_cast<double>(st.segments);
}
BENCHMARK(BM_FlushedBytesPerPoint)->Iterations(1);

void BM_RangeScan(benchmark::State& state) {
  Flushed& f = FlushedEngine();
  uint64_t points = 0;
  for (auto _ : state) {
    for (SeriesId id : f.ids) {
      auto d = f.engine->Read(id, INT64_MIN, INT64_MAX);
      if (!d.ok()) std::abort();
      points += d->values.size();
    }
  }
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RangeScan)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kpidb::bench

BENCHMARK_MAIN();
