// MappedAllocator: large allocations are their own mappings, unmapped when
// freed; small ones come from the heap; the containers using it behave as
// with std::allocator.
#include "engine/common/mapped_allocator.h"

#include <absl/container/flat_hash_set.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <numeric>
#include <vector>

namespace kpidb {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // everything from the heap
#else
constexpr bool kSanitized = false;
#endif

// Whether the page holding `p` is mapped in this process.
bool Mapped(const void* p) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) / page * page);
  return msync(start, page, MS_ASYNC) == 0 || errno != ENOMEM;
}

TEST(MappedAllocator, ALargeAllocationIsItsOwnMappingAndGoesBackWhenFreed) {
  if (kSanitized) GTEST_SKIP() << "every allocation is a heap allocation under ASan";
  MappedAllocator<uint32_t> alloc;
  const size_t n = kMappedAllocationBytes / sizeof(uint32_t);
  uint32_t* p = alloc.allocate(n);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(sysconf(_SC_PAGESIZE)), 0u);
  EXPECT_EQ(p[n - 1], 0u);  // zeroed
  p[0] = 1;
  p[n - 1] = 2;
  ASSERT_TRUE(Mapped(p));
  alloc.deallocate(p, n);
  EXPECT_FALSE(Mapped(p));
}

TEST(MappedAllocator, ContainersGrowAndKeepTheirContents) {
  // A vector growing past the threshold moves from the heap to mappings,
  // and a hash set rehashes through them.
  std::vector<uint64_t, MappedAllocator<uint64_t>> v;
  absl::flat_hash_set<uint64_t, absl::Hash<uint64_t>, std::equal_to<uint64_t>,
                      MappedAllocator<uint64_t>>
      set;
  for (uint64_t i = 0; i < 200'000; ++i) {
    v.push_back(i * 7);
    set.insert(i * 7);
  }
  ASSERT_GE(v.capacity() * sizeof(uint64_t), kSanitized ? 0 : kMappedAllocationBytes);
  for (uint64_t i = 0; i < 200'000; ++i) {
    ASSERT_EQ(v[i], i * 7);
    ASSERT_TRUE(set.contains(i * 7));
  }
  EXPECT_FALSE(set.contains(3));
  std::vector<uint64_t, MappedAllocator<uint64_t>> copy = v;
  v.clear();
  v.shrink_to_fit();
  EXPECT_EQ(std::accumulate(copy.begin(), copy.end(), uint64_t{0}), 7 * (199'999ull * 200'000 / 2));
}

TEST(MappedAllocator, RefusesWhatCannotBeMapped) {
  MappedAllocator<uint64_t> wide;
  EXPECT_THROW(wide.allocate(static_cast<size_t>(-1) / 4), std::bad_array_new_length);
  // (ASan aborts on an allocation that large instead of throwing.)
  if (kSanitized) return;
  MappedAllocator<char> alloc;
  EXPECT_THROW(alloc.allocate(size_t{1} << 62), std::bad_alloc);
}

}  // namespace
}  // namespace kpidb
