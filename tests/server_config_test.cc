// kpidb-server's options: one table (CLI11), defaults from the options
// structs, config files in `name = value` form, precise errors.
#include <gtest/gtest.h>

#include <fstream>

#include "server/config.h"
#include "tests/test_util.h"

namespace kpidb::server {
namespace {

Result<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args); }

TEST(ServerConfig, NoArgumentsGiveTheOptionStructsDefaults) {
  auto parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const ServerConfig& c = parsed->config;
  const ServerConfig want;
  EXPECT_EQ(c.listen, "127.0.0.1:7411");
  EXPECT_EQ(c.data_dir, want.data_dir);
  EXPECT_EQ(c.max_response_message_bytes, 4u << 20);
  EXPECT_EQ(c.engine.head_max_bytes, EngineOptions{}.head_max_bytes);
  EXPECT_EQ(c.engine.rollup_tiers_ms, EngineOptions{}.rollup_tiers_ms);
  EXPECT_EQ(c.engine.wal_sync, WalSyncPolicy::kAlways);
  EXPECT_EQ(c.engine.auto_compaction, EngineOptions{}.auto_compaction);
  EXPECT_EQ(c.engine.partition_level_factors, EngineOptions{}.partition_level_factors);
  EXPECT_EQ(c.engine.partition_merge_after_ms, EngineOptions{}.partition_merge_after_ms);
  EXPECT_EQ(c.query_limits.timeout, query::QueryLimits{}.timeout);
}

TEST(ServerConfig, HelpShowsEveryOptionWithTheStructsDefault) {
  const std::string help = HelpText();
  for (const char* text : {"--listen", "127.0.0.1:7411", "--head-max-bytes", "268435456",
                           "--segment-partition-ms", "86400000", "--max-points-per-chunk", "2048",
                           "--rollup-tiers-ms", "3600000", "--rollup-stddev", "--wal-file-bytes",
                           "--verify-segments-on-open", "--max-response-message-bytes", "4194304",
                           "--query-max-memory-bytes", "--config", "--auto-compaction",
                           "--compaction-trigger-files", "--partition-level-factors",
                           "--partition-merge-after-ms", "--compaction-max-bytes-per-second"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text << " missing from\n" << help;
  }
}

TEST(ServerConfig, EveryEngineOptionAnOperatorNeedsIsReachable) {
  auto parsed = Parse({"--segment-partition-ms=3600000", "--max-points-per-chunk", "512",
                       "--rollup-tiers-ms=60000,3600000,86400000", "--rollup-stddev",
                       "--no-verify-segments-on-open", "--wal-file-bytes=1048576", "--wal-sync=interval",
                       "--wal-sync-interval-ms=50", "--query-timeout-ms=1500"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const EngineOptions& e = parsed->config.engine;
  EXPECT_EQ(e.segment_partition_ms, 3'600'000);
  EXPECT_EQ(e.max_points_per_chunk, 512u);
  EXPECT_EQ(e.rollup_tiers_ms, (std::vector<int64_t>{60'000, 3'600'000, 86'400'000}));
  EXPECT_TRUE(e.rollup_stddev);
  EXPECT_FALSE(e.verify_segments_on_open);
  EXPECT_EQ(e.wal_file_bytes, 1u << 20);
  EXPECT_EQ(e.wal_sync, WalSyncPolicy::kInterval);
  EXPECT_EQ(e.wal_sync_interval_ms, 50u);
  EXPECT_EQ(parsed->config.query_limits.timeout, std::chrono::milliseconds(1500));
  auto none = Parse({"--rollup-tiers-ms=none", "--partition-level-factors=none"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->config.engine.rollup_tiers_ms.empty());
  EXPECT_TRUE(none->config.engine.partition_level_factors.empty());
  auto compaction = Parse({"--no-auto-compaction", "--compaction-trigger-files=8",
                           "--compaction-quiet-ms=1000", "--partition-level-factors=7,4",
                           "--partition-merge-after-ms=0", "--compaction-interval-ms=500",
                           "--compaction-max-bytes-per-second=1048576"});
  ASSERT_TRUE(compaction.ok()) << compaction.status().ToString();
  const EngineOptions& c = compaction->config.engine;
  EXPECT_FALSE(c.auto_compaction);
  EXPECT_EQ(c.compaction_trigger_files, 8u);
  EXPECT_EQ(c.compaction_quiet_ms, 1000u);
  EXPECT_EQ(c.partition_level_factors, (std::vector<uint32_t>{7, 4}));
  EXPECT_EQ(c.partition_merge_after_ms, 0);
  EXPECT_EQ(c.compaction_interval_ms, 500u);
  EXPECT_EQ(c.compaction_max_bytes_per_second, 1u << 20);
}

TEST(ServerConfig, ConfigFileLinesStayValidAndFlagsWin) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/kpidb.conf";
  std::ofstream(path) << "# a comment\n"
                         "listen = 127.0.0.1:9000\n"
                         "data-dir = /tmp/somewhere   # trailing comment\n"
                         "head-max-bytes = 1048576\n"
                         "wal-sync = none\n";
  auto parsed = Parse({"--config", path, "--listen=127.0.0.1:9001"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.listen, "127.0.0.1:9001");
  EXPECT_EQ(parsed->config.data_dir, "/tmp/somewhere");
  EXPECT_EQ(parsed->config.engine.head_max_bytes, 1u << 20);
  EXPECT_EQ(parsed->config.engine.wal_sync, WalSyncPolicy::kNone);

  std::ofstream(path) << "no-such-option = 3\n";
  auto unknown = Parse({"--config", path});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no-such-option"), std::string::npos)
      << unknown.status().message();
}

TEST(ServerConfig, BadValuesNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  } cases[] = {
      {{"--listen=nowhere"}, "--listen"},
      {{"--wal-sync=sometimes"}, "--wal-sync"},
      {{"--head-max-bytes=0"}, "--head-max-bytes"},
      {{"--head-max-bytes=lots"}, "--head-max-bytes"},
      {{"--max-points-per-chunk=70000"}, "--max-points-per-chunk"},
      {{"--rollup-tiers-ms=3600000,60000"}, "--rollup-tiers-ms"},
      {{"--partition-level-factors=30,1"}, "--partition-level-factors"},
      {{"--compaction-trigger-files=1"}, "--compaction-trigger-files"},
      {{"--compaction-interval-ms=0"}, "--compaction-interval-ms"},
      {{"--raw-retention=90"}, "--raw-retention"},
      {{"--raw-retention=-3d"}, "--raw-retention"},
      {{"--raw-retention=3months"}, "--raw-retention"},
      {{"--rollup-retention=400d,never"}, "--rollup-retention"},
      {{"--no-such-flag=1"}, "--no-such-flag"},
      {{"stray"}, "stray"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(c.args);
    ASSERT_FALSE(parsed.ok()) << c.args[0];
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.mentions), std::string::npos)
        << c.args[0] << ": " << parsed.status().message();
  }
}

TEST(ServerConfig, RetentionTakesDurationsWithUnits) {
  auto parsed = Parse({"--raw-retention=90d", "--rollup-retention=2y,forever"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.engine.raw_retention_ms, 90 * 86'400'000LL);
  EXPECT_EQ(parsed->config.engine.rollup_retention_ms,
            (std::vector<int64_t>{2 * 365 * 86'400'000LL, 0}));
  auto ms = Parse({"--raw-retention=12h", "--rollup-retention=forever"});
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ(ms->config.engine.raw_retention_ms, 12 * 3'600'000LL);
  EXPECT_TRUE(ms->config.engine.rollup_retention_ms.empty());
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.engine.raw_retention_ms, 0);  // for ever
  EXPECT_NE(HelpText().find("--raw-retention"), std::string::npos);
}

TEST(ServerConfig, AnOptionGivenTwiceTakesItsLastValue) {
  auto parsed = Parse({"--listen", "127.0.0.1:0", "--data-dir", "/tmp/a", "--listen", "127.0.0.1:9005"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.listen, "127.0.0.1:9005");
}

TEST(ServerConfig, HelpAndVersionAreRecognised) {
  auto help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  auto version = Parse({"--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->version);
}

}  // namespace
}  // namespace kpidb::server
