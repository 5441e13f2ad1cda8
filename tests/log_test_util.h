// Builders for record-log files in either format version, for the WAL and
// series.log tests. The v1 framing is written out here, independently of
// engine/wal/record_log.cc: old files hold what the old code wrote, and a
// change to the v1 reader must not hide behind the same change to an
// encoder it shares.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/coding.h"
#include "engine/wal/record_log.h"

namespace kpidb::testing {

// magic[8] 01 00 00 00 header_check:u32.
inline std::string V1FileHeader(std::string_view magic) {
  std::string h(magic);
  PutFixed32(&h, 1);
  PutFixed32(&h, static_cast<uint32_t>(XXH3_64bits(h.data(), 12)));
  return h;
}

// checksum:u64 length:u32 type:u8 payload, checksum = XXH3-64(length, type, payload).
inline void AppendV1Record(uint8_t type, std::string_view payload, std::string* out) {
  std::string body;
  PutFixed32(&body, static_cast<uint32_t>(payload.size()));
  body.push_back(static_cast<char>(type));
  body.append(payload);
  PutFixed64(out, XXH3_64bits(body.data(), body.size()));
  out->append(body);
}

inline std::string FileHeader(uint32_t version, std::string_view magic) {
  return version == 1 ? V1FileHeader(magic) : LogFileHeader(magic);
}

inline void AppendRecord(uint32_t version, uint8_t type, std::string_view payload,
                         std::string* out) {
  if (version == 1) {
    AppendV1Record(type, payload, out);
  } else {
    AppendLogRecord(type, payload, out);
  }
}

// The same records, framed in `version`.
inline std::string Reframe(const std::string& contents, std::string_view magic, uint32_t version) {
  std::string out = FileHeader(version, magic);
  for (const LogRecord& rec : ParseLog(contents, magic).records) {
    AppendRecord(version, rec.type, rec.payload, &out);
  }
  return out;
}

// `n` bytes from a fixed seed: the same garbage on every run.
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = rng();
    for (size_t b = 0; b < 8 && i + b < n; ++b) out[i + b] = static_cast<char>(r >> (8 * b));
  }
  return out;
}

}  // namespace kpidb::testing
