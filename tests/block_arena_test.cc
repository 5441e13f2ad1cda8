// The head's block arena: blocks never overlap, freed blocks and the tail of
// a slab are reused, and a destroyed arena's slabs go back to the pool (up
// to its cap) for the next head.
#include "engine/head/block_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "engine/head/head.h"

namespace kpidb {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // every block is its own heap allocation
#else
constexpr bool kSanitized = false;
#endif

struct Block {
  unsigned char* p;
  size_t bytes;
  unsigned char fill;
};

// Allocates and frees blocks of random sizes, fills each with its own byte,
// and checks every live block still holds only its byte (an overlap would
// overwrite another's).
TEST(BlockArena, BlocksNeverOverlapAcrossSlabsAndReuse) {
  auto pool = std::make_shared<SlabPool>(8 * SlabPool::kSlabBytes);
  BlockArena arena(pool);
  std::mt19937_64 rng(7);
  std::vector<Block> live;
  for (int step = 0; step < 3000; ++step) {
    if (!live.empty() && rng() % 3 == 0) {
      const size_t i = rng() % live.size();
      arena.Free(live[i].p, live[i].bytes);
      live.erase(live.begin() + static_cast<ptrdiff_t>(i));
      continue;
    }
    // 64 B .. 32 KiB, and the sizes between the powers of two (96 B .. 48 KiB).
    const size_t bytes = (rng() % 2 ? 64 : 96) << (rng() % 10);
    auto* p = static_cast<unsigned char*>(arena.Allocate(bytes));
    const auto fill = static_cast<unsigned char>(step);
    std::memset(p, fill, bytes);
    live.push_back({p, bytes, fill});
  }
  for (const Block& b : live) {
    for (size_t i = 0; i < b.bytes; ++i) ASSERT_EQ(b.p[i], b.fill) << "block of " << b.bytes;
  }
}

TEST(BlockArena, SizesArePowersOfTwoAndTheSizesAQuarterApartBetween) {
  for (size_t bytes : {64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 1 << 20, 5 << 18, 3 << 19,
                       7 << 18, 2 << 20}) {
    EXPECT_TRUE(BlockArena::IsBlockSize(bytes)) << bytes;
  }
  for (size_t bytes : {0, 16, 32, 48, 65, 144, 176, 240, 288, (1 << 20) + 16, 3 << 20, 4 << 20}) {
    EXPECT_FALSE(BlockArena::IsBlockSize(bytes)) << bytes;
  }
  // Every size is a whole number of 16-byte points, and the classes are
  // dense: each size is the next one up from the one below it.
  size_t classes = 0;
  for (size_t bytes = 64, prev = 0; bytes <= (2u << 20); bytes += 16) {
    if (!BlockArena::IsBlockSize(bytes)) continue;
    ++classes;
    if (prev != 0) {
      EXPECT_EQ(BlockArena::SmallestBlockFor(prev + 1), bytes);
    }
    EXPECT_EQ(BlockArena::LargestBlockIn(bytes), bytes);
    EXPECT_EQ(BlockArena::SmallestBlockFor(bytes), bytes);
    EXPECT_TRUE(bytes * 2 > (2u << 20) || BlockArena::IsBlockSize(bytes * 2)) << bytes;
    prev = bytes;
  }
  EXPECT_EQ(classes, 61u);
  EXPECT_EQ(BlockArena::LargestBlockIn(79), 64u);
  EXPECT_EQ(BlockArena::LargestBlockIn(95), 80u);
  EXPECT_EQ(BlockArena::LargestBlockIn(191), 160u);
  EXPECT_EQ(BlockArena::LargestBlockIn((2 << 20) - 32), 7u << 18);
  EXPECT_EQ(BlockArena::LargestBlockIn(3 << 20), 2u << 20);
  EXPECT_EQ(BlockArena::SmallestBlockFor(1), 64u);
  EXPECT_EQ(BlockArena::SmallestBlockFor(65), 80u);
  EXPECT_EQ(BlockArena::SmallestBlockFor(97), 112u);
  EXPECT_EQ(BlockArena::SmallestBlockFor(160), 160u);
  EXPECT_EQ(BlockArena::SmallestBlockFor(161), 192u);
  EXPECT_EQ(BlockArena::SmallestBlockFor((7 << 18) + 1), 2u << 20);
  if (kSanitized) return;
  // A freed 96-byte block serves the next 96, not a 128.
  BlockArena arena(nullptr);
  void* a = arena.Allocate(96);
  void* b = arena.Allocate(128);
  EXPECT_EQ(static_cast<char*>(b), static_cast<char*>(a) + 96);
  arena.Free(a, 96);
  EXPECT_NE(arena.Allocate(128), a);
  EXPECT_EQ(arena.Allocate(96), a);
}

TEST(BlockArena, FreedBlockAndSlabTailAreReused) {
  if (kSanitized) GTEST_SKIP() << "blocks are heap allocations under AddressSanitizer";
  BlockArena arena(nullptr);
  void* a = arena.Allocate(4096);
  arena.Free(a, 4096);
  EXPECT_EQ(arena.Allocate(4096), a);
  // Fill the slab but 64 KiB + 64 B, then ask for more than fits: the next
  // block comes from a new slab and the tail serves blocks of its pieces.
  auto* first = static_cast<char*>(a);
  const size_t used = SlabPool::kSlabBytes - (64 << 10) - 64 - 4096;
  void* filler = arena.Allocate(1 << 20);
  ASSERT_EQ(static_cast<char*>(filler), first + 4096);
  size_t done = 4096 + (1 << 20);
  for (size_t piece = 1 << 19; done < used + 4096; piece >>= 1) {
    if (done + piece <= used + 4096) {
      arena.Allocate(piece);
      done += piece;
    }
  }
  char* tail = first + done;
  char* fresh = static_cast<char*>(arena.Allocate(128 << 10));
  EXPECT_TRUE(fresh < first || fresh >= first + SlabPool::kSlabBytes);
  EXPECT_EQ(static_cast<char*>(arena.Allocate(64 << 10)), tail);
  EXPECT_EQ(static_cast<char*>(arena.Allocate(64)), tail + (64 << 10));
}

TEST(BlockArena, SlabsGoBackToThePoolUpToItsCap) {
  if (kSanitized) GTEST_SKIP() << "no slabs under AddressSanitizer";
  auto pool = std::make_shared<SlabPool>(2 * SlabPool::kSlabBytes);
  {
    BlockArena arena(pool);
    for (int i = 0; i < 5; ++i) arena.Allocate(SlabPool::kSlabBytes);  // five slabs
    EXPECT_EQ(pool->kept(), 0u);
  }
  EXPECT_EQ(pool->kept(), 2u);  // three were unmapped
  {
    BlockArena arena(pool);
    void* block = arena.Allocate(SlabPool::kSlabBytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % SlabPool::kSlabBytes, 0u);
    EXPECT_EQ(pool->kept(), 1u);  // taken from the pool, not mapped anew
  }
  EXPECT_EQ(pool->kept(), 2u);
}

// Heads created one after another over one pool (as the engine does at each
// flush) read back exactly what they were given, in and out of order.
TEST(BlockArena, SuccessiveHeadsOverOnePoolKeepTheirPoints) {
  auto pool = std::make_shared<SlabPool>(16 * SlabPool::kSlabBytes);
  std::mt19937_64 rng(11);
  for (int generation = 0; generation < 4; ++generation) {
    Head head(pool);
    std::map<SeriesId, std::map<int64_t, double>> reference;
    for (int step = 0; step < 300; ++step) {
      const SeriesId id = rng() % 50;
      const size_t n = 1 + rng() % 2000;
      const bool in_order = rng() % 3 != 0;
      int64_t t = reference[id].empty() ? 0 : reference[id].rbegin()->first + 1;
      std::vector<int64_t> ts;
      std::vector<double> vs;
      for (size_t i = 0; i < n; ++i) {
        ts.push_back(in_order ? t++ : static_cast<int64_t>(rng() % 50000));
        vs.push_back(static_cast<double>(rng()) / 3);
        reference[id][ts.back()] = vs.back();
      }
      head.Append(id, ts, vs);
    }
    for (const auto& [id, points] : reference) {
      std::vector<int64_t> got_ts;
      std::vector<double> got_vs;
      head.Read(id, INT64_MIN, INT64_MAX, &got_ts, &got_vs);
      ASSERT_EQ(got_ts.size(), points.size()) << "generation " << generation << " series " << id;
      size_t i = 0;
      for (const auto& [t, v] : points) {
        ASSERT_EQ(got_ts[i], t);
        ASSERT_EQ(got_vs[i], v);
        ++i;
      }
    }
  }
  if (!kSanitized) {
    EXPECT_GT(pool->kept(), 0u);
  }
}

}  // namespace
}  // namespace kpidb
