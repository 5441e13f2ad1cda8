#include "engine/head/head.h"

#include <algorithm>

#include "engine/common/point_order.h"

namespace kpidb {

Head::PointBlock Head::MemSeries::NewBlock(BlockArena& arena, size_t last_capacity) {
  PointBlock b;
  b.capacity = last_capacity == 0 ? PointBlock::kMinCapacity
                                  : std::min(PointBlock::kMaxCapacity, 2 * last_capacity);
  void* memory = arena.Allocate(b.capacity * PointBlock::kPointBytes);
  b.timestamps = static_cast<int64_t*>(memory);
  b.values = reinterpret_cast<double*>(b.timestamps + b.capacity);
  return b;
}

size_t Head::MemSeries::AppendLocked(BlockArena& arena, std::span<const int64_t> timestamps,
                                     std::span<const double> values) const {
  size_t allocated = 0;
  bool have_last = !blocks.empty() && blocks.back().size > 0;
  int64_t last = have_last ? blocks.back().timestamps[blocks.back().size - 1] : 0;
  for (size_t i = 0; i < timestamps.size();) {
    if (blocks.empty() || blocks.back().size == blocks.back().capacity) {
      // Memory first: if it throws, the series is as it was. A reserved
      // block (and the room Reserve made in `blocks`) allocates nothing.
      if (blocks.size() == blocks.capacity()) blocks.reserve(std::max<size_t>(4, 2 * blocks.capacity()));
      if (!spare.empty()) {
        blocks.push_back(spare.front());
        spare.erase(spare.begin());
      } else {
        blocks.push_back(NewBlock(arena, blocks.empty() ? 0 : blocks.back().capacity));
        allocated += sizeof(PointBlock) + blocks.back().capacity * PointBlock::kPointBytes;
      }
    }
    PointBlock& b = blocks.back();
    const size_t n = std::min(b.capacity - b.size, timestamps.size() - i);
    for (size_t k = 0; k < n; ++k) {
      const int64_t t = timestamps[i + k];
      if (have_last && t <= last) normalized = false;
      last = t;
      have_last = true;
      b.timestamps[b.size + k] = t;
      b.values[b.size + k] = values[i + k];
    }
    b.size += n;
    i += n;
  }
  return allocated;
}

void Head::MemSeries::NormalizeLocked(BlockArena& arena) const {
  if (normalized) return;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const PointBlock& b : blocks) {
    ts.insert(ts.end(), b.timestamps, b.timestamps + b.size);
    vs.insert(vs.end(), b.values, b.values + b.size);
    arena.Free(b.timestamps, b.capacity * PointBlock::kPointBytes);
  }
  SortByTimestampKeepingLast(&ts, &vs);
  blocks.clear();
  normalized = true;
  AppendLocked(arena, ts, vs);  // Head::bytes_ keeps counting the old blocks: errs early
}

Head::MemSeries* Head::FindOrNull(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto it = series_.find(id);
  return it == series_.end() ? nullptr : it->second.get();
}

Head::MemSeries& Head::FindOrAdd(SeriesId id) {
  if (MemSeries* s = FindOrNull(id)) return *s;
  std::unique_lock lock(mu_);
  auto& slot = series_[id];
  if (!slot) slot = std::make_unique<MemSeries>();  // on bad_alloc the slot stays null
  return *slot;
}

void Head::Reserve(SeriesId id, size_t points) {
  MemSeries& s = FindOrAdd(id);
  std::lock_guard lock(s.mu);
  size_t room = s.blocks.empty() ? 0 : s.blocks.back().capacity - s.blocks.back().size;
  for (const PointBlock& b : s.spare) room += b.capacity;
  while (room < points) {
    // A capacity, not a pointer: reserving may move the blocks.
    const size_t last = !s.spare.empty()    ? s.spare.back().capacity
                        : !s.blocks.empty() ? s.blocks.back().capacity
                                            : 0;
    if (s.spare.size() == s.spare.capacity()) s.spare.reserve(std::max<size_t>(4, 2 * s.spare.capacity()));
    s.spare.push_back(MemSeries::NewBlock(arena_, last));
    room += s.spare.back().capacity;
    bytes_.fetch_add(sizeof(PointBlock) + s.spare.back().capacity * PointBlock::kPointBytes,
                     std::memory_order_relaxed);
  }
  // Room for every spare block to move in, growing geometrically (a
  // reserve of the exact size would reallocate on every write).
  const size_t need = s.blocks.size() + s.spare.size() + 1;
  if (s.blocks.capacity() < need) s.blocks.reserve(std::max(need, 2 * s.blocks.capacity()));
}

void Head::Append(SeriesId id, std::span<const int64_t> timestamps,
                  std::span<const double> values) {
  MemSeries* s = &FindOrAdd(id);
  std::lock_guard lock(s->mu);
  bytes_.fetch_add(s->AppendLocked(arena_, timestamps, values), std::memory_order_relaxed);
  // Counts appended points; duplicates dropped by normalisation stay counted
  // until the head is flushed, which errs on the side of flushing early.
  points_.fetch_add(timestamps.size(), std::memory_order_relaxed);
}

size_t Head::Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
                  std::vector<double>* values) const {
  MemSeries* s = FindOrNull(id);
  if (s == nullptr) return 0;
  std::lock_guard lock(s->mu);
  s->NormalizeLocked(arena_);
  const auto& blocks = s->blocks;
  // Normalised: sorted across blocks. Skip the blocks that end before start.
  auto first = std::partition_point(blocks.begin(), blocks.end(), [&](const auto& b) {
    return b.timestamps[b.size - 1] < start_ms;
  });
  size_t added = 0;
  for (auto it = first; it != blocks.end(); ++it) {
    const PointBlock& b = *it;
    const int64_t* ts = b.timestamps;
    const int64_t* begin = std::lower_bound(ts, ts + b.size, start_ms);
    const int64_t* end = std::lower_bound(begin, ts + b.size, end_ms);
    const size_t from = static_cast<size_t>(begin - ts);
    const size_t to = static_cast<size_t>(end - ts);
    timestamps->insert(timestamps->end(), begin, end);
    values->insert(values->end(), b.values + from, b.values + to);
    added += to - from;
    if (to < b.size) break;  // reached end_ms
  }
  return added;
}

size_t Head::Count(SeriesId id) const {
  MemSeries* s = FindOrNull(id);
  if (s == nullptr) return 0;
  std::lock_guard lock(s->mu);
  size_t n = 0;
  for (const PointBlock& b : s->blocks) n += b.size;
  return n;
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
  return bytes_.load(std::memory_order_relaxed) + series_.size() * sizeof(MemSeries) * 2;
}

}  // namespace kpidb
