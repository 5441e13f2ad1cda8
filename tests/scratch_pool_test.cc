#include "engine/common/scratch_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

namespace kpidb {
namespace {

struct Row {
  int64_t a;
  double b;
};

TEST(ScratchPool, AReturnedVectorComesBackEmptyWithItsCapacity) {
  std::vector<Row> v = TakeScratch<Row>();
  v.resize(1000, Row{7, 1.5});
  const Row* data = v.data();
  ReturnScratch(std::move(v));
  std::vector<Row> again = TakeScratch<Row>();
  EXPECT_TRUE(again.empty());
  EXPECT_GE(again.capacity(), 1000u);
  EXPECT_EQ(again.data(), data);
  ReturnScratch(std::move(again));
}

TEST(ScratchPool, LargeVectorsAreNotKept) {
  while (!ScratchPool<Row>().empty()) ScratchPool<Row>().pop_back();
  std::vector<Row> big(kScratchKeptBytes / sizeof(Row) + 1);
  ReturnScratch(std::move(big));
  EXPECT_TRUE(ScratchPool<Row>().empty());
}

TEST(ScratchPool, AThreadKeepsABoundedNumber) {
  for (size_t i = 0; i < kScratchKept + 3; ++i) {
    std::vector<Row> v(16);
    ReturnScratch(std::move(v));
  }
  EXPECT_EQ(ScratchPool<Row>().size(), kScratchKept);
}

TEST(ScratchPool, ScopesNestWithoutSharing) {
  ScopedScratch<Row> outer;
  outer.get().push_back({1, 1});
  {
    ScopedScratch<Row> inner;
    EXPECT_TRUE(inner.get().empty());
    inner.get().push_back({2, 2});
    EXPECT_NE(inner.get().data(), outer.get().data());
  }
  ASSERT_EQ(outer.get().size(), 1u);
  EXPECT_EQ(outer.get()[0].a, 1);
}

TEST(ScratchPool, ThreadsHaveTheirOwn) {
  std::vector<Row> v(32);
  ReturnScratch(std::move(v));
  size_t other = 99;
  std::thread([&] { other = ScratchPool<Row>().size(); }).join();
  EXPECT_EQ(other, 0u);
}

}  // namespace
}  // namespace kpidb
