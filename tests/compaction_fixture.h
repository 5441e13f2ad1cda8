// The fixture of the compaction tests (compaction_test.cc, and
// concurrency_compaction_test.cc run under ThreadSanitizer): an engine over a
// temporary dir, random out-of-order writes with rewrites over 3 days
// flushed batch by batch, and a std::map reference of every point.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <random>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/engine_fixture.h"

namespace kpidb::testing {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kBase = 20'000 * kDay;

class Compaction : public EngineTest {
 protected:
  // Compact merges each day's files, and nothing else does: no background
  // merges, no coarser partitions (compaction_policy_test.cc tests those).
  Compaction() {
    options_.auto_compaction = false;
    options_.partition_level_factors = {};
    options_.rollup_min_points_per_row = 1;  // rows even for these sparse series
  }
  // Random points over 3 days for 4 series, out of order, with rewrites;
  // flushed after every batch so each day gets many segments.
  void WriteRounds(int rounds, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int r = 0; r < rounds; ++r) {
      WriteBatch batch;
      for (int s = 0; s < 4; ++s) {
        SeriesPoints sp{"kpi_c", {{"s", std::to_string(s)}}, {}, {}};
        for (int i = 0; i < 300; ++i) {
          const int64_t t = kBase + std::uniform_int_distribution<int64_t>(0, 3 * 2880 - 1)(rng) * 30'000;
          if (std::find(sp.timestamps_ms.begin(), sp.timestamps_ms.end(), t) != sp.timestamps_ms.end()) continue;
          sp.timestamps_ms.push_back(t);
          sp.values.push_back(std::round(std::uniform_real_distribution<double>(0, 100)(rng) * 100) / 100);
          ref_[s][t] = sp.values.back();
        }
        batch.series.push_back(std::move(sp));
      }
      ASSERT_TRUE(engine_->Write(batch).ok());
      ASSERT_TRUE(engine_->Flush().ok());
    }
  }
  void ExpectReference() {
    for (int s = 0; s < 4; ++s) ExpectStoredPoints(*engine_, "kpi_c", {{"s", std::to_string(s)}}, ref_[s]);
  }
  uint64_t RollupRowsOfHourlyMax() {
    return HourlyMaxStats(*engine_, "kpi_c", kBase, kBase + 3 * kDay).rollup_rows;
  }

  std::map<int, std::map<int64_t, double>> ref_;
};

}  // namespace kpidb::testing
