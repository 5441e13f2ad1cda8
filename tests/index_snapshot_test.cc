// series.idx: the series index written to a file and used where it lies.
// An index that adopted a snapshot (and learnt more series after it) must
// answer every question exactly as an index that learnt the same series
// one by one; a damaged or stale snapshot is refused, and the engine then
// rebuilds the index from series.log.
#include "engine/index/index_snapshot.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "engine/index/series_index.h"
#include "engine/wal/series_log.h"
#include "tests/engine_fixture.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::ReadFileOrDie;
using testing::TempDir;

// prefix followed by n ("u7"), without GCC 12's false -Wrestrict on
// "literal" + std::string.
std::string Numbered(const char* prefix, uint64_t n) {
  std::string s = prefix;
  s += std::to_string(n);
  return s;
}

// Few distinct hashes: ids collide and are probed to the next free one.
uint64_t FewHashes(std::string_view canonical) {
  return XXH3_64bits(canonical.data(), canonical.size()) % 64;
}

// A random series key: metrics and label names that share prefixes ("a",
// "ab"), a low-cardinality label, one unique per series, one often absent.
std::string RandomCanonical(std::mt19937_64& rng, int i) {
  static const char* kMetrics[] = {"kpi_visits", "kpi_cac", "kpi"};
  Labels labels{{"unit", Numbered("u", i)}};
  labels.push_back({"a", Numbered("v", rng() % 3)});
  if (rng() % 2) labels.push_back({"ab", Numbered("w", rng() % 5)});
  if (rng() % 4 == 0) labels.push_back({"region", rng() % 2 ? "eu" : ""});
  SeriesKey key{kMetrics[rng() % 3], labels};
  std::sort(key.labels.begin(), key.labels.end());
  return key.Canonical();
}

// Everything an index answers, as text, so that two indexes compare whole.
std::string Describe(const SeriesIndex& index, std::mt19937_64& rng) {
  std::ostringstream out;
  out << "size " << index.size() << "\n";
  for (SeriesId id : index.AllIds()) {
    out << id << " " << index.Key(id)->ToString() << "\n";
    EXPECT_TRUE(index.Contains(id));
    EXPECT_EQ(index.Find(*index.Canonical(id)), id);
  }
  std::vector<std::string> names = index.LabelNames();
  names.push_back("__name__");
  names.push_back("absent");
  for (const std::string& name : names) {
    out << "label " << name << ":";
    std::map<std::string, std::vector<SeriesRef>> by_value;
    index.ForEachLabelValue(name, [&](std::string_view value, std::span<const SeriesRef> refs) {
      EXPECT_TRUE(by_value.emplace(std::string(value), std::vector<SeriesRef>(refs.begin(), refs.end()))
                      .second)
          << "value given twice: " << value;
    });
    std::vector<std::string> values = index.LabelValues(name);
    EXPECT_EQ(values.size(), by_value.size()) << name;
    for (const std::string& value : values) {
      const std::vector<SeriesRef> refs = index.Postings(name, value);
      EXPECT_EQ(refs, by_value[value]) << name << "=" << value;
      EXPECT_EQ(index.PostingsSize(name, value), refs.size());
      EXPECT_TRUE(std::is_sorted(refs.begin(), refs.end()));
      out << " " << value << "[";
      for (SeriesRef r : refs) out << r << ",";
      out << "]";
      // KeepInPostings against a random subset of every ref (both the
      // searching and the merging paths).
      std::vector<SeriesRef> subset;
      for (SeriesRef r : index.AllRefs()) {
        if (rng() % (refs.size() > 64 ? 50 : 2) == 0) subset.push_back(r);
      }
      std::vector<SeriesRef> expected;
      std::set_intersection(subset.begin(), subset.end(), refs.begin(), refs.end(),
                            std::back_inserter(expected));
      index.KeepInPostings(&subset, name, value);
      EXPECT_EQ(subset, expected) << name << "=" << value;
    }
    out << "\n";
  }
  out << "kpi_visits a=v1: " << index.SelectEqual("kpi_visits", {{"a", "v1"}}).size() << "\n";
  return out.str();
}

class IndexSnapshotTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/series.idx"; }
  Status Write(const SeriesIndex& index, SeriesRef series, SnapshotCoverage cover = {}) {
    KPIDB_RETURN_IF_ERROR(index.WriteSnapshot(Path() + ".tmp", series, cover));
    return InstallIndexSnapshot(Path() + ".tmp", Path());
  }
  void Add(SeriesIndex* a, SeriesIndex* b, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string c = RandomCanonical(rng_, i);
      bool created;
      const SeriesId id = a->GetOrAssign(SeriesKey{}, c, &created);
      ASSERT_TRUE(created);
      ASSERT_EQ(b->GetOrAssign(SeriesKey{}, c, &created), id) << i;
      ASSERT_TRUE(created);
    }
  }

  TempDir dir_;
  std::mt19937_64 rng_{7};
};

TEST_F(IndexSnapshotTest, AnAdoptedSnapshotAnswersAsTheIndexItWasTakenFrom) {
  for (auto hash : {&HashCanonicalKey, &FewHashes}) {
    SeriesIndex original(hash), scratch(hash);
    Add(&original, &scratch, 0, 300);
    ASSERT_TRUE(Write(original, 300, {123, 456, 789}).ok());
    auto snapshot = IndexSnapshot::Open(Path());
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    EXPECT_EQ((*snapshot)->coverage().series_log_bytes, 123u);
    EXPECT_EQ((*snapshot)->coverage().series_log_tail_hash, 456u);
    EXPECT_EQ((*snapshot)->coverage().segments_below, 789u);
    SeriesIndex adopted(hash);
    ASSERT_TRUE(adopted.Adopt(std::move(snapshot).value()).ok());
    std::mt19937_64 r1(1), r2(1);
    EXPECT_EQ(Describe(adopted, r1), Describe(original, r2));

    // Series learnt after it: postings then span the snapshot and memory.
    Add(&original, &adopted, 300, 450);
    r1.seed(2);
    r2.seed(2);
    EXPECT_EQ(Describe(adopted, r1), Describe(original, r2));

    // The id and key of a snapshot's series are bound; a repeat is a no-op.
    const SeriesId first = original.AllIds()[0];
    const std::string key = *original.Canonical(first);
    EXPECT_TRUE(adopted.Register(first, key).ok());
    EXPECT_TRUE(adopted.Register(first, *original.Canonical(original.AllIds()[1])).IsCorruption());
    EXPECT_TRUE(adopted.Register(first ^ 0x5555, key).IsCorruption());
    bool created;
    EXPECT_EQ(adopted.GetOrAssign(SeriesKey{}, key, &created), first);
    EXPECT_FALSE(created);
    EXPECT_EQ(adopted.size(), 450u);

    // A snapshot of the adopted one (both layers), adopted again.
    ASSERT_TRUE(Write(adopted, 450).ok());
    SeriesIndex again(hash);
    ASSERT_TRUE(again.Adopt(std::move(IndexSnapshot::Open(Path())).value()).ok());
    r1.seed(3);
    r2.seed(3);
    EXPECT_EQ(Describe(again, r1), Describe(original, r2));
  }
}

TEST_F(IndexSnapshotTest, ASnapshotOfAPrefixHoldsOnlyThoseSeries) {
  SeriesIndex original, scratch, prefix;
  Add(&original, &scratch, 0, 100);
  std::vector<std::string> first;
  for (SeriesRef r = 0; r < 60; ++r) {
    first.push_back(*original.Canonical(original.IdsOf(std::vector<SeriesRef>{r})[0]));
  }
  for (const std::string& c : first) ASSERT_TRUE(prefix.Register(*original.Find(c), c).ok());
  ASSERT_TRUE(Write(original, 60).ok());
  SeriesIndex adopted;
  ASSERT_TRUE(adopted.Adopt(std::move(IndexSnapshot::Open(Path())).value()).ok());
  std::mt19937_64 r1(1), r2(1);
  EXPECT_EQ(Describe(adopted, r1), Describe(prefix, r2));
}

TEST_F(IndexSnapshotTest, AnEmptyIndexSnapshotsAndAdopts) {
  SeriesIndex empty;
  ASSERT_TRUE(Write(empty, 0).ok());
  SeriesIndex adopted;
  ASSERT_TRUE(adopted.Adopt(std::move(IndexSnapshot::Open(Path())).value()).ok());
  EXPECT_EQ(adopted.size(), 0u);
  EXPECT_TRUE(adopted.LabelNames().empty());
  EXPECT_TRUE(adopted.Postings("__name__", "m").empty());
}

TEST_F(IndexSnapshotTest, EveryDamagedByteIsRefusedNamingTheFile) {
  SeriesIndex original, scratch;
  Add(&original, &scratch, 0, 40);
  ASSERT_TRUE(Write(original, 40).ok());
  const std::string good = ReadFileOrDie(Path());
  for (size_t at = 0; at < good.size(); at += 1 + good.size() / 300) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    ASSERT_TRUE(AtomicWriteFile(Path(), bad).ok());
    auto opened = IndexSnapshot::Open(Path());
    ASSERT_FALSE(opened.ok()) << "byte " << at;
    EXPECT_TRUE(opened.status().IsCorruption());
    EXPECT_NE(opened.status().message().find(Path()), std::string::npos);
  }
  for (size_t size : {size_t{0}, size_t{50}, good.size() - 1}) {
    ASSERT_TRUE(AtomicWriteFile(Path(), good.substr(0, size)).ok());
    EXPECT_FALSE(IndexSnapshot::Open(Path()).ok()) << size;
  }
}

TEST(SeriesLogResume, AnEarlierPointReadsOnlyWhatFollowsItAndAChangedFileIsReadWhole) {
  TempDir dir;
  const std::string path = dir.path() + "/series.log";
  const Logger quiet = [](std::string_view) {};
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(SeriesKey{"m", {{"unit", Numbered("u", i)}}}.Canonical());
  auto defs = [&](int from, int to) {
    std::vector<SeriesLog::DefinitionView> d;
    for (int i = from; i < to; ++i) d.emplace_back(1000 + i, keys[i]);
    return d;
  };
  SeriesLog::Resume point;
  {
    SeriesLog::Stored stored;
    auto log = SeriesLog::Open(path, quiet, &stored);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(defs(0, 200)).ok());
    auto p = (*log)->ResumePoint((*log)->bytes());
    ASSERT_TRUE(p.ok());
    point = *p;
    ASSERT_GT(point.bytes, 4096u + 16u);  // the hash does not reach the header
    ASSERT_TRUE((*log)->Append(defs(200, 300)).ok());
  }
  SeriesLog::Stored stored;
  ASSERT_TRUE(SeriesLog::Open(path, quiet, &stored, &point).ok());
  EXPECT_TRUE(stored.resumed);
  ASSERT_EQ(stored.definitions.size(), 100u);
  EXPECT_EQ(stored.definitions[0].first, 1200u);
  EXPECT_EQ(stored.definitions[0].second, keys[200]);

  // Other bytes before the point: read whole.
  std::string bytes = ReadFileOrDie(path);
  SeriesLog::Resume moved = point;
  moved.tail_hash ^= 1;
  ASSERT_TRUE(SeriesLog::Open(path, quiet, &stored, &moved).ok());
  EXPECT_FALSE(stored.resumed);
  EXPECT_EQ(stored.definitions.size(), 300u);

  // A damaged header is refused as a whole read refuses it, never taken
  // for a new file (and emptied).
  std::string zeroed = bytes;
  std::fill(zeroed.begin(), zeroed.begin() + 16, '\0');
  ASSERT_TRUE(AtomicWriteFile(path, zeroed.substr(0, point.bytes)).ok());
  auto refused = SeriesLog::Open(path, quiet, &stored, &point);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsCorruption()) << refused.status().ToString();
  EXPECT_EQ(ReadFileOrDie(path).size(), point.bytes);
}

// Through the engine: series.idx is written at close and after enough new
// series, and an open takes from series.log only what it gained since.
class EngineIndexSnapshotTest : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.logger = [this](std::string_view line) {
      std::lock_guard lock(log_mu_);  // the flusher's thread logs too
      log_.emplace_back(line);
    };
    EngineTest::SetUp();
  }
  // The engine logs into log_ while it closes: close it before log_ goes.
  void TearDown() override { engine_.reset(); }
  void WriteSeries(int from, int to) {
    WriteBatch b;
    for (int i = from; i < to; ++i) {
      b.series.push_back(SeriesPoints{"kpi_visits",
                                      {{"unit", Numbered("u", i)}, {"shard", std::to_string(i % 4)}},
                                      {1000 + i},
                                      {0.5 * i}});
    }
    ASSERT_TRUE(engine_->Write(b).ok());
  }
  // Every series and its point, and the postings, as a fresh index would hold them.
  void ExpectSeries(int n) {
    const SeriesIndex& index = engine_->series_index();
    ASSERT_EQ(index.size(), static_cast<size_t>(n));
    EXPECT_EQ(index.Postings("__name__", "kpi_visits").size(), static_cast<size_t>(n));
    size_t shard1 = 0;
    for (int i = 0; i < n; ++i) {
      auto id = engine_->FindSeries("kpi_visits", {{"unit", Numbered("u", i)},
                                                   {"shard", std::to_string(i % 4)}});
      ASSERT_TRUE(id.has_value()) << i;
      shard1 += i % 4 == 1;
    }
    EXPECT_EQ(index.PostingsSize("shard", "1"), shard1);
    EXPECT_EQ(index.LabelValues("unit").size(), static_cast<size_t>(n));
  }
  bool Logged(std::string_view text) const {
    std::lock_guard lock(log_mu_);
    return std::any_of(log_.begin(), log_.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  std::string SnapshotPath() const { return dir_.path() + "/series.idx"; }

  // Opens again with a fresh log, and expects series.idx to be ignored.
  void ReopenExpectingTheSnapshotIgnored() {
    engine_.reset();
    ClearLog();
    Open();
    EXPECT_TRUE(Logged("ignoring " + SnapshotPath()));
  }
  void ClearLog() {
    std::lock_guard lock(log_mu_);
    log_.clear();
  }
  // Writes series [from, to), flushes them and closes the engine (which
  // writes series.idx).
  void WriteFlushAndClose(int from, int to) {
    WriteSeries(from, to);
    ASSERT_TRUE(engine_->Flush().ok());
    engine_.reset();
  }

  mutable std::mutex log_mu_;
  std::vector<std::string> log_;  // under log_mu_
};

TEST_F(EngineIndexSnapshotTest, CloseWritesItAndOpenReadsOnlyWhatSeriesLogGainedSince) {
  WriteFlushAndClose(0, 50);  // close: the snapshot of 50 series
  ASSERT_TRUE(FileExists(SnapshotPath()));
  EXPECT_TRUE(Logged("series.idx: 50 series"));

  // 30 more reach series.log while snapshots are off: series.idx is stale.
  options_.index_snapshots = false;
  Open();
  WriteFlushAndClose(50, 80);

  options_.index_snapshots = true;
  ClearLog();
  Open();
  EXPECT_FALSE(Logged("ignoring"));
  EXPECT_TRUE(Logged("80 series (50 from series.idx)"));
  ExpectSeries(80);
  // The 30 were read from series.log after the snapshot, and keep working.
  WriteSeries(80, 90);
  ExpectSeries(90);
  engine_.reset();
  Open();
  ExpectSeries(90);
}

TEST_F(EngineIndexSnapshotTest, ADamagedSnapshotIsIgnoredAndTheIndexRebuilt) {
  WriteFlushAndClose(0, 40);
  std::string bytes = ReadFileOrDie(SnapshotPath());
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(AtomicWriteFile(SnapshotPath(), bytes).ok());
  ReopenExpectingTheSnapshotIgnored();
  ExpectSeries(40);
}

TEST_F(EngineIndexSnapshotTest, ASnapshotSeriesLogNoLongerHoldsIsIgnored) {
  WriteFlushAndClose(0, 40);
  // series.log with other bytes before the snapshot's point (its last
  // record damaged: a torn tail, truncated, whose series the segment has).
  const std::string log_path = dir_.path() + "/series.log";
  std::string damaged = ReadFileOrDie(log_path);
  damaged[damaged.size() - 3] ^= 1;
  ASSERT_TRUE(AtomicWriteFile(log_path, damaged).ok());
  ReopenExpectingTheSnapshotIgnored();
  ExpectSeries(40);
  // (Series a segment gave back are not logged again; these are.) Closing
  // writes a new snapshot, of the repaired index and the 10.
  WriteFlushAndClose(40, 50);

  // A series.log shorter than the point the snapshot was taken at.
  ASSERT_TRUE(AtomicWriteFile(log_path, ReadFileOrDie(log_path).substr(0, 16)).ok());
  ReopenExpectingTheSnapshotIgnored();
  // The segments' keys give back what series.log lost.
  ExpectSeries(50);
}

TEST_F(EngineIndexSnapshotTest, TheBackgroundThreadSnapshotsOnceEnoughSeriesAreLogged) {
  // 1,100 series logged by a flush: over the 1,024 a first snapshot waits
  // for, so a quiet tick of the background thread (every second) writes it,
  // with no close. A copy of the dir taken then, as a crash would leave it,
  // opens from the snapshot.
  WriteSeries(0, 1100);
  ASSERT_TRUE(engine_->Flush().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Logged("series.idx: 1100 series") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Logged("series.idx: 1100 series"));
  WriteSeries(1100, 1110);  // in the WAL only
  TempDir copy;
  namespace fs = std::filesystem;
  fs::copy(dir_.path(), copy.path() + "/data", fs::copy_options::recursive);
  fs::remove(copy.path() + "/data/LOCK");
  std::vector<std::string> copy_log;  // read once the copy's engine is closed
  EngineOptions o = options_;
  o.logger = [&](std::string_view line) { copy_log.emplace_back(line); };
  {
    auto reopened = EngineCore::Open(copy.path() + "/data", o);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    const SeriesIndex& index = (*reopened)->series_index();
    EXPECT_EQ(index.size(), 1110u);
    EXPECT_EQ(index.PostingsSize("__name__", "kpi_visits"), 1110u);
    EXPECT_TRUE((*reopened)->FindSeries("kpi_visits", {{"unit", "u1105"}, {"shard", "1"}}).has_value());
  }
  for (const std::string& line : copy_log) EXPECT_EQ(line.find("ignoring"), std::string::npos) << line;
  EXPECT_TRUE(std::any_of(copy_log.begin(), copy_log.end(), [](const std::string& l) {
    return l.find("1110 series (1100 from series.idx)") != std::string::npos;
  }));
}

}  // namespace
}  // namespace kpidb

namespace kpidb {
namespace {

TEST_F(EngineIndexSnapshotTest, AFlushOfMoreNewSeriesThanOneSeriesLogPartLogsThemAll) {
  // The flush appends series.log in parts of 16,384 definitions: 40,000 new
  // series take three, each in ascending id order of the flush's list, and
  // the file holds every one once.
  for (int i = 0; i < 40'000; i += 5'000) WriteSeries(i, i + 5'000);
  ASSERT_TRUE(engine_->Flush().ok());
  engine_.reset();
  SeriesLog::Stored stored;
  auto log = SeriesLog::Open(dir_.path() + "/series.log", [](std::string_view) {}, &stored);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(stored.definitions.size(), 40'000u);
  std::set<std::string_view> keys;
  for (const auto& [id, key] : stored.definitions) keys.insert(key);
  EXPECT_EQ(keys.size(), 40'000u);
  log->reset();
  Open();
  ExpectSeries(40'000);
}

}  // namespace
}  // namespace kpidb
