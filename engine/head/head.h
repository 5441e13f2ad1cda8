// The head: recently written points, per series, in memory and readable as
// soon as they are applied. Points may arrive in any order and repeat a
// timestamp; a series is normalised (sorted by timestamp, last write of each
// timestamp kept) lazily, on the first read or flush after an out-of-order
// append, so in-order ingest never sorts.
//
// Thread-safety: Append may run concurrently with readers; the engine calls
// Append from one thread at a time (its write leader), which is what makes
// "last write" well defined. Locks: mu_ (the series map) is released before
// a series' stripe lock is taken; under a stripe lock only the arena's lock
// (a leaf) is taken.
#pragma once

#include <absl/container/flat_hash_set.h>
#include <absl/container/inlined_vector.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "engine/common/mapped_allocator.h"
#include "engine/head/block_arena.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

class Head {
 private:
  struct MemSeries;

 public:
  // A series' place in this head, from Reserve, for the Append after it:
  // that Append skips finding the series again. Valid while the head lives.
  class Place {
   public:
    Place() = default;

   private:
    friend class Head;
    explicit Place(const MemSeries* series) : series_(series) {}
    const MemSeries* series_ = nullptr;
  };

  // Point blocks come from slabs of `slabs` (null: the head's own).
  explicit Head(std::shared_ptr<SlabPool> slabs = nullptr) : arena_(std::move(slabs)) {}
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Appends all the points or none: throws std::bad_alloc, the series
  // unchanged, if it needed memory beyond what Reserve made and got none.
  void Append(SeriesId id, std::span<const int64_t> timestamps, std::span<const double> values);
  // The same, for the series whose place Reserve(id, ...) of this head gave.
  void Append(Place place, SeriesId id, std::span<const int64_t> timestamps,
              std::span<const double> values);

  // Makes room for `points` more points of series `id` (adding the series),
  // so that the next Appends of at most that many points in all allocate
  // nothing and cannot fail. Throws std::bad_alloc when memory runs out; the
  // head stays valid (what was reserved stays reserved, for later appends).
  // The write path reserves a whole group before logging it, so that an
  // allocation failure leaves nothing half-applied. Returns the series'
  // place, for Append.
  Place Reserve(SeriesId id, size_t points);

  // Appends to *timestamps/*values the points of `id` in [start_ms, end_ms),
  // sorted, one per timestamp (the last written). Returns the count added.
  size_t Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
              std::vector<double>* values) const;

  // Calls fn(id, timestamps, values) for every series holding points, in
  // ascending id order, with what Read(id, INT64_MIN, INT64_MAX) would give
  // (valid during the call); stops at the first error fn returns. Finds the
  // series once, not by id each (the flush of a million series: a million
  // fewer hash probes).
  Status ForEachSeries(const std::function<Status(SeriesId id, std::span<const int64_t> timestamps,
                                                  std::span<const double> values)>& fn) const;

  // Points appended for `id` (duplicates not yet dropped count too).
  size_t Count(SeriesId id) const;

  uint64_t points() const { return points_.load(std::memory_order_relaxed); }
  // The lowest timestamp appended (INT64_MAX: none), so that the retention
  // knows whether the head holds points it is about to drop from the files.
  int64_t min_timestamp_ms() const { return min_ts_.load(std::memory_order_relaxed); }
  // Approximate memory held, for the flush trigger.
  uint64_t bytes() const;
  bool empty() const { return points() == 0; }

 private:
  // Points are kept in blocks from the head's arena, so a growing series
  // never copies what it holds (no reallocation), and memory freed by a
  // flushed head is reused by the next (block_arena.h). 16 bytes.
  struct PointBlock {
    // A series' first block holds what its first write reserved, rounded
    // up to a block size (4, 5, 6, 7, 8, 10, 12, 14, 16, 20... points);
    // each next one twice its predecessor, up to kMaxCapacity: a series of
    // a few points holds a few points' memory.
    static constexpr uint32_t kMinCapacity = 4;  // BlockArena::kMinBlockBytes
    static constexpr uint32_t kMaxCapacity = 1024;
    static constexpr size_t kPointBytes = sizeof(int64_t) + sizeof(double);
    int64_t* timestamps = nullptr;  // `capacity` of them, then as many values
    uint32_t size = 0;
    uint32_t capacity = 0;
    double* values() const { return reinterpret_cast<double*>(timestamps + capacity); }
  };
  // One series: 32 bytes, and its blocks' memory. Blocks [0, current) are
  // full, blocks[current] (if any) is being filled, and the blocks after it
  // are empty: room Reserve made, used before anything is allocated. Guarded
  // by the series' stripe of stripes_; mutable so that a const read can
  // normalise in place.
  struct MemSeries {
    mutable absl::InlinedVector<PointBlock, 1> blocks;
    mutable uint32_t current = 0;
    mutable bool normalized = true;  // strictly increasing across all blocks
    // The blocks holding points: [0, filled()).
    size_t filled() const {
      return current < blocks.size() && blocks[current].size > 0 ? current + 1 : current;
    }
    // Room for more points without allocating.
    size_t room() const;
    // Makes room() at least `points`; returns the bytes it allocated.
    // Throws std::bad_alloc, the points unchanged (blocks added stay room).
    size_t ReserveLocked(BlockArena& arena, size_t points) const;
    // REQUIRES room() >= timestamps.size(). Allocates nothing.
    void AppendLocked(std::span<const int64_t> timestamps, std::span<const double> values) const;
    // Adds an empty block after the last, sized for `wanted` more points.
    // Returns its bytes. Throws std::bad_alloc, the series unchanged.
    size_t AddBlock(BlockArena& arena, size_t wanted) const;
    // Sorts the points in place, keeping the last write of each timestamp.
    void NormalizeLocked() const;
  };
  static constexpr size_t kStripes = 256;

  const MemSeries* FindOrNull(SeriesId id) const;
  // REQUIRES the series' stripe lock. Read's work, for one series.
  static size_t ReadLocked(const MemSeries& s, int64_t start_ms, int64_t end_ms,
                           std::vector<int64_t>* timestamps, std::vector<double>* values);
  const MemSeries& FindOrAdd(SeriesId id);
  std::mutex& StripeOf(SeriesId id) const { return stripes_[id % kStripes]; }

  mutable BlockArena arena_;  // outlives series_: declared first
  mutable std::shared_mutex mu_;  // guards slots_, ids_ and series_ (not a series' contents)
  // A series' slot: its place in ids_ and series_. slots_ finds it by id,
  // hashing a slot by the id ids_ holds for it: 5 bytes a table entry, not
  // a 17-byte id-to-pointer pair. The tables are mapped (mapped_allocator.h):
  // what they outgrow goes back to the system.
  using Slot = uint32_t;
  struct IdKey {
    SeriesId id;
  };
  struct SlotHash {
    using is_transparent = void;
    const Head* head;
    size_t operator()(Slot slot) const { return (*this)(IdKey{head->ids_[slot]}); }
    size_t operator()(IdKey key) const { return absl::Hash<SeriesId>{}(key.id); }
  };
  struct SlotEq {
    using is_transparent = void;
    const Head* head;
    bool operator()(Slot a, Slot b) const { return head->ids_[a] == head->ids_[b]; }
    bool operator()(Slot a, IdKey b) const { return head->ids_[a] == b.id; }
    bool operator()(IdKey a, Slot b) const { return (*this)(b, a); }
  };
  absl::flat_hash_set<Slot, SlotHash, SlotEq, MappedAllocator<Slot>> slots_{
      0, SlotHash{this}, SlotEq{this}};
  std::vector<SeriesId, MappedAllocator<SeriesId>> ids_;  // by slot
  std::deque<MemSeries> series_;  // by slot; stable addresses: grows at the back only
  mutable std::array<std::mutex, kStripes> stripes_;  // series' locks, by id
  std::atomic<uint64_t> points_{0};
  std::atomic<int64_t> min_ts_{INT64_MAX};
  std::atomic<uint64_t> bytes_{0};  // allocated by blocks
};

}  // namespace kpidb
