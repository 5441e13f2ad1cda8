#include "engine/codec/timestamp_codec.h"

#include <vector>

#include "engine/codec/for_blocks.h"
#include "engine/common/coding.h"

namespace kpidb::codec {

void EncodeTimestamps(std::span<const int64_t> ts, std::string* out) {
  const size_t n = ts.size();
  if (n == 0) return;
  PutVarsint64(out, ts[0]);
  if (n == 1) return;
  auto u = [&](size_t i) { return static_cast<uint64_t>(ts[i]); };
  const uint64_t d1 = u(1) - u(0);
  PutVarint64(out, d1);
  if (n == 2) return;

  std::vector<int64_t> deltas(n - 2), dods(n - 2);
  bool constant = true;
  uint64_t prev_delta = d1;
  for (size_t i = 2; i < n; ++i) {
    uint64_t delta = u(i) - u(i - 1);
    deltas[i - 2] = static_cast<int64_t>(delta);
    dods[i - 2] = static_cast<int64_t>(delta - prev_delta);
    constant &= delta == d1;
    prev_delta = delta;
  }
  if (constant) {
    out->push_back(static_cast<char>(TimestampMode::kConstantDelta));
    return;
  }
  if (ForBlocksEncodedSize(deltas) < ForBlocksEncodedSize(dods)) {
    out->push_back(static_cast<char>(TimestampMode::kDelta));
    EncodeForBlocks(deltas, out);
  } else {
    out->push_back(static_cast<char>(TimestampMode::kDeltaOfDelta));
    EncodeForBlocks(dods, out);
  }
}

Status DecodeTimestamps(std::string_view in, size_t count, int64_t* out) {
  if (count == 0) {
    if (!in.empty()) return Status::Corruption("timestamp column: bytes for zero points");
    return Status::Ok();
  }
  ByteReader header(in);
  int64_t first;
  if (!header.GetVarsint64(&first)) return Status::Corruption("timestamp column: bad t0");
  out[0] = first;
  uint64_t t = static_cast<uint64_t>(first);
  uint64_t d1 = 0;
  uint8_t mode = static_cast<uint8_t>(TimestampMode::kConstantDelta);
  if (count >= 2) {
    if (!header.GetVarint64(&d1)) return Status::Corruption("timestamp column: bad d1");
    t += d1;
    out[1] = static_cast<int64_t>(t);
  }
  if (count >= 3 && !header.GetByte(&mode)) {
    return Status::Corruption("timestamp column: missing mode");
  }
  size_t pos = header.position();
  switch (static_cast<TimestampMode>(mode)) {
    case TimestampMode::kConstantDelta:
      for (size_t i = 2; i < count; ++i) {
        t += d1;
        out[i] = static_cast<int64_t>(t);
      }
      break;
    case TimestampMode::kDeltaOfDelta: {
      KPIDB_RETURN_IF_ERROR(DecodeForBlocks(in, &pos, count - 2, out + 2));
      uint64_t delta = d1;
      for (size_t i = 2; i < count; ++i) {
        delta += static_cast<uint64_t>(out[i]);
        t += delta;
        out[i] = static_cast<int64_t>(t);
      }
      break;
    }
    case TimestampMode::kDelta:
      KPIDB_RETURN_IF_ERROR(DecodeForBlocks(in, &pos, count - 2, out + 2));
      for (size_t i = 2; i < count; ++i) {
        t += static_cast<uint64_t>(out[i]);
        out[i] = static_cast<int64_t>(t);
      }
      break;
    default:
      return Status::Corruption("timestamp column: unknown mode " + std::to_string(mode));
  }
  if (pos != in.size()) return Status::Corruption("timestamp column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
