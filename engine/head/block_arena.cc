#include "engine/head/block_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <new>

namespace kpidb {

namespace {

// Maps kSlabBytes aligned to kSlabBytes (the alignment a huge page needs):
// maps twice that and unmaps the ends.
void* MapSlab() {
  constexpr size_t kBytes = SlabPool::kSlabBytes;
  void* raw = mmap(nullptr, 2 * kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kBytes - 1) & ~uintptr_t{kBytes - 1};
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + 2 * kBytes;
  if (end > aligned + kBytes) munmap(reinterpret_cast<void*>(aligned + kBytes), end - aligned - kBytes);
  void* slab = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  madvise(slab, kBytes, MADV_HUGEPAGE);  // advice only: no huge pages is fine
#endif
  return slab;
}

void UnmapSlab(void* slab) { munmap(slab, SlabPool::kSlabBytes); }

}  // namespace

SlabPool::~SlabPool() {
  for (void* slab : free_) UnmapSlab(slab);
}

void* SlabPool::Take() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      void* slab = free_.back();
      free_.pop_back();
      return slab;
    }
  }
  return MapSlab();
}

void SlabPool::Give(void* slab) {
  {
    std::lock_guard lock(mu_);
    if (free_.size() < keep_slabs_) {
      free_.push_back(slab);
      return;
    }
  }
  UnmapSlab(slab);
}

size_t SlabPool::kept() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

BlockArena::BlockArena(std::shared_ptr<SlabPool> pool)
    : pool_(pool ? std::move(pool) : std::make_shared<SlabPool>(0)) {}

BlockArena::~BlockArena() {
  for (void* slab : slabs_) pool_->Give(slab);
#if defined(__SANITIZE_ADDRESS__)
  for (void* block : blocks_) ::operator delete(block);
#endif
}

bool BlockArena::IsBlockSize(size_t bytes) {
  if (bytes < kMinBlockBytes || bytes > kMaxBlockBytes) return false;
  const size_t pow2 = std::bit_floor(bytes);
  return (bytes - pow2) % (pow2 / 4) == 0;
}

size_t BlockArena::LargestBlockIn(size_t bytes) {
  assert(bytes >= kMinBlockBytes);
  if (bytes >= kMaxBlockBytes) return kMaxBlockBytes;
  const size_t pow2 = std::bit_floor(bytes);
  const size_t step = pow2 / 4;
  return pow2 + (bytes - pow2) / step * step;
}

size_t BlockArena::SmallestBlockFor(size_t bytes) {
  bytes = std::max(bytes, kMinBlockBytes);
  const size_t pow2 = std::bit_floor(bytes);
  const size_t step = pow2 / 4;
  return pow2 + (bytes - pow2 + step - 1) / step * step;
}

size_t BlockArena::ClassOf(size_t bytes) {
  assert(IsBlockSize(bytes));
  const auto min_log = static_cast<size_t>(std::countr_zero(kMinBlockBytes));
  const size_t pow2 = std::bit_floor(bytes);
  const auto log = static_cast<size_t>(std::countr_zero(pow2));
  return 4 * (log - min_log) + (bytes - pow2) / (pow2 / 4);
}

void* BlockArena::Allocate(size_t bytes) {
  if (pool_->failing_allocations()) throw std::bad_alloc();
  const size_t c = ClassOf(bytes);
  std::lock_guard lock(mu_);
#if defined(__SANITIZE_ADDRESS__)
  (void)c;
  void* block = ::operator new(bytes);
  blocks_.insert(block);
  return block;
#else
  if (!free_[c].empty()) {
    void* block = free_[c].back();
    free_[c].pop_back();
    return block;
  }
  if (left_ < bytes) {
    // The rest of the current slab goes to the free lists, in the largest
    // pieces that fit (all sizes are multiples of 16 bytes, and so is what
    // is left: less than kMinBlockBytes is lost).
    while (left_ >= kMinBlockBytes) {
      const size_t piece = LargestBlockIn(left_);
      free_[ClassOf(piece)].push_back(cursor_);
      cursor_ += piece;
      left_ -= piece;
    }
    // Room first, so that push_back cannot throw with a slab taken.
    if (slabs_.size() == slabs_.capacity()) slabs_.reserve(std::max<size_t>(4, 2 * slabs_.capacity()));
    slabs_.push_back(pool_->Take());
    cursor_ = static_cast<char*>(slabs_.back());
    left_ = SlabPool::kSlabBytes;
  }
  void* block = cursor_;
  cursor_ += bytes;
  left_ -= bytes;
  return block;
#endif
}

void BlockArena::Free(void* block, size_t bytes) {
  const size_t c = ClassOf(bytes);
  std::lock_guard lock(mu_);
#if defined(__SANITIZE_ADDRESS__)
  (void)c;
  blocks_.erase(block);
  ::operator delete(block);
#else
  free_[c].push_back(block);
#endif
}

}  // namespace kpidb
