// The engine's promises, one per test: writes are visible at once and all or
// nothing, the last write of a (series, timestamp) wins wherever the points
// live (head, flushing head, segments), and everything survives a reopen.
#include "engine/core/engine_core.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::TempDir;

EngineOptions QuietOptions() {
  EngineOptions o;
  o.logger = [](std::string_view) {};
  return o;
}

SeriesPoints Points(std::string metric, Labels labels, std::vector<int64_t> ts,
                    std::vector<double> vs) {
  return SeriesPoints{std::move(metric), std::move(labels), std::move(ts), std::move(vs)};
}

std::unique_ptr<EngineCore> OpenOrDie(const std::string& dir, const EngineOptions& o) {
  auto e = EngineCore::Open(dir, o);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (!e.ok()) std::abort();
  return std::move(e).value();
}

SeriesData ReadAll(const EngineCore& e, SeriesId id) {
  auto r = e.Read(id, INT64_MIN, INT64_MAX);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : SeriesData{};
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(EngineCore, WritesAreReadableAtOnceAndAfterReopen) {
  TempDir dir;
  SeriesId id;
  {
    auto e = OpenOrDie(dir.path(), QuietOptions());
    WriteBatch b;
    b.series.push_back(Points("kpi_visits", {{"region", "eu"}, {"channel", "email"}},
                              {1000, 2000, 3000}, {1.5, -0.0, 3e300}));
    ASSERT_TRUE(e->Write(b).ok());
    auto found = e->FindSeries("kpi_visits", {{"channel", "email"}, {"region", "eu"}});
    ASSERT_TRUE(found.has_value());
    id = *found;
    SeriesData d = ReadAll(*e, id);
    EXPECT_EQ(d.key.ToString(), "kpi_visits{channel=\"email\",region=\"eu\"}");
    EXPECT_EQ(d.timestamps_ms, (std::vector<int64_t>{1000, 2000, 3000}));
    ASSERT_EQ(d.values.size(), 3u);
    EXPECT_TRUE(SameBits(d.values[1], -0.0));
    auto partial = e->Read(id, 2000, 3000);
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(partial->timestamps_ms, (std::vector<int64_t>{2000}));
  }
  auto e = OpenOrDie(dir.path(), QuietOptions());
  SeriesData d = ReadAll(*e, id);
  EXPECT_EQ(d.timestamps_ms, (std::vector<int64_t>{1000, 2000, 3000}));
  EXPECT_TRUE(SameBits(d.values[1], -0.0));
  EXPECT_EQ(d.values[2], 3e300);
}

TEST(EngineCore, ABadPointRejectsTheWholeBatchNamingSeriesIndexAndReason) {
  TempDir dir;
  auto e = OpenOrDie(dir.path(), QuietOptions());
  WriteBatch b;
  b.series.push_back(Points("kpi_a", {{"k", "v"}}, {1, 2}, {1, 2}));
  b.series.push_back(Points("kpi_b", {}, {1, 2, 3}, {1, NAN, 3}));
  Status s = e->Write(b);
  ASSERT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message(), "series[1] kpi_b{} point[1]: value nan is not finite");
  EXPECT_FALSE(e->FindSeries("kpi_a", {{"k", "v"}}).has_value());
  EXPECT_EQ(e->GetStats().series, 0u);
  EXPECT_EQ(e->GetStats().head_points, 0u);
}

TEST(EngineCore, RejectsInvalidNamesMismatchedColumnsAndLimits) {
  TempDir dir;
  EngineOptions o = QuietOptions();
  o.limits.max_label_value_bytes = 8;
  o.limits.max_points_per_batch = 4;
  auto e = OpenOrDie(dir.path(), o);
  auto one = [](SeriesPoints p) {
    WriteBatch b;
    b.series.push_back(std::move(p));
    return b;
  };
  struct Case {
    WriteBatch batch;
    StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({one(Points("", {}, {1}, {1})), StatusCode::kInvalidArgument,
                   "series[0]: metric name is empty"});
  cases.push_back({one(Points("9lives", {}, {1}, {1})), StatusCode::kInvalidArgument,
                   "series[0]: invalid metric name \"9lives\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"});
  cases.push_back({one(Points("m", {{"__name__", "x"}}, {1}, {1})), StatusCode::kInvalidArgument,
                   "series[0] label \"__name__\": invalid label name (must match "
                   "[a-zA-Z_][a-zA-Z0-9_]* and not start with __)"});
  cases.push_back({one(Points("m", {{"a", "1"}, {"a", "2"}}, {1}, {1})),
                   StatusCode::kInvalidArgument, "series[0] label \"a\": duplicate label name"});
  cases.push_back({one(Points("m", {{"a", "123456789"}}, {1}, {1})), StatusCode::kInvalidArgument,
                   "series[0] label \"a\": value is 9 bytes, over max_label_value_bytes=8"});
  cases.push_back({one(Points("m", {{"a", "\xff"}}, {1}, {1})), StatusCode::kInvalidArgument,
                   "series[0] label \"a\": value is not valid UTF-8"});
  cases.push_back({one(Points("m", {}, {1, 2}, {1})), StatusCode::kInvalidArgument,
                   "series[0] m{}: 2 timestamps but 1 values"});
  cases.push_back({one(Points("m", {}, {}, {})), StatusCode::kInvalidArgument,
                   "series[0] m{}: no points"});
  cases.push_back({one(Points("m", {}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5})),
                   StatusCode::kResourceExhausted,
                   "5 points in one write, over max_points_per_batch=4"});
  cases.push_back({WriteBatch{}, StatusCode::kInvalidArgument, "series: the write has no series"});
  for (const Case& c : cases) {
    Status s = e->Write(c.batch);
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_EQ(s.message(), c.message);
  }
  EXPECT_EQ(e->GetStats().series, 0u);
}

TEST(EngineCore, SeriesLimitRefusesNewSeriesButAcceptsExistingOnes) {
  TempDir dir;
  EngineOptions o = QuietOptions();
  o.max_series = 2;
  auto e = OpenOrDie(dir.path(), o);
  WriteBatch b;
  b.series.push_back(Points("m", {{"i", "1"}}, {1}, {1}));
  b.series.push_back(Points("m", {{"i", "2"}}, {1}, {1}));
  ASSERT_TRUE(e->Write(b).ok());
  WriteBatch more = b;
  more.series.push_back(Points("m", {{"i", "3"}}, {1}, {1}));
  Status s = e->Write(more);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "the write would create 1 new series, over max_series=2 (2 exist)");
  EXPECT_EQ(e->GetStats().head_points, 2u);  // nothing of `more` applied
  EXPECT_TRUE(e->Write(b).ok());
}

TEST(EngineCore, SecondOpenOfTheSameDirFailsClearly) {
  TempDir dir;
  auto e = OpenOrDie(dir.path(), QuietOptions());
  auto second = EngineCore::Open(dir.path(), QuietOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another kpidb process"), std::string::npos);
  ASSERT_TRUE(e->Close().ok());
  EXPECT_TRUE(EngineCore::Open(dir.path(), QuietOptions()).ok());
}

TEST(EngineCore, SelectsSeriesByMetricAndLabels) {
  TempDir dir;
  auto e = OpenOrDie(dir.path(), QuietOptions());
  WriteBatch b;
  for (const char* ch : {"email", "search"}) {
    for (const char* region : {"eu", "us"}) {
      b.series.push_back(Points("kpi_visits", {{"channel", ch}, {"region", region}}, {1}, {1}));
    }
  }
  b.series.push_back(Points("kpi_cac", {{"channel", "email"}}, {1}, {1}));
  ASSERT_TRUE(e->Write(b).ok());
  EXPECT_EQ(e->SelectSeries("kpi_visits", {}).size(), 4u);
  EXPECT_EQ(e->SelectSeries("kpi_visits", {{"channel", "email"}}).size(), 2u);
  EXPECT_EQ(e->SelectSeries("", {{"channel", "email"}}).size(), 3u);
  auto one = e->SelectSeries("kpi_visits", {{"channel", "search"}, {"region", "us"}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(e->SeriesKeyOf(one[0])->ToString(), "kpi_visits{channel=\"search\",region=\"us\"}");
  EXPECT_TRUE(e->SelectSeries("kpi_visits", {{"channel", "tv"}}).empty());
  EXPECT_TRUE(e->SelectSeries("nope", {}).empty());
}

TEST(EngineCore, FlushWritesOneSegmentPerTimePartitionAndTruncatesTheWal) {
  TempDir dir;
  EngineOptions o = QuietOptions();
  o.segment_partition_ms = 1000;
  auto e = OpenOrDie(dir.path(), o);
  WriteBatch b;
  b.series.push_back(Points("m", {}, {-1500, 100, 900, 1000, 2999}, {1, 2, 3, 4, 5}));
  ASSERT_TRUE(e->Write(b).ok());
  ASSERT_TRUE(e->Flush().ok());
  EngineStats st = e->GetStats();
  EXPECT_EQ(st.segments, 4u);  // partitions -2, 0, 1, 2
  EXPECT_EQ(st.segment_points, 5u);
  EXPECT_EQ(st.head_points, 0u);
  EXPECT_EQ(st.wal_files, 1u);  // only the fresh one
  SeriesId id = *e->FindSeries("m", {});
  auto r = e->Read(id, 0, 2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->timestamps_ms, (std::vector<int64_t>{100, 900, 1000}));
}

TEST(EngineCore, LastWriteWinsAcrossHeadSegmentsAndReopen) {
  TempDir dir;
  auto e = OpenOrDie(dir.path(), QuietOptions());
  auto write = [&](std::vector<int64_t> ts, std::vector<double> vs) {
    WriteBatch b;
    b.series.push_back(Points("m", {}, std::move(ts), std::move(vs)));
    ASSERT_TRUE(e->Write(b).ok());
  };
  write({10, 20, 30}, {1, 2, 3});
  ASSERT_TRUE(e->Flush().ok());
  write({20, 5}, {20, 0.5});  // overwrite a flushed point, insert before it
  write({30, 30}, {31, 32});  // duplicates within one write: the last wins
  SeriesId id = *e->FindSeries("m", {});
  auto check = [&](const EngineCore& eng) {
    SeriesData d = ReadAll(eng, id);
    EXPECT_EQ(d.timestamps_ms, (std::vector<int64_t>{5, 10, 20, 30}));
    EXPECT_EQ(d.values, (std::vector<double>{0.5, 1, 20, 32}));
  };
  check(*e);
  ASSERT_TRUE(e->Flush().ok());
  check(*e);
  write({10}, {100});
  ASSERT_TRUE(e->Close().ok());
  e.reset();
  auto reopened = OpenOrDie(dir.path(), QuietOptions());
  SeriesData d = ReadAll(*reopened, id);
  EXPECT_EQ(d.values, (std::vector<double>{0.5, 100, 20, 32}));
}

// Sums through Scan, taking every stats offer: must equal the raw points.
class SummingVisitor : public ScanVisitor {
 public:
  bool OnChunkStats(const ChunkStats& stats) override {
    ++stats_used;
    count += stats.count;
    sum += stats.sum;
    return true;
  }
  Status OnPoints(std::span<const int64_t> ts, std::span<const double> vs) override {
    for (size_t i = 0; i < ts.size(); ++i) {
      if (have_last && ts[i] <= last) ordered = false;
      last = ts[i];
      have_last = true;
      ++count;
      sum += vs[i];
    }
    return Status::Ok();
  }
  int stats_used = 0;
  uint64_t count = 0;
  double sum = 0;
  bool ordered = true;
  bool have_last = false;
  int64_t last = 0;
};

TEST(EngineCore, ScanOffersChunkStatsOnlyWhereNoOtherSourceOverridesThem) {
  TempDir dir;
  EngineOptions o = QuietOptions();
  o.max_points_per_chunk = 10;
  auto e = OpenOrDie(dir.path(), o);
  WriteBatch b;
  b.series.push_back(Points("m", {}, {}, {}));
  for (int i = 0; i < 100; ++i) {  // 10 chunks of 10 points: t = 0..99, v = 1
    b.series[0].timestamps_ms.push_back(i);
    b.series[0].values.push_back(1);
  }
  ASSERT_TRUE(e->Write(b).ok());
  ASSERT_TRUE(e->Flush().ok());
  SeriesId id = *e->FindSeries("m", {});
  {
    SummingVisitor v;
    ASSERT_TRUE(e->Scan(id, 0, 100, &v).ok());
    EXPECT_EQ(v.stats_used, 10);
    EXPECT_EQ(v.count, 100u);
  }
  {
    SummingVisitor v;  // range cuts the first and last chunks: those decode
    ASSERT_TRUE(e->Scan(id, 5, 95, &v).ok());
    EXPECT_EQ(v.stats_used, 8);
    EXPECT_EQ(v.count, 90u);
  }
  // Overwrite t=25 (chunk 2) in the head and t=55 (chunk 5) in a newer
  // segment: those chunks' stats are no longer the truth.
  b.series[0].timestamps_ms = {55};
  b.series[0].values = {101};
  ASSERT_TRUE(e->Write(b).ok());
  ASSERT_TRUE(e->Flush().ok());
  b.series[0].timestamps_ms = {25};
  b.series[0].values = {11};
  ASSERT_TRUE(e->Write(b).ok());
  SummingVisitor v;
  ASSERT_TRUE(e->Scan(id, 0, 100, &v).ok());
  EXPECT_EQ(v.stats_used, 8);
  EXPECT_EQ(v.count, 100u);
  EXPECT_EQ(v.sum, 98 + 101 + 11);
  EXPECT_TRUE(v.ordered);
}

// The reference: a std::map per series, written in the same order.
TEST(EngineCore, RandomOutOfOrderWritesWithFlushesAndReopensMatchANaiveReference) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    std::mt19937_64 rng(seed);
    EngineOptions o = QuietOptions();
    o.segment_partition_ms = 5000;
    o.max_points_per_chunk = 1 + static_cast<uint32_t>(rng() % 50);
    o.head_max_bytes = 64 << 10;  // small: background flushes happen too
    auto e = OpenOrDie(dir.path(), o);
    std::map<std::string, std::map<int64_t, double>> reference;
    const int kSeries = 5;
    for (int step = 0; step < 300; ++step) {
      WriteBatch b;
      int n_series = 1 + static_cast<int>(rng() % 3);
      for (int s = 0; s < n_series; ++s) {
        std::string label = std::to_string(rng() % kSeries);
        SeriesPoints p = Points("m", {{"s", label}}, {}, {});
        int n = 1 + static_cast<int>(rng() % 40);
        int64_t base = static_cast<int64_t>(rng() % 20000) - 5000;
        for (int i = 0; i < n; ++i) {
          p.timestamps_ms.push_back(base + static_cast<int64_t>(rng() % 300));  // dups likely
          double v = static_cast<double>(static_cast<int64_t>(rng() % 2000) - 1000) / 100.0;
          p.values.push_back(v);
        }
        for (size_t i = 0; i < p.timestamps_ms.size(); ++i) {
          reference[label][p.timestamps_ms[i]] = p.values[i];
        }
        b.series.push_back(std::move(p));
      }
      ASSERT_TRUE(e->Write(b).ok());
      uint64_t dice = rng() % 100;
      if (dice < 5) {
        ASSERT_TRUE(e->Flush().ok());
      }
      if (dice >= 98) {
        e.reset();
        e = OpenOrDie(dir.path(), o);
      }
    }
    for (const auto& [label, points] : reference) {
      SeriesId id = *e->FindSeries("m", {{"s", label}});
      int64_t start = static_cast<int64_t>(rng() % 10000) - 6000;
      int64_t end = start + static_cast<int64_t>(rng() % 20000);
      auto got = e->Read(id, start, end);
      ASSERT_TRUE(got.ok());
      std::vector<int64_t> want_ts;
      std::vector<double> want_vs;
      for (auto it = points.lower_bound(start); it != points.end() && it->first < end; ++it) {
        want_ts.push_back(it->first);
        want_vs.push_back(it->second);
      }
      EXPECT_EQ(got->timestamps_ms, want_ts);
      EXPECT_EQ(got->values, want_vs);
    }
  }
}

}  // namespace
}  // namespace kpidb
