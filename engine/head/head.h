// The head: recently written points, per series, in memory and readable as
// soon as they are applied. Points may arrive in any order and repeat a
// timestamp; a series is normalised (sorted by timestamp, last write of each
// timestamp kept) lazily, on the first read or flush after an out-of-order
// append, so in-order ingest never sorts.
//
// Thread-safety: Append may run concurrently with readers; the engine calls
// Append from one thread at a time (its write leader), which is what makes
// "last write" well defined.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/head/block_arena.h"
#include "kpidb/series.h"

namespace kpidb {

class Head {
 public:
  // Point blocks come from slabs of `slabs` (null: the head's own).
  explicit Head(std::shared_ptr<SlabPool> slabs = nullptr) : arena_(std::move(slabs)) {}
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  void Append(SeriesId id, std::span<const int64_t> timestamps, std::span<const double> values);

  // Makes room for `points` more points of series `id` (adding the series),
  // so that the next Appends of at most that many points in all allocate
  // nothing and cannot fail. Throws std::bad_alloc when memory runs out; the
  // head stays valid (what was reserved stays reserved, for later appends).
  // The write path reserves a whole group before logging it, so that an
  // allocation failure leaves nothing half-applied.
  void Reserve(SeriesId id, size_t points);

  // Appends to *timestamps/*values the points of `id` in [start_ms, end_ms),
  // sorted, one per timestamp (the last written). Returns the count added.
  size_t Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
              std::vector<double>* values) const;

  // Points appended for `id` (duplicates not yet dropped count too).
  size_t Count(SeriesId id) const;

  // Series ids present, sorted.
  std::vector<SeriesId> Ids() const;
  uint64_t points() const { return points_.load(std::memory_order_relaxed); }
  // Approximate memory held, for the flush trigger.
  uint64_t bytes() const;
  bool empty() const { return points() == 0; }

 private:
  // Points are kept in fixed-size blocks from the head's arena, so a
  // growing series never copies what it holds (no reallocation), and memory
  // freed by a flushed head is reused by the next (block_arena.h).
  struct PointBlock {
    // A series' first block holds kMinCapacity points; each next one twice
    // its predecessor, up to kMaxCapacity: small series stay small.
    static constexpr size_t kMinCapacity = 16;
    static constexpr size_t kMaxCapacity = 1024;
    static constexpr size_t kPointBytes = sizeof(int64_t) + sizeof(double);
    size_t size = 0;
    size_t capacity = 0;
    int64_t* timestamps = nullptr;  // capacity of each, in one arena block
    double* values = nullptr;
  };
  struct MemSeries {
    mutable std::mutex mu;
    // Mutable so that a const read can normalise in place.
    mutable std::vector<PointBlock> blocks;
    // Empty blocks made by Reserve, used (first to last) before allocating.
    mutable std::vector<PointBlock> spare;
    mutable bool normalized = true;  // strictly increasing across all blocks
    // Returns the bytes of the blocks it allocated.
    size_t AppendLocked(BlockArena& arena, std::span<const int64_t> timestamps,
                        std::span<const double> values) const;
    // The block to append into next, after one of `last_capacity` points
    // (0: the series' first).
    static PointBlock NewBlock(BlockArena& arena, size_t last_capacity);
    void NormalizeLocked(BlockArena& arena) const;
  };
  MemSeries* FindOrNull(SeriesId id) const;
  MemSeries& FindOrAdd(SeriesId id);

  mutable BlockArena arena_;  // outlives series_: declared first
  mutable std::shared_mutex mu_;  // guards the map, not the series
  std::unordered_map<SeriesId, std::unique_ptr<MemSeries>> series_;
  std::atomic<uint64_t> points_{0};
  std::atomic<uint64_t> bytes_{0};  // allocated by blocks (normalising may leave some unused)
};

}  // namespace kpidb
