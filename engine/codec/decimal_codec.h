// Decimal-scaled integer value codec, after ALP (Afroozeh, Kuffo, Boncz,
// SIGMOD 2024). KPI values are mostly short decimals — counts, currency with
// 2 digits, ratios with 4 — so v * 10^e is an integer for a small e, and the
// integers bit-pack far tighter than XOR-ed IEEE-754 patterns.
//
// Per chunk one exponent e in 0..kMaxDecimalExponent is chosen. A value v is
// *encodable* when x = round(v * 10^e) satisfies |x| < 2^53 and
// DecimalToDouble(x, e) reproduces v bit for bit (the same function the
// decoder uses, so exactness is proven at encode time and the decoder checks
// nothing but bounds). The other values (-0.0, 51.846000000000004, 1e300,
// NaN...) are exceptions stored raw; their slot in the integer stream repeats
// the previous integer so it costs ~nothing in delta mode.
//
// Layout, n values:
//
//   byte     e                      0..18
//   byte     int mode               0: FOR blocks of x[0..n)
//                                   1: varint zigzag(x[0]), then FOR blocks
//                                      of the n-1 deltas x[i] - x[i-1]
//                                      (modulo 2^64)
//                                   2-4: entropy-coded (decimal_ints.h)
//   varint   k                      exception count, k <= n
//   ...      the int mode's payload (decimal_ints.h)
//   k times: varint gap, fixed64 raw bits
//            position = previous position + 1 + gap (first: gap itself)
//   if the int mode byte has bit 0x80 (near exceptions; mode = byte & 0x7f):
//   varint m                        near-exception count, 1 <= m <= n
//   m times: varint gap (as above), varint zigzag(d)
//            the value's bits are those of DecimalToDouble(x, e) plus d
//            (|d| <= 2^20): a value off a short decimal by binary-float
//            noise (0.1 + 0.2 = 0.30000000000000004, 51.846000000000004)
//            costs ~2 bytes, not 9, and x keeps the int stream smooth.
//            Writers before this flag never set it; readers that know it
//            read both forms.
//
// Worked example: {12.5, 12.75, -0.0} picks e = 2, x = {1250, 1275, 1275}
// (-0.0 is an exception: 0 / 100 = +0.0), raw mode (FOR: min 1250, width 5,
// offsets {0, 25, 25}) beats delta mode here:
//   02 00 01 | C4 13 05 20 67 | 02 00 00 00 00 00 00 00 80
// (zigzag(1250) = 2500 = varint C4 13; offsets 0, 25, 25 in 5-bit fields:
// 25<<5 | 25<<10 = 0x6720; exception at position 2 with the bits of -0.0.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

inline constexpr int kMaxDecimalExponent = 18;

inline constexpr double kPow10[kMaxDecimalExponent + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

// The decoding arithmetic, shared by encoder (to prove exactness) and
// decoder. Division by an exact power of ten is correctly rounded, so x/10^e
// is exactly the double nearest to the decimal x * 10^-e.
// For e = 0 the division by 1.0 is the identity and is skipped.
inline double DecimalToDouble(int64_t x, int e) {
  return e == 0 ? static_cast<double>(x) : static_cast<double>(x) / kPow10[e];
}

// Picks the exponent that makes the most values of a sample exact
// decimals (ties go to the smaller exponent).
int ChooseDecimalExponent(std::span<const double> values);

struct DecimalEncodeOptions {
  // Consider the entropy-coded int modes 2-4 (off: modes 0 and 1 only,
  // the format before they existed; for benchmarks that compare).
  bool entropy_coding = true;
  // Store values within 2^20 ulps of a decimal as that decimal plus the
  // ulps (off: as raw exceptions, the format before; for benchmarks).
  bool near_exceptions = true;
};

// Appends the encoding of `values` with the exponent from
// ChooseDecimalExponent (with near exceptions, or the one making the most
// values exact or near, whichever encodes smaller) and the smallest int mode. Returns the number of
// values not stored as exact decimals (raw and near exceptions).
size_t EncodeDecimal(std::span<const double> values, std::string* out,
                     const DecimalEncodeOptions& options = {});

// Decodes `count` values from `in`, which must be exactly one encoded
// column. Returns Corruption on malformed input.
Status DecodeDecimal(std::string_view in, size_t count, double* out);

}  // namespace kpidb::codec
