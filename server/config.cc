#include "server/config.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <map>
#include <sstream>

namespace kpidb::server {
namespace {

// An integer of at least `min`, with a message that says so.
CLI::Validator AtLeast(uint64_t min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || v < min) {
          return "'" + text + "' is not an integer >= " + std::to_string(min);
        }
        return "";
      },
      "INTEGER>=" + std::to_string(min));
}

// Every option, in one table, bound to the field it sets. The defaults shown
// by --help are the fields' values in a default ServerConfig (so, in the
// end, the defaults of EngineOptions, WriteLimits and QueryLimits).
struct Options {
  explicit Options(ServerConfig* c) : config(c) {}
  ServerConfig* config;
  uint64_t query_timeout_ms = 0;
  std::string rollup_tiers;
  std::string partition_level_factors;
  std::string raw_retention;
  std::string rollup_retention;

  void AddTo(CLI::App& app) {
    ServerConfig& c = *config;
    query_timeout_ms = static_cast<uint64_t>(c.query_limits.timeout.count());
    rollup_tiers = TiersToString(c.engine.rollup_tiers_ms);
    partition_level_factors = TiersToString(c.engine.partition_level_factors);
    raw_retention = DurationToString(c.engine.raw_retention_ms);
    rollup_retention = DurationsToString(c.engine.rollup_retention_ms);
    const CLI::Validator positive = AtLeast(1);
    const CLI::Validator non_negative = AtLeast(0);

    app.add_option("--listen", c.listen, "HOST:PORT to serve on (port 0 picks a free one)")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& v) { return v.find(':') == std::string::npos ? "'" + v + "' is not HOST:PORT" : ""; },
            "HOST:PORT"));
    app.add_option("--data-dir", c.data_dir, "directory of the data (created if missing)")
        ->capture_default_str()
        ->check(CLI::Validator([](std::string& v) { return v.empty() ? "empty" : ""; }, "DIR"));
    app.add_option("--max-message-bytes", c.max_message_bytes,
                   "largest gRPC request accepted (writes may be large)")
        ->capture_default_str()->check(CLI::Range(size_t{1024}, size_t{INT32_MAX}));
    app.add_option("--max-response-message-bytes", c.max_response_message_bytes,
                   "largest gRPC response message sent: a query's large series continue in the next "
                   "messages, and a listing larger than this is RESOURCE_EXHAUSTED; the default keeps "
                   "every message under a default gRPC client's 4 MiB receive limit")
        ->capture_default_str()->check(CLI::Range(size_t{1024}, size_t{INT32_MAX}));
    app.add_option("--workers", c.workers, "threads running engine calls")
        ->capture_default_str()->check(positive);
    app.add_option("--inline-query-points", c.inline_query_points,
                   "a query that will read at most this many points (estimated from the indexes, for "
                   "selectors narrowed to 64 series or fewer by a metric or an equality matcher) runs on "
                   "gRPC's own thread instead of a worker, which saves ~0.1 ms; 0: every query on the workers")
        ->capture_default_str()->check(non_negative);
    app.add_option("--shutdown-drain-ms", c.shutdown_drain_ms,
                   "at SIGTERM/SIGINT, how long new calls are answered UNAVAILABLE (and the health "
                   "service says NOT_SERVING) before the server stops listening, at least")
        ->capture_default_str()->check(non_negative);
    app.add_option("--shutdown-timeout-ms", c.shutdown_timeout_ms,
                   "at SIGTERM/SIGINT, how long calls in flight may take to finish before they are "
                   "cancelled (engine work already running is still waited for; a second signal exits at once)")
        ->capture_default_str()->check(non_negative);

    // The engine (EngineOptions, include/kpidb/options.h).
    app.add_option("--wal-sync", c.engine.wal_sync,
                   "always: a write is acknowledged once fsynced; interval: fsync every "
                   "--wal-sync-interval-ms; none: never (benchmarks)")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, WalSyncPolicy>{{"always", WalSyncPolicy::kAlways},
                                                 {"interval", WalSyncPolicy::kInterval},
                                                 {"none", WalSyncPolicy::kNone}},
            CLI::ignore_case))
        ->default_str("always");
    app.add_option("--wal-sync-interval-ms", c.engine.wal_sync_interval_ms,
                   "fsync period with --wal-sync=interval")->capture_default_str()->check(positive);
    app.add_option("--group-commit-wait-us", c.engine.group_commit_wait_us,
                   "how long a write waits for others to share its fsync")
        ->capture_default_str()->check(non_negative);
    app.add_option("--wal-file-bytes", c.engine.wal_file_bytes, "a WAL file is rotated past this size")
        ->capture_default_str()->check(CLI::Range(uint64_t{1} << 16, uint64_t{1} << 40));
    app.add_option("--head-max-bytes", c.engine.head_max_bytes,
                   "memory of unflushed points before a background flush")
        ->capture_default_str()->check(positive);
    app.add_option("--max-series", c.engine.max_series, "distinct series the server accepts")
        ->capture_default_str()->check(positive);
    app.add_option("--segment-partition-ms", c.engine.segment_partition_ms,
                   "time partition of segment files (new files; existing ones keep theirs)")
        ->capture_default_str()->check(positive);
    app.add_option("--max-points-per-chunk", c.engine.max_points_per_chunk,
                   "points per compressed chunk")
        ->capture_default_str()->check(CLI::Range(1, 65535));
    app.add_option("--rollup-tiers-ms", rollup_tiers,
                   "rollup tiers built in every segment, comma-separated steps in ms, increasing "
                   "(e.g. 3600000,86400000), or none")
        ->capture_default_str();
    app.add_option("--rollup-min-points-per-row", c.engine.rollup_min_points_per_row,
                   "a series' rollup tier is built only where a row summarises at least this many "
                   "points on average (1: always)")
        ->capture_default_str()->check(positive);
    app.add_option("--raw-retention", raw_retention,
                   "how long raw points are kept: a duration (90d, 12h, 2w, 1y = 365d, 500ms), or "
                   "forever; older points are never returned and are dropped from the files, their "
                   "rollup rows kept")
        ->capture_default_str();
    app.add_option("--rollup-retention", rollup_retention,
                   "how long each rollup tier's rows are kept, comma-separated, one per tier of "
                   "--rollup-tiers-ms (e.g. 400d,forever), or forever for every tier")
        ->capture_default_str();
    app.add_flag("--rollup-stddev,!--no-rollup-stddev", c.engine.rollup_stddev,
                 "also store m2 in rollup rows, so that stddev reads rows")
        ->capture_default_str();
    app.add_flag("--auto-compaction,!--no-auto-compaction", c.engine.auto_compaction,
                 "merge segment files in the background by the compaction policy")
        ->capture_default_str();
    app.add_option("--compaction-trigger-files", c.engine.compaction_trigger_files,
                   "a day partition is merged once it holds this many files")
        ->capture_default_str()->check(CLI::Range(2u, 1'000'000u));
    app.add_option("--compaction-quiet-ms", c.engine.compaction_quiet_ms,
                   "... or two or more that were all written at least this long ago")
        ->capture_default_str()->check(non_negative);
    app.add_option("--partition-level-factors", partition_level_factors,
                   "coarser partitions for old data, comma-separated: each level's windows are "
                   "that many times the level before (the first: --segment-partition-ms), or none")
        ->capture_default_str();
    app.add_option("--partition-merge-after-ms", c.engine.partition_merge_after_ms,
                   "a coarse window's files are merged into one once it ended this long ago")
        ->capture_default_str()->check(non_negative);
    app.add_option("--compaction-interval-ms", c.engine.compaction_interval_ms,
                   "how often the compactor looks for work besides after each flush")
        ->capture_default_str()->check(positive);
    app.add_option("--compaction-max-bytes-per-second", c.engine.compaction_max_bytes_per_second,
                   "write rate of background merges at most (0: no limit)")
        ->capture_default_str()->check(non_negative);
    app.add_flag("--verify-segments-on-open,!--no-verify-segments-on-open",
                 c.engine.verify_segments_on_open,
                 "decode and check every chunk at open, quarantining corrupt segments")
        ->capture_default_str();
    app.add_flag("--index-snapshots,!--no-index-snapshots", c.engine.index_snapshots,
                 "keep series.idx, a snapshot of the series index that an open maps instead of "
                 "replaying series.log")
        ->capture_default_str();

    // What one write may hold (WriteLimits).
    WriteLimits& w = c.engine.limits;
    app.add_option("--max-metric-name-bytes", w.max_metric_name_bytes, "longest metric name")
        ->capture_default_str()->check(positive);
    app.add_option("--max-label-name-bytes", w.max_label_name_bytes, "longest label name")
        ->capture_default_str()->check(positive);
    app.add_option("--max-label-value-bytes", w.max_label_value_bytes, "longest label value")
        ->capture_default_str()->check(positive);
    app.add_option("--max-labels-per-series", w.max_labels_per_series, "labels per series")
        ->capture_default_str()->check(positive);
    app.add_option("--max-series-per-write", w.max_series_per_batch, "series in one write request")
        ->capture_default_str()->check(positive);
    app.add_option("--max-points-per-write", w.max_points_per_batch, "points in one write request")
        ->capture_default_str()->check(positive);

    // What one query may cost (QueryLimits): maxima, a request may ask for less.
    query::QueryLimits& q = c.query_limits;
    app.add_option("--query-timeout-ms", query_timeout_ms, "longest a query may run")
        ->capture_default_str()->check(positive);
    app.add_option("--query-max-series", q.max_series, "series one query may select")
        ->capture_default_str()->check(positive);
    app.add_option("--query-max-points", q.max_points, "points one query may return")
        ->capture_default_str()->check(positive);
    app.add_option("--query-max-buckets", q.max_buckets, "buckets of one query's grid")
        ->capture_default_str()->check(positive);
    app.add_option("--query-max-memory-bytes", q.max_memory_bytes, "working memory of one query")
        ->capture_default_str()->check(positive);
  }

  // After parsing: the options that are not a field as they are.
  Status Finish() {
    config->query_limits.timeout = std::chrono::milliseconds(query_timeout_ms);
    KPIDB_ASSIGN_OR_RETURN(config->engine.rollup_tiers_ms, ParseTiers(rollup_tiers));
    KPIDB_ASSIGN_OR_RETURN(config->engine.partition_level_factors,
                           ParseFactors(partition_level_factors));
    KPIDB_ASSIGN_OR_RETURN(config->engine.raw_retention_ms,
                           ParseDuration(raw_retention, "--raw-retention"));
    config->engine.rollup_retention_ms.clear();
    if (rollup_retention != "forever" && !rollup_retention.empty()) {
      std::stringstream in(rollup_retention);
      std::string part;
      while (std::getline(in, part, ',')) {
        KPIDB_ASSIGN_OR_RETURN(int64_t ms, ParseDuration(part, "--rollup-retention"));
        config->engine.rollup_retention_ms.push_back(ms);
      }
    }
    return Status::Ok();
  }

  // "forever" (or 0), or a positive number with a unit: ms s m h d w y (a
  // year is 365 days). A bare number is refused: 90 of what?
  static Result<int64_t> ParseDuration(const std::string& text, std::string_view option) {
    if (text == "forever" || text == "0") return int64_t{0};
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000},
        {"d", 86'400'000}, {"w", 604'800'000}, {"y", 31'536'000'000}};
    for (const auto& [name, ms] : kUnits) {
      int64_t out;
      if (ec == std::errc() && n > 0 && unit == name && !__builtin_mul_overflow(n, ms, &out)) return out;
    }
    return Status::InvalidArgument(std::string(option) + ": '" + text +
                                   "' is not a duration (a positive number with a unit of ms, s, "
                                   "m, h, d, w or y, e.g. 90d) or forever");
  }

  static std::string DurationToString(int64_t ms) {
    if (ms == 0) return "forever";
    static constexpr std::pair<const char*, int64_t> kUnits[] = {
        {"y", 31'536'000'000}, {"w", 604'800'000}, {"d", 86'400'000}, {"h", 3'600'000},
        {"m", 60'000}, {"s", 1000}};
    for (const auto& [name, unit] : kUnits) {
      if (ms % unit == 0) return std::to_string(ms / unit) + name;
    }
    return std::to_string(ms) + "ms";
  }

  static std::string DurationsToString(const std::vector<int64_t>& list) {
    if (list.empty()) return "forever";
    std::string out;
    for (int64_t ms : list) {
      if (!out.empty()) out += ',';
      out += DurationToString(ms);
    }
    return out;
  }

  template <typename T>
  static std::string TiersToString(const std::vector<T>& tiers) {
    if (tiers.empty()) return "none";
    std::string out;
    for (int64_t t : tiers) out += (out.empty() ? "" : ",") + std::to_string(t);
    return out;
  }

  // A comma-separated list of integers, or "none"; `ok(v, previous)` says
  // whether v may follow `previous` (null for the first).
  template <typename T>
  static Result<std::vector<T>> ParseList(const std::string& text, std::string_view option,
                                          std::string_view expected,
                                          bool (*ok)(T v, const T* previous)) {
    std::vector<T> list;
    if (text == "none" || text.empty()) return list;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
      T v = 0;
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (ec != std::errc() || end != part.data() + part.size() ||
          !ok(v, list.empty() ? nullptr : &list.back())) {
        return Status::InvalidArgument(std::string(option) + ": '" + text + "' is not " +
                                       std::string(expected) + " (or none)");
      }
      list.push_back(v);
    }
    return list;
  }

  static Result<std::vector<uint32_t>> ParseFactors(const std::string& text) {
    return ParseList<uint32_t>(text, "--partition-level-factors", "comma-separated integers >= 2",
                               [](uint32_t v, const uint32_t*) { return v >= 2; });
  }

  static Result<std::vector<int64_t>> ParseTiers(const std::string& text) {
    return ParseList<int64_t>(text, "--rollup-tiers-ms", "increasing positive steps in ms",
                              [](int64_t v, const int64_t* previous) {
                                return v > 0 && (previous == nullptr || v > *previous);
                              });
  }
};

void Describe(CLI::App& app) {
  app.name("kpidb-server");
  app.description(
      "Serves the kpidb.v1 gRPC API (WriteService, QueryService, AdminService, health,\n"
      "reflection). Prints 'listening on HOST:PORT' once ready; SIGTERM or SIGINT stop it\n"
      "cleanly (in-flight calls finish, the WAL is synced).");
  app.set_config("--config", "", "read options from FILE: `name = value` lines (names as below, "
                 "without --; '#' comments; TOML/INI form); flags win");
  app.allow_config_extras(false);
  // An option given twice takes its last value, so that a wrapper's flags
  // may override earlier ones.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string("kpidb-server ") + KPIDB_VERSION);
  app.get_formatter()->column_width(34);
}

}  // namespace

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  CLI::App app;
  Describe(app);
  Options options(&parsed.config);
  options.AddTo(app);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    parsed.help = true;
    return parsed;
  } catch (const CLI::CallForVersion&) {
    parsed.version = true;
    return parsed;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    return Status::InvalidArgument(what + " (see --help)");
  }
  KPIDB_RETURN_IF_ERROR(options.Finish());
  return parsed;
}

std::string HelpText() {
  ServerConfig defaults;
  CLI::App app;
  Describe(app);
  Options options(&defaults);
  options.AddTo(app);
  return app.help();
}

}  // namespace kpidb::server
