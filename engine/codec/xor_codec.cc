#include "engine/codec/xor_codec.h"

#include <cstring>

#include "engine/codec/bit_stream.h"
#include "engine/common/coding.h"

namespace kpidb::codec {

void EncodeXor(std::span<const double> values, std::string* out) {
  if (values.empty()) return;
  BitWriter bits(out);
  uint64_t prev = DoubleBits(values[0]);
  bits.Write(prev, 64);
  int window_leading = -1, window_trailing = 0;  // -1: no window yet
  for (size_t i = 1; i < values.size(); ++i) {
    uint64_t cur = DoubleBits(values[i]);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      bits.Write(0, 1);
      continue;
    }
    int leading = __builtin_clzll(x);
    int trailing = __builtin_ctzll(x);
    if (leading > 31) leading = 31;
    if (window_leading >= 0 && leading >= window_leading && trailing >= window_trailing) {
      bits.Write(0b01, 2);  // '1' then '0'
      bits.Write(x >> window_trailing, 64 - window_leading - window_trailing);
      continue;
    }
    int meaningful = 64 - leading - trailing;
    bits.Write(0b11, 2);
    bits.Write(static_cast<uint64_t>(leading), 5);
    bits.Write(static_cast<uint64_t>(meaningful & 63), 6);
    bits.Write(x >> trailing, meaningful);
    window_leading = leading;
    window_trailing = trailing;
  }
  bits.Finish();
}

Status DecodeXor(std::string_view in, size_t count, double* out) {
  if (count == 0) {
    if (!in.empty()) return Status::Corruption("xor column: bytes for zero points");
    return Status::Ok();
  }
  BitReader bits(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  uint64_t prev = bits.Read(64);
  std::memcpy(&out[0], &prev, 8);
  int window_leading = -1, window_trailing = 0;
  for (size_t i = 1; i < count; ++i) {
    if (bits.ReadBit()) {
      if (bits.ReadBit()) {
        window_leading = static_cast<int>(bits.Read(5));
        int meaningful = static_cast<int>(bits.Read(6));
        if (meaningful == 0) meaningful = 64;
        if (window_leading + meaningful > 64) {
          return Status::Corruption("xor column: window wider than 64 bits");
        }
        window_trailing = 64 - window_leading - meaningful;
      } else if (window_leading < 0) {
        return Status::Corruption("xor column: window reused before being set");
      }
      int width = 64 - window_leading - window_trailing;
      prev ^= bits.Read(width) << window_trailing;
    }
    std::memcpy(&out[i], &prev, 8);
    if (bits.overrun()) break;
  }
  if (bits.overrun()) return Status::Corruption("xor column: truncated");
  if (bits.bytes_consumed() != in.size()) return Status::Corruption("xor column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
