// The fixture of the tests that run one engine over a temporary dir: a
// quiet logger and no fsync (WalSyncPolicy::kNone; the durability tests set
// their own). Open() (re)opens the engine with options_, so a test may
// change options_ and reopen; a derived SetUp may set options_ before
// calling EngineTest::SetUp().
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <memory>
#include <string>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/test_util.h"

namespace kpidb::testing {

// The series `metric`{labels} holds exactly the points of `ref`, bit for bit.
inline void ExpectStoredPoints(const EngineCore& engine, const std::string& metric,
                               const Labels& labels, const std::map<int64_t, double>& ref) {
  SCOPED_TRACE(SeriesKey(metric, labels).ToString());
  auto id = engine.FindSeries(metric, labels);
  ASSERT_TRUE(id.has_value());
  auto data = engine.Read(*id, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->timestamps_ms.size(), ref.size());
  size_t i = 0;
  for (const auto& [t, v] : ref) {
    ASSERT_EQ(data->timestamps_ms[i], t);
    ASSERT_EQ(std::bit_cast<uint64_t>(data->values[i]), std::bit_cast<uint64_t>(v)) << t;
    ++i;
  }
}

// What served the hourly max of `metric` over [start_ms, end_ms).
inline query::QueryStats HourlyMaxStats(const EngineCore& engine, const std::string& metric,
                                        int64_t start_ms, int64_t end_ms) {
  query::Query q;
  q.selector.metric = metric;
  q.start_ms = start_ms;
  q.end_ms = end_ms;
  q.step.step_ms = 3'600'000;
  q.aggregation = query::Aggregation::kMax;
  query::QueryStats stats;
  EXPECT_TRUE(query::Execute(engine, q, [](query::ResultSeries&&) { return Status::Ok(); }, &stats).ok());
  return stats;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    options_.logger = [](std::string_view) {};
    options_.wal_sync = WalSyncPolicy::kNone;
  }
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    auto e = EngineCore::Open(dir_.path(), options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }

  TempDir dir_;  // outlives engine_
  EngineOptions options_;
  std::unique_ptr<EngineCore> engine_;
};

}  // namespace kpidb::testing
