// The compaction policy (PlanMerges) on real segment files with chosen ages,
// and the background compactor running it in an engine: day partitions
// merged once they hold enough files or are quiet, old data moved into
// 30-day files, nothing lost or changed (checked point by point against a
// reference, before and after reopening), deletes on coarse files, a
// requested compaction that returns at once, and a Close that does not wait
// for a throttled merge.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "engine/core/compactor.h"
#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/engine_fixture.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kMonth = 30 * kDay;  // the default coarse window

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Segment files of one series, each with the points given.
class Plan : public ::testing::Test {
 protected:
  Plan() { options_.compaction_trigger_files = 4; }

  // `noisy`: values that do not compress (a large file).
  std::shared_ptr<SegmentReader> File(std::vector<int64_t> timestamps, int64_t age_ms,
                                      bool noisy = false) {
    const std::string path = dir_.path() + "/" + std::to_string(++number_) + ".kps";
    auto writer = SegmentWriter::Create(path, 128);
    EXPECT_TRUE(writer.ok());
    std::vector<double> values(timestamps.size(), 1.0);
    std::mt19937_64 rng(number_);
    if (noisy) {
      for (double& v : values) v = std::uniform_real_distribution<double>(0, 1)(rng);
    }
    EXPECT_TRUE((*writer)->AddSeries(1, SeriesKey("m", {}).Canonical(), timestamps, values).ok());
    EXPECT_TRUE((*writer)->Finish().ok());
    auto reader = SegmentReader::Open(path, false);
    EXPECT_TRUE(reader.ok());
    std::shared_ptr<SegmentReader> shared = std::move(reader).value();
    ages_[shared.get()] = age_ms;
    files_.push_back(shared);
    return shared;
  }
  std::vector<MergeJob> Run(int64_t now_ms, bool forced = false, size_t* waiting = nullptr) {
    return PlanMerges(files_, options_, now_ms, forced,
                      [&](const SegmentReader& s) { return ages_.at(&s); }, waiting);
  }

  testing::TempDir dir_;
  EngineOptions options_;
  int number_ = 0;
  std::vector<std::shared_ptr<SegmentReader>> files_;
  std::map<const SegmentReader*, int64_t> ages_;
};

TEST_F(Plan, ARunningDayMergesItsNewestFilesOnceThereAreEnoughAndAnEndedDayWhole) {
  const int64_t day = 1000 * kDay;
  const int64_t now = day + kDay / 2;  // the day is still running
  File({day + 1}, 0);
  File({day + 2}, 0);
  File({day + 3}, 0);
  size_t waiting = 0;
  EXPECT_TRUE(Run(now, false, &waiting).empty());  // 3 < 4 files
  EXPECT_EQ(waiting, 1u);
  EXPECT_EQ(Run(now, /*forced=*/true).size(), 1u);  // Compact does not wait
  File({day + 4}, 0);
  auto jobs = Run(now, false, &waiting);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(waiting, 0u);
  EXPECT_EQ(jobs[0].level, 0u);
  EXPECT_EQ(jobs[0].start_ms, day);
  EXPECT_EQ(jobs[0].end_ms, day + kDay);
  EXPECT_EQ(jobs[0].files, files_);  // similar sizes: all, oldest first
  // Quiet files of a running day wait for more files or the day's end.
  for (auto& [file, age] : ages_) age = options_.compaction_quiet_ms;
  files_.pop_back();
  EXPECT_TRUE(Run(now, false, &waiting).empty());
  EXPECT_EQ(waiting, 1u);
  // Once the day has ended, its quiet files are merged whole.
  jobs = Run(day + kDay);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].files.size(), 3u);
  // A lone file is never merged.
  files_.resize(1);
  EXPECT_TRUE(Run(day + 10 * kDay, true).empty());
}

TEST_F(Plan, ARunningDayLeavesItsLargeMergedFileUntilTheNewOnesAddUpToHalfOfIt) {
  const int64_t day = 1000 * kDay;
  std::vector<int64_t> many;
  for (int i = 0; i < 2000; ++i) many.push_back(day + 10 + i * 1000);
  auto big = File(many, 0, /*noisy=*/true);  // what earlier merges made of the day
  uint64_t small = 0;
  for (int i = 0; i < 4; ++i) small += File({day + 5'000'000 + i}, 0)->file_size();
  ASSERT_GT(big->file_size(), 2 * small);
  auto jobs = Run(day + kDay / 2);
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].files.size(), 4u);  // the four small ones, not the big one
  EXPECT_EQ(jobs[0].files.front(), files_[1]);
  EXPECT_EQ(jobs[0].files.back(), files_.back());
  // Forced, or once the day ended and is quiet: the whole day.
  EXPECT_EQ(Run(day + kDay / 2, true)[0].files.size(), 5u);
  for (auto& [file, age] : ages_) age = options_.compaction_quiet_ms;
  EXPECT_EQ(Run(day + kDay)[0].files.size(), 5u);
}

TEST_F(Plan, TwoCoarseLevelsNegativeTimesAndACrossingFile) {
  options_.partition_level_factors = {7, 4};  // weeks, then 28 days
  const int64_t week = 7 * kDay, four = 28 * kDay;
  // Before 1970: two files in each of two weeks of one old 28-day window.
  const int64_t w = -100 * four;
  File({w + 1}, kDay);
  File({w + kDay + 1}, kDay);
  File({w + week + 1}, kDay);
  File({w + week + kDay + 1}, kDay);
  auto jobs = Run(0);
  ASSERT_EQ(jobs.size(), 1u);  // the coarsest window takes all four
  EXPECT_EQ(jobs[0].level, 2u);
  EXPECT_EQ(jobs[0].start_ms, w);
  EXPECT_EQ(jobs[0].end_ms, w + four);
  EXPECT_EQ(jobs[0].files.size(), 4u);
  // A file crossing the 28-day boundary: that level leaves both windows
  // alone, the weeks below are merged on their own.
  File({w + four - 1, w + four + 1}, kDay);
  jobs = Run(0);
  ASSERT_EQ(jobs.size(), 2u);  // the first two weeks, two files each
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(jobs[i].level, 1u);
    EXPECT_EQ(jobs[i].start_ms, w + static_cast<int64_t>(i) * week);
    EXPECT_EQ(jobs[i].files.size(), 2u);
  }
  // The lowest window of the int64 range is partial: no overflow.
  files_.clear();
  File({INT64_MIN, INT64_MIN + 5}, kDay);
  File({INT64_MIN + 7}, kDay);
  jobs = Run(0, true);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].start_ms, INT64_MIN);
}

TEST_F(Plan, AnOldWindowBecomesOneFileAndItsDaysAreNotMergedAlone) {
  const int64_t month = 400 * kMonth;
  for (int d = 0; d < 5; ++d) {
    File({month + d * kDay + 1}, kDay);
    File({month + d * kDay + 2}, kDay);  // two files a day
  }
  File({month + kMonth + 1}, kDay);  // the next window: one file only
  // The window ended only an hour ago: it is recent, its days are merged.
  auto jobs = Run(month + kMonth + kHour);
  ASSERT_EQ(jobs.size(), 5u);
  for (const auto& job : jobs) EXPECT_EQ(job.level, 0u);
  // A day after it ended (partition_merge_after_ms): one file for the window.
  jobs = Run(month + kMonth + kDay);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].level, 1u);
  EXPECT_EQ(jobs[0].start_ms, month);
  EXPECT_EQ(jobs[0].end_ms, month + kMonth);
  EXPECT_EQ(jobs[0].files.size(), 10u);
  // A late write to the old window, not quiet yet: nothing until it is.
  ages_.clear();
  for (const auto& f : files_) ages_[f.get()] = kDay;
  files_ = {files_.back()};  // (the next window's file)
  auto coarse = File({month + 1, month + 20 * kDay}, kDay);
  auto late = File({month + 3 * kDay + 5}, 0);
  size_t waiting = 0;
  EXPECT_TRUE(Run(month + 3 * kMonth, false, &waiting).empty());
  EXPECT_EQ(waiting, 1u);
  ages_[late.get()] = options_.compaction_quiet_ms;
  jobs = Run(month + 3 * kMonth);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].level, 1u);
  EXPECT_EQ(jobs[0].files, (std::vector<std::shared_ptr<SegmentReader>>{coarse, late}));
}

TEST_F(Plan, AWindowThatAFileCrossesIsLeftAlone) {
  options_.partition_level_factors = {};
  const int64_t day = 1000 * kDay;
  File({day + 1}, kDay);
  File({day + kDay - 1, day + kDay + 1}, kDay);  // crosses into the next day
  File({day + 2}, kDay);
  File({day + 2 * kDay + 1}, kDay);
  File({day + 2 * kDay + 2}, kDay);
  auto jobs = Run(day + 10 * kDay, true);
  ASSERT_EQ(jobs.size(), 1u);  // only the third day
  EXPECT_EQ(jobs[0].start_ms, day + 2 * kDay);
  // Levels must be at least twice as wide as the one below.
  options_.partition_level_factors = {1};
  testing::TempDir dir;
  EXPECT_EQ(EngineCore::Open(dir.path(), options_).status().code(), StatusCode::kInvalidArgument);
}

// The engine with the background compactor on: points over 75 days that
// ended 100 days ago (so in old 30-day windows), written out of order with
// rewrites in many flushes, and a reference of every point.
class AutoCompaction : public testing::EngineTest {
 protected:
  AutoCompaction() {
    options_.rollup_min_points_per_row = 1;  // rows even for these sparse series
    options_.compaction_quiet_ms = 0;
    options_.compaction_interval_ms = 10;
    start_ = (NowMs() - 175 * kDay) / kDay * kDay;
  }
  void WriteRounds(int rounds, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int r = 0; r < rounds; ++r) {
      WriteBatch batch;
      for (int s = 0; s < 3; ++s) {
        SeriesPoints sp{"kpi_auto", {{"s", std::to_string(s)}}, {}, {}};
        std::set<int64_t> seen;
        for (int i = 0; i < 400; ++i) {
          const int64_t t = start_ + std::uniform_int_distribution<int64_t>(0, 75 * 288 - 1)(rng) * 300'000;
          if (!seen.insert(t).second) continue;
          sp.timestamps_ms.push_back(t);
          // Decimals with binary noise, and now and then -0 or a subnormal.
          double v = std::round(std::uniform_real_distribution<double>(0, 1000)(rng) * 100) / 100 * 1.1;
          if (i % 97 == 0) v = -0.0;
          if (i % 89 == 0) v = std::bit_cast<double>(uint64_t{0x000f000000000123});
          sp.values.push_back(v);
          ref_[s][t] = v;
        }
        batch.series.push_back(std::move(sp));
      }
      const Status written = engine_->Write(batch);
      ASSERT_TRUE(written.ok()) << written.ToString();
      ASSERT_TRUE(engine_->Flush().ok());
    }
  }
  // Waits until the store holds `segments` files and the compactor is idle
  // with nothing due.
  void WaitFor(size_t segments) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = engine_->GetStats();
      if (s.segments == segments && !s.compaction.running && s.compaction.backlog == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the compactor did not get to " << segments << " files: "
           << engine_->GetStats().segments;
  }
  void ExpectReference() {
    for (const auto& [s, points] : ref_) {
      testing::ExpectStoredPoints(*engine_, "kpi_auto", {{"s", std::to_string(s)}}, points);
    }
  }
  // Windows of 30 days holding points.
  size_t Windows() const {
    std::set<int64_t> windows;
    for (const auto& [s, points] : ref_) {
      for (const auto& [t, v] : points) windows.insert(t / kMonth);
    }
    return windows.size();
  }
  size_t FilesOnDisk() const {
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/segments")) {
      files += e.path().extension() == ".kps";
    }
    return files;
  }

  int64_t start_ = 0;
  std::map<int, std::map<int64_t, double>> ref_;
};

TEST_F(AutoCompaction, OldDaysEndInOneFileAWindowAndNothingChanges) {
  WriteRounds(6, 1);
  WaitFor(Windows());
  ExpectReference();
  EXPECT_EQ(engine_->GetStats().segments, Windows());
  EXPECT_EQ(FilesOnDisk(), Windows());  // the merged files are gone
  const auto c = engine_->GetStats().compaction;
  EXPECT_GT(c.files_merged, c.merges);
  EXPECT_GT(c.bytes_written, 0u);
  EXPECT_GT(c.last_merge_unix_ms, 0);
  EXPECT_TRUE(c.last_error.empty()) << c.last_error;
  // Rollup rows answer every hour again (none was invalidated by a later file).
  const query::QueryStats stats = testing::HourlyMaxStats(*engine_, "kpi_auto", start_, start_ + 75 * kDay);
  EXPECT_EQ(stats.points, 0u);
  EXPECT_GT(stats.rollup_rows, 0u);
  Open();
  ExpectReference();
  // Late writes into the old windows are merged into them again.
  WriteRounds(2, 2);
  WaitFor(Windows());
  ExpectReference();
  EXPECT_EQ(engine_->GetStats().segments, Windows());
}

TEST_F(AutoCompaction, DeletesFromCoarseFiles) {
  WriteRounds(4, 3);
  WaitFor(Windows());
  ASSERT_EQ(engine_->GetStats().segments, Windows());
  auto id = engine_->FindSeries("kpi_auto", {{"s", "1"}});
  const int64_t from = start_ + 10 * kDay, to = start_ + 40 * kDay;  // across two windows
  uint64_t expected = 0;
  for (auto it = ref_[1].lower_bound(from); it != ref_[1].end() && it->first < to;) {
    it = ref_[1].erase(it);
    ++expected;
  }
  uint64_t deleted = 0;
  ASSERT_TRUE(engine_->Delete({*id}, from, to, &deleted).ok());
  EXPECT_EQ(deleted, expected);
  ExpectReference();
  Open();
  ExpectReference();
}

TEST_F(AutoCompaction, StartCompactionReturnsAtOnceAndRunsInTheBackground) {
  options_.auto_compaction = false;
  options_.compaction_max_bytes_per_second = 1;  // a merge would take hours
  Open();
  WriteRounds(3, 4);
  const uint64_t before = engine_->GetStats().segments;
  ASSERT_GT(before, Windows());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->StartCompaction().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(engine_->GetStats().segments, before);
  // A Compact meanwhile does not wait for the throttled merge: it gives way.
  uint64_t merged = 0;
  ASSERT_TRUE(engine_->Compact(&merged).ok());
  EXPECT_EQ(engine_->GetStats().segments, Windows());
  ExpectReference();
  // Unthrottled, in the background only.
  options_.compaction_max_bytes_per_second = 0;
  Open();
  WriteRounds(2, 5);
  ASSERT_GT(engine_->GetStats().segments, Windows());
  ASSERT_TRUE(engine_->StartCompaction().ok());
  WaitFor(Windows());
  ExpectReference();
}

TEST_F(AutoCompaction, CloseDoesNotWaitForAThrottledMergeAndLeavesNoPartialFile) {
  options_.auto_compaction = false;
  options_.compaction_max_bytes_per_second = 1;  // a merge would take hours
  Open();
  WriteRounds(3, 5);
  const uint64_t segments = engine_->GetStats().segments;
  ASSERT_TRUE(engine_->StartCompaction().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!engine_->GetStats().compaction.running && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(engine_->GetStats().compaction.running);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->Close().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(FilesOnDisk(), segments);  // the merge's file was removed
  Open();
  EXPECT_EQ(engine_->GetStats().segments, segments);
  ExpectReference();
}

}  // namespace
}  // namespace kpidb
