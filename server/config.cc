#include "server/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace kpidb::server {
namespace {

struct Flag {
  std::string help;
  std::function<Status(ServerConfig&, const std::string&)> set;
};

template <typename T>
Status ParseNumber(const std::string& name, const std::string& text, T min, T* out) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min) {
    return Status::InvalidArgument("--" + name + ": '" + text + "' is not a number >= " +
                                   std::to_string(min));
  }
  *out = v;
  return Status::Ok();
}

template <typename T>
Flag Number(std::string help, T min, std::function<T&(ServerConfig&)> field, std::string name) {
  return {std::move(help), [=](ServerConfig& c, const std::string& text) {
            return ParseNumber<T>(name, text, min, &field(c));
          }};
}

const std::map<std::string, Flag>& Flags() {
  static const std::map<std::string, Flag> flags = [] {
    std::map<std::string, Flag> f;
    auto number = [&f](const std::string& name, std::string help, auto min, auto field) {
      using T = decltype(min);
      f[name] = Number<T>(std::move(help), min, field, name);
    };
    f["listen"] = {"HOST:PORT to serve on (default 127.0.0.1:7411; port 0 picks a free one)",
                   [](ServerConfig& c, const std::string& v) {
                     if (v.find(':') == std::string::npos) {
                       return Status::InvalidArgument("--listen: '" + v + "' is not HOST:PORT");
                     }
                     c.listen = v;
                     return Status::Ok();
                   }};
    f["data-dir"] = {"directory of the data (default ./kpidb-data; created if missing)",
                     [](ServerConfig& c, const std::string& v) {
                       if (v.empty()) return Status::InvalidArgument("--data-dir: empty");
                       c.data_dir = v;
                       return Status::Ok();
                     }};
    f["wal-sync"] = {"always (default: a write is acknowledged once fsynced), interval, none",
                     [](ServerConfig& c, const std::string& v) {
                       if (v == "always") c.engine.wal_sync = WalSyncPolicy::kAlways;
                       else if (v == "interval") c.engine.wal_sync = WalSyncPolicy::kInterval;
                       else if (v == "none") c.engine.wal_sync = WalSyncPolicy::kNone;
                       else return Status::InvalidArgument("--wal-sync: '" + v + "' is not always, interval or none");
                       return Status::Ok();
                     }};
    number("wal-sync-interval-ms", "fsync period with --wal-sync=interval (default 100)",
           uint32_t{1}, [](ServerConfig& c) -> uint32_t& { return c.engine.wal_sync_interval_ms; });
    number("group-commit-wait-us", "how long a write waits for others to share its fsync (default 200)",
           uint32_t{0}, [](ServerConfig& c) -> uint32_t& { return c.engine.group_commit_wait_us; });
    number("head-max-bytes", "memory of unflushed points before a background flush (default 268435456)",
           uint64_t{1}, [](ServerConfig& c) -> uint64_t& { return c.engine.head_max_bytes; });
    number("max-series", "distinct series the server accepts (default 10000000)", uint64_t{1},
           [](ServerConfig& c) -> uint64_t& { return c.engine.max_series; });
    number("max-metric-name-bytes", "longest metric name (default 256)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_metric_name_bytes; });
    number("max-label-name-bytes", "longest label name (default 128)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_label_name_bytes; });
    number("max-label-value-bytes", "longest label value (default 1024)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_label_value_bytes; });
    number("max-labels-per-series", "labels per series (default 32)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_labels_per_series; });
    number("max-series-per-write", "series in one write request (default 100000)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_series_per_batch; });
    number("max-points-per-write", "points in one write request (default 10000000)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.engine.limits.max_points_per_batch; });
    number("max-message-bytes", "largest gRPC message received or sent (default 67108864)",
           size_t{1024}, [](ServerConfig& c) -> size_t& { return c.max_message_bytes; });
    number("workers", "threads running engine calls (default 8)", uint32_t{1},
           [](ServerConfig& c) -> uint32_t& { return c.workers; });
    number("inline-query-points",
           "a query that will read at most this many points (estimated from the indexes, "
           "for selectors narrowed to 64 series or fewer by a metric or an equality matcher) "
           "runs on gRPC's own thread instead of being handed to a worker, which saves ~0.1 ms "
           "per query; 0: every query on the workers (default 250000)",
           uint64_t{0}, [](ServerConfig& c) -> uint64_t& { return c.inline_query_points; });
    number("shutdown-drain-ms",
           "at SIGTERM/SIGINT, how long new calls are answered UNAVAILABLE (and the health "
           "service says NOT_SERVING) before the server stops listening, at least (default 200)",
           uint32_t{0}, [](ServerConfig& c) -> uint32_t& { return c.shutdown_drain_ms; });
    number("shutdown-timeout-ms",
           "at SIGTERM/SIGINT, how long calls in flight may take to finish before they are "
           "cancelled (engine work already running, such as a compaction, is still waited for; "
           "a second signal exits at once) (default 20000)",
           uint32_t{0}, [](ServerConfig& c) -> uint32_t& { return c.shutdown_timeout_ms; });
    f["query-timeout-ms"] = {"longest a query may run (default 30000)",
                             [](ServerConfig& c, const std::string& v) {
                               uint64_t ms;
                               KPIDB_RETURN_IF_ERROR(ParseNumber<uint64_t>("query-timeout-ms", v, 1, &ms));
                               c.query_limits.timeout = std::chrono::milliseconds(ms);
                               return Status::Ok();
                             }};
    number("query-max-series", "series one query may select (default 100000)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.query_limits.max_series; });
    number("query-max-points", "points one query may return (default 10000000)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.query_limits.max_points; });
    number("query-max-buckets", "buckets of one query's grid (default 1000000)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.query_limits.max_buckets; });
    number("query-max-memory-bytes", "working memory of one query (default 1073741824)", size_t{1},
           [](ServerConfig& c) -> size_t& { return c.query_limits.max_memory_bytes; });
    return f;
  }();
  return flags;
}

Status Set(ServerConfig& config, const std::string& name, const std::string& value) {
  auto it = Flags().find(name);
  if (it == Flags().end()) return Status::InvalidArgument("unknown option --" + name + " (see --help)");
  return it->second.set(config, value);
}

Status LoadConfigFile(const std::string& path, ServerConfig& config) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--config: cannot read " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    auto trim = [](std::string s) {
      const size_t b = s.find_first_not_of(" \t\r");
      const size_t e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(path + ":" + std::to_string(number) + ": expected name = value");
    }
    Status s = Set(config, trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!s.ok()) return Status::InvalidArgument(path + ":" + std::to_string(number) + ": " + s.message());
  }
  return Status::Ok();
}

}  // namespace

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  std::vector<std::pair<std::string, std::string>> settings;
  std::string config_file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (arg == "--version") {
      parsed.version = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Status::InvalidArgument("--" + name + ": missing value");
    }
    if (name == "config") {
      config_file = value;
    } else {
      settings.emplace_back(name, value);
    }
  }
  if (!config_file.empty()) KPIDB_RETURN_IF_ERROR(LoadConfigFile(config_file, parsed.config));
  for (const auto& [name, value] : settings) KPIDB_RETURN_IF_ERROR(Set(parsed.config, name, value));
  return parsed;
}

std::string HelpText() {
  std::ostringstream out;
  out << "Usage: kpidb-server [--name value | --name=value]...\n\n"
         "Serves the kpidb.v1 gRPC API (WriteService, QueryService, AdminService, health,\n"
         "reflection). Prints 'listening on HOST:PORT' once ready; SIGTERM or SIGINT stop it\n"
         "cleanly (in-flight calls finish, the WAL is synced).\n\n"
         "  --config FILE\n      read 'name = value' lines (names as below, without --); flags win\n";
  for (const auto& [name, flag] : Flags()) out << "  --" << name << "\n      " << flag.help << "\n";
  out << "  --help, --version\n";
  return out.str();
}

}  // namespace kpidb::server
