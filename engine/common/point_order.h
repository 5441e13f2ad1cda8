// Ordering points: the one rule behind "last write wins".
#pragma once

#include <cstdint>
#include <vector>

namespace kpidb {

// Sorts the parallel columns by timestamp and keeps, of equal timestamps,
// the one that came LAST in the input (the newest write). Stable: callers
// append older points first.
void SortByTimestampKeepingLast(std::vector<int64_t>* timestamps, std::vector<double>* values);

// Appends the points of the sorted columns ts/vs that lie in [start, end).
void AppendPointsInRange(const std::vector<int64_t>& ts, const std::vector<double>& vs,
                         int64_t start, int64_t end, std::vector<int64_t>* out_ts,
                         std::vector<double>* out_vs);

}  // namespace kpidb
