// The reference KPI workload for benchmarks: 200 series (kpi_visits,
// kpi_purchases, kpi_revenue, kpi_conversion_rate, kpi_cac x 5 channels x 4
// regions x 2 campaigns) at a 10 s step, as produced by
// /work/shared/bench/gen_kpi.py (see its README for the kpi.bin format).
//
// LoadKpiWorkload() reads kpi.bin from $KPIDB_KPI_BIN when it is set, and
// otherwise generates a deterministic C++ imitation with the same
// distributions (not the same numbers: Python's RNG is not reproduced).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kpidb/status.h"

namespace kpidb::bench {

struct KpiSeries {
  std::string metric;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name
  std::vector<int64_t> timestamps_ms;                       // strictly increasing
  std::vector<double> values;
};

struct KpiWorkloadOptions {
  int days = 2;                                   // gen_kpi.py's DAYS
  int64_t step_ms = 10'000;
  int64_t start_ms = 1'767'225'600'000;           // 2026-01-01T00:00:00Z
  uint64_t seed = 2026;
};

// Reads a kpi.bin file. Corruption on a malformed file, IOError if unreadable.
Result<std::vector<KpiSeries>> LoadKpiBin(const std::string& path);

// The deterministic imitation of gen_kpi.py.
std::vector<KpiSeries> GenerateKpiWorkload(const KpiWorkloadOptions& options = {});

// $KPIDB_KPI_BIN if set (aborts with a message if it cannot be read),
// otherwise GenerateKpiWorkload(options).
std::vector<KpiSeries> LoadKpiWorkload(const KpiWorkloadOptions& options = {});

// Moves every timestamp by a deterministic pseudo-random offset in
// [-max_jitter_ms, +max_jitter_ms], then nudges where needed so each series
// stays strictly increasing.
void JitterTimestamps(std::vector<KpiSeries>* workload, int64_t max_jitter_ms = 500,
                      uint64_t seed = 7);

}  // namespace kpidb::bench
