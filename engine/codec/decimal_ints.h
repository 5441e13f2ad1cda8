// The integer stream of the decimal codec (decimal_codec.h): n int64 x[i],
// stored in one of five int modes, the smallest for the chunk. The payload
// of each mode (after the decimal header's int-mode byte and exception
// count) is:
//
//   0 raw FOR          FOR blocks of x[0..n)                  (for_blocks.h)
//   1 delta FOR        varint zigzag(x[0]), FOR blocks of the n-1 deltas
//                      x[i] - x[i-1] (mod 2^64)
//   2 entropy raw      varint zigzag(min), entropy block of the n values
//                      x[i] - min (mod 2^64)                 (entropy_ints.h)
//   3 entropy delta    varint zigzag(x[0]), entropy block of the n-1 values
//                      zigzag(x[i] - x[i-1])
//   4 entropy dict     varint D (1..n), the D distinct values ascending:
//                      varint zigzag(v[0]), then D-1 varints
//                      v[j] - v[j-1] - 1 (mod 2^64); then an entropy block
//                      of the n indices (x[i] = v[index], index < D)
//
// Modes 2-4 are tried only for n >= 64 and only when enabled; mode 4 only
// when the chunk has few distinct values (KPI ratios such as a conversion
// rate p/v rounded to 4 digits take ~70 distinct values per 2048 points).
//
// Worked example: x = {3, 3, 7, 3} in mode 4 (were it tried for so few):
//   02 | 06 03 | entropy block of the indices {0, 0, 1, 0}
// (D = 2, zigzag(3) = 6, 7 - 3 - 1 = 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

enum class DecimalIntMode : uint8_t {
  kRaw = 0,
  kDelta = 1,
  kEntropyRaw = 2,
  kEntropyDelta = 3,
  kEntropyDictionary = 4,
};

// Appends the payload of the smallest mode for `ints` to *out and returns
// that mode. `entropy_coding` false restricts the choice to modes 0 and 1.
DecimalIntMode EncodeDecimalInts(std::span<const int64_t> ints, bool entropy_coding,
                                 std::string* out);

// Decodes the payload of `mode` for `count` integers starting at in[*pos],
// advancing *pos, and writes DecimalToDouble(x[i], e) to out[0..count).
// Corruption on an unknown mode or malformed payload; never reads outside
// `in`. REQUIRES: e <= kMaxDecimalExponent.
Status DecodeDecimalInts(std::string_view in, size_t* pos, uint8_t mode, size_t count, int e,
                         double* out);

}  // namespace kpidb::codec
