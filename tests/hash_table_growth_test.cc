// GrowForInsert: the insert after it never reallocates, and a failed
// allocation while growing leaves the table as it was and usable.
#include "engine/common/hash_table_growth.h"

#include <absl/container/flat_hash_set.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <new>

namespace kpidb {
namespace {

bool fail_allocations = false;

template <typename T>
struct FailingAllocator {
  using value_type = T;
  FailingAllocator() = default;
  template <typename U>
  FailingAllocator(const FailingAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(size_t n) {
    if (fail_allocations) throw std::bad_alloc();
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <typename U>
  bool operator==(const FailingAllocator<U>&) const noexcept {
    return true;
  }
};

using Set = absl::flat_hash_set<uint64_t, absl::Hash<uint64_t>, std::equal_to<uint64_t>,
                                FailingAllocator<uint64_t>>;

TEST(GrowForInsert, TheInsertAfterItNeverReallocates) {
  Set set;
  for (uint64_t i = 0; i < 100'000; ++i) {
    GrowForInsert(set);
    const size_t capacity = set.capacity();
    fail_allocations = true;  // an insert that allocated would throw
    EXPECT_NO_THROW(set.insert(i * 11));
    fail_allocations = false;
    ASSERT_EQ(set.capacity(), capacity) << i;
  }
  for (uint64_t i = 0; i < 100'000; ++i) ASSERT_TRUE(set.contains(i * 11));
}

TEST(GrowForInsert, AFailedGrowthLeavesTheTableAsItWas) {
  Set set;
  uint64_t n = 0;
  for (; n < 1000; ++n) {
    GrowForInsert(set);
    set.insert(n);
  }
  // Up to where GrowForInsert must grow (below absl's own threshold).
  while (set.size() + 1 < set.capacity() * 25 / 32) set.insert(n++);
  const size_t capacity = set.capacity();
  fail_allocations = true;
  EXPECT_THROW(GrowForInsert(set), std::bad_alloc);
  fail_allocations = false;
  EXPECT_EQ(set.capacity(), capacity);
  EXPECT_EQ(set.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(set.contains(i));
  GrowForInsert(set);  // and it grows once memory is back
  set.insert(n);
  EXPECT_TRUE(set.contains(n));
  EXPECT_GT(set.capacity(), capacity);
}

}  // namespace
}  // namespace kpidb
