// kpidb-server configuration: flags, optionally a config file of the same
// names (`name = value` lines, '#' comments, CLI11's TOML/INI form; flags
// win), and --help text that documents every one with its default (taken
// from the fields below and from EngineOptions / QueryLimits). Parsed by
// CLI11 from one table of options (config.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kpidb/options.h"
#include "kpidb/query.h"
#include "kpidb/status.h"

namespace kpidb::server {

inline constexpr char kDefaultListen[] = "127.0.0.1:7411";

struct ServerConfig {
  std::string listen = kDefaultListen;
  std::string data_dir = "./kpidb-data";
  size_t max_message_bytes = 64u << 20;  // one request message
  // One response message: under a default gRPC client's 4 MiB receive limit
  // (grpcio, grpc-go and grpcurl refuse larger ones).
  size_t max_response_message_bytes = 4u << 20;
  uint32_t workers = 8;                  // threads running engine calls
  // Queries estimated to read at most this many points run on gRPC's thread
  // (no hand-off to a worker); 0: every query on the workers.
  uint64_t inline_query_points = 250'000;
  // At SIGTERM/SIGINT, new calls get UNAVAILABLE for this long before the
  // server stops listening (callers learn to go elsewhere; see main.cc).
  uint32_t shutdown_drain_ms = 200;
  // At SIGTERM/SIGINT, how long calls in flight may take before they are
  // cancelled (below Kubernetes' default grace period of 30 s).
  uint32_t shutdown_timeout_ms = 20'000;
  EngineOptions engine;
  query::QueryLimits query_limits;       // maxima; a request may ask for less
};

struct ParsedArgs {
  ServerConfig config;
  bool help = false;
  bool version = false;
};

// INVALID_ARGUMENT naming the flag (or the config file line) on a bad value
// or an unknown name.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args);
std::string HelpText();

}  // namespace kpidb::server
