// Entropy-coded integers (huffman_code.h, entropy_ints.h) and the decimal
// codec's entropy modes: round trips, documented layouts, malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/codec/decimal_codec.h"
#include "engine/codec/decimal_ints.h"
#include "engine/codec/entropy_ints.h"
#include "engine/codec/huffman_code.h"
#include "tests/codec_test_util.h"

namespace kpidb::codec {
namespace {

using namespace kpidb::codec::testing;  // NOLINT: test helpers

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

TEST(EntropyInts, PrunedPlanIsTheExhaustiveSearchsPlan) {
  // PlanEntropyInts skips configurations whose entropy bound cannot beat the
  // best so far; the plan must be exactly the one trying every configuration
  // gives, ties included.
  std::mt19937_64 rng(14);
  int differing_bounds = 0;
  for (int trial = 0; trial < 600; ++trial) {
    std::vector<uint64_t> v(1 + rng() % (trial % 5 == 0 ? 16 : 4000));
    const int kind = static_cast<int>(rng() % 7);
    const double p = 0.05 + 0.9 * static_cast<double>(rng() % 1000) / 1000;
    const uint64_t spread = uint64_t{1} << (rng() % 40);
    for (auto& x : v) {
      switch (kind) {
        case 0: x = rng() >> (rng() % 64); break;
        case 1: x = std::geometric_distribution<uint64_t>(p)(rng); break;
        case 2: x = rng() % spread; break;
        case 3: x = static_cast<uint64_t>(std::poisson_distribution<int>(1 + rng() % 200)(rng)); break;
        case 4: x = rng() % 10 == 0 ? rng() % spread : 0; break;
        case 5: x = 1000 + rng() % 8; break;  // near-ties between configurations
        default: x = rng() % 2; break;
      }
    }
    SCOPED_TRACE(trial);
    const EntropyIntsPlan pruned = PlanEntropyInts(v), exhaustive = PlanEntropyIntsExhaustive(v);
    EXPECT_EQ(pruned.direct_bits, exhaustive.direct_bits);
    EXPECT_EQ(pruned.mantissa_bits, exhaustive.mantissa_bits);
    EXPECT_EQ(pruned.code_lengths, exhaustive.code_lengths);
    EXPECT_EQ(pruned.encoded_size, exhaustive.encoded_size);
    differing_bounds += pruned.direct_bits != 0 || pruned.mantissa_bits != 0;
  }
  EXPECT_GT(differing_bounds, 100);  // the inputs do not all plan (0, 0)
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
    return static_cast<DecimalIntMode>(static_cast<uint8_t>(out[1]) & 0x7f);  // 0x80: near exceptions
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

}  // namespace
}  // namespace kpidb::codec
