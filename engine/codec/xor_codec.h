// XOR-float value codec (Gorilla, Pelkonen et al., VLDB 2015), the fallback
// for values with no short decimal form.
//
// Bit layout (LSB-first bit stream, bit_stream.h), for n values v[0..n):
//
//   64 bits   v[0]'s IEEE-754 bit pattern
//   then for each i >= 1, with x = bits(v[i]) XOR bits(v[i-1]):
//     x == 0:                 '0'                                  1 bit
//     x fits the previous window (leading zeros >= L, trailing >= T):
//                             '1' '0'  then (64-L-T) bits: x >> T
//     otherwise:              '1' '1'  then 5 bits L = min(clz(x), 31),
//                             6 bits M = 64-L-ctz(x) (64 written as 0),
//                             M bits: x >> (64-L-M); the window becomes (L, T=64-L-M)
//   zero bits up to the byte boundary
//
// Control bits are written in the order shown (first bit = lower bit). The
// "previous window" does not exist before the first '11' record; a '10'
// there is corruption.
//
// Worked example: {1.0, 1.0, 1.5}. bits(1.0) = 0x3FF0000000000000;
// second x = 0 -> '0'; third x = 0x0008000000000000: L = 12, ctz = 51,
// M = 1 -> '1','1', L=12 (5 bits), M=1 (6 bits), x>>51 = 1 (1 bit).
// Total 64+1+2+5+6+1 = 79 bits -> 10 bytes:
//   00 00 00 00 00 00 F0 3F   v[0]
//   66 41                     bit 64 '0'; bits 65-66 '1','1'; bits 67-71
//                             L = 12; bits 72-77 M = 1; bit 78 the 1 bit
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

void EncodeXor(std::span<const double> values, std::string* out);

// Decodes `count` values from `in`, which must be exactly one encoded
// column. Every bit pattern round-trips.
Status DecodeXor(std::string_view in, size_t count, double* out);

}  // namespace kpidb::codec
