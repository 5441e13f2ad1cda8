// Segment promises: every truncation and every flipped bit is detected and
// reported with the file's path; the engine quarantines a corrupt segment
// and keeps serving the rest.
#include "engine/segment/segment.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/core/engine_core.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

std::string WriteSmallSegment(const std::string& dir) {
  const std::string path = dir + "/seg.kps";
  auto w = SegmentWriter::Create(path, 4, {2000, 5000});  // rollup blocks too
  EXPECT_TRUE(w.ok());
  for (SeriesId id : {3u, 9u}) {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    for (int i = 0; i < 10; ++i) {
      ts.push_back(1000 * i + static_cast<int64_t>(id));
      vs.push_back(i * 0.25 + static_cast<double>(id));
    }
    EXPECT_TRUE((*w)->AddSeries(id, "key" + std::to_string(id), ts, vs).ok());
  }
  EXPECT_TRUE((*w)->Finish().ok());
  return path;
}

TEST(Segment, RoundTripsSeriesChunksAndStats) {
  TempDir dir;
  const std::string path = WriteSmallSegment(dir.path());
  auto r = SegmentReader::Open(path, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->point_count(), 20u);
  EXPECT_EQ((*r)->min_timestamp_ms(), 3);
  EXPECT_EQ((*r)->max_timestamp_ms(), 9009);
  SegmentSeries entry;
  auto found = (*r)->Find(9, &entry);
  ASSERT_TRUE(found.ok() && *found);
  const SegmentSeries* s = &entry;
  EXPECT_EQ(s->canonical, "key9");
  ASSERT_EQ(s->chunks.size(), 3u);  // 4 + 4 + 2 points
  EXPECT_EQ(s->chunks[2].stats.count, 2u);
  EXPECT_EQ(s->chunks[0].stats.sum, 9 + 9.25 + 9.5 + 9.75);
  EXPECT_EQ(s->chunks[1].stats.min_timestamp_ms, 4009);
  auto missing = (*r)->Find(4, &entry);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
  EXPECT_EQ((*r)->series_count(), 2u);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ASSERT_TRUE((*r)->Read(9, 2009, 5010, &ts, &vs).ok());
  EXPECT_EQ(ts, (std::vector<int64_t>{2009, 3009, 4009, 5009}));
  EXPECT_EQ(vs, (std::vector<double>{9.5, 9.75, 10, 10.25}));
}

TEST(Segment, AnIndexPastItsMemoryPiecesSpillsToAFileAndComesBackWhole) {
  TempDir dir;
  const std::string path = dir.path() + "/big.kps";
  const std::string spill = path + std::string(SegmentWriter::kSpillSuffix);
  auto w = SegmentWriter::Create(path, 8);
  ASSERT_TRUE(w.ok());
  // Long keys: ~1 KiB entries, so that a few thousand series fill more
  // than kIndexPiecesInMemory pieces of 1 MiB.
  const std::string pad(1000, 'k');
  constexpr SeriesId kSeries = 12000;
  for (SeriesId id = 1; id <= kSeries; ++id) {
    const int64_t t = static_cast<int64_t>(id);
    const double v = static_cast<double>(id) * 0.5;
    ASSERT_TRUE((*w)->AddSeries(id, pad + std::to_string(id), std::span(&t, 1), std::span(&v, 1)).ok());
  }
  EXPECT_TRUE(fs::exists(spill));
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_FALSE(fs::exists(spill));
  auto r = SegmentReader::Open(path, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->series_count(), kSeries);
  size_t seen = 0;
  ASSERT_TRUE((*r)->ForEachKey([&](SeriesId id, std::string_view canonical) {
                    EXPECT_EQ(canonical, pad + std::to_string(id));
                    EXPECT_EQ(id, ++seen);
                    return Status::Ok();
                  }).ok());
  EXPECT_EQ(seen, kSeries);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ASSERT_TRUE((*r)->Read(kSeries, 0, INT64_MAX, &ts, &vs).ok());
  EXPECT_EQ(vs, std::vector<double>{kSeries * 0.5});

  // A writer dropped before Finish (a failed flush) takes its spill along.
  {
    auto dropped = SegmentWriter::Create(dir.path() + "/dropped.kps", 8);
    ASSERT_TRUE(dropped.ok());
    for (SeriesId id = 1; id <= kSeries; ++id) {
      const int64_t t = 1;
      const double v = 1;
      ASSERT_TRUE((*dropped)->AddSeries(id, pad, std::span(&t, 1), std::span(&v, 1)).ok());
    }
    EXPECT_TRUE(fs::exists(dir.path() + "/dropped.kps.spill"));
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/dropped.kps.spill"));
}

TEST(Segment, EveryTruncationIsCorruptionNamingThePath) {
  TempDir dir;
  const std::string path = WriteSmallSegment(dir.path());
  const std::string full = testing::ReadFileOrDie(path);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    testing::WriteFileOrDie(path, full.substr(0, cut));
    auto r = SegmentReader::Open(path, true);
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_NE(r.status().message().find(path), std::string::npos);
  }
}

TEST(Segment, EveryFlippedBitIsDetectedWhenVerifying) {
  TempDir dir;
  const std::string path = WriteSmallSegment(dir.path());
  const std::string full = testing::ReadFileOrDie(path);
  for (size_t pos = 0; pos < full.size(); ++pos) {
    for (int bit : {0, 5}) {
      std::string bad = full;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      testing::WriteFileOrDie(path, bad);
      auto r = SegmentReader::Open(path, true);
      ASSERT_FALSE(r.ok()) << "flip at " << pos << " bit " << bit << " went unnoticed";
      EXPECT_TRUE(r.status().IsCorruption());
      EXPECT_NE(r.status().message().find(path + " at offset "), std::string::npos);
    }
  }
}

TEST(Segment, WithoutVerifyOnOpenACorruptChunkIsReportedByTheReadThatMeetsIt) {
  // The default: open checks headers, footers and indexes only (a large
  // store reopens without reading every chunk); every chunk's checksum is
  // checked when it is read, so a corrupt one fails that read, naming the
  // file, and never returns wrong points.
  TempDir dir;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  ASSERT_FALSE(o.verify_segments_on_open);
  SeriesId id;
  {
    auto e = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(e.ok());
    WriteBatch b;
    b.series.push_back({"m", {}, {100, 200}, {1, 2}});
    ASSERT_TRUE((*e)->Write(b).ok());
    ASSERT_TRUE((*e)->Flush().ok());
    id = *(*e)->FindSeries("m", {});
  }
  std::vector<fs::path> segments;
  for (const auto& f : fs::directory_iterator(fs::path(dir.path()) / "segments")) {
    segments.push_back(f.path());
  }
  ASSERT_EQ(segments.size(), 1u);
  testing::FlipBit(segments[0].string(), kSegmentHeaderSize + 3);
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto d = (*e)->Read(id, INT64_MIN, INT64_MAX);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
  EXPECT_NE(d.status().message().find(segments[0].string()), std::string::npos)
      << d.status().ToString();
}

TEST(Segment, CorruptSegmentIsQuarantinedReportedAndTheRestServes) {
  TempDir dir;
  std::string log;
  EngineOptions o;
  o.logger = [&](std::string_view line) { log += std::string(line) + "\n"; };
  o.segment_partition_ms = 1000;
  o.verify_segments_on_open = true;
  SeriesId id;
  {
    auto e = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(e.ok());
    WriteBatch b;
    b.series.push_back({"m", {}, {100, 200, 1100, 1200}, {1, 2, 3, 4}});
    ASSERT_TRUE((*e)->Write(b).ok());
    ASSERT_TRUE((*e)->Flush().ok());
    id = *(*e)->FindSeries("m", {});
  }
  std::vector<fs::path> segments;
  for (const auto& f : fs::directory_iterator(fs::path(dir.path()) / "segments")) {
    segments.push_back(f.path());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_EQ(segments.size(), 2u);  // partitions [0,1000) and [1000,2000)
  testing::FlipBit(segments[0].string(), kSegmentHeaderSize + 3);

  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NE(log.find("quarantining corrupt segment " + segments[0].string()), std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(segments[0]));
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "quarantine" / segments[0].filename()));
  EXPECT_EQ((*e)->GetStats().quarantined_segments, 1u);
  auto d = (*e)->Read(id, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->timestamps_ms, (std::vector<int64_t>{1100, 1200}));
  EXPECT_EQ(d->values, (std::vector<double>{3, 4}));
  // And the quarantine is durable: the next open does not look for it.
  e->reset();
  log.clear();
  auto again = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(log.find("quarantining"), std::string::npos);
}

TEST(Segment, RecoveryRemovesTheIndexSpillOfACrashedFlush) {
  TempDir dir;
  EngineOptions o;
  std::string log;
  o.logger = [&](std::string_view line) { log += std::string(line) + "\n"; };
  { ASSERT_TRUE(EngineCore::Open(dir.path(), o).ok()); }
  const std::string spill = dir.path() + "/segments/" + SegmentFileName(7) + ".spill";
  ASSERT_TRUE(AtomicWriteFile(spill, "entries").ok());
  auto e = EngineCore::Open(dir.path(), o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(fs::exists(spill));
  EXPECT_NE(log.find("removing a crashed flush's index spill " + spill), std::string::npos) << log;
}

}  // namespace
}  // namespace kpidb
