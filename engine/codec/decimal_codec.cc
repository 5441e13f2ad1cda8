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

}  // namespace

int ChooseDecimalExponent(std::span<const double> values) {
  const size_t n = values.size();
  const size_t stride = n > kSampleSize ? n / kSampleSize : 1;
  int best_exponent = 0;
  size_t best_hits = 0;
  for (int e = 0; e <= kMaxDecimalExponent; ++e) {
    size_t hits = 0, sampled = 0;
    int64_t x;
    for (size_t i = 0; i < n; i += stride, ++sampled) hits += ToDecimal(values[i], e, &x);
    if (hits > best_hits) {
      best_hits = hits;
      best_exponent = e;
    }
    if (hits == sampled) break;  // a larger exponent can only widen integers
  }
  return best_exponent;
}

size_t EncodeDecimal(std::span<const double> values, std::string* out,
                     const DecimalEncodeOptions& options) {
  const size_t n = values.size();
  const int e = ChooseDecimalExponent(values);
  std::vector<int64_t> ints(n);
  std::vector<uint32_t> exceptions;
  int64_t previous = 0;
  bool have_previous = false;
  for (size_t i = 0; i < n; ++i) {
    int64_t x;
    if (ToDecimal(values[i], e, &x)) {
      if (!have_previous) {
        for (size_t j = 0; j < i; ++j) ints[j] = x;  // leading exceptions
        have_previous = true;
      }
      ints[i] = previous = x;
    } else {
      ints[i] = previous;
      exceptions.push_back(static_cast<uint32_t>(i));
    }
  }

  std::string payload;
  const DecimalIntMode mode = EncodeDecimalInts(ints, options.entropy_coding, &payload);
  out->push_back(static_cast<char>(e));
  out->push_back(static_cast<char>(mode));
  PutVarint64(out, exceptions.size());
  out->append(payload);
  uint32_t next_position = 0;
  for (uint32_t position : exceptions) {
    PutVarint64(out, position - next_position);
    PutFixed64(out, DoubleBits(values[position]));
    next_position = position + 1;
  }
  return exceptions.size();
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

  size_t pos = header.position();
  KPIDB_RETURN_IF_ERROR(DecodeDecimalInts(in, &pos, mode, count, e, out));

  ByteReader tail(in.substr(pos));
  uint64_t position = 0;
  for (uint64_t k = 0; k < exception_count; ++k) {
    uint64_t gap, bits;
    if (!tail.GetVarint64(&gap) || !tail.GetFixed64(&bits)) {
      return Status::Corruption("decimal column: exceptions truncated");
    }
    if (gap >= count - position) return Status::Corruption("decimal column: bad exception position");
    position += gap;
    std::memcpy(&out[position], &bits, 8);
    ++position;
  }
  if (!tail.empty()) return Status::Corruption("decimal column: trailing bytes");
  return Status::Ok();
}

}  // namespace kpidb::codec
