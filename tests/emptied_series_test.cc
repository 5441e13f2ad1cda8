// Series deleted (or expired) down to no point and no row disappear from
// listings (ListSeries, label names and values, Stats' series count) once
// the files no longer hold them, stay gone across a restart (DIR/emptied),
// and come back when written again.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "kpidb/engine.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 20'000 * kDay;

class EmptiedSeries : public ::testing::Test {
 protected:
  EmptiedSeries() {
    options_.logger = [this](std::string_view line) { log_ += std::string(line) + "\n"; };
    options_.wal_sync = WalSyncPolicy::kNone;
    options_.auto_compaction = false;
    options_.wall_clock_ms = [this] { return now_.load(); };
  }
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    auto e = Engine::Open(dir_.path(), options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }
  void Write(const std::string& metric, Labels labels, std::vector<int64_t> ts) {
    WriteBatch b;
    b.series.push_back({metric, std::move(labels), ts, std::vector<double>(ts.size(), 1.5)});
    ASSERT_TRUE(engine_->Write(b).ok());
  }
  std::vector<std::string> Listed() {
    query::Selector any{"", {{"k", query::MatchOp::kRegex, ".+"}}};
    auto keys = engine_->ListSeries(any, 1000);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    std::vector<std::string> out;
    for (const SeriesKey& k : *keys) out.push_back(k.ToString());
    return out;
  }
  void DeleteAll(const std::string& k) {
    auto r = engine_->Delete({"", {{"k", query::MatchOp::kEqual, k}}}, INT64_MIN, INT64_MAX, 1000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  testing::TempDir dir_;
  std::string log_;
  std::atomic<int64_t> now_{kT0};
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EmptiedSeries, ADeletedSeriesLeavesTheListingsAndComesBackWhenWritten) {
  Write("kpi_a", {{"k", "1"}}, {kT0, kT0 + 1000});
  Write("kpi_b", {{"k", "2"}, {"extra", "x"}}, {kT0, kT0 + kDay});  // two day files
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(Listed().size(), 2u);

  DeleteAll("2");
  EXPECT_EQ(Listed(), std::vector<std::string>{"kpi_a{k=\"1\"}"});
  EXPECT_EQ(engine_->LabelNames(), std::vector<std::string>{"k"});
  EXPECT_EQ(engine_->LabelNames("kpi_b"), std::vector<std::string>{});
  EXPECT_EQ(engine_->LabelValues("k"), std::vector<std::string>{"1"});
  EXPECT_EQ(engine_->LabelValues("__name__"), std::vector<std::string>{"kpi_a"});
  EXPECT_EQ(engine_->LabelValues("extra", "kpi_b"), std::vector<std::string>{});
  EXPECT_EQ(engine_->GetStats().series, 1u);

  Open();  // DIR/emptied keeps it out after a restart
  EXPECT_EQ(Listed(), std::vector<std::string>{"kpi_a{k=\"1\"}"});
  EXPECT_EQ(engine_->GetStats().series, 1u);

  Write("kpi_b", {{"k", "2"}, {"extra", "y"}}, {kT0 + 5});  // another series (other labels)
  Write("kpi_b", {{"k", "2"}, {"extra", "x"}}, {kT0 + 7});  // the deleted one, written again
  EXPECT_EQ(Listed().size(), 3u);
  EXPECT_EQ(engine_->LabelValues("extra"), (std::vector<std::string>{"x", "y"}));
  Open();  // unflushed: the WAL holds it, and the open sees it has data
  EXPECT_EQ(Listed().size(), 3u);
  EXPECT_EQ(engine_->GetStats().series, 3u);
}

TEST_F(EmptiedSeries, APartialDeleteKeepsTheSeriesListed) {
  Write("kpi_a", {{"k", "1"}}, {kT0, kT0 + 1000, kT0 + 2000});
  ASSERT_TRUE(engine_->Flush().ok());
  auto r = engine_->Delete({"kpi_a", {}}, kT0, kT0 + 1500, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->points_deleted, 2u);
  EXPECT_EQ(Listed().size(), 1u);
}

TEST_F(EmptiedSeries, ASeriesWhoseEveryPointAndRowExpiredLeavesTheListings) {
  options_.raw_retention_ms = 2 * kDay;
  options_.rollup_retention_ms = {3 * kDay, 3 * kDay};
  Open();
  Write("kpi_old", {{"k", "old"}}, {kT0, kT0 + 60'000});
  Write("kpi_new", {{"k", "new"}}, {kT0 + 9 * kDay});
  ASSERT_TRUE(engine_->Flush().ok());
  now_ = kT0 + 10 * kDay;  // kpi_old's points and rows have all expired
  ASSERT_TRUE(engine_->Compact().ok());
  EXPECT_EQ(Listed(), std::vector<std::string>{"kpi_new{k=\"new\"}"});
}

TEST_F(EmptiedSeries, ADamagedEmptiedFileIsIgnoredAndLogged) {
  Write("kpi_a", {{"k", "1"}}, {kT0});
  Write("kpi_b", {{"k", "2"}}, {kT0});
  ASSERT_TRUE(engine_->Flush().ok());
  DeleteAll("2");
  EXPECT_EQ(Listed().size(), 1u);
  engine_.reset();
  {
    std::fstream f(dir_.path() + "/emptied", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(21);
    f.put('\x7f');
  }
  Open();
  EXPECT_NE(log_.find("/emptied: damaged"), std::string::npos) << log_;
  EXPECT_EQ(Listed().size(), 2u);  // listed (with no point) rather than lost
}

}  // namespace
}  // namespace kpidb
