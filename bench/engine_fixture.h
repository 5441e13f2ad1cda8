// Shared by the engine-level benchmarks: the reference workload as
// write batches, fresh data dirs, and loading an engine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/kpi_workload.h"
#include "engine/core/engine_core.h"

namespace kpidb::bench {

inline constexpr size_t kBatchPoints = 1000;

// The workload ($KPIDB_KPI_BIN, or generated for $KPIDB_DAYS days), loaded once.
const std::vector<KpiSeries>& Workload();
uint64_t TotalPoints();
// The workload cut into kBatchPoints-point single-series batches, interleaved
// across series the way many services writing at once would send them.
const std::vector<WriteBatch>& Batches();
// A new empty directory under $TMPDIR.
std::string FreshDir();
std::unique_ptr<EngineCore> OpenOrDie(const std::string& dir, const EngineOptions& options);
// Writes Batches() from `writers` threads; aborts on any error.
void WriteAll(EngineCore& engine, int writers);

}  // namespace kpidb::bench
