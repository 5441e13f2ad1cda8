#include "engine/common/point_order.h"

#include <algorithm>
#include <numeric>

namespace kpidb {

void SortByTimestampKeepingLast(std::vector<int64_t>* timestamps, std::vector<double>* values) {
  const std::vector<int64_t>& ts = *timestamps;
  const size_t n = ts.size();
  if (std::adjacent_find(ts.begin(), ts.end(), std::greater_equal<int64_t>()) == ts.end()) {
    return;  // already strictly increasing
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ts[a] < ts[b]; });
  std::vector<int64_t> out_ts;
  std::vector<double> out_vs;
  out_ts.reserve(n);
  out_vs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && ts[order[i + 1]] == ts[order[i]]) continue;  // a newer one follows
    out_ts.push_back(ts[order[i]]);
    out_vs.push_back((*values)[order[i]]);
  }
  timestamps->swap(out_ts);
  values->swap(out_vs);
}

void AppendPointsInRange(const std::vector<int64_t>& ts, const std::vector<double>& vs,
                         int64_t start, int64_t end, std::vector<int64_t>* out_ts,
                         std::vector<double>* out_vs) {
  auto b = std::lower_bound(ts.begin(), ts.end(), start);
  auto e = std::lower_bound(b, ts.end(), end);
  out_ts->insert(out_ts->end(), b, e);
  out_vs->insert(out_vs->end(), vs.begin() + (b - ts.begin()), vs.begin() + (e - ts.begin()));
}

}  // namespace kpidb
