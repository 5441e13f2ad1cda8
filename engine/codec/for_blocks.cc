#include "engine/codec/for_blocks.h"

#include <algorithm>
#include <cstring>

#include "engine/codec/bit_stream.h"
#include "engine/common/coding.h"

namespace kpidb::codec {
namespace {

struct BlockFrame {
  int64_t min;
  int width;
};

BlockFrame FrameOf(std::span<const int64_t> block) {
  int64_t min = *std::min_element(block.begin(), block.end());
  uint64_t spread = 0;
  for (int64_t v : block) spread |= static_cast<uint64_t>(v) - static_cast<uint64_t>(min);
  return {min, BitWidth(spread)};
}

// Unpacks len values of `width` bits starting at bit `bit_pos` of data[0..size)
// and adds `min` to each. The fast path needs width <= 56 and 8 readable
// bytes past the last value's first byte.
void Unpack(const uint8_t* data, size_t size, uint64_t bit_pos, int width, size_t len,
            uint64_t min, int64_t* out) {
  if (width == 0) {
    for (size_t i = 0; i < len; ++i) out[i] = static_cast<int64_t>(min);
    return;
  }
  const uint64_t mask = LowBits(width);
  const uint64_t end_bit = bit_pos + uint64_t(width) * len;
  if (width <= 56 && (end_bit >> 3) + 8 <= size) {
    for (size_t i = 0; i < len; ++i) {
      uint64_t word;
      std::memcpy(&word, data + (bit_pos >> 3), 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      word = __builtin_bswap64(word);
#endif
      out[i] = static_cast<int64_t>(((word >> (bit_pos & 7)) & mask) + min);
      bit_pos += static_cast<uint64_t>(width);
    }
    return;
  }
  for (size_t i = 0; i < len; ++i) {
    out[i] = static_cast<int64_t>(ReadBitsAt(data, size, bit_pos, width) + min);
    bit_pos += static_cast<uint64_t>(width);
  }
}

}  // namespace

void EncodeForBlocks(std::span<const int64_t> values, std::string* out) {
  for (size_t start = 0; start < values.size(); start += kForBlockSize) {
    auto block = values.subspan(start, std::min(kForBlockSize, values.size() - start));
    BlockFrame frame = FrameOf(block);
    PutVarsint64(out, frame.min);
    out->push_back(static_cast<char>(frame.width));
    BitWriter bits(out);
    for (int64_t v : block) {
      bits.Write(static_cast<uint64_t>(v) - static_cast<uint64_t>(frame.min), frame.width);
    }
    bits.Finish();
  }
}

size_t ForBlocksEncodedSize(std::span<const int64_t> values) {
  size_t total = 0;
  for (size_t start = 0; start < values.size(); start += kForBlockSize) {
    auto block = values.subspan(start, std::min(kForBlockSize, values.size() - start));
    BlockFrame frame = FrameOf(block);
    total += VarintLength(ZigZagEncode(frame.min)) + 1 + (frame.width * block.size() + 7) / 8;
  }
  return total;
}

Status DecodeForBlocks(std::string_view in, size_t* pos, size_t count, int64_t* out) {
  const auto* data = reinterpret_cast<const uint8_t*>(in.data());
  for (size_t start = 0; start < count; start += kForBlockSize) {
    size_t len = std::min(kForBlockSize, count - start);
    ByteReader header(in.substr(*pos));
    int64_t min;
    uint8_t width;
    if (!header.GetVarsint64(&min) || !header.GetByte(&width)) {
      return Status::Corruption("FOR block header truncated");
    }
    if (width > 64) return Status::Corruption("FOR block width > 64");
    *pos += header.position();
    size_t bytes = (size_t{width} * len + 7) / 8;
    if (bytes > in.size() - *pos) return Status::Corruption("FOR block truncated");
    Unpack(data, in.size(), uint64_t{*pos} * 8, width, len, static_cast<uint64_t>(min),
           out + start);
    *pos += bytes;
  }
  return Status::Ok();
}

}  // namespace kpidb::codec
