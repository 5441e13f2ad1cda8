// Helpers shared by the codec tests (codec_test.cc, entropy_codec_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <cfloat>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/codec/decimal_codec.h"
#include "engine/codec/rle_codec.h"
#include "engine/codec/timestamp_codec.h"
#include "engine/codec/xor_codec.h"

namespace kpidb::codec::testing {

inline std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty()) s += ' ';
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

inline double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

// Bit-pattern equality: -0.0 != 0.0 and NaN payloads count.
inline ::testing::AssertionResult SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], 8) != 0) {
      return ::testing::AssertionFailure() << "index " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

using ValueEncoder = void (*)(std::span<const double>, std::string*);
using ValueDecoder = Status (*)(std::string_view, size_t, double*);

inline void EncodeDecimalVoid(std::span<const double> v, std::string* out) { EncodeDecimal(v, out); }

struct ValueCodecCase {
  const char* name;
  ValueEncoder encode;
  ValueDecoder decode;
};
inline const ValueCodecCase kValueCodecs[] = {
    {"xor", EncodeXor, DecodeXor},
    {"decimal", EncodeDecimalVoid, DecodeDecimal},
    {"rle", EncodeRle, DecodeRle},
};

inline void ExpectValuesRoundTrip(const std::vector<double>& values) {
  for (const auto& codec : kValueCodecs) {
    SCOPED_TRACE(codec.name);
    std::string encoded;
    codec.encode(values, &encoded);
    std::vector<double> decoded(values.size());
    Status s = codec.decode(encoded, values.size(), decoded.data());
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(SameBits(values, decoded));
  }
}

inline void ExpectTimestampsRoundTrip(const std::vector<int64_t>& ts) {
  std::string encoded;
  EncodeTimestamps(ts, &encoded);
  std::vector<int64_t> decoded(ts.size());
  Status s = DecodeTimestamps(encoded, ts.size(), decoded.data());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ts, decoded);
}

inline std::vector<double> EdgeValues() {
  return {0.0,        -0.0,       DBL_MIN,     -DBL_MIN,    DBL_MAX,         -DBL_MAX,
          DBL_TRUE_MIN, -DBL_TRUE_MIN, 4.9e-320, 1.0,        -1.0,            0.1,
          51.846000000000004, 51.846, 1e300,  -1e-300,     9007199254740993.0, 123456789.123,
          std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
          FromBits(0x7FF8000000000001), FromBits(0xFFF0000000000ABC), 0.30000000000000004};
}

}  // namespace kpidb::codec::testing
