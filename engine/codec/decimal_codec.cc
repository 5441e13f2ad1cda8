#include "engine/codec/decimal_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/codec/decimal_ints.h"
#include "engine/common/coding.h"

namespace kpidb::codec {
namespace {


// x such that DecimalToDouble(x, e) is bit-identical to v, if one exists.
bool ToDecimal(double v, int e, int64_t* x) {
  double scaled = v * kPow10[e];
  if (!(std::fabs(scaled) < 9007199254740992.0)) return false;  // 2^53; false for NaN
  int64_t candidate = static_cast<int64_t>(std::nearbyint(scaled));
  if (DoubleBits(DecimalToDouble(candidate, e)) != DoubleBits(v)) return false;
  *x = candidate;
  return true;
}

constexpr size_t kSampleSize = 64;

// The int mode byte's flag: near exceptions follow the raw ones.
constexpr uint8_t kNearFlag = 0x80;
// A near exception is at most this many ulps from its decimal.
constexpr int64_t kMaxNearUlps = int64_t{1} << 20;

// For v that is not a decimal at exponent e: the decimal x whose double is
// a few ulps from v, and the difference of their bit patterns (v's minus
// the decimal's), when both have v's sign and the difference is small.
// Binary-float noise makes such values: 0.1 + 0.2 = 0.30000000000000004.
bool ToNearDecimal(double v, int e, int64_t* x, int64_t* ulps) {
  const double scaled = v * kPow10[e];
  if (!(std::fabs(scaled) < 9007199254740992.0)) return false;  // also NaN and inf
  const int64_t candidate = static_cast<int64_t>(std::nearbyint(scaled));
  const double base = DecimalToDouble(candidate, e);
  if (std::signbit(base) != std::signbit(v)) return false;
  const int64_t d = static_cast<int64_t>(DoubleBits(v) - DoubleBits(base));  // modulo 2^64
  if (d < -kMaxNearUlps || d > kMaxNearUlps) return false;
  *x = candidate;
  *ulps = d;
  return true;
}

// The smallest exponent at which the most values of a sample are exact
// decimals, or with `near` exact or near ones (binary-float noise of
// 2-decimal sums is exact only at some e of 14 digits, near at e = 2).
int MostHitsExponent(std::span<const double> values, bool near) {
  const size_t n = values.size();
  const size_t stride = n > kSampleSize ? n / kSampleSize : 1;
  int best_exponent = 0;
  size_t best_hits = 0;
  for (int e = 0; e <= kMaxDecimalExponent; ++e) {
    size_t hits = 0, sampled = 0;
    int64_t x, ulps;
    for (size_t i = 0; i < n; i += stride, ++sampled) {
      hits += ToDecimal(values[i], e, &x) || (near && ToNearDecimal(values[i], e, &x, &ulps));
    }
    if (hits > best_hits) {
      best_hits = hits;
      best_exponent = e;
    }
    if (hits == sampled) break;  // a larger exponent can only widen integers
  }
  return best_exponent;
}

}  // namespace

int ChooseDecimalExponent(std::span<const double> values) {
  return MostHitsExponent(values, /*near=*/false);
}

namespace {

size_t EncodeDecimalAt(std::span<const double> values, int e, std::string* out,
                       const DecimalEncodeOptions& options) {
  const size_t n = values.size();
  std::vector<int64_t> ints(n);
  std::vector<uint32_t> exceptions;
  std::vector<std::pair<uint32_t, int64_t>> near;  // position, ulps
  int64_t previous = 0;
  bool have_previous = false;
  for (size_t i = 0; i < n; ++i) {
    int64_t x, ulps = 0;
    const bool exact = ToDecimal(values[i], e, &x);
    if (exact || (options.near_exceptions && ToNearDecimal(values[i], e, &x, &ulps))) {
      if (!have_previous) {
        for (size_t j = 0; j < i; ++j) ints[j] = x;  // leading exceptions
        have_previous = true;
      }
      ints[i] = previous = x;
      if (!exact) near.emplace_back(static_cast<uint32_t>(i), ulps);
    } else {
      ints[i] = previous;
      exceptions.push_back(static_cast<uint32_t>(i));
    }
  }

  std::string payload;
  const DecimalIntMode mode = EncodeDecimalInts(ints, options.entropy_coding, &payload);
  out->push_back(static_cast<char>(e));
  out->push_back(static_cast<char>(static_cast<uint8_t>(mode) | (near.empty() ? 0 : kNearFlag)));
  PutVarint64(out, exceptions.size());
  out->append(payload);
  uint32_t next_position = 0;
  for (uint32_t position : exceptions) {
    PutVarint64(out, position - next_position);
    PutFixed64(out, DoubleBits(values[position]));
    next_position = position + 1;
  }
  if (!near.empty()) {
    PutVarint64(out, near.size());
    next_position = 0;
    for (const auto& [position, ulps] : near) {
      PutVarint64(out, position - next_position);
      PutVarint64(out, ZigZagEncode(ulps));
      next_position = position + 1;
    }
  }
  return exceptions.size() + near.size();
}

}  // namespace

size_t EncodeDecimal(std::span<const double> values, std::string* out,
                     const DecimalEncodeOptions& options) {
  // The exponent making the most values exact, as before near exceptions;
  // with them, also the one making the most exact or near (when it
  // differs), and the smaller encoding of the two. So near exceptions never
  // cost more than raw ones did (3000000000.37 stays exact at e = 2, where
  // every value is near at e = 0 too), and noisy sums get e = 2.
  const int exact_e = ChooseDecimalExponent(values);
  if (!options.near_exceptions) return EncodeDecimalAt(values, exact_e, out, options);
  const size_t start = out->size();
  const size_t exceptions = EncodeDecimalAt(values, exact_e, out, options);
  const int near_e = MostHitsExponent(values, /*near=*/true);
  if (near_e == exact_e) return exceptions;
  std::string other;
  const size_t other_exceptions = EncodeDecimalAt(values, near_e, &other, options);
  if (other.size() >= out->size() - start) return exceptions;
  out->resize(start);
  out->append(other);
  return other_exceptions;
}

Status DecodeDecimal(std::string_view in, size_t count, double* out) {
  ByteReader header(in);
  uint8_t e, mode;
  uint64_t exception_count;
  if (!header.GetByte(&e) || !header.GetByte(&mode) || !header.GetVarint64(&exception_count)) {
    return Status::Corruption("decimal column: header truncated");
  }
  if (e > kMaxDecimalExponent) return Status::Corruption("decimal column: bad exponent");
  if (exception_count > count) return Status::Corruption("decimal column: too many exceptions");
  const bool has_near = (mode & kNearFlag) != 0;
  mode &= static_cast<uint8_t>(~kNearFlag);

  size_t pos = header.position();
  KPIDB_RETURN_IF_ERROR(DecodeDecimalInts(in, &pos, mode, count, e, out));

  ByteReader tail(in.substr(pos));
  uint64_t position = 0;
  std::vector<uint64_t> raw_positions;  // sorted; only kept for a near list
  for (uint64_t k = 0; k < exception_count; ++k) {
    uint64_t gap, bits;
    if (!tail.GetVarint64(&gap) || !tail.GetFixed64(&bits)) {
      return Status::Corruption("decimal column: exceptions truncated");
    }
    if (gap >= count - position) return Status::Corruption("decimal column: bad exception position");
    position += gap;
    std::memcpy(&out[position], &bits, 8);
    if (has_near) raw_positions.push_back(position);
    ++position;
  }
  if (has_near) {
    // Each: the double of its decimal (decoded above), moved by a few ulps.
    uint64_t near_count;
    if (!tail.GetVarint64(&near_count) || near_count == 0 || near_count > count) {
      return Status::Corruption("decimal column: bad near-exception count");
    }
    position = 0;
    for (uint64_t k = 0; k < near_count; ++k) {
      uint64_t gap, zigzag;
      if (!tail.GetVarint64(&gap) || !tail.GetVarint64(&zigzag)) {
        return Status::Corruption("decimal column: near exceptions truncated");
      }
      if (gap >= count - position) {
        return Status::Corruption("decimal column: bad near-exception position");
      }
      position += gap;
      const int64_t ulps = ZigZagDecode(zigzag);
      if (ulps == 0 || ulps < -kMaxNearUlps || ulps > kMaxNearUlps) {
        return Status::Corruption("decimal column: bad near-exception difference");
      }
      if (std::binary_search(raw_positions.begin(), raw_positions.end(), position)) {
        return Status::Corruption("decimal column: a near exception on a raw one");
      }
      const uint64_t bits = DoubleBits(out[position]) + static_cast<uint64_t>(ulps);
      std::memcpy(&out[position], &bits, 8);
      ++position;
    }
  }
  if (!tail.empty()) return Status::Corruption("decimal column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
