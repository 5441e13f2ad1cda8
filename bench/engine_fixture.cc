#include "bench/engine_fixture.h"

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace kpidb::bench {

const std::vector<KpiSeries>& Workload() {
  static const std::vector<KpiSeries> workload = [] {
    KpiWorkloadOptions o;
    if (const char* days = std::getenv("KPIDB_DAYS")) o.days = std::atoi(days);
    return LoadKpiWorkload(o);
  }();
  return workload;
}

uint64_t TotalPoints() {
  uint64_t n = 0;
  for (const KpiSeries& s : Workload()) n += s.values.size();
  return n;
}

// The workload cut into 1,000-point single-series batches, interleaved across
// series the way many services writing at once would send them.
const std::vector<WriteBatch>& Batches() {
  static const std::vector<WriteBatch> batches = [] {
    std::vector<WriteBatch> out;
    size_t longest = 0;
    for (const KpiSeries& s : Workload()) longest = std::max(longest, s.values.size());
    for (size_t start = 0; start < longest; start += kBatchPoints) {
      for (const KpiSeries& s : Workload()) {
        if (start >= s.values.size()) continue;
        size_t end = std::min(s.values.size(), start + kBatchPoints);
        WriteBatch b;
        SeriesPoints p;
        p.metric = s.metric;
        for (const auto& [name, value] : s.labels) p.labels.push_back({name, value});
        p.timestamps_ms.assign(s.timestamps_ms.begin() + static_cast<ptrdiff_t>(start),
                               s.timestamps_ms.begin() + static_cast<ptrdiff_t>(end));
        p.values.assign(s.values.begin() + static_cast<ptrdiff_t>(start),
                        s.values.begin() + static_cast<ptrdiff_t>(end));
        b.series.push_back(std::move(p));
        out.push_back(std::move(b));
      }
    }
    return out;
  }();
  return batches;
}

std::string FreshDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kpidb-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

std::unique_ptr<EngineCore> OpenOrDie(const std::string& dir, const EngineOptions& o) {
  auto e = EngineCore::Open(dir, o);
  if (!e.ok()) {
    std::fprintf(stderr, "open: %s\n", e.status().ToString().c_str());
    std::abort();
  }
  return std::move(e).value();
}

void WriteAll(EngineCore& engine, int writers) {
  const auto& batches = Batches();
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < batches.size(); i = next++) {
        Status s = engine.Write(batches[i]);
        if (!s.ok()) {
          std::fprintf(stderr, "write: %s\n", s.ToString().c_str());
          std::abort();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace kpidb::bench
