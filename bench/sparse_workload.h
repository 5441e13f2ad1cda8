// A sparse, real-shaped data set for benchmarks, in the shape of public
// monitoring and business exports (none of them copied): 58 series, mostly
// one point every 5 minutes, about 6,300 points each on average, some over
// weeks and some over up to four years, about 370,000 points in all.
//
//   cloudwatch  17  5 min, ~4,000 points: CPU percent (3 decimals), bytes
//                   and request counts (integers); 1% of points missing
//   adexchange   6  1 h, ~1,600 points: cost per click, a ratio of two
//                   counts printed with 8 significant digits
//   traffic      7  ~5 min on whole minutes, jittered, 5% missing and a few
//                   outages of hours to days: speed and travel time
//                   (integers), occupancy (2 decimals)
//   social      10  5 min, ~15,850 points: mention counts (integers)
//   machine      7  5 min, 1,900 to 22,700 points: temperatures with 6 to
//                   8 decimals, counts (integers), latency (3 decimals); one
//                   in four on an irregular clock (exponential gaps, whole
//                   seconds)
//   business    11  ~6 h on whole minutes, jittered, over 2 to 4 years,
//                   ~4,300 points with gaps and outages: revenue as a sum of
//                   decimal line items (binary-float noise: 0.1 + 0.2 =
//                   0.30000000000000004), conversion rates as ratios
//
// Deterministic for a seed. Timestamps strictly increasing per series.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/kpi_workload.h"

namespace kpidb::bench {

std::vector<KpiSeries> GenerateSparseWorkload(uint64_t seed = 58);

}  // namespace kpidb::bench
