#include "engine/head.h"

#include <algorithm>
#include <numeric>

namespace kpidb {

void Head::MemSeries::NormalizeLocked() const {
  if (normalized) return;
  const size_t n = timestamps.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  // Stable: among equal timestamps, arrival order is kept, so the last one
  // in `order` is the last write.
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return timestamps[a] < timestamps[b]; });
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ts.reserve(n);
  vs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t k = order[i];
    if (i + 1 < n && timestamps[order[i + 1]] == timestamps[k]) continue;  // superseded
    ts.push_back(timestamps[k]);
    vs.push_back(values[k]);
  }
  timestamps.swap(ts);
  values.swap(vs);
  normalized = true;
}

Head::MemSeries* Head::FindOrNull(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto it = series_.find(id);
  return it == series_.end() ? nullptr : it->second.get();
}

void Head::Append(SeriesId id, std::span<const int64_t> timestamps,
                  std::span<const double> values) {
  MemSeries* s = FindOrNull(id);
  if (s == nullptr) {
    std::unique_lock lock(mu_);
    auto& slot = series_[id];
    if (!slot) slot = std::make_unique<MemSeries>();
    s = slot.get();
  }
  std::lock_guard lock(s->mu);
  bool in_order = s->normalized;
  bool have_last = !s->timestamps.empty();
  int64_t last = have_last ? s->timestamps.back() : 0;
  for (size_t i = 0; i < timestamps.size() && in_order; ++i) {
    if (have_last && timestamps[i] <= last) in_order = false;
    last = timestamps[i];
    have_last = true;
  }
  s->timestamps.insert(s->timestamps.end(), timestamps.begin(), timestamps.end());
  s->values.insert(s->values.end(), values.begin(), values.end());
  s->normalized = in_order;
  // Counts appended points; duplicates dropped by normalisation stay counted
  // until the head is flushed, which errs on the side of flushing early.
  points_.fetch_add(timestamps.size(), std::memory_order_relaxed);
}

size_t Head::Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
                  std::vector<double>* values) const {
  MemSeries* s = FindOrNull(id);
  if (s == nullptr) return 0;
  std::lock_guard lock(s->mu);
  s->NormalizeLocked();
  auto begin = std::lower_bound(s->timestamps.begin(), s->timestamps.end(), start_ms);
  auto end = std::lower_bound(begin, s->timestamps.end(), end_ms);
  size_t from = static_cast<size_t>(begin - s->timestamps.begin());
  size_t to = static_cast<size_t>(end - s->timestamps.begin());
  timestamps->insert(timestamps->end(), begin, end);
  values->insert(values->end(), s->values.begin() + from, s->values.begin() + to);
  return to - from;
}

std::vector<SeriesId> Head::Ids() const {
  std::shared_lock lock(mu_);
  std::vector<SeriesId> ids;
  ids.reserve(series_.size());
  for (const auto& [id, s] : series_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

uint64_t Head::bytes() const {
  std::shared_lock lock(mu_);
  return points() * (sizeof(int64_t) + sizeof(double)) + series_.size() * 160;
}

}  // namespace kpidb
