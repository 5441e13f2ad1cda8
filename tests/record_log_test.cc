// Record-log framing (engine/wal/record_log.h) in both format versions: a
// cut anywhere in the last record is a torn tail; damage before valid
// records is found, with the exact count of records after it, however much
// garbage lies in between; version 2 finds them without hashing the garbage.
// Also series.log, the framing's other reader, over a version-1 file.
#include "engine/wal/record_log.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>
#include <vector>

#include "engine/common/coding.h"
#include "engine/wal/series_log.h"
#include "engine/wal/wal.h"
#include "tests/log_test_util.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::AppendRecord;
using testing::AppendV1Record;
using testing::FileHeader;
using testing::TempDir;
using testing::V1FileHeader;

constexpr uint32_t kVersions[] = {1, 2};

std::string BuildLog(uint32_t version, int n, std::vector<std::string>* payloads) {
  std::string log = FileHeader(version, "KPIDBWAL");
  for (int i = 0; i < n; ++i) {
    payloads->push_back("payload-" + std::to_string(i) +
                        std::string(static_cast<size_t>(i * 7), 'x'));
    AppendRecord(version, 1, payloads->back(), &log);
  }
  return log;
}

TEST(RecordLog, CutAtEveryOffsetOfTheLastRecordKeepsTheRecordsBeforeIt) {
  for (uint32_t version : kVersions) {
    SCOPED_TRACE("version " + std::to_string(version));
    std::vector<std::string> payloads;
    std::string log = BuildLog(version, 5, &payloads);
    std::string without_last = FileHeader(version, "KPIDBWAL");
    for (int i = 0; i < 4; ++i) {
      AppendRecord(version, 1, payloads[static_cast<size_t>(i)], &without_last);
    }
    for (size_t cut = without_last.size(); cut < log.size(); ++cut) {
      ParsedLog p = ParseLog(std::string_view(log).substr(0, cut), "KPIDBWAL");
      ASSERT_EQ(p.records.size(), 4u) << "cut at " << cut;
      EXPECT_EQ(p.version, version);
      EXPECT_EQ(p.valid_bytes, without_last.size());
      EXPECT_EQ(p.bad_tail, cut != without_last.size());
      EXPECT_FALSE(p.valid_records_after_bad);
      EXPECT_EQ(p.records_after_bad, 0u);
      for (size_t i = 0; i < 4; ++i) EXPECT_EQ(p.records[i].payload, payloads[i]);
    }
  }
}

TEST(RecordLog, AZeroFilledFileHoldsNothingAndIsTornNotCorrupt) {
  // Its size reached the disk before its data did.
  for (size_t size : {1u, 16u, 4096u}) {
    ParsedLog p = ParseLog(std::string(size, '\0'), "KPIDBWAL");
    EXPECT_FALSE(p.header_ok);
    EXPECT_TRUE(p.header_torn) << size;
    EXPECT_TRUE(p.records.empty());
  }
}

TEST(RecordLog, ATornFileHeaderOfEitherVersionHoldsNothingAndADamagedOneIsCorrupt) {
  for (uint32_t version : kVersions) {
    const std::string header = FileHeader(version, "KPIDBWAL");
    for (size_t cut = 1; cut < header.size(); ++cut) {
      ParsedLog p = ParseLog(header.substr(0, cut), "KPIDBWAL");
      EXPECT_TRUE(p.header_torn) << "version " << version << " cut at " << cut;
      EXPECT_FALSE(p.header_ok);
    }
    std::string damaged = header;
    damaged[8] = 3;  // an unknown version, under a checksum made for it
    const uint32_t check = static_cast<uint32_t>(XXH3_64bits(damaged.data(), 12));
    for (int i = 0; i < 4; ++i) damaged[12 + i] = static_cast<char>(check >> (8 * i));
    for (const std::string& bad : {damaged, header.substr(0, 15) + "!"}) {
      ParsedLog p = ParseLog(bad, "KPIDBWAL");
      EXPECT_FALSE(p.header_ok);
      EXPECT_FALSE(p.header_torn);
      EXPECT_TRUE(p.bad_tail);
    }
  }
}

TEST(RecordLog, NewFilesAreVersion2AndVersion1FilesStillParse) {
  EXPECT_EQ(LogFileHeader("KPIDBWAL").substr(8, 4), std::string("\x02\0\0\0", 4));
  EXPECT_EQ(LogFileHeader("KPIDBWAL", 1), V1FileHeader("KPIDBWAL"));
  std::vector<std::string> payloads;
  const std::string v1 = BuildLog(1, 6, &payloads);
  ParsedLog p = ParseLog(v1, "KPIDBWAL");
  EXPECT_TRUE(p.header_ok);
  EXPECT_EQ(p.version, 1u);
  EXPECT_FALSE(p.bad_tail);
  ASSERT_EQ(p.records.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) EXPECT_EQ(p.records[i].payload, payloads[i]);
  // The encoder series.log uses to append to a v1 file writes the old bytes.
  std::string appended = V1FileHeader("KPIDBWAL");
  for (const std::string& payload : payloads) {
    AppendLogRecordInVersion(1, 1, payload, &appended);
  }
  EXPECT_EQ(appended, v1);
}

// A v2 WAL file holding the type-1 record of the write-batch example; the
// same bytes are in docs/wal-format.md.
TEST(RecordLog, DocumentedVersion2FileIsByteExact) {
  const unsigned char payload[] = {0x01, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
                                   0x02, 0x01, 0x6d, 0x02, 0x16, 0x00, 0x14, 0x88, 0x27,
                                   0xb7, 0x17, 0x6e, 0x86, 0x1b, 0xf0, 0xf9, 0x21, 0x09,
                                   0x40, 0x90, 0xf7, 0xaa, 0x95, 0x09, 0xbf, 0x05, 0x40};
  const unsigned char framing[] = {
      'K',  'P',  'I',  'D',  'B',  'W',  'A',  'L',    // magic
      0x02, 0x00, 0x00, 0x00, 0x25, 0x4a, 0xa7, 0x2d,   // version 2, file header_check
      0x02, 0x84, 0xae, 0x52,                           // record header_check
      0x24, 0x00, 0x00, 0x00, 0x01,                     // length 36, type 1
      0x60, 0xe6, 0xa6, 0xa9, 0x9e, 0x40, 0x14, 0xde};  // payload_check
  std::string log = LogFileHeader("KPIDBWAL");
  const std::string body(reinterpret_cast<const char*>(payload), sizeof payload);
  AppendLogRecord(kWalWriteRecord, body, &log);
  EXPECT_EQ(log, std::string(reinterpret_cast<const char*>(framing), sizeof framing) + body);
  // The checks are what the format says, computed here with xxHash itself.
  EXPECT_EQ(DecodeFixed32(log.data() + 12), static_cast<uint32_t>(XXH3_64bits(log.data(), 12)));
  EXPECT_EQ(DecodeFixed32(log.data() + 16),
            static_cast<uint32_t>(XXH3_64bits(log.data() + 20, 13)));
  EXPECT_EQ(DecodeFixed64(log.data() + 25), XXH3_64bits(body.data(), body.size()));
  ParsedLog p = ParseLog(log, "KPIDBWAL");
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].payload, body);
}

TEST(RecordLog, EveryFlippedBitIsDetected) {
  for (uint32_t version : kVersions) {
    SCOPED_TRACE("version " + std::to_string(version));
    std::vector<std::string> payloads;
    const std::string log = BuildLog(version, 4, &payloads);
    for (size_t pos = 0; pos < log.size(); ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = log;
        bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
        ParsedLog p = ParseLog(bad, "KPIDBWAL");
        ASSERT_TRUE(p.bad_tail) << "flip at " << pos << " bit " << bit << " went unnoticed";
        ASSERT_LT(p.records.size(), 4u);
        for (size_t i = 0; i < p.records.size(); ++i) {
          ASSERT_EQ(p.records[i].payload, payloads[i]);
        }
        // A flip before the last record leaves valid records after it.
        if (p.header_ok && p.records.size() < 3) {
          EXPECT_TRUE(p.valid_records_after_bad);
          EXPECT_EQ(p.records_after_bad, 3 - p.records.size());
        }
      }
    }
  }
}

TEST(RecordLog, ABadRecordInTheMiddleIsReportedWithTheExactCountOfValidRecordsAfterIt) {
  for (uint32_t version : kVersions) {
    std::vector<std::string> payloads;
    const std::string log = BuildLog(version, 20, &payloads);
    const ParsedLog whole = ParseLog(log, "KPIDBWAL");
    const size_t header = version == 1 ? kLogRecordHeaderSizeV1 : kLogRecordHeaderSizeV2;
    for (size_t k = 0; k < 20; ++k) {
      const size_t start = whole.records[k].offset;
      const size_t end = start + header + payloads[k].size();
      // Its header, its first payload byte (header check fine in v2), its last.
      for (size_t at : {start, start + header, end - 1}) {
        SCOPED_TRACE("version " + std::to_string(version) + ", damage at " + std::to_string(at));
        std::string bad = log;
        bad[at] = static_cast<char>(bad[at] ^ 0x40);
        ParsedLog p = ParseLog(bad, "KPIDBWAL");
        ASSERT_EQ(p.records.size(), k);
        EXPECT_EQ(p.valid_bytes, start);
        EXPECT_TRUE(p.bad_tail);
        EXPECT_EQ(p.valid_records_after_bad, k < 19);
        EXPECT_EQ(p.records_after_bad, 19 - k);
      }
    }
  }
}

// A v2 record header whose header check is right and whose payload_check
// is not: it passes the O(1) test and fails the payload's.
std::string ForgedHeader(uint32_t length) {
  std::string h;
  PutFixed32(&h, 0);
  PutFixed32(&h, length);
  h.push_back(static_cast<char>(kWalWriteRecord));
  PutFixed64(&h, 0x0123456789abcdefull);
  const uint32_t check = static_cast<uint32_t>(XXH3_64bits(h.data() + 4, 13));
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(i)] = static_cast<char>(check >> (8 * i));
  return h;
}

// 50 records; record 10 is overwritten from its fourth byte on by
// `garbage` (which may be longer than it), records 11..49 follow intact.
struct Damaged {
  std::string bytes;
  size_t bad_at = 0;                 // record 10's offset
  uint64_t payload_bytes_after = 0;  // of records 11..49
};
Damaged GarbageInTheMiddle(uint32_t version, const std::string& garbage) {
  std::vector<std::string> payloads;
  const std::string log = BuildLog(version, 50, &payloads);
  const ParsedLog whole = ParseLog(log, "KPIDBWAL");
  Damaged d;
  d.bad_at = whole.records[10].offset;
  d.bytes = log.substr(0, d.bad_at + 3) + garbage + log.substr(whole.records[11].offset);
  for (size_t i = 11; i < 50; ++i) d.payload_bytes_after += payloads[i].size();
  return d;
}

TEST(RecordLog, MiBsOfRandomGarbageBeforeValidRecordsAreResynchronisedToTheExactCount) {
  const std::string garbage = testing::RandomBytes(4 << 20, 42);
  for (uint32_t version : kVersions) {
    SCOPED_TRACE("version " + std::to_string(version));
    const Damaged d = GarbageInTheMiddle(version, garbage);
    ParsedLog p = ParseLog(d.bytes, "KPIDBWAL");
    ASSERT_EQ(p.records.size(), 10u);
    EXPECT_EQ(p.valid_bytes, d.bad_at);
    EXPECT_TRUE(p.bad_tail);
    EXPECT_TRUE(p.valid_records_after_bad);
    EXPECT_EQ(p.records_after_bad, 39u);
    // The same garbage as the tail: a torn tail, however long.
    ParsedLog torn = ParseLog(d.bytes.substr(0, d.bad_at + 3 + garbage.size()), "KPIDBWAL");
    EXPECT_EQ(torn.records.size(), 10u);
    EXPECT_TRUE(torn.bad_tail);
    EXPECT_FALSE(torn.valid_records_after_bad);
    EXPECT_EQ(torn.records_after_bad, 0u);
  }
}

// What makes v2 resynchronisation linear: garbage costs no hashing beyond
// the 13-byte header checks; only the records found have their payload hashed.
TEST(RecordLog, ResynchronisingAVersion2LogHashesOnlyThePayloadsOfTheRecordsItFinds) {
  const std::string garbage = testing::RandomBytes(4 << 20, 42);
  const Damaged d = GarbageInTheMiddle(2, garbage);
  EXPECT_EQ(ParseLog(d.bytes, "KPIDBWAL").resync_hashed_bytes, d.payload_bytes_after);
  EXPECT_EQ(
      ParseLog(d.bytes.substr(0, d.bad_at + 3 + garbage.size()), "KPIDBWAL").resync_hashed_bytes,
      0u);
  // The v1 scan over the same garbage hashes the claimed extent of every
  // plausible offset: the figure this test watches is the one that grew.
  const Damaged v1 = GarbageInTheMiddle(1, garbage);
  EXPECT_GT(ParseLog(v1.bytes, "KPIDBWAL").resync_hashed_bytes, garbage.size());
}

TEST(RecordLog, ARecordWhoseHeaderCheckMatchesButWhosePayloadDoesNotIsBad) {
  // In garbage before valid records, claiming to run over them.
  std::string garbage = testing::RandomBytes(64 << 10, 7);
  const uint32_t forged_length = 70'000;  // past the garbage, into the records
  garbage.replace(1000, kLogRecordHeaderSizeV2, ForgedHeader(forged_length));
  const Damaged d = GarbageInTheMiddle(2, garbage);
  ASSERT_GT(d.bytes.size(), d.bad_at + 3 + 1000 + kLogRecordHeaderSizeV2 + forged_length);
  ParsedLog p = ParseLog(d.bytes, "KPIDBWAL");
  EXPECT_EQ(p.records.size(), 10u);
  EXPECT_EQ(p.records_after_bad, 39u);
  EXPECT_EQ(p.resync_hashed_bytes, forged_length + d.payload_bytes_after);
  // At the tail, running exactly to the end of the file: still a torn tail.
  std::string tail = d.bytes.substr(0, d.bad_at + 3 + garbage.size());
  tail += ForgedHeader(5000) + testing::RandomBytes(5000, 8);
  p = ParseLog(tail, "KPIDBWAL");
  EXPECT_EQ(p.records.size(), 10u);
  EXPECT_TRUE(p.bad_tail);
  EXPECT_FALSE(p.valid_records_after_bad);
  EXPECT_EQ(p.resync_hashed_bytes, 5000u);
  // As the first bad record itself: the scan goes on inside it and finds the rest.
  std::vector<std::string> payloads;
  std::string log = BuildLog(2, 5, &payloads);
  const size_t second = ParseLog(log, "KPIDBWAL").records[1].offset;
  log[second + kLogRecordHeaderSizeV2] ^= 1;
  p = ParseLog(log, "KPIDBWAL");
  EXPECT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records_after_bad, 3u);
}

// series.log records: one definition each.
std::string SeriesLogFile(uint32_t version, int n, std::vector<SeriesLog::Definition>* defs) {
  std::string file = FileHeader(version, "KPIDBSER");
  for (int i = 0; i < n; ++i) {
    defs->emplace_back(1000 + i, "key-" + std::to_string(i));
    std::string payload;
    PutVarint64(&payload, 1);
    PutFixed64(&payload, defs->back().first);
    PutLengthPrefixed(&payload, defs->back().second);
    AppendRecord(version, kSeriesDefinitionRecord, payload, &file);
  }
  return file;
}

TEST(SeriesLog, AVersion1FileIsReadAndStillAppendedToInVersion1) {
  TempDir dir;
  const std::string path = dir.path() + "/series.log";
  std::vector<SeriesLog::Definition> defs;
  testing::WriteFileOrDie(path, SeriesLogFile(1, 3, &defs));
  const auto quiet = [](std::string_view) {};
  {
    SeriesLog::Stored back;
    auto log = SeriesLog::Open(path, quiet, &back);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ(back.Copy(), defs);
    defs.emplace_back(7, "added");
    const std::vector<SeriesLog::DefinitionView> added = {{defs.back().first, defs.back().second}};
    ASSERT_TRUE((*log)->Append(added).ok());
  }
  const ParsedLog p = ParseLog(testing::ReadFileOrDie(path), "KPIDBSER");
  EXPECT_EQ(p.version, 1u);
  EXPECT_EQ(p.records.size(), 4u);
  EXPECT_FALSE(p.bad_tail);
  SeriesLog::Stored back;
  ASSERT_TRUE(SeriesLog::Open(path, quiet, &back).ok());
  EXPECT_EQ(back.Copy(), defs);
  // A new file is version 2.
  const std::string fresh = dir.path() + "/fresh.log";
  ASSERT_TRUE(SeriesLog::Open(fresh, quiet, &back).ok());
  EXPECT_EQ(ParseLog(testing::ReadFileOrDie(fresh), "KPIDBSER").version, 2u);
}

TEST(SeriesLog, ACorruptRecordBeforeValidOnesIsRefusedAndATornTailTruncatedInEitherVersion) {
  for (uint32_t version : kVersions) {
    SCOPED_TRACE("version " + std::to_string(version));
    TempDir dir;
    const std::string path = dir.path() + "/series.log";
    std::vector<SeriesLog::Definition> defs;
    const std::string file = SeriesLogFile(version, 3, &defs);
    const ParsedLog whole = ParseLog(file, "KPIDBSER");
    ASSERT_EQ(whole.records.size(), 3u);
    std::string lines;
    const auto log = [&](std::string_view line) { lines += std::string(line) + "\n"; };

    std::string bad = file;
    bad[whole.records[1].offset + 2] ^= 0x20;
    testing::WriteFileOrDie(path, bad);
    SeriesLog::Stored back;
    auto refused = SeriesLog::Open(path, log, &back);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(refused.status().message().find(path + " at offset " +
                                              std::to_string(whole.records[1].offset) +
                                              ": corrupt record followed by valid ones"),
              std::string::npos)
        << refused.status().message();

    testing::WriteFileOrDie(path, file.substr(0, file.size() - 3));
    auto opened = SeriesLog::Open(path, log, &back);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(back.Copy(), std::vector<SeriesLog::Definition>(defs.begin(), defs.begin() + 2));
    EXPECT_NE(lines.find("torn tail at offset " + std::to_string(whole.records[2].offset)),
              std::string::npos)
        << lines;
    EXPECT_EQ(testing::ReadFileOrDie(path).size(), whole.records[2].offset);
  }
}

}  // namespace
}  // namespace kpidb
