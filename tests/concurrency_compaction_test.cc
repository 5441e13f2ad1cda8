// Compaction under concurrency (run with ThreadSanitizer): reads during a
// compaction see every point throughout; writes and flushes go on; the
// background compactor, Compact, StartCompaction and Delete all at once.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <map>
#include <chrono>
#include <random>
#include <thread>

#include "tests/compaction_fixture.h"

namespace kpidb {
namespace {

using testing::Compaction;
using testing::kBase;

TEST_F(Compaction, ReadsDuringCompactionSeeEveryPoint) {
  WriteRounds(6, 3);
  size_t total = 0;
  for (const auto& [s, points] : ref_) total += points.size();
  std::atomic<bool> done{false};
  std::atomic<bool> compacting{false};
  std::atomic<int> bad{0};
  std::atomic<int> overlapping{0};  // reads begun and ended while Compact ran
  // Each merge waits (a bounded time) until reads have run during it, so the
  // reads do overlap the compaction, before and after each file's swap.
  engine_->SetMergeHookForTest([&] {
    const int before = overlapping.load();
    for (int i = 0; i < 2000 && overlapping.load() < before + 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::thread reader([&] {
    while (!done) {
      const bool began_during = compacting.load();
      size_t n = 0;
      for (int s = 0; s < 4; ++s) {
        auto id = engine_->FindSeries("kpi_c", {{"s", std::to_string(s)}});
        auto data = engine_->Read(*id, INT64_MIN, INT64_MAX);
        if (!data.ok()) ++bad;
        else n += data->timestamps_ms.size();
      }
      if (n != total) ++bad;
      if (began_during && compacting.load()) ++overlapping;
    }
  });
  compacting = true;
  uint64_t merged = 0;
  ASSERT_TRUE(engine_->Compact(&merged).ok());
  compacting = false;
  done = true;
  reader.join();
  EXPECT_GT(merged, 0u);
  EXPECT_GE(overlapping.load(), 3) << "no read overlapped the compaction";
  EXPECT_EQ(bad.load(), 0);
  ExpectReference();
}

// While a compaction merges (held in its merge by the test), writes keep
// flowing into a bounded head: flushes go on (the compaction holds the flush
// lock only to install a file), the head never passes twice head_max_bytes
// plus a batch, and files flushed into the partition meanwhile, rewriting
// points of the merged files, stay newer than the merged file. Compact then
// ends with the partitions of its snapshot, whatever was flushed meanwhile.
TEST_F(Compaction, FlushesGoOnAndTheHeadStaysBoundedWhileACompactionRuns) {
  options_.head_max_bytes = 256 << 10;
  Open();
  WriteRounds(3, 5);  // day partitions of 3 files each
  const uint64_t flushes_before = engine_->GetStats().flushes;
  std::atomic<bool> release{false};
  std::atomic<bool> held_merge_done{false};
  std::atomic<int> merges{0};
  engine_->SetMergeHookForTest([&] {
    if (merges++ > 0) return;  // hold the first merge only
    for (int i = 0; i < 20'000 && !release; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    held_merge_done = true;
  });
  Status compacted;
  std::thread compactor([&] { compacted = engine_->Compact(); });
  while (merges.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  // ~10x head_max_bytes of writes into the first day, rewriting its points.
  uint64_t max_head = 0;
  const uint64_t batch_bytes = 4 * 2000 * 16;
  std::mt19937_64 rng(11);
  for (int round = 0; round < 24; ++round) {
    WriteBatch batch;
    for (int s = 0; s < 4; ++s) {
      SeriesPoints sp{"kpi_c", {{"s", std::to_string(s)}}, {}, {}};
      const int64_t first = std::uniform_int_distribution<int64_t>(0, 2880 - 2000)(rng);
      for (int i = 0; i < 2000; ++i) {
        sp.timestamps_ms.push_back(kBase + (first + i) * 30'000);
        sp.values.push_back(round * 1000 + i);
        ref_[s][sp.timestamps_ms.back()] = sp.values.back();
      }
      batch.series.push_back(std::move(sp));
    }
    ASSERT_TRUE(engine_->Write(batch).ok());
    max_head = std::max(max_head, engine_->GetStats().head_bytes);
  }
  const uint64_t flushes_during = engine_->GetStats().flushes - flushes_before;
  EXPECT_FALSE(held_merge_done.load()) << "the writes waited for the compaction's merge";
  release = true;
  compactor.join();
  ASSERT_TRUE(compacted.ok()) << compacted.ToString();
  EXPECT_GT(flushes_during, 3u) << "flushes were held back by the compaction";
  EXPECT_LE(max_head, 2 * options_.head_max_bytes + 2 * batch_bytes);
  EXPECT_EQ(merges.load(), 3) << "one merge per partition of the snapshot";
  ExpectReference();  // newest write wins across the merged and the newer files
  Open();             // and after a restart, from the manifest's order
  ExpectReference();
}

// Everything at once: two writers (each its own series, out of order, with
// rewrites) into a small head that flushes all the time, the background
// compactor merging after every flush into 3-day windows, a reader, and a
// thread calling Compact, StartCompaction and Delete (on a series nobody
// writes). Every point is where the references say, also after reopening.
TEST_F(Compaction, TheBackgroundCompactorCompactAndDeleteRunWithWritesAndReads) {
  options_.auto_compaction = true;
  options_.compaction_trigger_files = 2;
  options_.compaction_quiet_ms = 0;
  options_.compaction_interval_ms = 1;
  options_.partition_level_factors = {3};
  options_.partition_merge_after_ms = 0;
  options_.head_max_bytes = 64 << 10;
  Open();
  constexpr int64_t kMinute = 60'000;
  auto put = [&](const std::string& s, const std::vector<int64_t>& ts, const std::vector<double>& vs) {
    WriteBatch batch;
    batch.series.push_back({"kpi_load", {{"s", s}}, ts, vs});
    return engine_->Write(batch);
  };
  // The series to delete from, written before anything runs.
  std::map<int64_t, double> victim;
  {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    for (int64_t i = 0; i < 9 * 24 * 60; i += 7) {
      ts.push_back(kBase + i * kMinute);
      vs.push_back(static_cast<double>(i) / 4);
      victim[ts.back()] = vs.back();
    }
    ASSERT_TRUE(put("victim", ts, vs).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::map<int64_t, double> refs[2];
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(100 + w);
      std::string name = "w";  // (appended: GCC 12 warns -Wrestrict on "w" + to_string)
      name += std::to_string(w);
      for (int b = 0; b < 150; ++b) {
        std::vector<int64_t> ts;
        std::vector<double> vs;
        std::map<int64_t, double> batch;
        for (int i = 0; i < 60; ++i) {
          batch[kBase + std::uniform_int_distribution<int64_t>(0, 9 * 24 * 60 - 1)(rng) * kMinute] =
              std::round(std::uniform_real_distribution<double>(0, 1e4)(rng)) / 100;
        }
        for (const auto& [t, v] : batch) {
          ts.push_back(t);
          vs.push_back(v);
        }
        if (!put(name, ts, vs).ok()) ++errors;
        for (const auto& [t, v] : batch) refs[w][t] = v;
      }
    });
  }
  threads.emplace_back([&] {  // a reader
    while (!done) {
      for (const char* s : {"w0", "w1", "victim"}) {
        auto id = engine_->FindSeries("kpi_load", {{"s", s}});
        if (!id) continue;
        if (!engine_->Read(*id, INT64_MIN, INT64_MAX).ok()) ++errors;
      }
    }
  });
  const auto victim_id = engine_->FindSeries("kpi_load", {{"s", "victim"}});
  ASSERT_TRUE(victim_id.has_value());
  std::thread admin([&] {
    for (int round = 0; round < 6 && !done; ++round) {
      if (!engine_->StartCompaction().ok()) ++errors;
      const int64_t from = kBase + round * 36 * 60 * kMinute, to = from + 20 * 60 * kMinute;
      if (!engine_->Delete({*victim_id}, from, to).ok()) ++errors;
      if (!engine_->Compact().ok()) ++errors;
    }
  });
  for (int w = 0; w < 2; ++w) threads[static_cast<size_t>(w)].join();
  admin.join();
  done = true;
  threads[2].join();
  EXPECT_EQ(errors.load(), 0);
  for (int round = 0; round < 6; ++round) {
    const int64_t from = kBase + round * 36 * 60 * kMinute, to = from + 20 * 60 * kMinute;
    victim.erase(victim.lower_bound(from), victim.lower_bound(to));
  }
  auto expect = [&](const std::string& s, const std::map<int64_t, double>& ref) {
    testing::ExpectStoredPoints(*engine_, "kpi_load", {{"s", s}}, ref);
  };
  expect("w0", refs[0]);
  expect("w1", refs[1]);
  expect("victim", victim);
  EXPECT_GT(engine_->GetStats().compaction.merges, 0u);
  Open();
  expect("w0", refs[0]);
  expect("w1", refs[1]);
  expect("victim", victim);
}

}  // namespace
}  // namespace kpidb
