// WAL promises: a cut anywhere in the last record recovers exactly the
// complete records before it; a flipped bit anywhere is detected, and never
// turns into wrong data; WAL files of format version 1 (older releases)
// replay as they always did.
#include "engine/wal/wal.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "engine/core/engine_core.h"
#include "engine/wal/record_log.h"
#include "tests/log_test_util.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::Reframe;
using testing::TempDir;
namespace fs = std::filesystem;

TEST(WalRecord, AGroupRecordCarriesEveryBatchOfAGroupCommit) {
  std::string members;
  for (int b = 0; b < 3; ++b) {
    const size_t start = BeginWalGroupMember(&members);
    StartWalRecord(1, &members);
    AppendWalSeries(static_cast<SeriesId>(b), "", 1,
                    EncodeWalPoints(std::vector<int64_t>{b}, std::vector<double>{b * 1.5}),
                    &members);
    EndWalGroupMember(start, &members);
  }
  std::string log = LogFileHeader("KPIDBWAL");
  AppendLogRecord(kWalGroupRecord, WalGroupCount(3), members, &log);
  ParsedLog p = ParseLog(log, "KPIDBWAL");
  ASSERT_EQ(p.records.size(), 1u);
  // Cut anywhere inside it: the whole group is torn, no batch survives alone.
  for (size_t cut = kLogFileHeaderSize + 1; cut < log.size(); ++cut) {
    EXPECT_TRUE(ParseLog(std::string_view(log).substr(0, cut), "KPIDBWAL").records.empty());
  }
}

TEST(WalRecord, PointsRoundTripBitExactly) {
  std::vector<int64_t> ts = {INT64_MIN, -1, 0, 5, 5, 3, INT64_MAX - 1};
  std::vector<double> vs = {-0.0, 1e-310, 0.1, 51.846000000000004, -1e308, 7, 8};
  std::string body;
  StartWalRecord(2, &body);
  AppendWalSeries(11, "key", 7, EncodeWalPoints(ts, vs), &body);
  AppendWalSeries(12, "", 1, EncodeWalPoints({{42}}, {{4.2}}), &body);
  std::vector<WalSeriesEntry> entries;
  ASSERT_TRUE(DecodeWalRecord(body, &entries).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(EncodeWalPoints(std::vector<int64_t>{42}, std::vector<double>{4.2})[0], 2)
      << "in-order points are stored as a chunk";
  EXPECT_NE(EncodeWalPoints(ts, vs)[0], 2) << "out-of-order points cannot be a chunk";
  EXPECT_EQ(entries[0].id, 11u);
  EXPECT_EQ(entries[0].canonical, "key");
  EXPECT_EQ(entries[0].timestamps, ts);
  EXPECT_EQ(0, std::memcmp(entries[0].values.data(), vs.data(), vs.size() * 8));
  EXPECT_TRUE(entries[1].canonical.empty());
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_TRUE(DecodeWalRecord(body.substr(0, cut), &entries).IsCorruption()) << cut;
  }
}

TEST(WalRecord, DocumentedExampleIsByteExact) {  // docs/wal-format.md
  std::string body;
  StartWalRecord(1, &body);
  AppendWalSeries(0x0123456789abcdefull, std::string("\x01m", 2), 2,
                  EncodeWalPoints(std::vector<int64_t>{2500, 1000},
                                  std::vector<double>{3.14159, 2.71828}),
                  &body);
  const unsigned char want[] = {
      0x01, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0x02, 0x01, 0x6d,
      0x02, 0x16, 0x00, 0x14, 0x88, 0x27, 0xb7, 0x17, 0x6e, 0x86, 0x1b, 0xf0,
      0xf9, 0x21, 0x09, 0x40, 0x90, 0xf7, 0xaa, 0x95, 0x09, 0xbf, 0x05, 0x40};
  EXPECT_EQ(body, std::string(reinterpret_cast<const char*>(want), sizeof want));
}

// EngineCore-level: a data dir whose WAL holds `kBatches` batches (no flush).
class WalRecovery : public ::testing::Test {
 protected:
  static constexpr int kBatches = 6;

  void SetUp() override {
    EngineOptions o = Options();
    auto e = EngineCore::Open(source_.path(), o);
    ASSERT_TRUE(e.ok());
    for (int b = 0; b < kBatches; ++b) ASSERT_TRUE((*e)->Write(Batch(b)).ok());
    ASSERT_TRUE((*e)->Close().ok());
    for (const auto& entry : fs::directory_iterator(fs::path(source_.path()) / "wal")) {
      if (fs::file_size(entry.path()) > kLogFileHeaderSize) wal_name_ = entry.path().filename();
    }
    ASSERT_FALSE(wal_name_.empty());
  }

  EngineOptions Options() {
    EngineOptions o;
    o.logger = [this](std::string_view line) { log_ += std::string(line) + "\n"; };
    return o;
  }

  static WriteBatch Batch(int b) {
    WriteBatch batch;
    SeriesPoints p{"kpi_m", {{"batch", std::to_string(b % 2)}}, {}, {}};
    for (int i = 0; i < 3; ++i) {
      p.timestamps_ms.push_back(b * 100 + i);
      p.values.push_back(b + i / 10.0);
    }
    batch.series.push_back(p);
    return batch;
  }

  // Copies the source dir, applies `mutate` to the WAL contents, reopens.
  Result<std::unique_ptr<EngineCore>> OpenMutated(const std::function<void(std::string*)>& mutate,
                                              TempDir* target) {
    fs::copy(source_.path(), target->path(), fs::copy_options::recursive |
                                                 fs::copy_options::overwrite_existing);
    fs::remove(fs::path(target->path()) / "LOCK");
    const std::string wal = (fs::path(target->path()) / "wal" / wal_name_).string();
    std::string contents = testing::ReadFileOrDie(wal);
    mutate(&contents);
    testing::WriteFileOrDie(wal, contents);
    log_.clear();
    return EngineCore::Open(target->path(), Options());
  }

  // The engine holds exactly batches [0, n) and nothing else.
  static void ExpectFirstBatches(const EngineCore& e, int n) {
    std::map<std::string, std::map<int64_t, double>> want;
    for (int b = 0; b < n; ++b) {
      const WriteBatch batch = Batch(b);
      const SeriesPoints& p = batch.series[0];
      for (size_t i = 0; i < p.values.size(); ++i) {
        want[p.labels[0].value][p.timestamps_ms[i]] = p.values[i];
      }
    }
    for (const char* label : {"0", "1"}) {
      auto id = e.FindSeries("kpi_m", {{"batch", label}});
      std::map<int64_t, double> got;
      if (id) {
        auto d = e.Read(*id, INT64_MIN, INT64_MAX);
        ASSERT_TRUE(d.ok());
        for (size_t i = 0; i < d->values.size(); ++i) got[d->timestamps_ms[i]] = d->values[i];
      }
      EXPECT_EQ(got, want[label]) << "series batch=" << label;
    }
  }

  TempDir source_;
  std::string wal_name_;
  std::string log_;
};

TEST_F(WalRecovery, CutAtEveryByteOfTheLastRecordRecoversExactlyTheRecordsBefore) {
  std::string full = testing::ReadFileOrDie(
      (fs::path(source_.path()) / "wal" / wal_name_).string());
  ParsedLog parsed = ParseLog(full, "KPIDBWAL");
  ASSERT_EQ(parsed.records.size(), static_cast<size_t>(kBatches));
  const size_t last_start = parsed.records.back().offset;
  for (size_t cut = last_start; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    TempDir target;
    auto e = OpenMutated([&](std::string* c) { c->resize(cut); }, &target);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ExpectFirstBatches(**e, kBatches - 1);
    if (cut > last_start) {
      EXPECT_NE(log_.find("truncating " + std::to_string(cut - last_start) + " bytes"),
                std::string::npos)
          << log_;
    }
  }
}

TEST_F(WalRecovery, AFlippedBitAnywhereIsDetectedAndNeverReturnsWrongData) {
  std::string full = testing::ReadFileOrDie(
      (fs::path(source_.path()) / "wal" / wal_name_).string());
  ParsedLog parsed = ParseLog(full, "KPIDBWAL");
  const size_t last_start = parsed.records.back().offset;
  for (size_t pos = 0; pos < full.size(); ++pos) {
    SCOPED_TRACE("flip at " + std::to_string(pos));
    TempDir target;
    auto e = OpenMutated([&](std::string* c) { (*c)[pos] = static_cast<char>((*c)[pos] ^ 0x10); },
                         &target);
    if (pos >= last_start) {
      // In the last record: a torn tail, truncated and logged.
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      ExpectFirstBatches(**e, kBatches - 1);
      EXPECT_NE(log_.find("torn tail"), std::string::npos);
    } else {
      // Earlier: acknowledged writes follow it; refuse and name the file.
      ASSERT_FALSE(e.ok());
      EXPECT_TRUE(e.status().IsCorruption());
      EXPECT_NE(e.status().message().find(wal_name_), std::string::npos) << e.status().message();
    }
  }
}

TEST_F(WalRecovery, AVersion1WalFromAnOlderReleaseReplaysExactlyAndNewFilesAreVersion2) {
  TempDir target;
  auto e = OpenMutated(
      [](std::string* c) {
        *c = Reframe(*c, "KPIDBWAL", 1);
        ASSERT_EQ(ParseLog(*c, "KPIDBWAL").version, 1u);
        ASSERT_EQ(ParseLog(*c, "KPIDBWAL").records.size(), static_cast<size_t>(kBatches));
      },
      &target);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ExpectFirstBatches(**e, kBatches);
  EXPECT_EQ(log_.find("torn"), std::string::npos) << log_;
  // The engine writes on in a new file, of version 2; both replay, in order.
  ASSERT_TRUE((*e)->Write(Batch(kBatches)).ok());
  ASSERT_TRUE((*e)->Close().ok());
  e->reset();
  int v1 = 0, v2 = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(target.path()) / "wal")) {
    const ParsedLog p = ParseLog(testing::ReadFileOrDie(entry.path().string()), "KPIDBWAL");
    if (p.records.empty()) continue;
    ++(p.version == 1 ? v1 : v2);
  }
  EXPECT_EQ(v1, 1);
  EXPECT_EQ(v2, 1);
  auto reopened = EngineCore::Open(target.path(), Options());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  ExpectFirstBatches(**reopened, kBatches + 1);
}

TEST_F(WalRecovery,
       DamageBeforeAcknowledgedRecordsIsDataLossNamingTheFileAndOffsetInEitherVersion) {
  for (uint32_t version : {1u, 2u}) {
    SCOPED_TRACE("version " + std::to_string(version));
    TempDir target;
    uint64_t bad_at = 0;
    auto e = OpenMutated(
        [&](std::string* c) {
          if (version == 1) *c = Reframe(*c, "KPIDBWAL", 1);
          const ParsedLog p = ParseLog(*c, "KPIDBWAL");
          bad_at = p.records[2].offset;
          const size_t middle = static_cast<size_t>(p.records[2].payload.data() - c->data()) +
                                p.records[2].payload.size() / 2;
          (*c)[middle] = static_cast<char>((*c)[middle] ^ 0x01);
        },
        &target);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(e.status().message().find(wal_name_ + " at offset " + std::to_string(bad_at) +
                                        ": corrupt record followed by 3 valid records"),
              std::string::npos)
        << e.status().message();
  }
}

TEST_F(WalRecovery, ATornTailOfAVersion1WalIsTruncatedAndLogged) {
  TempDir target;
  uint64_t last_start = 0;
  auto e = OpenMutated(
      [&](std::string* c) {
        *c = Reframe(*c, "KPIDBWAL", 1);
        last_start = ParseLog(*c, "KPIDBWAL").records.back().offset;
        c->resize(c->size() - 7);
      },
      &target);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ExpectFirstBatches(**e, kBatches - 1);
  EXPECT_NE(log_.find("torn tail at offset " + std::to_string(last_start)), std::string::npos)
      << log_;
  EXPECT_EQ(fs::file_size(fs::path(target.path()) / "wal" / wal_name_), last_start);
}

}  // namespace
}  // namespace kpidb
