// Timestamp column codec: delta-of-delta, bit-packed in frame-of-reference
// blocks (for_blocks.h) rather than Gorilla's variable-length codes, so that
// decoding is a tight unpack loop plus two prefix sums.
//
// Layout for n timestamps t[0..n):
//
//   varint  zigzag(t[0])
//   if n >= 2:
//     varint  d1 = t[1] - t[0]              (uint64, modulo 2^64)
//   if n >= 3:
//     byte    mode
//       0  constant delta: every t[i] - t[i-1] == d1; nothing follows
//       1  delta-of-delta: FOR blocks of the n-2 values
//            dd[i] = (t[i] - t[i-1]) - (t[i-1] - t[i-2]),  i = 2..n-1
//       2  delta: FOR blocks of the n-2 values t[i] - t[i-1], i = 2..n-1
//       3  scaled delta-of-delta: varint g (2..2^63-1), then FOR blocks of
//            dd[i] / g: g divides every dd (their common divisor)
//       4  scaled delta: varint g, then FOR blocks of (t[i] - t[i-1]) / g
//          (3 and 4 came after format version 1's first release; older
//          writers never use them, older readers report them as unknown)
//
// All differences are computed modulo 2^64 and reinterpreted as int64, so
// INT64_MIN..INT64_MAX and any delta round-trip without signed overflow. The
// encoder picks the smallest of modes 1 to 4 (mode 2 wins for jittered
// series: a delta spread of ±1 s needs 11 bits, a delta-of-delta spread 12;
// 3 or 4 for timestamps on whole seconds or minutes: ±1 min of jitter is
// 18 bits as milliseconds, 2 divided by 60,000).
//
// Worked example: t = {1000, 1010, 1020, 1030} encodes as
//   D0 0F   zigzag(1000) = 2000
//   0A      d1 = 10
//   00      mode 0: constant delta
// 4 bytes for any number of regularly spaced points. With t[3] = 1031
// instead, mode 1 follows with one FOR block holding dd = {0, 1}:
//   01 | 00 01 02  (min 0, width 1, bits 0b10)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

enum class TimestampMode : uint8_t {
  kConstantDelta = 0,
  kDeltaOfDelta = 1,
  kDelta = 2,
  kScaledDeltaOfDelta = 3,
  kScaledDelta = 4,
};

// Appends the encoded column. Any int64 sequence round-trips; strictly
// increasing ones (the chunk invariant) are the ones that compress well.
void EncodeTimestamps(std::span<const int64_t> timestamps, std::string* out);

// Decodes `count` timestamps from `in`, which must be exactly one encoded
// column, into out[0..count). Returns Corruption on malformed input.
Status DecodeTimestamps(std::string_view in, size_t count, int64_t* out);

}  // namespace kpidb::codec
