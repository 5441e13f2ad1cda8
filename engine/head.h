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

#include "engine/series.h"

namespace kpidb {

class Head {
 public:
  Head() = default;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  void Append(SeriesId id, std::span<const int64_t> timestamps, std::span<const double> values);

  // Appends to *timestamps/*values the points of `id` in [start_ms, end_ms),
  // sorted, one per timestamp (the last written). Returns the count added.
  size_t Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
              std::vector<double>* values) const;

  // Series ids present, sorted.
  std::vector<SeriesId> Ids() const;
  uint64_t points() const { return points_.load(std::memory_order_relaxed); }
  // Approximate memory held, for the flush trigger.
  uint64_t bytes() const;
  bool empty() const { return points() == 0; }

 private:
  // Points are kept in fixed-size blocks, so a growing series never copies
  // what it holds (no reallocation), and memory freed by a flushed head is
  // reused by the next.
  struct PointBlock {
    // A series' first block holds kMinCapacity points; each next one twice
    // its predecessor, up to kMaxCapacity: small series stay small.
    static constexpr size_t kMinCapacity = 16;
    static constexpr size_t kMaxCapacity = 1024;
    explicit PointBlock(size_t capacity)
        : capacity(capacity),
          timestamps(new int64_t[capacity]),
          values(new double[capacity]) {}
    size_t size = 0;
    const size_t capacity;
    std::unique_ptr<int64_t[]> timestamps;
    std::unique_ptr<double[]> values;
  };
  struct MemSeries {
    mutable std::mutex mu;
    // Mutable so that a const read can normalise in place.
    mutable std::vector<std::unique_ptr<PointBlock>> blocks;
    mutable bool normalized = true;  // strictly increasing across all blocks
    // Returns the bytes of the blocks it allocated.
    size_t AppendLocked(std::span<const int64_t> timestamps, std::span<const double> values) const;
    void NormalizeLocked() const;
  };
  MemSeries* FindOrNull(SeriesId id) const;

  mutable std::shared_mutex mu_;  // guards the map, not the series
  std::unordered_map<SeriesId, std::unique_ptr<MemSeries>> series_;
  std::atomic<uint64_t> points_{0};
  std::atomic<uint64_t> bytes_{0};  // allocated by blocks (normalising may leave some unused)
};

}  // namespace kpidb
