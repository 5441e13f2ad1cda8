// Run-length value codec: constant chunks and step-like series (a price that
// changes a few times a day). Runs compare IEEE-754 bit patterns, so -0.0
// and 0.0 are different runs and every pattern round-trips.
//
// Layout, n values:
//
//   varint   r                 number of runs, 1 <= r <= n
//   r times: varint length     >= 1; the lengths sum to n
//            fixed64 bits      the value's bit pattern, little-endian
//
// Worked example: {7.0, 7.0, 7.0, -0.0} encodes as
//   02 | 03 00 00 00 00 00 00 1C 40 | 01 00 00 00 00 00 00 00 80
// A constant chunk of 2048 points costs 1 + 2 + 8 = 11 bytes.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

// The number of runs of equal bit patterns in `values`.
size_t CountRuns(std::span<const double> values);

void EncodeRle(std::span<const double> values, std::string* out);

// Decodes `count` values from `in`, which must be exactly one encoded
// column. Returns Corruption on malformed input.
Status DecodeRle(std::string_view in, size_t count, double* out);

}  // namespace kpidb::codec
