#include "engine/head/head.h"

#include <algorithm>
#include <bit>

#include "engine/common/hash_table_growth.h"
#include "engine/common/point_order.h"

namespace kpidb {

size_t Head::MemSeries::room() const {
  size_t room = 0;
  for (size_t i = current; i < blocks.size(); ++i) room += blocks[i].capacity - blocks[i].size;
  return room;
}

size_t Head::MemSeries::AddBlock(BlockArena& arena, size_t wanted) const {
  // Room in `blocks` first: if either allocation throws, nothing changed.
  if (blocks.size() == blocks.capacity()) blocks.reserve(2 * blocks.capacity());
  PointBlock b;
  if (blocks.empty()) {
    const size_t want = std::clamp<size_t>(wanted, PointBlock::kMinCapacity, PointBlock::kMaxCapacity);
    // The smallest block that holds it (a first write of 10 points takes
    // 10, of 9 points 10, not 16: block_arena.h).
    b.capacity = static_cast<uint32_t>(
        BlockArena::SmallestBlockFor(want * PointBlock::kPointBytes) / PointBlock::kPointBytes);
  } else {
    b.capacity = std::min(PointBlock::kMaxCapacity, 2 * blocks.back().capacity);
  }
  b.timestamps = static_cast<int64_t*>(arena.Allocate(b.capacity * PointBlock::kPointBytes));
  blocks.push_back(b);
  return b.capacity * PointBlock::kPointBytes;
}

size_t Head::MemSeries::ReserveLocked(BlockArena& arena, size_t points) const {
  size_t allocated = 0;
  for (size_t have = room(); have < points; have = room()) allocated += AddBlock(arena, points - have);
  return allocated;
}

void Head::MemSeries::AppendLocked(std::span<const int64_t> timestamps,
                                   std::span<const double> values) const {
  const size_t have = filled();
  bool have_last = have > 0;
  int64_t last = have_last ? blocks[have - 1].timestamps[blocks[have - 1].size - 1] : 0;
  for (size_t i = 0; i < timestamps.size();) {
    while (blocks[current].size == blocks[current].capacity) ++current;  // room is reserved
    PointBlock& b = blocks[current];
    const size_t n = std::min<size_t>(b.capacity - b.size, timestamps.size() - i);
    double* vs = b.values();
    for (size_t k = 0; k < n; ++k) {
      const int64_t t = timestamps[i + k];
      if (have_last && t <= last) normalized = false;
      last = t;
      have_last = true;
      b.timestamps[b.size + k] = t;
      vs[b.size + k] = values[i + k];
    }
    b.size += static_cast<uint32_t>(n);
    i += n;
  }
}

void Head::MemSeries::NormalizeLocked() const {
  if (normalized) return;
  // Copied out (if this throws, nothing changed), sorted, and written back
  // into the same blocks: there are no more points than before, so nothing
  // is allocated in the head and the reserved room stays.
  std::vector<int64_t> ts;
  std::vector<double> vs;
  const size_t have = filled();
  for (size_t i = 0; i < have; ++i) {
    const PointBlock& b = blocks[i];
    ts.insert(ts.end(), b.timestamps, b.timestamps + b.size);
    vs.insert(vs.end(), b.values(), b.values() + b.size);
  }
  SortByTimestampKeepingLast(&ts, &vs);
  size_t from = 0;
  current = 0;
  for (size_t i = 0; i < have; ++i) {
    PointBlock& b = blocks[i];
    const size_t n = std::min<size_t>(b.capacity, ts.size() - from);
    std::copy(ts.begin() + from, ts.begin() + from + n, b.timestamps);
    std::copy(vs.begin() + from, vs.begin() + from + n, b.values());
    b.size = static_cast<uint32_t>(n);
    from += n;
    if (n > 0) current = static_cast<uint32_t>(i);
  }
  normalized = true;
}

const Head::MemSeries* Head::FindOrNull(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto it = slots_.find(IdKey{id});
  return it == slots_.end() ? nullptr : &series_[*it];
}

const Head::MemSeries& Head::FindOrAdd(SeriesId id) {
  if (const MemSeries* s = FindOrNull(id)) return *s;
  std::unique_lock lock(mu_);
  if (auto it = slots_.find(IdKey{id}); it != slots_.end()) return series_[*it];
  // The id first: slots_ hashes the new slot by it. If anything throws,
  // the head is as it was.
  const auto slot = static_cast<Slot>(ids_.size());
  GrowForInsert(slots_);  // the insert below then allocates nothing
  ids_.push_back(id);
  try {
    series_.emplace_back();
  } catch (...) {
    ids_.pop_back();
    throw;
  }
  slots_.insert(slot);
  return series_.back();
}

Head::Place Head::Reserve(SeriesId id, size_t points) {
  const MemSeries& s = FindOrAdd(id);
  std::lock_guard lock(StripeOf(id));
  bytes_.fetch_add(s.ReserveLocked(arena_, points), std::memory_order_relaxed);
  return Place(&s);
}

void Head::Append(SeriesId id, std::span<const int64_t> timestamps,
                  std::span<const double> values) {
  Append(Place(&FindOrAdd(id)), id, timestamps, values);
}

void Head::Append(Place place, SeriesId id, std::span<const int64_t> timestamps,
                  std::span<const double> values) {
  const MemSeries& s = *place.series_;
  std::lock_guard lock(StripeOf(id));
  // Memory first (nothing to do after a Reserve of these points): if it
  // throws, the series holds what it held.
  bytes_.fetch_add(s.ReserveLocked(arena_, timestamps.size()), std::memory_order_relaxed);
  s.AppendLocked(timestamps, values);
  if (!timestamps.empty()) {
    const int64_t lowest = *std::min_element(timestamps.begin(), timestamps.end());
    int64_t seen = min_ts_.load(std::memory_order_relaxed);
    while (lowest < seen && !min_ts_.compare_exchange_weak(seen, lowest, std::memory_order_relaxed)) {
    }
  }
  // Counts appended points; duplicates dropped by normalisation stay counted
  // until the head is flushed, which errs on the side of flushing early.
  points_.fetch_add(timestamps.size(), std::memory_order_relaxed);
}

size_t Head::Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
                  std::vector<double>* values) const {
  const MemSeries* s = FindOrNull(id);
  if (s == nullptr) return 0;
  std::lock_guard lock(StripeOf(id));
  return ReadLocked(*s, start_ms, end_ms, timestamps, values);
}

size_t Head::ReadLocked(const MemSeries& s, int64_t start_ms, int64_t end_ms,
                        std::vector<int64_t>* timestamps, std::vector<double>* values) {
  s.NormalizeLocked();
  const auto blocks = std::span<const PointBlock>(s.blocks.data(), s.filled());
  // Normalised: sorted across blocks. Skip the blocks that end before start.
  auto first = std::partition_point(blocks.begin(), blocks.end(), [&](const PointBlock& b) {
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
    values->insert(values->end(), b.values() + from, b.values() + to);
    added += to - from;
    if (to < b.size) break;  // reached end_ms
  }
  return added;
}

Status Head::ForEachSeries(
    const std::function<Status(SeriesId, std::span<const int64_t>, std::span<const double>)>& fn)
    const {
  // 16 bytes a series for the flush's walk: mapped, so that it goes back to
  // the system after the flush (mapped_allocator.h).
  using Entry = std::pair<SeriesId, const MemSeries*>;
  std::vector<Entry, MappedAllocator<Entry>> order;
  {
    std::shared_lock lock(mu_);
    order.reserve(ids_.size());
    for (Slot slot = 0; slot < ids_.size(); ++slot) order.emplace_back(ids_[slot], &series_[slot]);
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const auto& [id, s] : order) {
    ts.clear();
    vs.clear();
    {
      std::lock_guard lock(StripeOf(id));
      ReadLocked(*s, INT64_MIN, INT64_MAX, &ts, &vs);
    }
    if (ts.empty()) continue;
    KPIDB_RETURN_IF_ERROR(fn(id, ts, vs));
  }
  return Status::Ok();
}

size_t Head::Count(SeriesId id) const {
  const MemSeries* s = FindOrNull(id);
  if (s == nullptr) return 0;
  std::lock_guard lock(StripeOf(id));
  size_t n = 0;
  for (size_t i = 0; i < s->filled(); ++i) n += s->blocks[i].size;
  return n;
}

uint64_t Head::bytes() const {
  std::shared_lock lock(mu_);
  // A series' slot in series_, ids_ and slots_ (at most half full after
  // growing); its blocks are in bytes_.
  constexpr size_t kPerSeries = sizeof(MemSeries) + sizeof(SeriesId) + 2 * (sizeof(Slot) + 1);
  return bytes_.load(std::memory_order_relaxed) + series_.size() * kPerSeries;
}

}  // namespace kpidb
