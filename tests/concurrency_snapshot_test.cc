// EngineCore::Snapshot while writes, flushes and merges go on (run under
// ThreadSanitizer): every point acknowledged before the snapshot began is
// in it, bit for bit, it holds nothing that was never written, and it
// opens as a data dir of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tests/engine_fixture.h"

namespace kpidb {
namespace {

constexpr int64_t kBase = 1'767'225'600'000;

class Snapshot : public testing::EngineTest {
 protected:
  Snapshot() {
    options_.head_max_bytes = 256 << 10;  // flushes all the time
    options_.compaction_quiet_ms = 0;     // and background merges
  }
};

TEST_F(Snapshot, HoldsEveryAcknowledgedWriteWhileWritesGoOn) {
  std::mutex mu;
  std::vector<std::map<int64_t, double>> acked(8);    // under mu (across rounds)
  std::map<std::pair<int, int64_t>, std::vector<double>> written;  // under mu: every value sent
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        std::mt19937_64 rng(round * 10 + w);
        for (int64_t i = 0; !stop; ++i) {
          const int s = static_cast<int>(rng() % 8);
          SeriesPoints sp{"kpi_snap", {{"s", std::to_string(s)}}, {}, {}};
          for (int k = 0; k < 200; ++k) {
            sp.timestamps_ms.push_back(kBase + static_cast<int64_t>(rng() % (3 * 86'400'000LL)));
            sp.values.push_back(std::bit_cast<double>((rng() >> 2) | 0x3000000000000000ULL));
          }
          // One batch, one value per timestamp (the last of a duplicate wins).
          std::map<int64_t, double> points;
          for (size_t k = 0; k < sp.values.size(); ++k) points[sp.timestamps_ms[k]] = sp.values[k];
          sp.timestamps_ms.clear();
          sp.values.clear();
          for (auto [t, v] : points) {
            sp.timestamps_ms.push_back(t);
            sp.values.push_back(v);
          }
          WriteBatch b;
          b.series.push_back(sp);
          {
            std::lock_guard lock(mu);
            for (auto [t, v] : points) written[{s, t}].push_back(v);
          }
          if (engine_->Write(b).ok()) {
            std::lock_guard lock(mu);
            for (auto [t, v] : points) acked[s][t] = v;
          } else {
            ++failures;
          }
        }
      });
    }
    // Until flushes have made segments (the head is small; under a
    // sanitizer this takes longer), bounded.
    const uint64_t flushes = engine_->GetStats().flushes;
    for (int i = 0; i < 3000 && engine_->GetStats().flushes < flushes + 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::vector<std::map<int64_t, double>> before;
    {
      std::lock_guard lock(mu);
      before = acked;
    }
    testing::TempDir dest;
    auto info = engine_->Snapshot(dest.path() + "/snap");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
    for (auto& t : writers) t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(info->segments, 0u);
    EXPECT_EQ(info->segments_linked, info->segments);  // the same file system

    auto copy = EngineCore::Open(dest.path() + "/snap", options_);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    for (int s = 0; s < 8; ++s) {
      auto id = (*copy)->FindSeries("kpi_snap", {{"s", std::to_string(s)}});
      if (before[s].empty()) continue;
      ASSERT_TRUE(id.has_value()) << s;
      auto data = (*copy)->Read(*id, INT64_MIN, INT64_MAX);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      std::map<int64_t, double> got;
      for (size_t i = 0; i < data->timestamps_ms.size(); ++i) got[data->timestamps_ms[i]] = data->values[i];
      // Timestamps are random and rarely repeat, so the value acknowledged
      // before is the one kept unless a later write rewrote it.
      for (const auto& [t, v] : before[s]) {
        auto it = got.find(t);
        ASSERT_NE(it, got.end()) << "series " << s << " lost " << t;
        (void)v;  // a later write may have replaced it: checked below
      }
      std::lock_guard lock(mu);
      for (const auto& [t, v] : got) {
        auto w = written.find({s, t});
        ASSERT_NE(w, written.end()) << "series " << s << " invented " << t;
        bool sent = false;
        for (double x : w->second) sent |= std::bit_cast<uint64_t>(x) == std::bit_cast<uint64_t>(v);
        ASSERT_TRUE(sent) << "series " << s << " at " << t << " holds a value never written";
      }
    }
    // A snapshot never lands on data.
    auto again = engine_->Snapshot(dest.path() + "/snap");
    EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(again.status().message().find("is not empty"), std::string::npos);
  }
}

}  // namespace
}  // namespace kpidb
