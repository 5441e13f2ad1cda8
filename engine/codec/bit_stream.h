// Bit-level writer and reader shared by the codecs.
//
// Bits are packed LSB-first: the first bit written is bit 0 of byte 0, a
// value of width w occupies the next w bits with its least significant bit
// first, and the stream is padded with zero bits to a whole byte. So writing
// 3 (2 bits: 11) then 5 (3 bits: 101) gives the byte 0b000'101'11 = 0x17.
//
// BitReader never reads outside its byte range: a read past the end yields
// zero bits and sets overrun(), which the caller checks once per loop (the
// loops are bounded by the point count, so a corrupt stream cannot make them
// run forever).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace kpidb::codec {

// Mask of the low `bits` bits, for 0 <= bits <= 64.
inline uint64_t LowBits(int bits) {
  return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}

// Number of bits needed to represent v (0 for v == 0).
inline int BitWidth(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

class BitWriter {
 public:
  // Appends to *out; Finish() must be called before *out is used.
  explicit BitWriter(std::string* out) : out_(out) {}
  BitWriter(const BitWriter&) = delete;
  BitWriter& operator=(const BitWriter&) = delete;

  // Writes the low `bits` bits of value (0 <= bits <= 64).
  void Write(uint64_t value, int bits) {
    if (bits == 0) return;
    value &= LowBits(bits);
    acc_ |= value << fill_;
    if (fill_ + bits >= 64) {
      char buf[8];
      for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(acc_ >> (8 * i));
      out_->append(buf, 8);
      int consumed = 64 - fill_;  // bits of value already flushed
      acc_ = consumed >= 64 ? 0 : value >> consumed;
      fill_ = fill_ + bits - 64;
    } else {
      fill_ += bits;
    }
  }

  // Flushes the partial byte(s), zero-padded.
  void Finish() {
    for (int i = 0; i < fill_; i += 8) out_->push_back(static_cast<char>(acc_ >> i));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  int fill_ = 0;  // bits pending in acc_, always < 64
};

// Loads 8 little-endian bytes at data[pos], treating bytes at or past `size`
// as zero. The fast path is one unaligned load.
inline uint64_t LoadLE64Padded(const uint8_t* data, size_t size, size_t pos) {
  uint64_t v = 0;
  if (pos + 8 <= size) {
    std::memcpy(&v, data + pos, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
  }
  for (size_t i = 0; pos + i < size && i < 8; ++i) v |= uint64_t{data[pos + i]} << (8 * i);
  return v;
}

// Reads `bits` (0..64) bits starting at absolute bit offset `bit_pos`.
// REQUIRES: the caller checked that bit_pos + bits <= 8 * size, or accepts
// zero bits past the end.
inline uint64_t ReadBitsAt(const uint8_t* data, size_t size, uint64_t bit_pos, int bits) {
  size_t byte = static_cast<size_t>(bit_pos >> 3);
  int shift = static_cast<int>(bit_pos & 7);
  uint64_t v = LoadLE64Padded(data, size, byte) >> shift;
  if (shift + bits > 64) {
    uint64_t next = byte + 8 < size ? data[byte + 8] : 0;
    v |= next << (64 - shift);
  }
  return v & LowBits(bits);
}

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint64_t Read(int bits) {
    if (pos_ + static_cast<uint64_t>(bits) > uint64_t{size_} * 8) {
      overrun_ = true;
      pos_ = uint64_t{size_} * 8;
      return 0;
    }
    uint64_t v = ReadBitsAt(data_, size_, pos_, bits);
    pos_ += static_cast<uint64_t>(bits);
    return v;
  }
  bool ReadBit() { return Read(1) != 0; }

  bool overrun() const { return overrun_; }
  // Whole bytes consumed so far (the partial last byte counts).
  size_t bytes_consumed() const { return static_cast<size_t>((pos_ + 7) / 8); }

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t pos_ = 0;
  bool overrun_ = false;
};

}  // namespace kpidb::codec
