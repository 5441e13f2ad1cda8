// The README's engine example, kept compiling and true. It includes the
// public headers only (include/kpidb/), as an embedding program would.
#include <gtest/gtest.h>

#include "kpidb/engine.h"
#include "kpidb/query.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

TEST(ReadmeExample, WritesReadsSelectsFlushesAndCloses) {
  testing::TempDir dir;
  kpidb::EngineOptions options;
  options.logger = [](std::string_view) {};
  auto opened = kpidb::Engine::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<kpidb::Engine> db = std::move(opened).value();

  kpidb::WriteBatch batch;
  batch.series.push_back({"kpi_visits", {{"channel", "email"}, {"region", "eu"}},
                          {1767225600000, 1767225610000},
                          {17, 21}});
  kpidb::Status s = db->Write(batch);
  ASSERT_TRUE(s.ok()) << s.ToString();

  auto id = db->FindSeries("kpi_visits", {{"channel", "email"}, {"region", "eu"}});
  ASSERT_TRUE(id.has_value());
  auto data = db->Read(*id, 1767225600000, 1767312000000);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->values, (std::vector<double>{17, 21}));

  auto email = db->ListSeries({"kpi_visits", {{"channel", kpidb::query::MatchOp::kEqual, "email"}}},
                              /*max_series=*/1000);
  ASSERT_TRUE(email.ok());
  EXPECT_EQ(email->size(), 1u);
  EXPECT_EQ((*email)[0].ToString(), "kpi_visits{channel=\"email\",region=\"eu\"}");
  EXPECT_TRUE(db->Flush().ok());
  EXPECT_TRUE(db->Close().ok());
  EXPECT_EQ(db->Write(batch).code(), StatusCode::kUnavailable);
}

TEST(ReadmeExample, ConversionRatePerChannelPerParisDay) {
  testing::TempDir dir;
  kpidb::EngineOptions options;
  options.logger = [](std::string_view) {};
  auto db = std::move(kpidb::Engine::Open(dir.path(), options)).value();
  const int64_t day = 86'400'000;
  const int64_t now_ms = 1767225600000 + 3 * day;  // 2026-01-04T00:00Z
  kpidb::WriteBatch b;
  for (const char* channel : {"email", "search"}) {
    for (const char* region : {"eu", "us"}) {
      // One point per day at 12:00 UTC: 10 visits, 1 purchase (email), 2 (search).
      kpidb::SeriesPoints visits{"kpi_visits", {{"channel", channel}, {"region", region}}, {}, {}};
      kpidb::SeriesPoints purchases{"kpi_purchases", {{"channel", channel}, {"region", region}}, {}, {}};
      for (int d = 0; d < 3; ++d) {
        visits.timestamps_ms.push_back(1767225600000 + d * day + day / 2);
        visits.values.push_back(10);
        purchases.timestamps_ms.push_back(1767225600000 + d * day + day / 2);
        purchases.values.push_back(channel[0] == 'e' ? 1 : 2);
      }
      b.series.push_back(visits);
      b.series.push_back(purchases);
    }
  }
  ASSERT_TRUE(db->Write(b).ok());

  using namespace kpidb::query;
  Query q;
  q.selector = {"kpi_purchases", {}};
  q.denominator = Selector{"kpi_visits", {}};
  q.start_ms = now_ms - 90 * 86'400'000LL;
  q.end_ms = now_ms;
  q.step = {.calendar = CalendarUnit::kDay, .time_zone = "Europe/Paris"};
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  std::vector<ResultSeries> results;
  kpidb::Status s = db->Query(q, [&](ResultSeries&& r) {
    results.push_back(std::move(r));
    return kpidb::Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].metric, "kpi_purchases/kpi_visits");
  EXPECT_EQ(results[0].labels, (kpidb::Labels{{"channel", "email"}}));
  // Paris midnight on 2026-01-01 is 2025-12-31T23:00Z.
  EXPECT_EQ(results[0].timestamps_ms,
            (std::vector<int64_t>{1767222000000, 1767222000000 + day, 1767222000000 + 2 * day}));
  EXPECT_EQ(results[0].values, (std::vector<double>{0.1, 0.1, 0.1}));
  EXPECT_EQ(results[1].values, (std::vector<double>{0.2, 0.2, 0.2}));
}

}  // namespace
}  // namespace kpidb
