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
      if (rng() % 2 == 0) {
        // Room, used or left spare; the place it gives, used or not.
        const Head::Place place = head.Reserve(id, n + rng() % 40);
        if (rng() % 2 == 0) {
          head.Append(place, id, ts, vs);
        } else {
          head.Append(id, ts, vs);
        }
      } else {
        head.Append(id, ts, vs);
      }
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
    size_t series = 0;
    ASSERT_TRUE(head.ForEachSeries([&](SeriesId, std::span<const int64_t>, std::span<const double>) {
                      ++series;
                      return Status::Ok();
                    }).ok());
    EXPECT_EQ(series, reference.size());
  }
}

TEST(Head, SmallSeriesStaySmall) {
  Head head;
  for (SeriesId id = 0; id < 1000; ++id) head.Append(id, std::vector<int64_t>{1}, std::vector<double>{1});
  // One point per series costs a 4-point block (64 bytes) and its slots,
  // not a full-size block.
  EXPECT_LE(head.bytes(), 1000u * 128u);
  EXPECT_EQ(head.points(), 1000u);
}

TEST(Head, AFirstWriteTakesTheSmallestBlockThatHoldsIt) {
  Head head;
  const std::vector<int64_t> ts{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const std::vector<double> vs(10, 0.5);
  Head one_point;  // the same series of 1 point: 4-point blocks (64 bytes)
  for (SeriesId id = 0; id < 1000; ++id) {
    head.Append(id, ts, vs);
    one_point.Append(id, std::vector<int64_t>{1}, std::vector<double>{1});
  }
  // 10 points: a 10-point block (160 bytes), not a 16-point one (256).
  EXPECT_EQ(head.bytes() - one_point.bytes(), 1000u * (160u - 64u));
  // Growing past it doubles: 10 + 20 points.
  const uint64_t before = head.bytes();
  head.Append(0, std::vector<int64_t>{20, 21, 22}, std::vector<double>{1, 2, 3});
  EXPECT_EQ(head.bytes() - before, 320u);
  // 11 points: a 12-point block (192 bytes).
  Head eleven, one;
  eleven.Append(0, std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
                std::vector<double>(11, 0.5));
  one.Append(0, std::vector<int64_t>{1}, std::vector<double>{1});
  EXPECT_EQ(eleven.bytes() - one.bytes(), 192u - 64u);
  std::vector<int64_t> got_ts;
  std::vector<double> got_vs;
  EXPECT_EQ(head.Read(0, 0, 100, &got_ts, &got_vs), 13u);
  EXPECT_EQ(got_ts.back(), 22);
}

TEST(Head, ReservedRoomSurvivesAReadThatNormalises) {
  // The write path reserves a group's room, logs the group, then appends:
  // the appends must not allocate even if a reader normalised the series
  // in between (which once spent the reserved blocks on the sorted copy).
  auto slabs = std::make_shared<SlabPool>(0);
  Head head(slabs);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (int64_t t = 40; t > 0; --t) {  // out of order: the read below sorts
    ts.push_back(t);
    vs.push_back(static_cast<double>(t) / 3);
  }
  head.Reserve(7, 200);
  head.Append(7, ts, vs);
  std::vector<int64_t> got_ts;
  std::vector<double> got_vs;
  ASSERT_EQ(head.Read(7, 0, 1000, &got_ts, &got_vs), 40u);
  slabs->FailAllocationsForTest(true);
  std::vector<int64_t> more_ts;
  std::vector<double> more_vs;
  for (int64_t t = 100; t < 260; ++t) {
    more_ts.push_back(t);
    more_vs.push_back(static_cast<double>(t));
  }
  EXPECT_NO_THROW(head.Append(7, more_ts, more_vs));  // 40 + 160 = 200: reserved
  EXPECT_THROW(head.Append(7, std::vector<int64_t>(2000, 999), std::vector<double>(2000, 1.0)),
               std::bad_alloc);
  slabs->FailAllocationsForTest(false);
  got_ts.clear();
  got_vs.clear();
  ASSERT_EQ(head.Read(7, 0, 1000, &got_ts, &got_vs), 200u);
  EXPECT_EQ(got_ts.front(), 1);
  EXPECT_EQ(got_ts.back(), 259);
  EXPECT_EQ(got_vs[39], 40.0 / 3);
  EXPECT_EQ(got_vs[40], 100.0);
}

}  // namespace
}  // namespace kpidb

namespace kpidb {
namespace {

TEST(Head, ForEachSeriesGivesEverySeriesInIdOrderAsReadWould) {
  Head head;
  std::mt19937_64 rng(7);
  std::vector<SeriesId> ids;
  for (int i = 0; i < 500; ++i) {
    const SeriesId id = rng();
    ids.push_back(id);
    for (int w = 0; w < 3; ++w) {  // out of order and repeated timestamps
      std::vector<int64_t> ts;
      std::vector<double> vs;
      for (int p = 0; p < 1 + i % 9; ++p) {
        ts.push_back(static_cast<int64_t>(rng() % 50));
        vs.push_back(static_cast<double>(rng() % 1000) / 3);
      }
      head.Append(id, ts, vs);
    }
  }
  std::sort(ids.begin(), ids.end());
  size_t seen = 0;
  ASSERT_TRUE(head.ForEachSeries([&](SeriesId id, std::span<const int64_t> ts,
                                     std::span<const double> vs) -> Status {
                    EXPECT_EQ(id, ids[seen++]);
                    std::vector<int64_t> want_ts;
                    std::vector<double> want_vs;
                    head.Read(id, INT64_MIN, INT64_MAX, &want_ts, &want_vs);
                    EXPECT_EQ(std::vector<int64_t>(ts.begin(), ts.end()), want_ts);
                    EXPECT_EQ(std::vector<double>(vs.begin(), vs.end()), want_vs);
                    return Status::Ok();
                  }).ok());
  EXPECT_EQ(seen, ids.size());
  // The first error stops the walk and is returned.
  size_t calls = 0;
  const Status s = head.ForEachSeries([&](SeriesId, std::span<const int64_t>,
                                          std::span<const double>) -> Status {
    return ++calls == 3 ? Status::Internal("stop") : Status::Ok();
  });
  EXPECT_EQ(s.message(), "stop");
  EXPECT_EQ(calls, 3u);
}

}  // namespace
}  // namespace kpidb
