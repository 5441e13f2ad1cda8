// Length-limited canonical Huffman codes for the entropy-coded integer
// streams (entropy_ints.h): building code lengths from symbol counts, the
// compact serialized form of those lengths, and the table-driven decoder's
// lookup table.
//
// Canonical code. Symbols are sorted by (length, symbol); the first gets the
// all-zero code of its length, each next one the previous code + 1, shifted
// left when the length grows (DEFLATE, RFC 1951 3.2.2). Streams are LSB-first
// (bit_stream.h), so a code is written bit-reversed: its first (most
// significant) bit goes into the stream first. A decoder peeks table_bits =
// max length bits and indexes a table of 2^table_bits entries.
//
// Valid length sets: every length in 0..kMaxCodeLength (0 = symbol unused),
// and the Kraft sum of 2^-length over used symbols exactly 1 (complete, not
// over-subscribed) -- or exactly one used symbol, of length 1, which is then
// coded with zero bits (a one-symbol alphabet carries no information).
//
// Serialized lengths, for an alphabet of A symbols:
//   varint   L, 1..A: lengths follow for symbols 0..L-1 (the rest are 0)
//   nibbles  LSB-nibble first, padded with a zero nibble to a whole byte:
//              0..11   the length of the next symbol
//              15, r   r + 2 (2..17) symbols of length 0
//              12..14  invalid
// Worked example: lengths {1, 0, 0, 0, 2, 2} -> L = 6, nibbles 1, 15 1, 2 2
// -> bytes 06 F1 21 02 (the last nibble pair is 2 and padding 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

inline constexpr int kMaxCodeLength = 11;
inline constexpr size_t kMaxHuffmanSymbols = 1024;

// Writes into lengths[0..counts.size()) the code lengths of an optimal
// prefix code for `counts`, limited to kMaxCodeLength by halving the counts
// until it fits. Unused symbols (count 0) get length 0; a single used symbol
// gets length 1. REQUIRES: counts.size() <= kMaxHuffmanSymbols.
void BuildCodeLengths(std::span<const uint32_t> counts, uint8_t* lengths);

// Bit-reversed canonical codes for valid `lengths`, ready for BitWriter.
void BuildEncoderCodes(std::span<const uint8_t> lengths, uint16_t* codes);

// Appends the serialized lengths (trailing zero lengths are dropped).
// REQUIRES: at least one nonzero length.
void PutCodeLengths(std::span<const uint8_t> lengths, std::string* out);
// The bytes PutCodeLengths appends for `lengths`. They depend only on which
// lengths are zero.
size_t CodeLengthsSize(std::span<const uint8_t> lengths);

// Parses serialized lengths for an alphabet of `alphabet_size` symbols
// starting at in[*pos], advancing *pos; writes lengths[0..*used), the
// symbols that follow all have length 0. Corruption when truncated or
// malformed. Does not check completeness.
Status GetCodeLengths(std::string_view in, size_t* pos, size_t alphabet_size, uint8_t* lengths,
                      size_t* used);

struct HuffmanDecodeEntry {
  uint16_t symbol;
  uint8_t code_length;  // bits the code occupies (0 for a one-symbol code)
  uint8_t total_bits;   // code_length + extra_bits[symbol]: the bits to skip
};

// Fills table[0 .. 1 << *table_bits) so that table[next table_bits bits of
// the stream] gives the symbol, its code length and code length +
// extra_bits[symbol]. Costs one store per used symbol plus copying the
// table (it is built by doubling, not by strided fills), so it is cheap
// enough to run per block. Corruption unless `lengths` is a valid length
// set (see above).
// REQUIRES: extra_bits.size() >= lengths.size(), every extra_bits[s] <= 64;
// table has room for 1 << kMaxCodeLength entries.
Status BuildDecodeTable(std::span<const uint8_t> lengths, std::span<const uint8_t> extra_bits,
                        HuffmanDecodeEntry* table, int* table_bits);

}  // namespace kpidb::codec
