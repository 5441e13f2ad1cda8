#include "engine/codec/rle_codec.h"

#include <cstring>

#include "engine/common/coding.h"

namespace kpidb::codec {

size_t CountRuns(std::span<const double> values) {
  size_t runs = values.empty() ? 0 : 1;
  for (size_t i = 1; i < values.size(); ++i) {
    runs += DoubleBits(values[i]) != DoubleBits(values[i - 1]);
  }
  return runs;
}

void EncodeRle(std::span<const double> values, std::string* out) {
  PutVarint64(out, CountRuns(values));
  size_t start = 0;
  for (size_t i = 1; i <= values.size(); ++i) {
    if (i == values.size() || DoubleBits(values[i]) != DoubleBits(values[start])) {
      PutVarint64(out, i - start);
      PutFixed64(out, DoubleBits(values[start]));
      start = i;
    }
  }
}

Status DecodeRle(std::string_view in, size_t count, double* out) {
  ByteReader reader(in);
  uint64_t runs;
  if (!reader.GetVarint64(&runs)) return Status::Corruption("rle column: header truncated");
  if (runs > count) return Status::Corruption("rle column: more runs than points");
  size_t filled = 0;
  for (uint64_t r = 0; r < runs; ++r) {
    uint64_t length, bits;
    if (!reader.GetVarint64(&length) || !reader.GetFixed64(&bits)) {
      return Status::Corruption("rle column: truncated");
    }
    if (length == 0 || length > count - filled) return Status::Corruption("rle column: bad run length");
    double v;
    std::memcpy(&v, &bits, 8);
    for (uint64_t i = 0; i < length; ++i) out[filled++] = v;
  }
  if (filled != count) return Status::Corruption("rle column: runs do not cover the points");
  if (!reader.empty()) return Status::Corruption("rle column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
