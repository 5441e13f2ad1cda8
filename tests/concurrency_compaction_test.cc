// Compaction under concurrency (run with ThreadSanitizer): reads during a
// compaction see every point throughout.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/compaction_fixture.h"

namespace kpidb {
namespace {

using testing::Compaction;

TEST_F(Compaction, ReadsDuringCompactionSeeEveryPoint) {
  WriteRounds(6, 3);
  size_t total = 0;
  for (const auto& [s, points] : ref_) total += points.size();
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done) {
      size_t n = 0;
      for (int s = 0; s < 4; ++s) {
        auto id = engine_->FindSeries("kpi_c", {{"s", std::to_string(s)}});
        auto data = engine_->Read(*id, INT64_MIN, INT64_MAX);
        if (!data.ok()) ++bad;
        else n += data->timestamps_ms.size();
      }
      if (n != total) ++bad;
    }
  });
  ASSERT_TRUE(engine_->Compact().ok());
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  ExpectReference();
}

}  // namespace
}  // namespace kpidb
