// Each codec on its own: bit-exact round trips on edge cases and random
// mixtures, documented byte layouts, and rejection of malformed input.
#include <gtest/gtest.h>

#include <cfloat>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/codec/bit_stream.h"
#include "engine/codec/decimal_codec.h"
#include "engine/codec/decimal_ints.h"
#include "engine/codec/entropy_ints.h"
#include "engine/codec/for_blocks.h"
#include "engine/codec/huffman_code.h"
#include "engine/codec/rle_codec.h"
#include "engine/codec/timestamp_codec.h"
#include "engine/codec/xor_codec.h"

namespace kpidb::codec {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty()) s += ' ';
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

// Bit-pattern equality: -0.0 != 0.0 and NaN payloads count.
::testing::AssertionResult SameBits(const std::vector<double>& a, const std::vector<double>& b) {
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

void EncodeDecimalVoid(std::span<const double> v, std::string* out) { EncodeDecimal(v, out); }

struct ValueCodecCase {
  const char* name;
  ValueEncoder encode;
  ValueDecoder decode;
};
const ValueCodecCase kValueCodecs[] = {
    {"xor", EncodeXor, DecodeXor},
    {"decimal", EncodeDecimalVoid, DecodeDecimal},
    {"rle", EncodeRle, DecodeRle},
};

void ExpectValuesRoundTrip(const std::vector<double>& values) {
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

void ExpectTimestampsRoundTrip(const std::vector<int64_t>& ts) {
  std::string encoded;
  EncodeTimestamps(ts, &encoded);
  std::vector<int64_t> decoded(ts.size());
  Status s = DecodeTimestamps(encoded, ts.size(), decoded.data());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ts, decoded);
}

std::vector<double> EdgeValues() {
  return {0.0,        -0.0,       DBL_MIN,     -DBL_MIN,    DBL_MAX,         -DBL_MAX,
          DBL_TRUE_MIN, -DBL_TRUE_MIN, 4.9e-320, 1.0,        -1.0,            0.1,
          51.846000000000004, 51.846, 1e300,  -1e-300,     9007199254740993.0, 123456789.123,
          std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
          FromBits(0x7FF8000000000001), FromBits(0xFFF0000000000ABC), 0.30000000000000004};
}

TEST(CodecBitStream, WritesLsbFirstAndReadsBackEveryWidth) {
  std::string out;
  BitWriter writer(&out);
  writer.Write(3, 2);
  writer.Write(5, 3);
  writer.Finish();
  EXPECT_EQ(Hex(out), "17");

  std::mt19937_64 rng(1);
  std::vector<std::pair<uint64_t, int>> written;
  std::string stream;
  BitWriter w(&stream);
  for (int i = 0; i < 5000; ++i) {
    int bits = static_cast<int>(rng() % 65);
    uint64_t v = rng() & LowBits(bits);
    w.Write(v, bits);
    written.push_back({v, bits});
  }
  w.Finish();
  BitReader r(reinterpret_cast<const uint8_t*>(stream.data()), stream.size());
  for (auto [v, bits] : written) ASSERT_EQ(r.Read(bits), v);
  EXPECT_FALSE(r.overrun());
  EXPECT_EQ(r.bytes_consumed(), stream.size());
  r.Read(64);
  EXPECT_TRUE(r.overrun());
}

TEST(CodecForBlocks, MatchesTheDocumentedExample) {
  std::vector<int64_t> v = {100, 103, 101};
  std::string out;
  EncodeForBlocks(v, &out);
  EXPECT_EQ(Hex(out), "C8 01 02 1C");
  EXPECT_EQ(out.size(), ForBlocksEncodedSize(v));
}

TEST(CodecForBlocks, RoundTripsAnyInt64IncludingExtremes) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    size_t n = rng() % 1000;
    int width = static_cast<int>(rng() % 65);
    std::vector<int64_t> v(n);
    for (auto& x : v) x = static_cast<int64_t>(rng() & LowBits(width)) - (trial % 2 ? 5 : 0);
    if (n > 2 && trial % 3 == 0) {
      v[0] = INT64_MIN;
      v[n - 1] = INT64_MAX;
    }
    std::string out;
    EncodeForBlocks(v, &out);
    ASSERT_EQ(out.size(), ForBlocksEncodedSize(v));
    std::vector<int64_t> back(n);
    size_t pos = 0;
    ASSERT_TRUE(DecodeForBlocks(out, &pos, n, back.data()).ok());
    EXPECT_EQ(pos, out.size());
    EXPECT_EQ(v, back);
  }
}

TEST(CodecForBlocks, RejectsTruncationAndBadWidth) {
  std::vector<int64_t> v(300);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i * i);
  std::string out;
  EncodeForBlocks(v, &out);
  std::vector<int64_t> back(v.size());
  for (size_t cut = 0; cut < out.size(); ++cut) {
    size_t pos = 0;
    EXPECT_FALSE(DecodeForBlocks(std::string_view(out).substr(0, cut), &pos, v.size(), back.data()).ok());
  }
  std::string bad = out;
  bad[ (size_t)1 ] = 65;  // zigzag(0) is one byte, then the width
  size_t pos = 0;
  EXPECT_FALSE(DecodeForBlocks(bad, &pos, v.size(), back.data()).ok());
}

TEST(TimestampCodec, RegularSeriesCostsFourBytesWhateverItsLength) {
  std::vector<int64_t> ts = {1000, 1010, 1020, 1030};
  std::string out;
  EncodeTimestamps(ts, &out);
  EXPECT_EQ(Hex(out), "D0 0F 0A 00");
  std::vector<int64_t> many(65535);
  for (size_t i = 0; i < many.size(); ++i) many[i] = 1'767'225'600'000 + 10'000 * int64_t(i);
  out.clear();
  EncodeTimestamps(many, &out);
  EXPECT_LE(out.size(), 12u);
  ExpectTimestampsRoundTrip(many);
}

TEST(TimestampCodec, MatchesTheDocumentedDeltaOfDeltaExample) {
  std::vector<int64_t> ts = {1000, 1010, 1020, 1031};
  std::string out;
  EncodeTimestamps(ts, &out);
  EXPECT_EQ(Hex(out), "D0 0F 0A 01 00 01 02");
  ExpectTimestampsRoundTrip(ts);
}

TEST(TimestampCodec, RoundTripsExtremesAndHugeDeltas) {
  ExpectTimestampsRoundTrip({INT64_MIN});
  ExpectTimestampsRoundTrip({INT64_MAX});
  ExpectTimestampsRoundTrip({INT64_MIN, INT64_MAX});
  ExpectTimestampsRoundTrip({INT64_MIN, 0, INT64_MAX});
  ExpectTimestampsRoundTrip({INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX});
  ExpectTimestampsRoundTrip({-5, -4, 1'000'000'000'000'000, 1'000'000'000'000'001});
  ExpectTimestampsRoundTrip({-1'000'000, -999'999, -10, 0, 7, 8});
  // Not increasing: still lossless (the chunk layer enforces the order).
  ExpectTimestampsRoundTrip({5, 3, 9, INT64_MIN, INT64_MAX, 0});
}

TEST(TimestampCodec, JitteredSeriesCostFewBitsPerPoint) {
  std::mt19937_64 rng(3);
  std::vector<int64_t> ts(2048);
  for (size_t i = 0; i < ts.size(); ++i) {
    ts[i] = 1'767'225'600'000 + 10'000 * int64_t(i) + int64_t(rng() % 1001) - 500;
  }
  std::string out;
  EncodeTimestamps(ts, &out);
  EXPECT_LT(out.size() * 8.0 / ts.size(), 11.5);  // ~10 bits of entropy
  ExpectTimestampsRoundTrip(ts);
}

TEST(TimestampCodec, RoundTripsRandomSequences) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    size_t n = 1 + rng() % 3000;
    std::vector<int64_t> ts(n);
    int64_t t = static_cast<int64_t>(rng());
    int kind = trial % 4;
    for (auto& x : ts) {
      uint64_t step = kind == 0 ? 1 + rng() % 3 : kind == 1 ? rng() : kind == 2 ? 10'000 + rng() % 50 : rng() >> (rng() % 64);
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + step);
      x = t;
    }
    ExpectTimestampsRoundTrip(ts);
  }
}

TEST(TimestampCodec, RejectsEveryTruncationAndUnknownMode) {
  std::vector<int64_t> ts = {1, 5, 20, 21, 100, 1000, 1001, 5000};
  std::string out;
  EncodeTimestamps(ts, &out);
  std::vector<int64_t> back(ts.size());
  for (size_t cut = 0; cut < out.size(); ++cut) {
    EXPECT_FALSE(DecodeTimestamps(std::string_view(out).substr(0, cut), ts.size(), back.data()).ok()) << cut;
  }
  EXPECT_FALSE(DecodeTimestamps(out + "x", ts.size(), back.data()).ok());
  std::string regular;
  EncodeTimestamps(std::vector<int64_t>{1, 2, 3}, &regular);
  regular.back() = 9;
  EXPECT_FALSE(DecodeTimestamps(regular, 3, back.data()).ok());
}

TEST(ValueCodecs, RoundTripEdgeValuesBitExactly) {
  ExpectValuesRoundTrip(EdgeValues());
  ExpectValuesRoundTrip({-0.0});
  ExpectValuesRoundTrip({0.0, -0.0, 0.0, -0.0});
  ExpectValuesRoundTrip({DBL_MAX, DBL_MAX, -DBL_MAX});
}

TEST(ValueCodecs, RoundTripDecimalsWithZeroToFifteenDigits) {
  std::mt19937_64 rng(5);
  for (int digits = 0; digits <= 15; ++digits) {
    std::vector<double> v(1000);
    for (auto& x : v) {
      x = std::stod(std::to_string(static_cast<int64_t>(rng() % 100000) - 50000) + "e-" +
                    std::to_string(digits));
    }
    SCOPED_TRACE(digits);
    ExpectValuesRoundTrip(v);
  }
}

TEST(ValueCodecs, RoundTripConstantAndAlternatingRuns) {
  ExpectValuesRoundTrip(std::vector<double>(65535, 42.5));
  std::vector<double> alternating(4096);
  for (size_t i = 0; i < alternating.size(); ++i) alternating[i] = i % 2 ? 0.1 : -7.25;
  ExpectValuesRoundTrip(alternating);
}

TEST(ValueCodecs, RoundTripRandomBitPatternsAndMixtures) {
  std::mt19937_64 rng(99);
  const auto edges = EdgeValues();
  for (int trial = 0; trial < 300; ++trial) {
    size_t n = 1 + rng() % 2500;
    std::vector<double> v(n);
    for (auto& x : v) {
      switch (rng() % 6) {
        case 0: x = FromBits(rng()); break;
        case 1: x = edges[rng() % edges.size()]; break;
        case 2: x = static_cast<double>(rng() % 1000); break;
        case 3: x = static_cast<double>(static_cast<int64_t>(rng() % 100000)) / 100; break;
        case 4: x = static_cast<double>(rng() % 10000) / 10000 + 1e-16 * (rng() % 3); break;
        default: x = n > 1 ? v[0] : 1.0; break;
      }
    }
    ExpectValuesRoundTrip(v);
  }
}

TEST(XorCodec, MatchesTheDocumentedExample) {
  std::string out;
  EncodeXor(std::vector<double>{1.0, 1.0, 1.5}, &out);
  EXPECT_EQ(Hex(out), "00 00 00 00 00 00 F0 3F 66 41");
}

TEST(XorCodec, RejectsTruncationTrailingBytesAndUnsetWindow) {
  std::vector<double> v = {1.0, 2.5, 2.5, 3.75, -1e10, 0.1};
  std::string out;
  EncodeXor(v, &out);
  std::vector<double> back(v.size());
  for (size_t cut = 0; cut < out.size(); ++cut) {
    EXPECT_FALSE(DecodeXor(std::string_view(out).substr(0, cut), v.size(), back.data()).ok());
  }
  EXPECT_FALSE(DecodeXor(out + std::string(1, '\0'), v.size(), back.data()).ok());
  std::string reuse(8, '\0');
  reuse.push_back(0x01);  // '1','0': window reuse before any window
  EXPECT_FALSE(DecodeXor(reuse, 2, back.data()).ok());
}

TEST(DecimalCodec, MatchesTheDocumentedExample) {
  std::string out;
  EXPECT_EQ(EncodeDecimal(std::vector<double>{12.5, 12.75, -0.0}, &out), 1u);
  EXPECT_EQ(Hex(out), "02 00 01 C4 13 05 20 67 02 00 00 00 00 00 00 00 80");
}

TEST(DecimalCodec, PicksTheSmallestExactExponent) {
  EXPECT_EQ(ChooseDecimalExponent(std::vector<double>{1, 2, 3}), 0);
  EXPECT_EQ(ChooseDecimalExponent(std::vector<double>{1.5, 2.25, 3}), 2);
  EXPECT_EQ(ChooseDecimalExponent(std::vector<double>{0.0123, 0.5, 0.0001}), 4);
}

TEST(DecimalCodec, KeepsNearDecimalsAsRareExceptions) {
  std::vector<double> v(1024);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i % 977) / 100;
  v[10] = 51.846000000000004;
  v[500] = -0.0;
  std::string out;
  EXPECT_EQ(EncodeDecimal(v, &out), 2u);
  std::vector<double> back(v.size());
  ASSERT_TRUE(DecodeDecimal(out, v.size(), back.data()).ok());
  EXPECT_TRUE(SameBits(v, back));
}

TEST(DecimalCodec, RejectsBadExponentExceptionsAndTruncation) {
  std::vector<double> v = {1.25, -0.0, 3.5, 1e300, 2.75};
  std::string out;
  EncodeDecimal(v, &out);
  std::vector<double> back(v.size());
  for (size_t cut = 0; cut < out.size(); ++cut) {
    EXPECT_FALSE(DecodeDecimal(std::string_view(out).substr(0, cut), v.size(), back.data()).ok());
  }
  std::string bad = out;
  bad[0] = 19;
  EXPECT_FALSE(DecodeDecimal(bad, v.size(), back.data()).ok());
  bad = out;
  bad[2] = 6;  // more exceptions than points
  EXPECT_FALSE(DecodeDecimal(bad, v.size(), back.data()).ok());
  EXPECT_FALSE(DecodeDecimal(out, v.size() - 1, back.data()).ok());
}

// --- Entropy-coded integers (huffman_code.h, entropy_ints.h) ---------------

std::string EncodeEntropy(const std::vector<uint64_t>& values) {
  std::string out;
  EncodeEntropyInts(values, PlanEntropyInts(values), &out);
  return out;
}

void ExpectEntropyRoundTrip(const std::vector<uint64_t>& values) {
  const EntropyIntsPlan plan = PlanEntropyInts(values);
  std::string out;
  EncodeEntropyInts(values, plan, &out);
  EXPECT_EQ(out.size(), plan.encoded_size);
  std::string padded = out + "tail";  // the decoder must stop at its block's end
  std::vector<uint64_t> back(values.size() + 1, 12345);
  size_t pos = 0;
  Status s = DecodeEntropyInts(padded, &pos, values.size(), back.data());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pos, out.size());
  back.pop_back();
  EXPECT_EQ(back, values);
}

Status DecodeEntropyBlock(std::string_view block, size_t count) {
  std::vector<uint64_t> back(count);
  size_t pos = 0;
  Status s = DecodeEntropyInts(block, &pos, count, back.data());
  if (s.ok() && pos != block.size()) return Status::Corruption("test: trailing bytes");
  return s;
}

TEST(HuffmanCode, SerializesLengthsAsDocumented) {
  std::string out;
  PutCodeLengths(std::vector<uint8_t>{1, 0, 0, 0, 2, 2, 0, 0}, &out);
  EXPECT_EQ(Hex(out), "06 F1 21 02");
  std::vector<uint8_t> lengths(8, 99);
  size_t pos = 0, used = 0;
  ASSERT_TRUE(GetCodeLengths(out, &pos, 8, lengths.data(), &used).ok());
  EXPECT_EQ(pos, out.size());
  EXPECT_EQ(used, 6u);
  EXPECT_EQ(std::vector<uint8_t>(lengths.begin(), lengths.begin() + 6),
            (std::vector<uint8_t>{1, 0, 0, 0, 2, 2}));
}

TEST(HuffmanCode, LimitsCodeLengthsOnFibonacciCounts) {
  // Fibonacci counts give the deepest possible Huffman tree.
  std::vector<uint32_t> counts = {1, 1};
  while (counts.size() < 30) counts.push_back(counts[counts.size() - 1] + counts[counts.size() - 2]);
  std::vector<uint8_t> lengths(counts.size());
  BuildCodeLengths(counts, lengths.data());
  uint32_t kraft = 0;
  for (uint8_t l : lengths) {
    ASSERT_GE(l, 1);
    ASSERT_LE(l, kMaxCodeLength);
    kraft += 1u << (kMaxCodeLength - l);
  }
  EXPECT_EQ(kraft, 1u << kMaxCodeLength);  // complete
  EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), kMaxCodeLength);
  std::vector<HuffmanDecodeEntry> table(1 << kMaxCodeLength);
  std::vector<uint8_t> extra(lengths.size(), 0);
  int bits = 0;
  EXPECT_TRUE(BuildDecodeTable(lengths, extra, table.data(), &bits).ok());
  EXPECT_EQ(bits, kMaxCodeLength);
}

TEST(HuffmanCode, RejectsMalformedLengthSets) {
  std::vector<HuffmanDecodeEntry> table(1 << kMaxCodeLength);
  std::vector<uint8_t> extra(16, 0);
  int bits;
  auto valid = [&](std::vector<uint8_t> lengths) {
    return BuildDecodeTable(lengths, extra, table.data(), &bits).ok();
  };
  EXPECT_TRUE(valid({1, 2, 2}));
  EXPECT_TRUE(valid({0, 1, 0}));       // one symbol, coded with zero bits
  EXPECT_FALSE(valid({1, 1, 2}));      // over-subscribed
  EXPECT_FALSE(valid({1, 2, 0}));      // incomplete
  EXPECT_FALSE(valid({2, 2, 2}));      // incomplete
  EXPECT_FALSE(valid({0, 0, 0}));      // no symbol at all
  EXPECT_FALSE(valid({0, 2, 0}));      // a lone symbol must have length 1
  EXPECT_FALSE(valid({12, 1, 2}));     // longer than kMaxCodeLength
  size_t pos = 0, used;
  std::vector<uint8_t> lengths(16);
  EXPECT_FALSE(GetCodeLengths("\x00", &pos, 16, lengths.data(), &used).ok());  // L = 0
  pos = 0;
  EXPECT_FALSE(GetCodeLengths("\x11\x00", &pos, 16, lengths.data(), &used).ok());  // L > alphabet
  pos = 0;
  EXPECT_FALSE(GetCodeLengths("\x02\xC1", &pos, 16, lengths.data(), &used).ok());  // nibble 12
  pos = 0;
  EXPECT_FALSE(GetCodeLengths("\x02\x1F", &pos, 16, lengths.data(), &used).ok());  // zero run past L
  pos = 0;
  EXPECT_FALSE(GetCodeLengths("\x05\x11", &pos, 16, lengths.data(), &used).ok());  // truncated
}

TEST(EntropyInts, RoundTripDegenerateAlphabets) {
  ExpectEntropyRoundTrip({0});
  ExpectEntropyRoundTrip(std::vector<uint64_t>(1000, 0));             // one symbol, no bits
  ExpectEntropyRoundTrip(std::vector<uint64_t>(1001, 777777));        // one class + extra bits
  ExpectEntropyRoundTrip(std::vector<uint64_t>(999, ~uint64_t{0}));   // widest class (slow path)
  std::vector<uint64_t> two(4097);
  for (size_t i = 0; i < two.size(); ++i) two[i] = i % 3 == 0 ? 5 : 0;
  ExpectEntropyRoundTrip(two);
  for (size_t n = 1; n <= 9; ++n) ExpectEntropyRoundTrip(std::vector<uint64_t>(two.begin(), two.begin() + n));
}

TEST(EntropyInts, RoundTripMaximumCodeLengthsAndLongBlocks) {
  // Geometric-like counts over many symbols force length limiting.
  std::vector<uint64_t> skewed;
  for (uint64_t s = 0; s < 40; ++s) {
    for (uint64_t k = 0; k < (uint64_t{1} << std::min<uint64_t>(s, 15)) / 64 + 1; ++k) skewed.push_back(255 - s);
  }
  std::mt19937_64 rng(11);
  std::shuffle(skewed.begin(), skewed.end(), rng);
  ExpectEntropyRoundTrip(skewed);
  std::vector<uint64_t> long_block(65535);
  for (auto& v : long_block) v = rng() % 7 == 0 ? rng() >> (rng() % 64) : rng() % 30;
  ExpectEntropyRoundTrip(long_block);
}

TEST(EntropyInts, RoundTripRandomMixtures) {
  std::mt19937_64 rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint64_t> v(1 + rng() % 3000);
    const int kind = static_cast<int>(rng() % 4);
    for (auto& x : v) {
      switch (kind) {
        case 0: x = rng() >> (rng() % 64); break;                     // every width
        case 1: x = rng() % 2 ? 0 : 1000 + rng() % 100000; break;     // half zeros, wide spread
        case 2: x = static_cast<uint64_t>(std::poisson_distribution<int>(20)(rng)); break;
        default: x = rng() % 3 == 0 ? rng() : rng() % 4; break;
      }
    }
    SCOPED_TRACE(trial);
    ExpectEntropyRoundTrip(v);
  }
}

TEST(EntropyInts, SmallAlphabetsCostAboutTheirEntropy) {
  std::mt19937_64 rng(13);
  std::vector<uint64_t> v(2048);
  for (auto& x : v) x = rng() % 2 ? 0 : 1 + rng() % 3;  // H = 1.79 bits
  EXPECT_LT(EncodeEntropy(v).size(), 2048 * 1.85 / 8 + 24);
}

TEST(EntropyInts, EveryTruncationIsRejectedAndNoCorruptionCrashes) {
  std::mt19937_64 rng(14);
  std::vector<uint64_t> v(301);
  for (auto& x : v) x = rng() % 4 ? rng() % 9 : rng() >> (rng() % 64);
  const std::string block = EncodeEntropy(v);
  for (size_t cut = 0; cut < block.size(); ++cut) {
    EXPECT_FALSE(DecodeEntropyBlock(std::string_view(block).substr(0, cut), v.size()).ok()) << cut;
  }
  // A flipped bit in a code or extra bit may decode to other valid values
  // (the chunk checksum catches it); here it must only never crash or hang.
  for (size_t byte = 0; byte < block.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = block;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      (void)DecodeEntropyBlock(bad, v.size());
    }
  }
  for (int trial = 0; trial < 20000; ++trial) {
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    (void)DecodeEntropyBlock(junk, 1 + rng() % 100);
  }
}

TEST(EntropyInts, RejectsHandBuiltMalformedBlocks) {
  // d = 1, m = 0: alphabet 2 + 63. Lengths {1, 1} with 4 empty streams
  // decode 0 values; then variants of the table.
  EXPECT_TRUE(DecodeEntropyBlock(std::string("\x01\x02\x11\x00\x00\x00\x00", 7), 0).ok());
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x21\x02\x11\x00\x00\x00\x00", 7), 0).ok());  // m > d
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x09\x02\x11\x00\x00\x00\x00", 7), 0).ok());  // d > 8
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x03\x11\x01\x00\x00\x00\x00", 8), 0).ok());  // over-subscribed
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x02\x21\x00\x00\x00\x00", 7), 0).ok());  // incomplete
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x02\x00\x00\x00\x00\x00", 7), 0).ok());  // zero lengths
  // A valid table, but streams that do not end where their lengths say.
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x02\x11\x01\x00\x00\x00\x00", 8), 0).ok());
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x02\x11\x00\x00\x00\x00", 7), 4).ok());
  // Stream lengths beyond the input.
  EXPECT_FALSE(DecodeEntropyBlock(std::string("\x01\x02\x11\x7F\x00\x00\x00\x00", 8), 1).ok());
}

TEST(DecimalCodec, PicksEachEntropyModeWhereItIsSmallest) {
  std::mt19937_64 rng(15);
  auto mode_of = [](const std::vector<double>& v, bool entropy) {
    std::string out;
    EncodeDecimal(v, &out, {.entropy_coding = entropy});
    std::vector<double> back(v.size());
    EXPECT_TRUE(DecodeDecimal(out, v.size(), back.data()).ok());
    EXPECT_TRUE(SameBits(v, back));
    return static_cast<DecimalIntMode>(out[1]);
  };
  std::vector<double> revenue(2048), walk(2048), ratios(2048);
  double level = 50;
  for (size_t i = 0; i < 2048; ++i) {
    revenue[i] = rng() % 2 ? 0.0 : static_cast<double>(5000 + rng() % 3000) / 100;
    level += static_cast<double>(static_cast<int>(rng() % 11) - 5) / 100;
    walk[i] = std::round(level * 100) / 100;
    ratios[i] = rng() % 2 ? 0.0 : std::round(10000.0 / static_cast<double>(5 + rng() % 40)) / 10000;
  }
  ratios[7] = -0.0;  // an exception: its slot repeats the previous integer
  EXPECT_EQ(mode_of(revenue, true), DecimalIntMode::kEntropyRaw);
  EXPECT_EQ(mode_of(walk, true), DecimalIntMode::kEntropyDelta);
  EXPECT_EQ(mode_of(ratios, true), DecimalIntMode::kEntropyDictionary);
  for (const auto* v : {&revenue, &walk, &ratios}) EXPECT_LE(mode_of(*v, false), DecimalIntMode::kDelta);
}

TEST(DecimalCodec, RejectsDictionaryIndicesOutOfRange) {
  // e = 0, mode 4, no exceptions, D = 2 {3, 7}, then indices {0, 2, 1, 0}.
  std::string column("\x00\x04\x00\x02\x06\x03", 6);
  EncodeEntropyInts(std::vector<uint64_t>{0, 2, 1, 0}, PlanEntropyInts(std::vector<uint64_t>{0, 2, 1, 0}),
                    &column);
  std::vector<double> back(4);
  EXPECT_TRUE(DecodeDecimal(column, 4, back.data()).IsCorruption());
  column[3] = 3;  // D = 3 but only two dictionary entries follow
  EXPECT_FALSE(DecodeDecimal(column, 4, back.data()).ok());
  column[3] = 5;  // D > count
  EXPECT_TRUE(DecodeDecimal(column, 4, back.data()).IsCorruption());
}

TEST(RleCodec, MatchesTheDocumentedExample) {
  std::string out;
  EncodeRle(std::vector<double>{7.0, 7.0, 7.0, -0.0}, &out);
  EXPECT_EQ(Hex(out), "02 03 00 00 00 00 00 00 1C 40 01 00 00 00 00 00 00 00 80");
}

TEST(RleCodec, RejectsRunsThatDoNotCoverThePoints) {
  std::string out;
  EncodeRle(std::vector<double>{7.0, 7.0, 7.0, -0.0}, &out);
  std::vector<double> back(8);
  EXPECT_FALSE(DecodeRle(out, 3, back.data()).ok());
  EXPECT_FALSE(DecodeRle(out, 5, back.data()).ok());
  std::string zero_run = out;
  zero_run[1] = 0;
  EXPECT_FALSE(DecodeRle(zero_run, 4, back.data()).ok());
}

}  // namespace
}  // namespace kpidb::codec
