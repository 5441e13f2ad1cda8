// Frame-of-reference (FOR) bit-packing of int64 sequences, the integer
// back end shared by the timestamp and decimal codecs.
//
// Layout. The sequence is cut into blocks of kForBlockSize values (the last
// block may be shorter; the caller knows the total count). Each block is
//
//   varint   zigzag(min)      the smallest value of the block (signed)
//   byte     width w          0..64
//   bytes    ceil(w*len/8)    len values (v - min), w bits each, LSB-first
//                             (see bit_stream.h), zero-padded to a byte
//
// Subtraction is done modulo 2^64, so any int64 range fits in 64 bits.
// Worked example: the block {100, 103, 101} (len 3) has min 100, offsets
// {0, 3, 1}, width 2, and encodes as
//   C8 01        zigzag(100) = 200 as a varint
//   02           width
//   1C           offset 0 in bits 0-1, 3 in bits 2-3, 1 in bits 4-5:
//                0b00'01'11'00 = 0x1C
// i.e. bytes C8 01 02 1C. A block whose values are all equal costs only its
// header (width 0), so constant runs are ~free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kpidb/status.h"

namespace kpidb::codec {

inline constexpr size_t kForBlockSize = 256;

// Appends the FOR blocks of `values` to *out.
void EncodeForBlocks(std::span<const int64_t> values, std::string* out);

// The exact encoded size EncodeForBlocks would produce, without producing it.
size_t ForBlocksEncodedSize(std::span<const int64_t> values);

// Decodes `count` values starting at in[*pos] into out[0..count), advancing
// *pos past them. Never reads outside `in`. Returns Corruption when the
// blocks are truncated or malformed.
Status DecodeForBlocks(std::string_view in, size_t* pos, size_t count, int64_t* out);

}  // namespace kpidb::codec
