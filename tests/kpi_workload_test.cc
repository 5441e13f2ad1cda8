// The benchmarks read gen_kpi.py's .bin files: a JSON header line per series,
// then its timestamps and values. JSON is parsed as JSON (escapes included),
// and a malformed header is an error naming the offset, never a guess.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "bench/kpi_workload.h"
#include "tests/test_util.h"

namespace kpidb::bench {
namespace {

std::string Series(const std::string& header, const std::vector<int64_t>& ts, const std::vector<double>& vs) {
  std::string out = header + "\n";
  out.append(reinterpret_cast<const char*>(ts.data()), 8 * ts.size());
  out.append(reinterpret_cast<const char*>(vs.data()), 8 * vs.size());
  return out;
}

std::string Write(const testing::TempDir& dir, const std::string& contents) {
  const std::string path = dir.path() + "/kpi.bin";
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(KpiBin, JsonEscapesInHeadersAreDecoded) {
  testing::TempDir dir;
  const std::string path = Write(
      dir, Series(R"({"metric": "kpi_visits", "labels": {"shop": "caf\u00e9", "q": "a\"b\\c"}, "n": 2})",
                  {1000, 2000}, {1.5, -0.0}) +
               Series(R"({"metric":"kpi_cac","labels":{},"n":1})", {5}, {51.846000000000004}));
  auto loaded = LoadKpiBin(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 2u);
  const KpiSeries& s = (*loaded)[0];
  EXPECT_EQ(s.metric, "kpi_visits");
  ASSERT_EQ(s.labels.size(), 2u);  // sorted by name
  EXPECT_EQ(s.labels[0], (std::pair<std::string, std::string>{"q", "a\"b\\c"}));
  EXPECT_EQ(s.labels[1], (std::pair<std::string, std::string>{"shop", "caf\xc3\xa9"}));
  EXPECT_EQ(s.timestamps_ms, (std::vector<int64_t>{1000, 2000}));
  EXPECT_TRUE(std::signbit(s.values[1]));
  EXPECT_EQ((*loaded)[1].values[0], 51.846000000000004);
}

TEST(KpiBin, MalformedHeadersAreErrorsNamingTheOffset) {
  testing::TempDir dir;
  for (const std::string& header :
       {std::string(R"({"metric": "kpi_x", "labels": {"a": "b"}, "n": 1)"),  // unclosed
        std::string(R"({"metric": 3, "labels": {}, "n": 1})"), std::string(R"({"metric": "m", "labels": {"a": 1}, "n": 1})"),
        std::string(R"({"metric": "m", "labels": {}, "n": -1})"), std::string(R"(["m"])")}) {
    auto loaded = LoadKpiBin(Write(dir, Series(header, {1}, {2})));
    ASSERT_FALSE(loaded.ok()) << header;
    EXPECT_EQ(loaded.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(loaded.status().message().find("bad header line at 0"), std::string::npos)
        << loaded.status().message();
  }
  auto truncated = LoadKpiBin(Write(dir, Series(R"({"metric": "m", "labels": {}, "n": 5})", {1}, {2})));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos);
}

}  // namespace
}  // namespace kpidb::bench
