// The head keeps the last write of every timestamp and reads any range
// sorted, however points arrived and however many blocks they span.
#include "engine/head/head.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace kpidb {
namespace {

TEST(Head, RandomAppendsAcrossBlocksMatchANaiveReference) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    Head head;
    std::map<SeriesId, std::map<int64_t, double>> reference;
    for (int step = 0; step < 400; ++step) {
      const SeriesId id = rng() % 3;
      const size_t n = 1 + rng() % (step % 50 == 0 ? 3000 : 60);
      const bool in_order = rng() % 4 != 0;
      int64_t t = reference[id].empty() ? 0 : reference[id].rbegin()->first + 1;
      std::vector<int64_t> ts;
      std::vector<double> vs;
      for (size_t i = 0; i < n; ++i) {
        ts.push_back(in_order ? t++ : static_cast<int64_t>(rng() % 20000) - 1000);
        vs.push_back(static_cast<double>(rng() % 1000) / 7);
        reference[id][ts.back()] = vs.back();
      }
      head.Append(id, ts, vs);
      if (rng() % 5 == 0) {  // read between appends, forcing normalisation
        const SeriesId r = rng() % 3;
        const int64_t start = static_cast<int64_t>(rng() % 30000) - 2000;
        const int64_t end = start + static_cast<int64_t>(rng() % 30000);
        std::vector<int64_t> got_ts;
        std::vector<double> got_vs;
        const size_t added = head.Read(r, start, end, &got_ts, &got_vs);
        std::vector<int64_t> want_ts;
        std::vector<double> want_vs;
        const auto& points = reference[r];
        for (auto it = points.lower_bound(start); it != points.end() && it->first < end; ++it) {
          want_ts.push_back(it->first);
          want_vs.push_back(it->second);
        }
        ASSERT_EQ(added, want_ts.size());
        ASSERT_EQ(got_ts, want_ts);
        ASSERT_EQ(got_vs, want_vs);
      }
    }
    EXPECT_EQ(head.Ids().size(), reference.size());
  }
}

TEST(Head, SmallSeriesStaySmall) {
  Head head;
  for (SeriesId id = 0; id < 1000; ++id) head.Append(id, std::vector<int64_t>{1}, std::vector<double>{1});
  // One point per series must not cost a full-size block.
  EXPECT_LT(head.bytes(), 1000u * 1024u);
  EXPECT_EQ(head.points(), 1000u);
}

}  // namespace
}  // namespace kpidb
