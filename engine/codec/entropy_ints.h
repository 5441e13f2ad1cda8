// Entropy-coded sequences of uint64 (the decimal codec's integers, see
// decimal_codec.h): a per-block static canonical Huffman code over tokens,
// where a token is a small value itself or a bit-length class followed by
// raw extra bits, as DEFLATE and zstd code their offsets. Where FOR packing
// (for_blocks.h) pays the widest value's bits for every value, this pays
// about the entropy of the token distribution: ~1 bit for a zero in a
// column that is half zeros, 2-4 bits for Poisson-like counts.
//
// Tokens, with per-block parameters d (direct bits, 0..8) and m (mantissa
// bits, 0..3, m <= d):
//   u < 2^d      token u, no extra bits
//   otherwise    with b = bit width of u (d < b <= 64) and k = b - 1 - m,
//                token 2^d + ((b - d - 1) << m) + ((u >> k) & (2^m - 1)),
//                then the k low bits of u as extra bits
// so the alphabet has 2^d + ((64 - d) << m) tokens (at most 704).
//
// Layout of a block of n values:
//   byte     d | m << 4
//   ...      code lengths over the alphabet (huffman_code.h)
//   4 varint byte length of streams 0..3
//   ...      streams 0..3, each LSB-first (bit_stream.h) and zero-padded to
//            a byte; stream j holds values j, j+4, j+8...: per value its
//            token's code (bit-reversed canonical) then its extra bits.
// Four interleaved streams let the decoder run four independent bit
// positions at once instead of one long chain of dependent table lookups.
//
// Worked example: {0, 0, 5, 0, 1, 0, 0, 9}. The encoder picks d = 0, m = 0:
// token 0 is the value 0, token 1 + (b - 1) a value of width b with b - 1
// extra bits. Tokens 0 0 3 0 1 0 0 4 (5 = 0b101: token 3, extra 01; 9:
// token 4, extra 001); counts 5, 1, 0, 1, 1 give lengths 1 3 0 3 2,
// canonical codes t0 = 0, t4 = 10, t1 = 110, t3 = 111 (bits listed in
// stream order; extra bits follow LSB first).
//   00            d = 0, m = 0
//   05 31 30 02   L = 5, nibbles 1 3 0 3 2 (+ padding)
//   01 01 01 01   four 1-byte streams
//   06            stream 0: values 0, 1 -> 0 | 110                0b0110
//   00            stream 1: values 0, 0 -> 0 | 0
//   0F            stream 2: values 5, 0 -> 111 | extra 1,0 | 0     0b001111
//   0A            stream 3: values 0, 9 -> 0 | 10 | extra 1,0,0    0b001010
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb::codec {

inline constexpr int kEntropyStreams = 4;

// The encoder's choice for one block: token parameters and code lengths,
// with the exact size EncodeEntropyInts will write.
struct EntropyIntsPlan {
  int direct_bits = 0;
  int mantissa_bits = 0;
  std::vector<uint8_t> code_lengths;  // per token, up to the widest class used
  size_t encoded_size = 0;
};

// Picks the parameters giving the smallest block for `values`.
// REQUIRES: !values.empty().
EntropyIntsPlan PlanEntropyInts(std::span<const uint64_t> values);
// The same plan by building every configuration's code (the reference the
// tests hold PlanEntropyInts to).
EntropyIntsPlan PlanEntropyIntsExhaustive(std::span<const uint64_t> values);

// Appends the block for `values` as planned by PlanEntropyInts(values).
void EncodeEntropyInts(std::span<const uint64_t> values, const EntropyIntsPlan& plan,
                       std::string* out);

// Decodes `count` values from the block starting at in[*pos] into
// out[0..count), advancing *pos past it. Never reads outside `in`; Corruption
// when the block is truncated or malformed (bad table, streams that do not
// end exactly at their stated lengths).
Status DecodeEntropyInts(std::string_view in, size_t* pos, size_t count, uint64_t* out);

}  // namespace kpidb::codec
