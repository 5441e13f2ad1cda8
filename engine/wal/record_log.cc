#include "engine/wal/record_log.h"

#include <xxhash.h>

#include "engine/common/coding.h"

namespace kpidb {
namespace {

void StoreFixed32(uint32_t v, char* dst) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}

void StoreFixed64(uint64_t v, char* dst) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}

// v2: covers length, type and payload_check (the 13 bytes after it).
uint32_t HeaderCheck(const char* length_type_check) {
  return static_cast<uint32_t>(XXH3_64bits(length_type_check, 13));
}

// The checks every version shares, and the cheapest ones: most garbage
// offsets (zero-filled tails especially) fail on the type byte alone.
bool PlausibleRecord(std::string_view c, size_t pos, size_t header_size, uint32_t length,
                     uint8_t type) {
  return type != 0 && type <= kMaxLogRecordType && length <= kMaxLogRecordBytes &&
         length <= c.size() - pos - header_size;
}

// Each TryRecord parses one record at `pos` and returns its total size, or
// 0. `*hashed` grows by the bytes hashed beyond the O(1) header checks.
size_t TryRecordV1(std::string_view c, size_t pos, LogRecord* rec, uint64_t* hashed) {
  if (c.size() - pos < kLogRecordHeaderSizeV1) return 0;
  const char* p = c.data() + pos;
  const uint32_t length = DecodeFixed32(p + 8);
  const uint8_t type = static_cast<uint8_t>(p[12]);
  if (!PlausibleRecord(c, pos, kLogRecordHeaderSizeV1, length, type)) return 0;
  // No header check in v1: the whole claimed extent is hashed to find out.
  *hashed += 5 + size_t{length};
  if (XXH3_64bits(p + 8, 5 + size_t{length}) != DecodeFixed64(p)) return 0;
  rec->type = type;
  rec->payload = c.substr(pos + kLogRecordHeaderSizeV1, length);
  rec->offset = pos;
  return kLogRecordHeaderSizeV1 + length;
}

size_t TryRecordV2(std::string_view c, size_t pos, LogRecord* rec, uint64_t* hashed) {
  if (c.size() - pos < kLogRecordHeaderSizeV2) return 0;
  const char* p = c.data() + pos;
  const uint32_t length = DecodeFixed32(p + 4);
  const uint8_t type = static_cast<uint8_t>(p[8]);
  if (!PlausibleRecord(c, pos, kLogRecordHeaderSizeV2, length, type)) return 0;
  if (HeaderCheck(p + 4) != DecodeFixed32(p)) return 0;
  // Only now, with the header proven (2^-32 odds for garbage), is the
  // payload worth hashing: this keeps resynchronising linear.
  *hashed += length;
  if (XXH3_64bits(p + kLogRecordHeaderSizeV2, length) != DecodeFixed64(p + 9)) return 0;
  rec->type = type;
  rec->payload = c.substr(pos + kLogRecordHeaderSizeV2, length);
  rec->offset = pos;
  return kLogRecordHeaderSizeV2 + length;
}

// The records after the file header, and the resynchronising scan past the
// first bad one, which runs once per byte of damage.
template <size_t (*Try)(std::string_view, size_t, LogRecord*, uint64_t*), size_t kRecordHeader,
          size_t kTypeOffset>
void ParseRecords(std::string_view contents, ParsedLog* out) {
  size_t pos = kLogFileHeaderSize;
  LogRecord rec;
  uint64_t hashed = 0;  // not counted: the valid prefix is hashed once, as it must be
  while (pos < contents.size()) {
    size_t n = Try(contents, pos, &rec, &hashed);
    if (n == 0) break;
    out->records.push_back(rec);
    pos += n;
  }
  out->valid_bytes = pos;
  if (pos == contents.size()) return;
  out->bad_tail = true;
  // Resynchronise: is there any valid record after the bad one? A crash can
  // only tear the last append, so a valid record here means corruption.
  for (size_t scan = pos + 1; scan + kRecordHeader <= contents.size();) {
    // The type byte alone turns away about 15 offsets in 16 of random garbage
    // (and all of a zero-filled tail): test it before the call.
    const uint8_t type = static_cast<uint8_t>(contents[scan + kTypeOffset]);
    if (type == 0 || type > kMaxLogRecordType) {
      ++scan;
      continue;
    }
    size_t n = Try(contents, scan, &rec, &out->resync_hashed_bytes);
    if (n == 0) {
      ++scan;
      continue;
    }
    out->valid_records_after_bad = true;
    ++out->records_after_bad;
    out->records_after.push_back(rec);
    scan += n;
  }
}

// Appends a v1 record (checksum over length, type and payload).
void AppendV1(uint8_t type, std::string_view payload, std::string* out) {
  const size_t start = out->size();
  PutFixed64(out, 0);  // checksum, filled below
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  out->push_back(static_cast<char>(type));
  out->append(payload);
  StoreFixed64(XXH3_64bits(out->data() + start + 8, 5 + payload.size()), out->data() + start);
}

}  // namespace

std::string LogFileHeader(std::string_view magic, uint32_t version) {
  std::string h(magic.substr(0, 8));
  h.resize(8, '\0');
  PutFixed32(&h, version);
  PutFixed32(&h, static_cast<uint32_t>(XXH3_64bits(h.data(), 12)));
  return h;
}

void AppendLogRecord(uint8_t type, std::string_view payload, std::string* out) {
  AppendLogRecord(type, payload, std::string_view(), out);
}

void AppendLogRecord(uint8_t type, std::string_view payload_head, std::string_view payload_tail,
                     std::string* out) {
  const size_t length = payload_head.size() + payload_tail.size();
  out->reserve(out->size() + kLogRecordHeaderSizeV2 + length);
  const size_t start = out->size();
  PutFixed32(out, 0);  // header_check, filled below
  PutFixed32(out, static_cast<uint32_t>(length));
  out->push_back(static_cast<char>(type));
  PutFixed64(out, 0);  // payload_check, filled below
  out->append(payload_head);
  out->append(payload_tail);
  char* p = out->data() + start;
  StoreFixed64(XXH3_64bits(p + kLogRecordHeaderSizeV2, length), p + 9);
  StoreFixed32(HeaderCheck(p + 4), p);
}

void AppendLogRecordInVersion(uint32_t version, uint8_t type, std::string_view payload,
                              std::string* out) {
  if (version == 1) {
    AppendV1(type, payload, out);
  } else {
    AppendLogRecord(type, payload, out);
  }
}

ParsedLog ParseLog(std::string_view contents, std::string_view magic) {
  ParsedLog out;
  const std::string header_v1 = LogFileHeader(magic, 1);
  const std::string header_v2 = LogFileHeader(magic, 2);
  // A file that is all zeros (its size persisted before its data) holds
  // nothing either.
  const bool all_zero = contents.find_first_not_of('\0') == std::string_view::npos;
  if (all_zero && !contents.empty()) {
    out.header_torn = true;
    out.bad_tail = true;
    return out;
  }
  if (contents.size() < kLogFileHeaderSize) {
    out.header_torn = std::string_view(header_v2).starts_with(contents) ||
                      std::string_view(header_v1).starts_with(contents);
    out.bad_tail = !contents.empty();
    return out;
  }
  const std::string_view header = contents.substr(0, kLogFileHeaderSize);
  if (header == header_v2) {
    out.version = 2;
  } else if (header == header_v1) {
    out.version = 1;
  } else {
    out.bad_tail = true;
    return out;
  }
  out.header_ok = true;
  if (out.version == 1) {
    ParseRecords<TryRecordV1, kLogRecordHeaderSizeV1, 12>(contents, &out);
  } else {
    ParseRecords<TryRecordV2, kLogRecordHeaderSizeV2, 8>(contents, &out);
  }
  return out;
}

}  // namespace kpidb
