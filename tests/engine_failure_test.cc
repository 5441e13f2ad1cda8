// What the engine does when the disk fails it: a failing flush neither
// blocks writers forever nor hangs Close, and it recovers once the disk
// works again; a lost manifest never turns into deleted segments.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "engine/core/engine_core.h"
#include "engine/wal/series_log.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

WriteBatch Batch(int64_t first_ts, int n) {
  WriteBatch b;
  SeriesPoints p{"kpi_f", {{"k", "v"}}, {}, {}};
  for (int i = 0; i < n; ++i) {
    p.timestamps_ms.push_back(first_ts + i);
    p.values.push_back(i);
  }
  b.series.push_back(std::move(p));
  return b;
}

TEST(EngineFailure, AFailingFlushRefusesWritesWithUnavailableThenRecovers) {
  TempDir dir;
  std::string log;
  std::mutex log_mu;
  EngineOptions o;
  o.logger = [&](std::string_view line) {
    std::lock_guard l(log_mu);
    log += std::string(line) + "\n";
  };
  o.head_max_bytes = 32 << 10;
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok());
  // Break the segment directory: segment files cannot be created.
  const fs::path segments = fs::path(dir.path()) / "segments";
  fs::rename(segments, fs::path(dir.path()) / "segments.away");
  testing::WriteFileOrDie(segments.string(), "not a directory");

  int64_t ts = 0;
  Status refused;
  size_t acknowledged = 0;
  for (int i = 0; i < 200 && refused.ok(); ++i, ts += 1000) {
    refused = (*e)->Write(Batch(ts, 1000));
    if (refused.ok()) acknowledged += 1000;
  }
  ASSERT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("flushing it failed"), std::string::npos);
  {
    std::lock_guard l(log_mu);
    EXPECT_NE(log.find("background flush failed, retrying"), std::string::npos) << log;
  }
  // Writes already acknowledged are all still readable.
  auto id = (*e)->FindSeries("kpi_f", {{"k", "v"}});
  ASSERT_TRUE(id.has_value());

  // Repair the disk: the retrying flush succeeds and writes flow again.
  fs::remove(segments);
  fs::rename(fs::path(dir.path()) / "segments.away", segments);
  Status s;
  for (int i = 0; i < 100; ++i) {
    s = (*e)->Write(Batch(ts, 10));
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto all = (*e)->Read(*id, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->timestamps_ms.size(), acknowledged + 10);  // nothing refused was written
  EXPECT_TRUE((*e)->Close().ok());  // and Close does not hang
}

TEST(EngineFailure, ALostManifestRefusesToOpenRatherThanDeleteSegments) {
  TempDir dir;
  {
    EngineOptions o;
    o.logger = [](std::string_view) {};
    auto e = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Write(Batch(0, 10)).ok());
    ASSERT_TRUE((*e)->Flush().ok());
  }
  fs::remove(fs::path(dir.path()) / "MANIFEST");
  EngineOptions o;
  o.logger = [](std::string_view) {};
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(e.status().IsCorruption());
  EXPECT_NE(e.status().message().find("MANIFEST is missing"), std::string::npos);
  size_t segment_files = 0;
  for (const auto& f : fs::directory_iterator(fs::path(dir.path()) / "segments")) {
    segment_files += f.path().extension() == ".kps";
  }
  EXPECT_EQ(segment_files, 1u);  // still there
}

TEST(EngineFailure, FlushAndWriteAfterCloseAreUnavailable) {
  TempDir dir;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE((*e)->Close().ok());
  EXPECT_EQ((*e)->Flush().code(), StatusCode::kUnavailable);
  EXPECT_EQ((*e)->Write(Batch(0, 1)).code(), StatusCode::kUnavailable);
}

TEST(SeriesLog, LargeAppendsAreSplitIntoReadableRecords) {
  TempDir dir;
  const std::string path = dir.path() + "/series.log";
  std::vector<SeriesLog::Definition> defs;
  for (uint64_t i = 0; i < 3000; ++i) defs.emplace_back(i, std::string(1000, 'a' + i % 26));
  {
    SeriesLog::Stored none;
    auto log = SeriesLog::Open(path, [](std::string_view) {}, &none);
    ASSERT_TRUE(log.ok());
    const std::vector<SeriesLog::DefinitionView> views(defs.begin(), defs.end());
    ASSERT_TRUE((*log)->Append(views).ok());  // ~3 MB: several records
  }
  SeriesLog::Stored back;
  auto log = SeriesLog::Open(path, [](std::string_view) {}, &back);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(back.Copy(), defs);
}

}  // namespace
}  // namespace kpidb

namespace kpidb {
namespace {

// Memory running out on the write path (injected in the head's block
// allocation) refuses the writes of the group with RESOURCE_EXHAUSTED, wakes
// every writer of it, leaves nothing of them in the engine (neither points
// nor new series, live or after a restart), and the engine goes on serving.
TEST(EngineFailure, OutOfMemoryRefusesTheGroupWholeAndTheEngineKeepsServing) {
  TempDir dir;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  o.group_commit_wait_us = 2000;  // writers that are already in Write() join one group
  {
    auto e = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(e.ok());
    EngineCore& engine = **e;
    ASSERT_TRUE(engine.Write(Batch(0, 10)).ok());

    engine.head_memory().FailAllocationsForTest(true);
    constexpr int kWriters = 6;
    std::vector<Status> statuses(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        WriteBatch b;
        // New series, and more points of the existing one than its first
        // block holds: both need head memory.
        b.series.push_back({"kpi_oom", {{"writer", std::to_string(w)}}, {1, 2, 3}, {1, 2, 3}});
        WriteBatch more = Batch(1000 + 100 * w, 100);
        b.series.push_back(more.series[0]);
        statuses[w] = engine.Write(b);
      });
    }
    for (auto& t : writers) t.join();  // every writer woken: none hangs
    for (const Status& s : statuses) {
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
      EXPECT_NE(s.message().find("nothing was written"), std::string::npos) << s.message();
    }
    for (int w = 0; w < kWriters; ++w) {
      EXPECT_FALSE(engine.FindSeries("kpi_oom", {{"writer", std::to_string(w)}}).has_value());
    }
    auto id = engine.FindSeries("kpi_f", {{"k", "v"}});
    ASSERT_TRUE(id.has_value());
    auto data = engine.Read(*id, INT64_MIN, INT64_MAX - 1);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->timestamps_ms.size(), 10u);  // only the first write

    // Memory is back: the engine serves as before.
    engine.head_memory().FailAllocationsForTest(false);
    ASSERT_TRUE(engine.Write(Batch(5000, 50)).ok());
    data = engine.Read(*id, INT64_MIN, INT64_MAX - 1);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->timestamps_ms.size(), 60u);
    EXPECT_EQ(engine.GetStats().series, 1u);
    ASSERT_TRUE(engine.Close().ok());
  }
  // The refused writes were never logged: a restart does not bring them back.
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->GetStats().series, 1u);
  auto id = (*e)->FindSeries("kpi_f", {{"k", "v"}});
  ASSERT_TRUE(id.has_value());
  auto data = (*e)->Read(*id, INT64_MIN, INT64_MAX - 1);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->timestamps_ms.size(), 60u);
  ASSERT_TRUE((*e)->Flush().ok());  // a head holding refused series' empty entries flushes fine
}

}  // namespace
}  // namespace kpidb
