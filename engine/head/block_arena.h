// Memory for the head's point blocks.
//
// A head writes hundreds of MiB of fresh memory between flushes. Taken from
// malloc, every 4 KiB page of it costs a page fault on first touch (a
// tenth of the server's ingest time on a virtual machine), and a flushed
// head hands its memory back to the kernel only for the next head to fault
// it in again. So blocks are carved from 2 MiB slabs that the kernel may
// back with transparent huge pages (madvise; one fault per 2 MiB), and a
// destroyed head's slabs go back to a SlabPool that keeps up to a set number
// of bytes of them for the next head.
//
// Under AddressSanitizer every block is its own heap allocation, so that an
// overrun of a block is still caught.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace kpidb {

// Slabs not in use, shared by the heads of one engine. Thread-safe.
class SlabPool {
 public:
  static constexpr size_t kSlabBytes = size_t{2} << 20;

  // Keeps at most `keep_bytes` of returned slabs mapped; unmaps the rest.
  explicit SlabPool(size_t keep_bytes) : keep_slabs_(keep_bytes / kSlabBytes) {}
  ~SlabPool();
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;

  // A slab of kSlabBytes, aligned to kSlabBytes. Throws std::bad_alloc when
  // the kernel has no memory to map.
  void* Take();
  void Give(void* slab);
  size_t kept() const;  // slabs held for reuse

  // Fault injection, for tests of the write path under memory exhaustion:
  // while set, every block allocation of the arenas using this pool throws
  // std::bad_alloc, as a failed mmap (or ::operator new) would.
  void FailAllocationsForTest(bool fail) { fail_allocations_.store(fail); }
  bool failing_allocations() const { return fail_allocations_.load(std::memory_order_relaxed); }

 private:
  const size_t keep_slabs_;
  std::atomic<bool> fail_allocations_{false};
  mutable std::mutex mu_;
  std::vector<void*> free_;
};

// The blocks of one head: sizes are powers of two from kMinBlockBytes to
// kMaxBlockBytes and the three sizes a quarter apart between each two
// (64, 80, 96, 112, 128, 160... bytes: 4, 5, 6, 7, 8, 10... points), so that
// a block asked for a few points more than a size wastes less than a fifth
// of itself, and doubling a block keeps it a block size. Freed blocks are
// reused for blocks of their size; every slab goes back to the pool when the
// arena is destroyed (blocks need not be freed one by one). Thread-safe.
class BlockArena {
 public:
  static constexpr size_t kMinBlockBytes = 64;
  static constexpr size_t kMaxBlockBytes = SlabPool::kSlabBytes;

  // With a null pool the arena maps and unmaps its own slabs.
  explicit BlockArena(std::shared_ptr<SlabPool> pool);
  ~BlockArena();
  BlockArena(const BlockArena&) = delete;
  BlockArena& operator=(const BlockArena&) = delete;

  // REQUIRES IsBlockSize(bytes).
  void* Allocate(size_t bytes);
  void Free(void* block, size_t bytes);

  // 2^k, 1.25, 1.5 or 1.75 * 2^k bytes, from kMinBlockBytes to kMaxBlockBytes.
  static bool IsBlockSize(size_t bytes);
  // The largest block size not above `bytes` (>= kMinBlockBytes).
  static size_t LargestBlockIn(size_t bytes);
  // The smallest block size not below `bytes` (<= kMaxBlockBytes).
  static size_t SmallestBlockFor(size_t bytes);

 private:
  // 64 B << 15 = 2 MiB: 16 powers of two, and 3 sizes between each two.
  static constexpr size_t kClasses = 61;
  static size_t ClassOf(size_t bytes);

  std::mutex mu_;
  std::shared_ptr<SlabPool> pool_;
  std::vector<void*> slabs_;
  char* cursor_ = nullptr;  // free space at the end of slabs_.back()
  size_t left_ = 0;
  std::array<std::vector<void*>, kClasses> free_;
#if defined(__SANITIZE_ADDRESS__)
  std::unordered_set<void*> blocks_;
#endif
};

}  // namespace kpidb
