#include "engine/codec/timestamp_codec.h"

#include <numeric>
#include <span>
#include <vector>

#include "engine/codec/for_blocks.h"
#include "engine/common/coding.h"

namespace kpidb::codec {
namespace {

// The greatest common divisor of the values' magnitudes (0 if all are 0),
// if it is in [2, INT64_MAX]; else 0.
uint64_t CommonDivisor(std::span<const int64_t> values) {
  uint64_t g = 0;
  for (int64_t v : values) {
    const uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    g = std::gcd(g, magnitude);
    if (g == 1) return 0;
  }
  return g >= 2 && g <= static_cast<uint64_t>(INT64_MAX) ? g : 0;
}

std::vector<int64_t> Divided(std::span<const int64_t> values, uint64_t g) {
  std::vector<int64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i] / static_cast<int64_t>(g);
  return out;
}

}  // namespace

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
  // The smallest of four: deltas or deltas of deltas, each as they are or
  // divided by their common divisor (timestamps on whole seconds or minutes
  // with jitter or gaps: ±1 min is ±60,000 ms, 18 bits, or ±1, 2 bits).
  struct Candidate {
    TimestampMode mode;
    uint64_t divisor;  // 0: none
    std::span<const int64_t> values;
    size_t size;
  };
  std::vector<int64_t> scaled_dods, scaled_deltas;
  std::vector<Candidate> candidates = {
      {TimestampMode::kDeltaOfDelta, 0, dods, ForBlocksEncodedSize(dods)},
      {TimestampMode::kDelta, 0, deltas, ForBlocksEncodedSize(deltas)}};
  auto add_scaled = [&](TimestampMode mode, const std::vector<int64_t>& values,
                        std::vector<int64_t>* scaled) {
    if (const uint64_t g = CommonDivisor(values)) {
      *scaled = Divided(values, g);
      candidates.push_back({mode, g, *scaled, ForBlocksEncodedSize(*scaled) + VarintLength(g)});
    }
  };
  add_scaled(TimestampMode::kScaledDeltaOfDelta, dods, &scaled_dods);
  add_scaled(TimestampMode::kScaledDelta, deltas, &scaled_deltas);
  // Ties keep the earlier: the older modes first, as before they existed.
  const Candidate* best = &candidates[0];
  for (const Candidate& c : candidates) {
    if (c.size < best->size) best = &c;
  }
  out->push_back(static_cast<char>(best->mode));
  if (best->divisor != 0) PutVarint64(out, best->divisor);
  EncodeForBlocks(best->values, out);
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
    case TimestampMode::kScaledDeltaOfDelta:
    case TimestampMode::kScaledDelta: {
      ByteReader rest(in.substr(pos));
      uint64_t g;
      if (!rest.GetVarint64(&g) || g < 2 || g > static_cast<uint64_t>(INT64_MAX)) {
        return Status::Corruption("timestamp column: bad divisor");
      }
      pos += rest.position();
      KPIDB_RETURN_IF_ERROR(DecodeForBlocks(in, &pos, count - 2, out + 2));
      const bool dod = static_cast<TimestampMode>(mode) == TimestampMode::kScaledDeltaOfDelta;
      uint64_t delta = d1;
      for (size_t i = 2; i < count; ++i) {
        const uint64_t v = static_cast<uint64_t>(out[i]) * g;  // modulo 2^64, as encoded
        if (dod) {
          delta += v;
          t += delta;
        } else {
          t += v;
        }
        out[i] = static_cast<int64_t>(t);
      }
      break;
    }
    default:
      return Status::Corruption("timestamp column: unknown mode " + std::to_string(mode));
  }
  if (pos != in.size()) return Status::Corruption("timestamp column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
