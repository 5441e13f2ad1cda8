// What the engine does when the disk fails it: a failing flush neither
// blocks writers forever nor hangs Close, and it recovers once the disk
// works again; a lost manifest never turns into deleted segments.
#include <gtest/gtest.h>

#include <filesystem>

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
    std::vector<SeriesLog::Definition> none;
    auto log = SeriesLog::Open(path, [](std::string_view) {}, &none);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(defs).ok());  // ~3 MB: several records
  }
  std::vector<SeriesLog::Definition> back;
  auto log = SeriesLog::Open(path, [](std::string_view) {}, &back);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(back, defs);
}

}  // namespace
}  // namespace kpidb
