// EncodeChunk/DecodeChunk: whole chunks round-trip bit-exactly whatever the
// values and timestamps, and every corrupted or truncated chunk is reported
// as Corruption without crashing, over-reading or over-allocating.
#include "engine/codec/chunk.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>


namespace kpidb {
namespace {

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

struct Points {
  std::vector<int64_t> timestamps;
  std::vector<double> values;
};

Points Regular(size_t n, int64_t start, int64_t step, double (*value)(size_t)) {
  Points p;
  for (size_t i = 0; i < n; ++i) {
    p.timestamps.push_back(start + step * static_cast<int64_t>(i));
    p.values.push_back(value(i));
  }
  return p;
}

void ExpectRoundTrip(const Points& p) {
  std::string chunk;
  EncodeChunk(p.timestamps, p.values, &chunk);
  std::vector<int64_t> ts = {-1};  // decoding appends
  std::vector<double> vs = {-1.0};
  Status s = DecodeChunk(chunk, &ts, &vs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(ts.size(), p.timestamps.size() + 1);
  ASSERT_EQ(vs.size(), p.values.size() + 1);
  EXPECT_TRUE(std::equal(p.timestamps.begin(), p.timestamps.end(), ts.begin() + 1));
  EXPECT_EQ(std::memcmp(p.values.data(), vs.data() + 1, 8 * p.values.size()), 0);
  auto count = ChunkPointCount(chunk);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, p.values.size());
}

TEST(Chunk, RoundTripsASinglePoint) {
  ExpectRoundTrip({{INT64_MIN}, {-0.0}});
  ExpectRoundTrip({{INT64_MAX}, {DBL_MAX}});
  ExpectRoundTrip({{0}, {DBL_TRUE_MIN}});
}

TEST(Chunk, RoundTripsTheMaximumPointCount) {
  ExpectRoundTrip(Regular(kMaxChunkPoints, 1'767'225'600'000, 10'000,
                          [](size_t i) { return static_cast<double>(i % 1000) / 100; }));
  ExpectRoundTrip(Regular(kMaxChunkPoints, -5, 1, [](size_t i) { return FromBits(i * 0x9E3779B97F4A7C15); }));
}

TEST(Chunk, RoundTripsExtremeTimestampsAndDeltas) {
  ExpectRoundTrip({{INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX},
                   {1, 2, 3, 4, 5, 6}});
  ExpectRoundTrip({{INT64_MIN, INT64_MAX}, {0.0, -0.0}});
  ExpectRoundTrip({{-86'400'000'000, -1, 1'000'000'000'000'000}, {1.5, 1.5, 1.5}});
}

TEST(Chunk, RoundTripsEdgeValues) {
  std::vector<double> edges = {0.0, -0.0, DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN,
                               4.9e-320, 51.846000000000004, 0.1, 1e300,
                               std::numeric_limits<double>::infinity(),
                               FromBits(0x7FF8000000000001), FromBits(0xFFFFFFFFFFFFFFFF)};
  Points p;
  for (size_t i = 0; i < edges.size(); ++i) {
    p.timestamps.push_back(static_cast<int64_t>(i) * 7);
    p.values.push_back(edges[i]);
  }
  ExpectRoundTrip(p);
}

TEST(Chunk, RoundTripsConstantAndAlternatingSeries) {
  ExpectRoundTrip(Regular(2048, 0, 10'000, [](size_t) { return 3.25; }));
  ExpectRoundTrip(Regular(2048, 0, 10'000, [](size_t) { return -0.0; }));
  ExpectRoundTrip(Regular(2048, 0, 10'000, [](size_t i) { return i % 2 ? 0.0 : -0.0; }));
  ExpectRoundTrip(Regular(2048, 0, 10'000, [](size_t i) { return i % 2 ? 1e300 : 7.0; }));
}

TEST(Chunk, RegularCountsCostLittleMoreThanTheirInformation) {
  Points p = Regular(2048, 1'767'225'600'000, 10'000,
                     [](size_t i) { return static_cast<double>((i * 7919) % 16); });
  std::string chunk;
  EncodeChunk(p.timestamps, p.values, &chunk);
  EXPECT_LT(chunk.size(), 2048 * 4 / 8 + 64);  // 4 bits/point + header
  Points constant = Regular(2048, 1'767'225'600'000, 10'000, [](size_t) { return 1.0; });
  chunk.clear();
  EncodeChunk(constant.timestamps, constant.values, &chunk);
  EXPECT_LT(chunk.size(), 40u);
}

TEST(Chunk, RoundTripsRandomMixturesOverManySeeds) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    std::mt19937_64 rng(seed);
    size_t n = 1 + rng() % (seed % 10 == 0 ? 65535 : 3000);
    Points p;
    int64_t t = static_cast<int64_t>(rng());
    int ts_kind = static_cast<int>(rng() % 3), value_kind = static_cast<int>(rng() % 5);
    double level = static_cast<double>(rng() % 100000) / 100;
    for (size_t i = 0; i < n; ++i) {
      uint64_t step = ts_kind == 0 ? 10'000 : ts_kind == 1 ? 9'500 + rng() % 1000 : 1 + (rng() >> (rng() % 64));
      // Keep strictly increasing without signed overflow: stop at the top.
      if (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(t) < step) break;
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + step);
      double v;
      switch (value_kind) {
        case 0: v = FromBits(rng()); break;
        case 1: v = static_cast<double>(rng() % 50); break;
        case 2: level += static_cast<double>(static_cast<int64_t>(rng() % 201) - 100) / 100; v = level; break;
        case 3: v = rng() % 100 == 0 ? FromBits(rng()) : std::round(level * 1e4) / 1e4; break;
        default: v = rng() % 500 == 0 ? -0.0 : level; break;
      }
      p.timestamps.push_back(t);
      p.values.push_back(v);
    }
    if (p.values.empty()) continue;
    SCOPED_TRACE(seed);
    ExpectRoundTrip(p);
  }
}

// A KPI-like chunk (half zeros, then amounts with 2 decimals) whose value
// column uses an entropy-coded int mode.
Points RevenueLike(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Points p;
  for (size_t i = 0; i < n; ++i) {
    p.timestamps.push_back(1'767'225'600'000 + 10'000 * static_cast<int64_t>(i));
    p.values.push_back(rng() % 2 ? 0.0 : static_cast<double>(4000 + rng() % 5000) / 100);
  }
  return p;
}

// The decimal int mode of an uncompressed chunk (docs/chunk-format.md).
int DecimalIntMode(const std::string& chunk) {
  size_t pos = 1;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      uint8_t b = static_cast<uint8_t>(chunk[pos++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      if (b < 0x80) return v;
    }
  };
  varint();  // count
  pos += 1;  // timestamp codec
  const uint8_t value_codec = static_cast<uint8_t>(chunk[pos++]);
  const uint8_t flags = static_cast<uint8_t>(chunk[pos++]);
  const uint64_t ts_len = varint();
  varint();  // values_len
  if (value_codec != 3 || flags != 0) return -1;
  return static_cast<uint8_t>(chunk[pos + ts_len + 1]);
}

TEST(Chunk, KpiLikeValuesUseAnEntropyCodedIntModeAndRoundTrip) {
  for (size_t n : {64, 100, 2048, 65535}) {
    Points p = RevenueLike(n, n);
    std::string chunk;
    EncodeChunk(p.timestamps, p.values, &chunk);
    EXPECT_EQ(DecimalIntMode(chunk), 2) << n;
    ExpectRoundTrip(p);
  }
}

TEST(Chunk, ChunksWithoutEntropyCodingStillDecode) {
  Points p = RevenueLike(2048, 1);
  std::string with, without;
  EncodeChunk(p.timestamps, p.values, &with);
  EncodeChunkWithOptions(p.timestamps, p.values, {.entropy_coding = false}, &without);
  EXPECT_LT(DecimalIntMode(without), 2);
  EXPECT_LT(with.size(), without.size() * 3 / 4);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ASSERT_TRUE(DecodeChunk(without, &ts, &vs).ok());
  EXPECT_EQ(std::memcmp(vs.data(), p.values.data(), 8 * vs.size()), 0);
}

std::string SampleChunk(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  int64_t t = 1'767'225'600'000;
  for (size_t i = 0; i < n; ++i) {
    t += 10'000 + static_cast<int64_t>(rng() % 3);
    ts.push_back(t);
    vs.push_back(rng() % 50 == 0 ? -0.0 : static_cast<double>(rng() % 10000) / 100);
  }
  std::string chunk;
  EncodeChunk(ts, vs, &chunk);
  return chunk;
}

void ExpectCorruption(std::string_view chunk) {
  std::vector<int64_t> ts;
  std::vector<double> vs;
  Status s = DecodeChunk(chunk, &ts, &vs);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(ts.empty());
  EXPECT_TRUE(vs.empty());
}

TEST(ChunkCorruption, EveryTruncationIsReported) {
  std::string chunk = SampleChunk(300, 1);
  for (size_t cut = 0; cut < chunk.size(); ++cut) ExpectCorruption(std::string_view(chunk).substr(0, cut));
}

TEST(ChunkCorruption, EveryBitFlipIsReported) {
  std::string chunk = SampleChunk(200, 2);
  for (size_t byte = 0; byte < chunk.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = chunk;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      ExpectCorruption(bad);
    }
  }
}

TEST(ChunkCorruption, EveryTruncationAndBitFlipOfAnEntropyCodedChunkIsReported) {
  Points p = RevenueLike(150, 9);
  std::string chunk;
  EncodeChunk(p.timestamps, p.values, &chunk);
  ASSERT_EQ(DecimalIntMode(chunk), 2);
  for (size_t cut = 0; cut < chunk.size(); ++cut) ExpectCorruption(std::string_view(chunk).substr(0, cut));
  for (size_t byte = 0; byte < chunk.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = chunk;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      ExpectCorruption(bad);
    }
  }
}

TEST(ChunkCorruption, RandomBytesAreReported) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string junk(rng() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (trial % 2 && !junk.empty()) junk[0] = static_cast<char>(0xC1);  // plausible magic
    ExpectCorruption(junk);
  }
}

TEST(ChunkCorruption, AppendedGarbageIsReported) {
  std::string chunk = SampleChunk(100, 4);
  ExpectCorruption(chunk + "x");
  ExpectCorruption("x" + chunk);
}

TEST(ChunkPointCount, ReadsTheHeaderOnly) {
  std::string chunk = SampleChunk(1234, 5);
  auto count = ChunkPointCount(chunk);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1234u);
  EXPECT_TRUE(ChunkPointCount(std::string_view(chunk).substr(0, 1)).status().IsCorruption());
  EXPECT_TRUE(ChunkPointCount("").status().IsCorruption());
}

TEST(ChunkStats, SummarizeThePoints) {
  std::vector<int64_t> ts = {10, 20, 30};
  std::vector<double> vs = {2.5, -1.0, 4.0};
  ChunkStats s = ComputeChunkStats(ts, vs);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.min_timestamp_ms, 10);
  EXPECT_EQ(s.max_timestamp_ms, 30);
  EXPECT_EQ(s.sum, 5.5);
  EXPECT_EQ(s.min, -1.0);
  EXPECT_EQ(s.max, 4.0);
  EXPECT_EQ(s.first, 2.5);
  EXPECT_EQ(s.last, 4.0);
}

}  // namespace
}  // namespace kpidb
