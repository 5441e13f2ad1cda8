// The README's engine example, kept compiling and true.
#include <gtest/gtest.h>

#include "engine/engine.h"
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

  auto email = db->SelectSeries("kpi_visits", {{"channel", "email"}});
  EXPECT_EQ(email.size(), 1u);
  EXPECT_TRUE(db->Flush().ok());
  EXPECT_TRUE(db->Close().ok());
  EXPECT_EQ(db->Write(batch).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kpidb
