#include "engine/wal/record_log.h"

#include <xxhash.h>

#include <cstring>

#include "engine/common/coding.h"

namespace kpidb {
namespace {

uint64_t RecordChecksum(const char* length_type_payload, size_t n) {
  return XXH3_64bits(length_type_payload, n);
}

// Tries to parse one record at `pos`. Returns its total size, or 0.
size_t TryRecord(std::string_view c, size_t pos, LogRecord* rec) {
  if (c.size() - pos < kLogRecordHeaderSize) return 0;
  const char* p = c.data() + pos;
  uint64_t checksum = DecodeFixed64(p);
  uint32_t length = DecodeFixed32(p + 8);
  if (length > kMaxLogRecordBytes || length > c.size() - pos - kLogRecordHeaderSize) return 0;
  const uint8_t type = static_cast<uint8_t>(p[12]);
  // Types are 1..kMaxLogRecordType: a cheap filter before hashing while
  // resynchronising over garbage (zero-filled tails especially).
  if (type == 0 || type > kMaxLogRecordType) return 0;
  if (RecordChecksum(p + 8, 5 + size_t{length}) != checksum) return 0;
  rec->type = type;
  rec->payload = c.substr(pos + kLogRecordHeaderSize, length);
  rec->offset = pos;
  return kLogRecordHeaderSize + length;
}

}  // namespace

std::string LogFileHeader(std::string_view magic) {
  std::string h(magic.substr(0, 8));
  h.resize(8, '\0');
  PutFixed32(&h, kLogFormatVersion);
  PutFixed32(&h, static_cast<uint32_t>(XXH3_64bits(h.data(), 12)));
  return h;
}

void AppendLogRecord(uint8_t type, std::string_view payload, std::string* out) {
  AppendLogRecord(type, payload, std::string_view(), out);
}

void AppendLogRecord(uint8_t type, std::string_view payload_head, std::string_view payload_tail,
                     std::string* out) {
  const size_t length = payload_head.size() + payload_tail.size();
  out->reserve(out->size() + kLogRecordHeaderSize + length);
  const size_t start = out->size();
  PutFixed64(out, 0);  // checksum, filled below
  PutFixed32(out, static_cast<uint32_t>(length));
  out->push_back(static_cast<char>(type));
  out->append(payload_head);
  out->append(payload_tail);
  const uint64_t checksum = RecordChecksum(out->data() + start + 8, 5 + length);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(checksum >> (8 * i));
  std::memcpy(out->data() + start, buf, 8);
}

ParsedLog ParseLog(std::string_view contents, std::string_view magic) {
  ParsedLog out;
  const std::string header = LogFileHeader(magic);
  // A file that is all zeros (its size persisted before its data) holds
  // nothing either.
  const bool all_zero = contents.find_first_not_of('\0') == std::string_view::npos;
  if (all_zero && !contents.empty()) {
    out.header_torn = true;
    out.bad_tail = true;
    return out;
  }
  if (contents.size() < kLogFileHeaderSize) {
    out.header_torn = std::string_view(header).starts_with(contents);
    out.bad_tail = !contents.empty();
    return out;
  }
  if (contents.substr(0, kLogFileHeaderSize) != header) {
    out.bad_tail = true;
    return out;
  }
  out.header_ok = true;
  size_t pos = kLogFileHeaderSize;
  LogRecord rec;
  while (pos < contents.size()) {
    size_t n = TryRecord(contents, pos, &rec);
    if (n == 0) break;
    out.records.push_back(rec);
    pos += n;
  }
  out.valid_bytes = pos;
  if (pos == contents.size()) return out;
  out.bad_tail = true;
  // Resynchronise: is there any valid record after the bad one? A crash can
  // only tear the last append, so a valid record here means corruption.
  for (size_t scan = pos + 1; scan + kLogRecordHeaderSize <= contents.size();) {
    size_t n = TryRecord(contents, scan, &rec);
    if (n == 0) {
      ++scan;
      continue;
    }
    out.valid_records_after_bad = true;
    ++out.records_after_bad;
    scan += n;
  }
  return out;
}

}  // namespace kpidb
