// kpictl against a real kpidb-server (loopback, ephemeral port, temp dir):
// every online command, its errors and exit codes, and the export -> import
// round trip bit for bit.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::ServerProcess;
using testing::TempDir;

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class KpictlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(data_.path() + "/data");
    ASSERT_FALSE(server_->address().empty());
    auto c = Client::Connect(server_->address());
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
  }

  // kpictl --server ADDRESS args..., standard input from `input` (a file,
  // so never a terminal).
  Outcome Kpictl(std::vector<std::string> args, const std::string& input = "",
             const std::string& address = "") {
    const std::string in = tmp_.path() + "/in", out = tmp_.path() + "/out", err = tmp_.path() + "/err";
    testing::WriteFileOrDie(in, input);
    args.insert(args.begin(), {KPIDB_KPICTL_BIN, "--server", address.empty() ? server_->address() : address});
    const pid_t pid = fork();
    if (pid == 0) {
      const int i = open(in.c_str(), O_RDONLY);
      const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(i, 0);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Outcome r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = testing::ReadFileOrDie(out);
    r.err = testing::ReadFileOrDie(err);
    return r;
  }

  void WriteOrDie(const std::string& metric, Labels labels, std::vector<int64_t> ts,
                  std::vector<double> vs) {
    WriteBatch b;
    b.series.push_back({metric, std::move(labels), std::move(ts), std::move(vs)});
    ASSERT_TRUE(client_->Write(b).ok());
  }

  std::vector<query::ResultSeries> Raw(Client& client, const std::string& metric) {
    query::Query q;
    q.selector.metric = metric;
    q.start_ms = 0;
    q.end_ms = INT64_MAX / 2;
    auto r = client.QueryRange(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<query::ResultSeries>{};
  }

  TempDir data_, tmp_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

TEST_F(KpictlTest, AnUnreachableServerIsAFailureWithAHint) {
  Outcome r = Kpictl({"status", "--interval", "0"}, "", "127.0.0.1:1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint: is kpidb-server running at 127.0.0.1:1?"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(KpictlTest, UsageErrorsExitTwoAndSayWhatIsWrong) {
  Outcome r = Kpictl({"query", "kpi_visits{channel=email}"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("at column 20, expected a quoted label value"), std::string::npos) << r.err;
  r = Kpictl({"query", "kpi_visits", "--from", "yesterday"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--from: cannot read \"yesterday\""), std::string::npos) << r.err;
  r = Kpictl({"query", "kpi_visits", "--step", "5 minutes"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--step"), std::string::npos) << r.err;
  r = Kpictl({"query", "kpi_visits", "--agg", "median"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown aggregation \"median\""), std::string::npos) << r.err;
  r = Kpictl({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  r = Kpictl({});
  EXPECT_EQ(r.code, 2);
  r = Kpictl({"write", "kpi_visits", "twelve"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("VALUE: cannot read \"twelve\""), std::string::npos) << r.err;
  // --help on every level.
  r = Kpictl({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("label-values"), std::string::npos);
  r = Kpictl({"query", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--calendar"), std::string::npos);
}

TEST_F(KpictlTest, WriteThenListAndQuery) {
  Outcome r = Kpictl({"write", "kpi_visits{channel=\"email\",region=\"eu\"}", "12", std::to_string(kT0)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote kpi_visits{channel=\"email\",region=\"eu\"} 12 at 2026-01-01T00:00:00Z\n");
  ASSERT_EQ(Kpictl({"write", "kpi_visits{channel=\"search\",region=\"eu\"}", "0.1",
                    "2026-01-01T00:30:00Z"}).code, 0);
  ASSERT_EQ(Kpictl({"write", "kpi_visits{channel=\"search\",region=\"us\"}", "3",
                    "2026-01-01T02:00:00+01:00"}).code, 0);  // 01:00Z

  r = Kpictl({"series", "kpi_visits{region=~\"eu|us\",channel!=\"email\"}"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "kpi_visits{channel=\"search\",region=\"eu\"}\nkpi_visits{channel=\"search\",region=\"us\"}\n");
  r = Kpictl({"series", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 3u);
  r = Kpictl({"labels"});
  EXPECT_EQ(r.out, "channel\nregion\n");
  r = Kpictl({"label-values", "region", "--metric", "kpi_visits"});
  EXPECT_EQ(r.out, "eu\nus\n");

  // An hourly sum by channel, as a table, CSV and JSON.
  const std::vector<std::string> q = {"query", "kpi_visits", "--from", "2026-01-01", "--to",
                                      "2026-01-01T03:00:00Z", "--step", "1h", "--agg", "sum",
                                      "--by", "channel"};
  r = Kpictl(q);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "time                  kpi_visits{channel=\"email\"}  kpi_visits{channel=\"search\"}\n"
            "2026-01-01T00:00:00Z  12                           0.1\n"
            "2026-01-01T01:00:00Z                               3\n");
  auto csv = q;
  csv.insert(csv.end(), {"-o", "csv"});
  r = Kpictl(csv);
  EXPECT_EQ(r.out,
            "metric,labels,timestamp,value\n"
            "kpi_visits,\"{channel=\"\"email\"\"}\",1767225600000,12\n"
            "kpi_visits,\"{channel=\"\"search\"\"}\",1767225600000,0.1\n"
            "kpi_visits,\"{channel=\"\"search\"\"}\",1767229200000,3\n");
  auto json = q;
  json.insert(json.end(), {"-o", "json"});
  r = Kpictl(json);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["labels"]["channel"], "search");
  EXPECT_EQ(j[1]["values"][1], 3.0);
  // A ratio and calendar days in a zone.
  r = Kpictl({"query", "kpi_visits{channel=\"search\"}", "--from", "2026-01-01", "--to", "2026-01-02",
              "--calendar", "day", "--tz", "Europe/Paris", "--agg", "sum", "--by", "",
              "--ratio", "kpi_visits", "-o", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The Paris day starting 2025-12-31T23:00Z holds every point: (0.1 + 3) / 15.1.
  EXPECT_EQ(r.out,
            "metric,labels,timestamp,value\nkpi_visits/kpi_visits,{},1767222000000,0.20529801324503313\n");
  // A server-side error is a failure naming the field.
  r = Kpictl({"query", "kpi_visits", "--calendar", "day", "--tz", "Mars/Olympus", "--by", "channel"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Mars/Olympus"), std::string::npos) << r.err;
}

TEST_F(KpictlTest, StatusAsATableAndAsJson) {
  WriteOrDie("kpi_visits", {{"channel", "email"}}, {kT0, kT0 + 1000}, {1, 2});
  Outcome r = Kpictl({"status"});  // two samples a second apart: rates
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("rates          0 points/s, 0.0 queries/s (over 0m 1s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("written        2 points since start"), std::string::npos) << r.out;
  r = Kpictl({"status", "--interval", "0"});
  EXPECT_EQ(r.out.find("rates"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("series         1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("points         2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("compaction     automatic"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b"), std::string::npos);  // no escape codes off a terminal
  r = Kpictl({"status", "-o", "json", "--interval", "200ms"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["points_written"], 2);
  EXPECT_EQ(j["points_per_second"], 0);
  EXPECT_EQ(j["series"], 1);
  EXPECT_EQ(j["head_points"], 2);
  EXPECT_EQ(j["compaction"]["automatic"], true);
  ASSERT_EQ(Kpictl({"flush"}).code, 0);
  r = Kpictl({"status", "-o", "json", "--interval", "0"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["head_points"], 0);
  EXPECT_GE(nlohmann::json::parse(r.out)["segments"], 1);
  r = Kpictl({"compact", "--wait"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("compacted: "), std::string::npos);
  r = Kpictl({"compact"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(KpictlTest, DeleteSaysWhatGoesAndAsks) {
  WriteOrDie("kpi_visits", {{"channel", "email"}}, {kT0, kT0 + 1000, kT0 + 2000}, {1, 2, 3});
  WriteOrDie("kpi_visits", {{"channel", "web"}}, {kT0}, {5});
  // Off a terminal without --yes: refused, nothing deleted.
  Outcome r = Kpictl({"delete", "kpi_visits{channel=\"email\"}"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;
  EXPECT_EQ(Raw(*client_, "kpi_visits").size(), 2u);
  r = Kpictl({"delete", "{}", "--yes"});
  EXPECT_EQ(r.code, 2);
  r = Kpictl({"delete", "kpi_visits{channel=\"email\"}", "--from", std::to_string(kT0 + 1000), "--to",
              std::to_string(kT0 + 5000), "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 points of 1 series matching kpi_visits{channel=\"email\"}"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("deleted 2 points"), std::string::npos) << r.out;
  r = Kpictl({"delete", "kpi_visits", "--yes"});
  EXPECT_NE(r.out.find("2 points of 2 series"), std::string::npos) << r.out;
  EXPECT_TRUE(Raw(*client_, "kpi_visits").empty());
}

TEST_F(KpictlTest, ImportReportsBadLinesAndImportsTheRest) {
  const std::string csv = tmp_.path() + "/in.csv";
  testing::WriteFileOrDie(csv,
                          "metric,labels,timestamp,value\n"
                          "kpi_revenue,\"{channel=\"\"email\"\"}\",1767225600000,12.5\n"
                          "kpi_revenue,{channel=email},1767225601000,1\n"
                          "kpi_revenue,\"{channel=\"\"email\"\"}\",2026-01-01T00:00:02Z,abc\n"
                          "kpi_revenue,\"{channel=\"\"email\"\"}\",1767225603000,+Inf\n"
                          "kpi_revenue,\"{channel=\"\"email\"\"}\",1767225604000\n"
                          "kpi_revenue,\"{channel=\"\"email\"\"}\",2026-01-01T00:00:05Z,7\n");
  Outcome r = Kpictl({"import", csv});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(csv + ":3: selector"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(csv + ":4: value: cannot read \"abc\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(csv + ":5: value +Inf is not finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(csv + ":6: 3 fields, expected 4"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("imported 2 points"), std::string::npos) << r.out;
  auto got = Raw(*client_, "kpi_revenue");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kT0, kT0 + 5000}));
  EXPECT_EQ(got[0].values, (std::vector<double>{12.5, 7}));

  // --strict stops at the first bad line: nothing after it is written.
  ASSERT_EQ(Kpictl({"delete", "kpi_revenue", "--yes"}).code, 0);
  r = Kpictl({"import", "--strict", csv});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(":3: "), std::string::npos);
  EXPECT_EQ(r.err.find(":4: "), std::string::npos) << r.err;
  got = Raw(*client_, "kpi_revenue");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values, (std::vector<double>{12.5}));

  // A bad value in a JSON line: none of the line's points are written.
  const std::string jsonl = tmp_.path() + "/in.jsonl";
  testing::WriteFileOrDie(jsonl,
                          "{\"metric\":{\"__name__\":\"kpi_j\"},\"values\":[1,\"x\"],\"timestamps\":[1,2]}\n"
                          "{\"metric\":{\"__name__\":\"kpi_j\"},\"values\":[3],\"timestamps\":[5]}\n");
  r = Kpictl({"import", jsonl});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(jsonl + ":1: values[1]: cannot read \"x\""), std::string::npos) << r.err;
  got = Raw(*client_, "kpi_j");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{5}));

  r = Kpictl({"import", tmp_.path() + "/missing.csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos);
}

TEST_F(KpictlTest, ImportsOpenMetricsAndPrometheusText) {
  const std::string om = tmp_.path() + "/in.om";
  testing::WriteFileOrDie(om,
                          "# TYPE kpi_visits unknown\n"
                          "# HELP kpi_visits Visits.\n"
                          "kpi_visits{channel=\"email\",note=\"a \\\"b\\\" c\"} 12 1767225600\n"
                          "kpi_visits{channel=\"email\",note=\"a \\\"b\\\" c\"} 1.5e3 1767225600.25\n"
                          "kpi_visits 7\n"
                          "kpi_visits 7 1767225600.0001\n"
                          "kpi_visits 7 1767225600 extra\n"
                          "kpi_other 3 1767225601.5\n"
                          "# EOF\n");
  Outcome r = Kpictl({"import", om});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(om + ":5: no timestamp"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(om + ":6: timestamp: cannot read \"1767225600.0001\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(om + ":7: unexpected \"extra\""), std::string::npos) << r.err;
  auto visits = Raw(*client_, "kpi_visits");
  ASSERT_EQ(visits.size(), 1u);
  EXPECT_EQ(visits[0].labels, (Labels{{"channel", "email"}, {"note", "a \"b\" c"}}));
  EXPECT_EQ(visits[0].timestamps_ms, (std::vector<int64_t>{kT0, kT0 + 250}));
  EXPECT_EQ(visits[0].values, (std::vector<double>{12, 1500}));
  auto other = Raw(*client_, "kpi_other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].timestamps_ms, (std::vector<int64_t>{kT0 + 1500}));

  const std::string prom = tmp_.path() + "/in.prom";
  testing::WriteFileOrDie(prom, "kpi_prom{a=\"b\"} 4 1767225600123\nkpi_prom{a=\"b\"} 5 1767225600.5\n");
  r = Kpictl({"import", prom});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(prom + ":2: timestamp: cannot read \"1767225600.5\" (expected integer milliseconds)"),
            std::string::npos)
      << r.err;
  auto p = Raw(*client_, "kpi_prom");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].timestamps_ms, (std::vector<int64_t>{kT0 + 123}));
}

TEST_F(KpictlTest, ImportsTheWideCsvForm) {
  const std::string csv = tmp_.path() + "/wide.csv";
  testing::WriteFileOrDie(csv,
                          "timestamp,visits,purchases\n"
                          "2026-01-01T00:00:00Z,100,3\n"
                          "2026-01-01T01:00:00Z,120,\n"
                          "2026-01-01T02:00:00Z,90,2\n");
  Outcome r = Kpictl({"import", csv, "--column", "kpi_visits{channel=\"email\"}", "--column",
                  "kpi_purchases{channel=\"email\"}"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto visits = Raw(*client_, "kpi_visits");
  auto purchases = Raw(*client_, "kpi_purchases");
  ASSERT_EQ(visits.size(), 1u);
  ASSERT_EQ(purchases.size(), 1u);
  EXPECT_EQ(visits[0].values, (std::vector<double>{100, 120, 90}));
  EXPECT_EQ(purchases[0].timestamps_ms, (std::vector<int64_t>{kT0, kT0 + 7'200'000}));
  r = Kpictl({"import", csv, "--column", "kpi_visits"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("3 fields, expected 2"), std::string::npos) << r.err;
}

// Random finite doubles, any bits (negative zero, subnormals, huge).
double RandomValue(std::mt19937_64& rng) {
  for (;;) {
    uint64_t bits = rng();
    if (rng() % 4 == 0) bits &= 0x800fffffffffffffULL;  // subnormals and zeros
    if (rng() % 8 == 0) bits = rng() % 2 ? 0x8000000000000000ULL : 0;
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) return v;
  }
}

TEST_F(KpictlTest, ExportThenImportIsBitExactInBothFormats) {
  std::mt19937_64 rng(2026);
  for (int s = 0; s < 6; ++s) {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int64_t t = kT0 - 3'600'000 + static_cast<int64_t>(rng() % 1000);
    for (int i = 0; i < 3000; ++i) {
      t += 1 + static_cast<int64_t>(rng() % 20'000);
      ts.push_back(t);
      vs.push_back(s == 0 ? static_cast<double>(rng() % 100) / 100 : RandomValue(rng));
    }
    WriteOrDie("kpi_m", {{"series", std::to_string(s)}, {"odd", "a,\"b\"\n{c}"}}, ts, vs);
  }
  const auto expected = Raw(*client_, "kpi_m");
  ASSERT_EQ(expected.size(), 6u);
  const std::map<std::string, std::string> extension = {
      {"csv", "csv"}, {"jsonl", "jsonl"}, {"openmetrics", "om"}, {"prom", "prom"}};
  for (const auto& [format, ext] : extension) {
    SCOPED_TRACE(format);
    const std::string file = tmp_.path() + "/export." + ext;
    // Small windows and a small per-request limit: many requests, windows halved.
    Outcome r = Kpictl({"export", "kpi_m", "--from", std::to_string(kT0 - 3'600'000), "--format", format,
                    "--file", file, "--window", "6h", "--max-points", "2500"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("exported 18000 points"), std::string::npos) << r.err;
    if (format == "openmetrics") {
      const std::string text = testing::ReadFileOrDie(file);
      EXPECT_EQ(text.rfind("# TYPE kpi_m unknown\n", 0), 0u);
      EXPECT_EQ(text.find("# TYPE", 1), std::string::npos);  // the family is not interleaved
      EXPECT_TRUE(text.ends_with("\n# EOF\n"));
    }
    TempDir other;
    ServerProcess fresh(other.path() + "/data");
    ASSERT_FALSE(fresh.address().empty());
    for (int twice = 0; twice < 2; ++twice) {  // importing twice changes nothing
      r = Kpictl({"import", file}, "", fresh.address());
      ASSERT_EQ(r.code, 0) << r.err;
    }
    auto c = Client::Connect(fresh.address());
    ASSERT_TRUE(c.ok());
    const auto got = Raw(**c, "kpi_m");
    ASSERT_EQ(got.size(), expected.size());
    for (size_t s = 0; s < got.size(); ++s) {
      EXPECT_EQ(got[s].labels, expected[s].labels);
      ASSERT_EQ(got[s].timestamps_ms, expected[s].timestamps_ms);
      ASSERT_EQ(got[s].values.size(), expected[s].values.size());
      for (size_t i = 0; i < got[s].values.size(); ++i) {
        uint64_t a, b;
        std::memcpy(&a, &got[s].values[i], 8);
        std::memcpy(&b, &expected[s].values[i], 8);
        ASSERT_EQ(a, b) << "series " << s << " point " << i;
      }
    }
  }
}

TEST_F(KpictlTest, OpenMetricsExportKeepsEachFamilyTogether) {
  for (int i = 0; i < 3; ++i) {
    WriteOrDie("kpi_b", {{"i", std::to_string(i)}}, {kT0 + i}, {1.0 * i});
    WriteOrDie("kpi_a", {{"i", std::to_string(i)}}, {kT0 + i}, {2.0 * i});
    WriteOrDie("kpi_c", {{"i", std::to_string(i)}}, {kT0 + i}, {3.0 * i});
  }
  Outcome r = Kpictl({"export", "{__name__=~\"kpi_(a|b)\",i!=\"2\"}", "--from", "2026-01-01", "--to",
                      "2026-01-02", "--format", "openmetrics"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "# TYPE kpi_a unknown\n"
            "kpi_a{i=\"0\"} 0 1767225600\n"
            "kpi_a{i=\"1\"} 2 1767225600.001\n"
            "# TYPE kpi_b unknown\n"
            "kpi_b{i=\"0\"} 0 1767225600\n"
            "kpi_b{i=\"1\"} 1 1767225600.001\n"
            "# EOF\n");
}

TEST_F(KpictlTest, OfflineVerifyAndInspect) {
  const std::string dir = data_.path() + "/data";
  WriteOrDie("kpi_visits", {{"channel", "email"}}, {kT0, kT0 + 1000, kT0 + 2000}, {1, 2, 3});
  ASSERT_TRUE(client_->Flush().ok());
  WriteOrDie("kpi_visits", {{"channel", "web"}}, {kT0}, {5});  // in the WAL only

  // Refused while the server holds the directory.
  Outcome r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("a server runs on it; stop it first"), std::string::npos) << r.err;
  r = Kpictl({"verify"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("give --data-dir DIR"), std::string::npos) << r.err;
  r = Kpictl({"--data-dir", tmp_.path(), "verify"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not a kpidb data directory"), std::string::npos) << r.err;

  ASSERT_EQ(server_->Stop(), 0);
  r = Kpictl({"--data-dir", dir, "verify"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok   " + dir + "/MANIFEST (1 live segments)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(".kps (1 series, 3 points)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 problem(s)"), std::string::npos) << r.out;

  r = Kpictl({"--data-dir", dir, "inspect"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2026-01-01T00:00:00Z  2026-01-01T00:00:02Z  1       3"), std::string::npos) << r.out;
  r = Kpictl({"--data-dir", dir, "inspect", "wal"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1        1       ok"), std::string::npos) << r.out;
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/segments")) segment = e.path();
  ASSERT_FALSE(segment.empty());
  r = Kpictl({"--data-dir", dir, "inspect", segment});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kpi_visits{channel=\"email\"}  1       3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("value codecs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decimal:1"), std::string::npos) << r.out;  // 1, 2, 3

  // A segment file no MANIFEST names (an interrupted flush leaves one): a
  // note, not a problem; the server removes it at open.
  const std::string stray = dir + "/segments/00000000000000009999.kps";
  std::filesystem::copy_file(segment, stray);
  r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--   " + stray + " (not in the MANIFEST"), std::string::npos) << r.out;
  std::filesystem::remove(stray);

  // A flipped bit in the segment's chunk: exit 3, the file named.
  testing::FlipBit(segment, 40, 3);
  r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find("BAD  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(segment), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 problem(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("verify found 1 problem(s)"), std::string::npos) << r.err;
}

TEST_F(KpictlTest, BackupDuringWritesThenRestoreHoldsEveryAcknowledgedPoint) {
  // Writes go on during the backup (and flushes: a small head).
  server_.reset();
  server_ = std::make_unique<ServerProcess>(data_.path() + "/data2",
                                            std::vector<std::string>{"--head-max-bytes", "262144"});
  ASSERT_FALSE(server_->address().empty());
  auto c = Client::Connect(server_->address());
  ASSERT_TRUE(c.ok());
  client_ = std::move(c).value();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{0};  // points 0..acked-1 are acknowledged
  std::thread writer([&] {
    for (int64_t i = 0; !stop; i += 100) {
      std::vector<int64_t> ts;
      std::vector<double> vs;
      for (int64_t k = i; k < i + 100; ++k) {
        ts.push_back(kT0 + k * 1000);
        vs.push_back(static_cast<double>(k) * 0.25);
      }
      WriteBatch b;
      b.series.push_back({"kpi_b", {{"w", "1"}}, ts, vs});
      if (!client_->Write(b).ok()) break;
      acked = i + 100;
    }
  });
  while (acked.load() < 20'000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int64_t before = acked.load();
  const std::string backup = tmp_.path() + "/backup";
  Outcome r = Kpictl({"backup", backup});
  stop = true;
  writer.join();
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("backup in " + backup + ": "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 problem(s)"), std::string::npos) << r.out;
  // A backup never lands on data.
  r = Kpictl({"backup", backup});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  r = Kpictl({"backup", tmp_.path() + "/new/parents/backup"});
  EXPECT_EQ(r.code, 0) << r.err;  // missing parents are made

  const std::string restored = tmp_.path() + "/restored";
  r = Kpictl({"--data-dir", restored, "restore", backup});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("restored "), std::string::npos) << r.out;
  // Onto a used directory: refused without --force, done with it.
  r = Kpictl({"--data-dir", restored, "restore", backup});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = Kpictl({"--data-dir", restored, "restore", backup, "--force"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // Never into (or from inside) the backup itself.
  r = Kpictl({"--data-dir", backup + "/inner", "restore", backup});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("overlap"), std::string::npos) << r.err;
  r = Kpictl({"--data-dir", backup, "restore", backup, "--force"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(std::filesystem::exists(backup + "/MANIFEST"));
  // Into the directory the server holds: refused.
  r = Kpictl({"--data-dir", data_.path() + "/data2", "restore", backup, "--force"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("stop the server"), std::string::npos) << r.err;

  ServerProcess fresh(restored);
  ASSERT_FALSE(fresh.address().empty());
  auto fc = Client::Connect(fresh.address());
  ASSERT_TRUE(fc.ok());
  auto got = Raw(**fc, "kpi_b");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_GE(static_cast<int64_t>(got[0].timestamps_ms.size()), before);
  for (int64_t k = 0; k < static_cast<int64_t>(got[0].timestamps_ms.size()); ++k) {
    ASSERT_EQ(got[0].timestamps_ms[k], kT0 + k * 1000);
    ASSERT_EQ(got[0].values[k], static_cast<double>(k) * 0.25);
  }
}

TEST_F(KpictlTest, VerifyFindsARecordOfAnUndefinedSeries) {
  // The first record defines the series, the second refers to it by id:
  // once repair sets the first aside, the second cannot be placed.
  const std::string dir = data_.path() + "/data";
  WriteOrDie("kpi_u", {{"s", "a"}}, {kT0}, {1});
  WriteOrDie("kpi_u", {{"s", "a"}}, {kT0 + 1}, {2});
  ASSERT_EQ(server_->Stop(), 0);
  std::string wal;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) wal = e.path();
  testing::FlipBit(wal, 30);
  ASSERT_EQ(Kpictl({"--data-dir", dir, "repair", "--yes"}).code, 0);
  Outcome r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find("BAD  " + wal + ": a record refers to series id "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the server refuses to open"), std::string::npos) << r.out;
  ServerProcess refused(dir);
  EXPECT_TRUE(refused.address().empty());
}

TEST_F(KpictlTest, VerifyFindsADamagedWalRecordBeforeAcknowledgedOnes) {
  const std::string dir = data_.path() + "/data";
  for (int i = 0; i < 3; ++i) WriteOrDie("kpi_visits", {{"n", std::to_string(i)}}, {kT0 + i}, {1.0 * i});
  ASSERT_EQ(server_->Stop(), 0);
  std::string wal;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) wal = e.path();
  ASSERT_FALSE(wal.empty());
  Outcome r = Kpictl({"--data-dir", dir, "verify"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ok   " + wal + " (3 records, 3 points)"), std::string::npos) << r.out;
  testing::FlipBit(wal, 30);  // in the first record, after the 16-byte file header
  r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find("BAD  WAL " + wal + " at offset 16: corrupt record followed by 2 valid records"),
            std::string::npos)
      << r.out;
  r = Kpictl({"--data-dir", dir, "inspect", "wal"});
  EXPECT_EQ(r.code, 3);  // corruption found
  EXPECT_NE(r.out.find("CORRUPT: "), std::string::npos) << r.out;
  // The server refuses to open it.
  {
    ServerProcess refused(dir);
    EXPECT_TRUE(refused.address().empty());
  }

  // repair: off a terminal only with --yes; says what is kept and lost.
  r = Kpictl({"--data-dir", dir, "repair"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("kept: 2 records (2 points)"), std::string::npos) << r.out;
  r = Kpictl({"--data-dir", dir, "repair", "--yes"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("lost: bytes [16, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("repaired: "), std::string::npos) << r.out;
  size_t aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/quarantine")) {
    aside += e.path().filename().string().find(".damaged-") != std::string::npos;
  }
  EXPECT_EQ(aside, 1u);  // the original is kept
  r = Kpictl({"--data-dir", dir, "verify"});
  EXPECT_EQ(r.code, 0) << r.out;
  r = Kpictl({"--data-dir", dir, "repair"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("nothing to repair"), std::string::npos) << r.out;

  // The server opens with the two records kept.
  ServerProcess reopened(dir);
  ASSERT_FALSE(reopened.address().empty());
  auto c = Client::Connect(reopened.address());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    query::Query q;
    q.selector = {"kpi_visits", {{"n", query::MatchOp::kEqual, std::to_string(i)}}};
    q.start_ms = kT0 - 10;
    q.end_ms = kT0 + 10;
    auto got = (*c)->QueryRange(q);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), i == 0 ? 0u : 1u) << i;
  }
}

}  // namespace
}  // namespace kpidb
