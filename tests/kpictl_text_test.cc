#include "tools/kpictl/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace kpidb::kpictl {
namespace {

constexpr int64_t kNow = 1'796'400'000'000;  // 2026-12-04T...Z

int64_t Time(std::string_view s) {
  auto t = ParseTime(s, kNow, "--from");
  EXPECT_TRUE(t.ok()) << s << ": " << t.status().ToString();
  return t.ok() ? *t : 0;
}

TEST(KpictlText, TimesInEveryForm) {
  EXPECT_EQ(Time("now"), kNow);
  EXPECT_EQ(Time("now-7d"), kNow - 7 * 86'400'000LL);
  EXPECT_EQ(Time("-90d"), kNow - 90 * 86'400'000LL);
  EXPECT_EQ(Time("+1h30m"), kNow + 5'400'000);
  EXPECT_EQ(Time("1767225600000"), 1'767'225'600'000);
  EXPECT_EQ(Time("-1000"), -1000);  // epoch ms before 1970
  EXPECT_EQ(Time("2026-01-01"), 1'767'225'600'000);
  EXPECT_EQ(Time("2026-01-01T00:00:00Z"), 1'767'225'600'000);
  EXPECT_EQ(Time("2026-01-01 01:00:00.25+01:00"), 1'767'225'600'250);
  EXPECT_EQ(Time("2025-12-31T19:00-05:00"), 1'767'225'600'000);
  EXPECT_EQ(Time("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(Time("2024-02-29T12:00:00Z"), 1'709'208'000'000);
  for (const char* bad : {"", "yesterday", "now-", "now-7x", "2026-13-01", "2026-01-01T25:00:00Z",
                          "2026-01-01T00:00:00+0100", "2026-01-01X", "12abc"}) {
    auto t = ParseTime(bad, kNow, "--from");
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.status().message().find("--from: cannot read"), std::string::npos);
  }
}

int64_t Duration(std::string_view s) {
  auto d = ParseDuration(s, "--step");
  EXPECT_TRUE(d.ok()) << s;
  return d.ok() ? *d : 0;
}

TEST(KpictlText, Durations) {
  EXPECT_EQ(Duration("500ms"), 500);
  EXPECT_EQ(Duration("5m"), 300'000);
  EXPECT_EQ(Duration("1h30m"), 5'400'000);
  EXPECT_EQ(Duration("2w"), 14 * 86'400'000LL);
  for (const char* bad : {"", "0s", "5", "m", "5 m", "-5m", "1y", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad, "--step").ok()) << bad;
  }
}

TEST(KpictlText, FormattedTimesReadBack) {
  EXPECT_EQ(FormatTime(1'767'225'600'000), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(1'767'225'600'250), "2026-01-01T00:00:00.250Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999Z");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2000; ++i) {
    const int64_t t = static_cast<int64_t>(rng() % 8'000'000'000'000ULL) - 2'000'000'000'000LL;
    EXPECT_EQ(Time(FormatTime(t)), t) << FormatTime(t);
  }
}

TEST(KpictlText, ValuesKeepEveryBit) {
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-0.0), "-0");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(-HUGE_VAL), "-Inf");
  std::mt19937_64 rng(2);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    if (i % 3 == 0) bits &= 0x800fffffffffffffULL;
    double v;
    std::memcpy(&v, &bits, 8);
    auto back = ParseValue(FormatValue(v), "value");
    ASSERT_TRUE(back.ok()) << FormatValue(v);
    uint64_t got;
    std::memcpy(&got, &*back, 8);
    ASSERT_EQ(got, bits) << FormatValue(v);
  }
  for (const char* bad : {"", "1,5", "0x12", "1e999", "twelve", "1.5.2"}) {
    EXPECT_FALSE(ParseValue(bad, "value").ok()) << bad;
  }
}

TEST(KpictlText, CsvFieldsReadBack) {
  std::vector<std::string> fields;
  ASSERT_TRUE(SplitCsv("a,\"b,\"\"c\"\"\",,d\r", &fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"a", "b,\"c\"", "", "d"}));
  EXPECT_FALSE(SplitCsv("a,\"b", &fields));
  std::mt19937_64 rng(3);
  const std::string chars = "ab,\"{}= ";
  for (int i = 0; i < 1000; ++i) {
    std::vector<std::string> row(1 + rng() % 4);
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      for (size_t n = rng() % 6; n > 0; --n) row[c].push_back(chars[rng() % chars.size()]);
      line += (c ? "," : "") + CsvField(row[c]);
    }
    ASSERT_TRUE(SplitCsv(line, &fields)) << line;
    EXPECT_EQ(fields, row) << line;
  }
}

TEST(KpictlText, SizesAndTables) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3ULL << 30), "3.0 GiB");
  EXPECT_EQ(FormatSeconds(93784), "1d 2h 3m");
  EXPECT_EQ(AlignedTable({{"a", "bb"}, {"ccc", "d"}}), "a    bb\nccc  d\n");
}

}  // namespace
}  // namespace kpidb::kpictl
