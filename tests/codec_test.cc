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

#include "engine/codec/chunk.h"
#include "engine/codec/bit_stream.h"
#include "engine/codec/decimal_codec.h"
#include "engine/codec/decimal_ints.h"
#include "engine/codec/entropy_ints.h"
#include "engine/codec/for_blocks.h"
#include "engine/codec/huffman_code.h"
#include "engine/codec/rle_codec.h"
#include "engine/codec/timestamp_codec.h"
#include "engine/codec/xor_codec.h"
#include "tests/codec_test_util.h"

namespace kpidb::codec {
namespace {

using namespace kpidb::codec::testing;  // NOLINT: test helpers

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

TEST(TimestampCodec, WholeMinutesWithJitterAndOutagesCostBitsNotMilliseconds) {
  // Every ~5 min on whole minutes, ±1 min of jitter, an outage now and then.
  std::mt19937_64 rng(5);
  std::vector<int64_t> ts(2048);
  int64_t t = 1'767'225'600'000;
  for (auto& x : ts) {
    t += 300'000 + (static_cast<int64_t>(rng() % 3) - 1) * 60'000;
    if (rng() % 500 == 0) t += static_cast<int64_t>(rng() % 72) * 3'600'000;
    x = t;
  }
  std::string out;
  EncodeTimestamps(ts, &out);
  // ~19 bits a point as milliseconds; outages widen a few FOR blocks.
  EXPECT_LT(out.size() * 8.0 / ts.size(), 7.0) << out.size();
  ExpectTimestampsRoundTrip(ts);
  // Divisors at the edges: a delta of INT64_MIN (modulo 2^64) with one of
  // 2 (divisor 2), and whole seconds around zero.
  std::vector<int64_t> edge;
  uint64_t u = 0;
  for (int i = 0; i < 601; ++i) {
    edge.push_back(static_cast<int64_t>(u));
    u += i == 300 ? uint64_t{1} << 63 : 2;  // one delta of INT64_MIN
  }
  std::string edge_out;
  EncodeTimestamps(edge, &edge_out);
  EXPECT_TRUE(edge_out[2] == 3 || edge_out[2] == 4) << int(edge_out[2]);  // t0, d1 = 2, mode
  ExpectTimestampsRoundTrip(edge);
  ExpectTimestampsRoundTrip({-4000, -2000, 0, 2000, 6000, 8000, 14000});
  // A bad divisor, and every truncation, are corruption.
  std::vector<int64_t> back(ts.size());
  for (size_t cut = 0; cut < out.size(); cut += 7) {
    EXPECT_FALSE(DecodeTimestamps(std::string_view(out).substr(0, cut), ts.size(), back.data()).ok()) << cut;
  }
  std::string scaled;
  EncodeTimestamps(std::vector<int64_t>{0, 60'000, 180'000, 240'000, 420'000}, &scaled);
  const size_t mode_at = 1 + 3;  // zigzag(0): 1 byte, d1 = 60000: 3 bytes
  ASSERT_TRUE(scaled[mode_at] == 3 || scaled[mode_at] == 4) << int(scaled[mode_at]);
  // The divisor, 60000, is the 3-byte varint after the mode: replace it.
  for (const std::string& divisor : {std::string("\x01", 1), std::string("\x00", 1),
                                    std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10)}) {
    std::string bad = scaled.substr(0, mode_at + 1) + divisor + scaled.substr(mode_at + 4);
    EXPECT_FALSE(DecodeTimestamps(bad, 5, back.data()).ok());
  }
}

TEST(TimestampCodec, RoundTripsRandomSequences) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    size_t n = 1 + rng() % 3000;
    std::vector<int64_t> ts(n);
    int64_t t = static_cast<int64_t>(rng());
    int kind = trial % 5;
    for (auto& x : ts) {
      uint64_t step = kind == 0   ? 1 + rng() % 3
                      : kind == 1 ? rng()
                      : kind == 2 ? 10'000 + rng() % 50
                      : kind == 3 ? rng() >> (rng() % 64)
                                  : 60'000 * (1 + rng() % 9);  // whole minutes (scaled modes)
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

TEST(ValueCodecs, RoundTripDecimalsAroundTwoToThe51And53) {
  // The decimal decoder converts ints to doubles with a vectorized trick
  // that is exact below 2^51 and redoes larger blocks the scalar way: both
  // sides of that boundary, and the codec's own limit 2^53, round-trip.
  std::mt19937_64 rng(9);
  for (int e : {0, 2, 4}) {
    for (int64_t around : {int64_t{1} << 51, (int64_t{1} << 53) - 2048}) {
      std::vector<double> v;
      for (int i = 0; i < 3000; ++i) {
        int64_t x = around + static_cast<int64_t>(rng() % 4096) - 2048;
        if (i % 5 == 0) x = static_cast<int64_t>(rng() % 1000);  // small ones in the same blocks
        if (i % 2 == 1) x = -x;
        v.push_back(static_cast<double>(x) / std::pow(10.0, e));
      }
      SCOPED_TRACE(::testing::Message() << "e=" << e << " around=" << around);
      ExpectValuesRoundTrip(v);
      std::string chunk;
      std::vector<int64_t> ts(v.size());
      for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<int64_t>(i);
      kpidb::EncodeChunk(ts, v, &chunk);
      std::vector<int64_t> ts_back;
      std::vector<double> v_back;
      ASSERT_TRUE(kpidb::DecodeChunk(chunk, &ts_back, &v_back).ok());
      EXPECT_TRUE(SameBits(v, v_back));
    }
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

TEST(DecimalCodec, StoresBinaryFloatNoiseAsAFewUlpsOffADecimal) {
  // Revenue as an export computes it: sums of 2-decimal line items in
  // doubles, many of them a few ulps off their decimal.
  std::mt19937_64 rng(9);
  std::vector<double> v(2048);
  for (double& x : v) {
    x = 0;
    for (int j = 0; j < 4; ++j) x += std::round(std::uniform_real_distribution<double>(50, 30000)(rng)) / 100;
  }
  v[7] = -0.0;   // still a raw exception (the decimal 0 is +0.0)
  v[9] = 1e300;  // and so is this
  size_t off = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == 7 || i == 9) continue;
    const double decimal = std::round(v[i] * 100) / 100;
    off += std::bit_cast<uint64_t>(v[i]) != std::bit_cast<uint64_t>(decimal);
  }
  ASSERT_GT(off, 200u);
  std::string with, without;
  EXPECT_EQ(EncodeDecimal(v, &with), off + 2);
  EncodeDecimal(v, &without, {.entropy_coding = true, .near_exceptions = false});
  EXPECT_LT(with.size() * 2, without.size()) << with.size() << " vs " << without.size();
  std::vector<double> back(v.size());
  ASSERT_TRUE(DecodeDecimal(with, v.size(), back.data()).ok());
  EXPECT_TRUE(SameBits(v, back));
  ASSERT_TRUE(DecodeDecimal(without, v.size(), back.data()).ok());  // the older form reads too
  EXPECT_TRUE(SameBits(v, back));
  // Every truncation of the near part is corruption, never a crash.
  for (size_t cut = without.size() / 4; cut < with.size(); ++cut) {
    EXPECT_FALSE(DecodeDecimal(std::string_view(with).substr(0, cut), v.size(), back.data()).ok()) << cut;
  }
  // Large values with decimals are exact at their exponent, not near at a
  // smaller one (where every value would be within 2^20 ulps).
  std::vector<double> large(512);
  for (size_t i = 0; i < large.size(); ++i) large[i] = 3'000'000'000.0 + static_cast<double>(i * 37 % 1000) / 100;
  std::string large_out;
  EXPECT_EQ(EncodeDecimal(large, &large_out), 0u);
  EXPECT_EQ(large_out[0], 2);  // e = 2
  // A corrupt near list: a difference of 0, or a near value on a raw one.
  {
    std::vector<double> w = {1.5, 0.1 + 0.2, -0.0, 2.5};
    std::string enc;
    ASSERT_EQ(EncodeDecimal(w, &enc), 2u);  // 0.30000000000000004 near, -0.0 raw
    ASSERT_EQ(static_cast<uint8_t>(enc[1]) & 0x80, 0x80);
    std::vector<double> wb(w.size());
    ASSERT_TRUE(DecodeDecimal(enc, w.size(), wb.data()).ok());
    EXPECT_TRUE(SameBits(w, wb));
    // The near list is the last 3 bytes: count 1, gap 1, zigzag(d).
    std::string zero = enc;
    zero.back() = 0;  // d = 0
    EXPECT_FALSE(DecodeDecimal(zero, w.size(), wb.data()).ok());
    std::string on_raw = enc;
    on_raw[on_raw.size() - 2] = 2;  // position 2: the raw -0.0
    EXPECT_FALSE(DecodeDecimal(on_raw, w.size(), wb.data()).ok());
    std::string past = enc;
    past[past.size() - 2] = 4;  // past the end
    EXPECT_FALSE(DecodeDecimal(past, w.size(), wb.data()).ok());
  }
  // Negative values and values just below a decimal.
  std::vector<double> neg = {-0.30000000000000004, -(0.1 + 0.7), 0.1 + 0.7, 1.0 - 1e-16, 3.3};
  std::string out;
  EncodeDecimal(neg, &out);
  std::vector<double> neg_back(neg.size());
  ASSERT_TRUE(DecodeDecimal(out, neg.size(), neg_back.data()).ok());
  EXPECT_TRUE(SameBits(neg, neg_back));
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
