// Ordering points: the one rule behind "last write wins".
#pragma once

#include <cstdint>
#include <vector>

namespace kpidb {

// Sorts the parallel columns by timestamp and keeps, of equal timestamps,
// the one that came LAST in the input (the newest write). Stable: callers
// append older points first.
void SortByTimestampKeepingLast(std::vector<int64_t>* timestamps, std::vector<double>* values);

}  // namespace kpidb
