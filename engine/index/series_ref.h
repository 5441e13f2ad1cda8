// A series as the series index knows it in memory: a dense number (0, 1,
// 2... in the order the index learnt of it), never persisted except inside
// series.idx, where it is the position of the series in the snapshot.
#pragma once

#include <cstdint>

namespace kpidb {

using SeriesRef = uint32_t;

}  // namespace kpidb
