// The record framing shared by the write-ahead log (wal/*.log) and the
// series log (series.log); byte layout in docs/wal-format.md.
//
//   file   := file_header record*
//   header := magic[8] version:u32 header_checksum:u32   (16 bytes)
//
// Version 2 (every new file):
//   record := header_check:u32 length:u32 type:u8 payload_check:u64 payload[length]
//   header_check = low 32 bits of XXH3-64 over length, type and payload_check;
//   payload_check = XXH3-64 over payload.
// Version 1 (files written before it; still read, and a v1 series.log is
// still appended to in v1):
//   record := checksum:u64 length:u32 type:u8 payload[length]
//   checksum = XXH3-64 over length, type and payload.
//
// A reader stops at the first record that is truncated or fails a checksum,
// and tells whether any valid record follows it: a torn tail (no valid
// record after) is the normal result of a crash mid-append and is truncated
// on recovery; a bad record followed by valid ones is corruption. Finding
// out tries every later offset. In v2 an offset costs O(1) unless its
// header check matches (about 2^-32 for garbage), so the scan is linear in
// the file size; in v1 each offset with a plausible type and length hashes
// its whole claimed extent: the cost grows with the damaged bytes times the
// square of the bytes after them (docs/wal-format.md, "What the scan costs").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

inline constexpr size_t kLogFileHeaderSize = 16;
inline constexpr uint32_t kLogFormatVersion = 2;  // written by new files
inline constexpr size_t kLogRecordHeaderSizeV1 = 13;
inline constexpr size_t kLogRecordHeaderSizeV2 = 17;
// Upper bound on one record's payload; larger lengths are corruption.
inline constexpr uint32_t kMaxLogRecordBytes = 1u << 30;
// Record types are 1..kMaxLogRecordType; 0 is never written.
inline constexpr uint8_t kMaxLogRecordType = 15;

// `magic` is exactly 8 bytes, e.g. "KPIDBWAL". `version` is 1 or 2.
std::string LogFileHeader(std::string_view magic, uint32_t version = kLogFormatVersion);
// Appends one framed record, in kLogFormatVersion, to *out.
void AppendLogRecord(uint8_t type, std::string_view payload, std::string* out);
// The same, for a payload given as two consecutive parts (no copy to join them).
void AppendLogRecord(uint8_t type, std::string_view payload_head, std::string_view payload_tail,
                     std::string* out);
// Appends one record in format `version` (1 or 2): for appending to a file
// that an older version created.
void AppendLogRecordInVersion(uint32_t version, uint8_t type, std::string_view payload,
                              std::string* out);

struct LogRecord {
  uint8_t type;
  std::string_view payload;  // points into the buffer given to ParseLog
  uint64_t offset;           // of the record's header in the file
};

struct ParsedLog {
  std::vector<LogRecord> records;  // the valid prefix
  uint64_t valid_bytes = 0;        // file offset just past the last valid record
  bool header_ok = false;          // the file header is present and right
  uint32_t version = 0;            // the header's format version, when header_ok
  // The file is a strict prefix of its header, or all zeros (a crash while
  // creating it): it holds nothing and may be rewritten. !header_ok && !header_torn means
  // a damaged header, which is corruption.
  bool header_torn = false;
  bool bad_tail = false;                 // bytes after valid_bytes do not form a valid record
  bool valid_records_after_bad = false;  // a valid record was found past the bad one
  uint64_t records_after_bad = 0;        // how many (resynchronising byte by byte)
  std::vector<LogRecord> records_after;  // those records, in file order (kpictl repair keeps them)
  // What resynchronising cost: bytes hashed past the header checks (v2: the
  // payloads of candidates whose header check matched; v1: the claimed
  // extent of every candidate with a plausible type and length). For tests
  // and benchmarks.
  uint64_t resync_hashed_bytes = 0;
};

// Parses a whole log file's contents, of either version. Never fails: what
// it cannot parse is described in the result.
ParsedLog ParseLog(std::string_view contents, std::string_view magic);

}  // namespace kpidb
