// kpictl's terminal features in a real pseudo-terminal (tmux from Debian,
// read back with capture-pane): the chart fitted to the terminal's width in
// colour, sparklines for many series, the import progress line; and off a
// terminal, no escape code or carriage return.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::ServerProcess;
using testing::TempDir;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Code points (not bytes) of a UTF-8 line.
size_t Columns(const std::string& line) {
  size_t n = 0;
  for (unsigned char c : line) n += (c & 0xC0) != 0x80;
  return n;
}

class KpictlTerminal : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(data_.path() + "/data");
    ASSERT_FALSE(server_->address().empty());
    auto c = Client::Connect(server_->address());
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    socket_ = "kpictl-test-" + std::to_string(getpid());
  }
  void TearDown() override { Shell("tmux -L " + socket_ + " kill-server 2>/dev/null"); }

  // Runs `args` in a fresh tmux window of `width` x 40 and returns the
  // screen (with escapes when `escapes`) once `done` shows on it.
  std::string InTerminal(const std::string& args, int width, const std::string& done, bool escapes) {
    const std::string session = "s" + std::to_string(++sessions_);
    Shell("tmux -L " + socket_ + " new-session -d -s " + session + " -x " + std::to_string(width) +
          " -y 40 \"" + std::string(KPIDB_KPICTL_BIN) + " --server " + server_->address() + " " + args +
          "; echo KPICTL-EXIT-\\$?; sleep 60\"");
    std::string screen;
    for (int i = 0; i < 200; ++i) {
      screen = Shell("tmux -L " + socket_ + " capture-pane -p " + (escapes ? "-e " : "") + "-t " + session);
      if (screen.find(done) != std::string::npos && screen.find("KPICTL-EXIT-") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return screen;
  }

  void WriteSeries(int count, int points) {
    for (int s = 0; s < count; ++s) {
      WriteBatch b;
      SeriesPoints sp{"kpi_t", {{"s", std::to_string(s)}}, {}, {}};
      for (int i = 0; i < points; ++i) {
        sp.timestamps_ms.push_back(kT0 + i * 3'600'000LL);
        sp.values.push_back(100 + 50 * std::sin(i / 4.0 + s));
      }
      b.series.push_back(sp);
      ASSERT_TRUE(client_->Write(b).ok());
    }
  }

  TempDir data_, tmp_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
  std::string socket_;
  int sessions_ = 0;
};

TEST_F(KpictlTerminal, ALineChartFitsTheTerminalInColour) {
  WriteSeries(2, 48);
  const std::string q = "query kpi_t --from 2026-01-01 --to 2026-01-03 --step 1h --chart";
  std::string screen = InTerminal(q, 100, "kpi_t{s=\"1\"}", /*escapes=*/false);
  ASSERT_NE(screen.find("KPICTL-EXIT-0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("└"), std::string::npos) << screen;
  EXPECT_NE(screen.find("│"), std::string::npos) << screen;
  EXPECT_NE(screen.find("• kpi_t{s=\"0\"}"), std::string::npos) << screen;
  EXPECT_NE(screen.find("2026-01-01 00:00"), std::string::npos) << screen;  // the x axis
  EXPECT_NE(screen.find("149.9"), std::string::npos) << screen;             // the y axis' top
  size_t widest = 0, axis = 0;
  std::string line;
  for (char c : screen + "\n") {
    if (c != '\n') {
      line += c;
      continue;
    }
    widest = std::max(widest, Columns(line));
    if (line.find("└") != std::string::npos) axis = Columns(line);
    line.clear();
  }
  EXPECT_LE(widest, 100u);
  EXPECT_GE(axis, 95u) << "the chart should use the terminal's width";
  // In colour, one per series.
  screen = InTerminal(q, 100, "kpi_t{s=\"1\"}", /*escapes=*/true);
  EXPECT_NE(screen.find("\x1b[38;5;39m"), std::string::npos);
  EXPECT_NE(screen.find("\x1b[38;5;208m"), std::string::npos);
  // A narrower terminal, a narrower chart.
  screen = InTerminal(q, 60, "kpi_t{s=\"1\"}", /*escapes=*/false);
  for (size_t start = 0, end; (end = screen.find('\n', start)) != std::string::npos; start = end + 1) {
    EXPECT_LE(Columns(screen.substr(start, end - start)), 60u);
  }
}

TEST_F(KpictlTerminal, ManySeriesAreSparklines) {
  WriteSeries(9, 48);
  const std::string screen =
      InTerminal("query kpi_t --from 2026-01-01 --to 2026-01-03 --step 1h --chart", 100, "kpi_t{s=\"8\"}", false);
  ASSERT_NE(screen.find("KPICTL-EXIT-0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("▁"), std::string::npos) << screen;
  EXPECT_NE(screen.find("█"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("└"), std::string::npos) << screen;
}

TEST_F(KpictlTerminal, ImportShowsProgressOnATerminalOnly) {
  const std::string csv = tmp_.path() + "/big.csv";
  std::string text = "metric,labels,timestamp,value\n";
  for (int i = 0; i < 60'000; ++i) {
    text += "kpi_p,\"{s=\"\"" + std::to_string(i % 7) + "\"\"}\"," + std::to_string(kT0 + i * 1000LL) + "," +
            std::to_string(i) + "\n";
  }
  testing::WriteFileOrDie(csv, text);
  std::string screen = InTerminal("import " + csv, 100, "imported 60000 points", false);
  ASSERT_NE(screen.find("KPICTL-EXIT-0"), std::string::npos) << screen;
  EXPECT_NE(screen.find("100%"), std::string::npos) << screen;
  EXPECT_NE(screen.find("points/s"), std::string::npos) << screen;
  EXPECT_NE(screen.find("ETA 0s"), std::string::npos) << screen;

  // Off a terminal: the summary line only, no escape code, no carriage return.
  const std::string out = tmp_.path() + "/out", err = tmp_.path() + "/err";
  const std::string base = std::string(KPIDB_KPICTL_BIN) + " --server " + server_->address() + " ";
  ASSERT_EQ(system((base + "import " + csv + " >" + out + " 2>" + err).c_str()), 0);
  const std::string both = testing::ReadFileOrDie(out) + testing::ReadFileOrDie(err);
  EXPECT_NE(both.find("imported 60000 points"), std::string::npos) << both;
  EXPECT_EQ(both.find('\r'), std::string::npos);
  EXPECT_EQ(both.find('\x1b'), std::string::npos);
  ASSERT_EQ(system((base + "query 'kpi_p{s=\"0\"}' --from 2026-01-01 --to 2026-01-02 --step 1h --chart >" + out).c_str()), 0);
  const std::string chart = testing::ReadFileOrDie(out);
  EXPECT_NE(chart.find("└"), std::string::npos) << chart;
  EXPECT_EQ(chart.find('\x1b'), std::string::npos);
}

TEST_F(KpictlTerminal, DeleteAsksOnATerminal) {
  WriteSeries(2, 10);
  auto count = [&](const std::string& s) {
    query::Query q;
    q.selector = {"kpi_t", {{"s", query::MatchOp::kEqual, s}}};
    q.start_ms = kT0;
    q.end_ms = kT0 + 86'400'000;
    auto r = client_->QueryRange(q);
    return r.ok() && !r->empty() ? r->front().values.size() : 0;
  };
  // "n": nothing deleted, exit 1.
  std::string screen = InTerminal("delete 'kpi_t{s=\\\"0\\\"}'", 100, "[y/N]", false);
  EXPECT_NE(screen.find("10 points of 1 series matching kpi_t{s=\"0\"}"), std::string::npos) << screen;
  Shell("tmux -L " + socket_ + " send-keys -t s" + std::to_string(sessions_) + " n Enter");
  for (int i = 0; i < 100 && screen.find("KPICTL-EXIT-") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    screen = Shell("tmux -L " + socket_ + " capture-pane -p -t s" + std::to_string(sessions_));
  }
  EXPECT_NE(screen.find("nothing deleted"), std::string::npos) << screen;
  EXPECT_NE(screen.find("KPICTL-EXIT-1"), std::string::npos) << screen;
  EXPECT_EQ(count("0"), 10u);
  // "y": deleted.
  screen = InTerminal("delete 'kpi_t{s=\\\"0\\\"}'", 100, "[y/N]", false);
  Shell("tmux -L " + socket_ + " send-keys -t s" + std::to_string(sessions_) + " y Enter");
  for (int i = 0; i < 100 && screen.find("KPICTL-EXIT-") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    screen = Shell("tmux -L " + socket_ + " capture-pane -p -t s" + std::to_string(sessions_));
  }
  EXPECT_NE(screen.find("deleted 10 points"), std::string::npos) << screen;
  EXPECT_NE(screen.find("KPICTL-EXIT-0"), std::string::npos) << screen;
  EXPECT_EQ(count("0"), 0u);
  EXPECT_EQ(count("1"), 10u);
}

}  // namespace
}  // namespace kpidb
