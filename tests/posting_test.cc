// Posting: appended refs come back in order through every growth step
// (inline, the first array, doublings, mapped arrays), and a posting of one
// or two refs allocates nothing.
#include "engine/index/posting.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace kpidb {
namespace {

TEST(Posting, HoldsItsKeyAndItsRefsInOrderThroughEveryGrowth) {
  const std::string key = std::string("unit") + '\0' + "42";
  Posting p(key);
  EXPECT_EQ(p.key(), key);
  EXPECT_TRUE(p.refs().empty());
  std::vector<SeriesRef> want;
  // Past kMappedAllocationBytes: 100,000 refs are 400 KB.
  for (SeriesRef r = 0; r < 100'000; ++r) {
    const SeriesRef ref = 3 * r + 1;
    p.Append(ref);
    want.push_back(ref);
    if (r < 70 || (r & (r + 1)) == 0 || r + 1 == 100'000) {
      ASSERT_EQ(p.size(), want.size());
      ASSERT_TRUE(std::equal(p.refs().begin(), p.refs().end(), want.begin(), want.end())) << r;
    }
  }
  EXPECT_EQ(p.key(), key);
}

TEST(Posting, OneOrTwoRefsAllocateNothingAndMoreTakeThePowerOfTwoAbove) {
  Posting p("k");
  EXPECT_EQ(sizeof(Posting), 24u);
  p.Append(7);
  p.Append(9);
  EXPECT_EQ(p.allocated_bytes(), 0u);
  p.Append(11);
  EXPECT_EQ(p.allocated_bytes(), 4 * sizeof(SeriesRef));
  p.Append(12);
  EXPECT_EQ(p.allocated_bytes(), 4 * sizeof(SeriesRef));
  p.Append(13);
  EXPECT_EQ(p.allocated_bytes(), 8 * sizeof(SeriesRef));
  EXPECT_EQ(std::vector<SeriesRef>(p.refs().begin(), p.refs().end()),
            (std::vector<SeriesRef>{7, 9, 11, 12, 13}));
}

TEST(Posting, ManyPostingsInADequeKeepTheirOwnRefs) {
  // As the index holds them: each its own length, destroyed together.
  std::deque<Posting> postings;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(std::string("l") + '\0' + std::to_string(i));
  for (int i = 0; i < 300; ++i) postings.emplace_back(keys[i]);
  for (SeriesRef ref = 0; ref < 30'000; ++ref) postings[ref % 300 * (ref % 7 == 0)].Append(ref);
  for (int i = 0; i < 300; ++i) {
    const auto refs = postings[i].refs();
    ASSERT_EQ(postings[i].key(), keys[i]);
    for (size_t k = 1; k < refs.size(); ++k) ASSERT_LT(refs[k - 1], refs[k]);
    for (SeriesRef ref : refs) ASSERT_EQ(ref % 300 * (ref % 7 == 0), static_cast<SeriesRef>(i));
  }
}

}  // namespace
}  // namespace kpidb
