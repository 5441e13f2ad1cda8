// Fill policies at the edges of the double range.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/test_util.h"

namespace kpidb::query {
namespace {

TEST(QueryFill, LinearFillBetweenHugeValuesOfOppositeSignsStaysFinite) {
  testing::TempDir dir;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  auto engine = std::move(EngineCore::Open(dir.path(), o)).value();
  WriteBatch b;
  b.series.push_back({"m", {}, {0, 40}, {-DBL_MAX, DBL_MAX}});
  ASSERT_TRUE(engine->Write(b).ok());
  Query q;
  q.selector.metric = "m";
  q.start_ms = 0;
  q.end_ms = 50;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kLast;
  q.fill = Fill::kLinear;
  std::vector<ResultSeries> out;
  ASSERT_TRUE(Execute(*engine, q, [&](ResultSeries&& r) {
                out.push_back(std::move(r));
                return Status::Ok();
              }).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].values.size(), 5u);
  for (double v : out[0].values) EXPECT_TRUE(std::isfinite(v)) << v;
  EXPECT_EQ(out[0].values[2], 0.0);
  EXPECT_EQ(out[0].values[0], -DBL_MAX);
  EXPECT_EQ(out[0].values[4], DBL_MAX);
}

}  // namespace
}  // namespace kpidb::query
