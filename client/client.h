// kpidb::Client: the kpidb.v1 gRPC API in plain C++ (no Protobuf or gRPC
// types here). Errors are values: a Status with the server's code (numbered
// like gRPC's) and message, or UNAVAILABLE / DEADLINE_EXCEEDED from the
// transport. Thread-safe: one Client may serve many threads.
//
//   auto client = kpidb::Client::Connect("127.0.0.1:7411").value();
//   kpidb::WriteBatch batch;
//   batch.series.push_back({"kpi_visits", {{"channel", "email"}}, {t0, t1}, {12, 15}});
//   kpidb::Status s = client->Write(batch).status();
//   kpidb::query::Query q;  // kpidb/query.h; semantics in docs/query.md
//   q.selector.metric = "kpi_visits";
//   q.start_ms = t0; q.end_ms = t0 + 86'400'000; q.step.step_ms = 3'600'000;
//   q.aggregation = kpidb::query::Aggregation::kSum;
//   auto results = client->QueryRange(q);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/query.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

struct ClientOptions {
  std::chrono::milliseconds deadline{10'000};  // per call (a query stream: the whole stream)
  size_t max_message_bytes = 64u << 20;        // largest message sent or received
};

struct WriteResult {
  uint64_t points_written = 0;
  uint64_t series_written = 0;
  uint64_t requests = 0;
};

struct ServerStats {
  uint64_t series = 0;
  uint64_t points = 0;
  uint64_t segments = 0;
  uint64_t segment_bytes = 0;
  uint64_t bytes_on_disk = 0;
  double bytes_per_point = 0;
  uint64_t wal_files = 0;
  uint64_t wal_bytes = 0;
  uint64_t head_points = 0;
  uint64_t head_bytes = 0;
  uint64_t flushes = 0;
  double uptime_seconds = 0;
  std::string version;
  uint64_t head_reserved_bytes = 0;
  uint64_t queries_inline = 0;
  uint64_t queries_on_workers = 0;
  uint64_t points_written = 0;  // acknowledged since the server started
  struct Compaction {
    bool running = false;
    uint64_t backlog = 0;
    uint64_t waiting = 0;
    uint64_t merges = 0;
    uint64_t files_merged = 0;
    uint64_t bytes_written = 0;
    uint64_t points_written = 0;
    int64_t last_merge_unix_ms = 0;
    double last_merge_seconds = 0;
    std::string last_error;
    bool automatic = false;
  } compaction;  // StatsResponse.Compaction
  struct Retention {
    int64_t raw_retention_ms = 0;
    std::vector<int64_t> tier_steps_ms;
    std::vector<int64_t> tier_retention_ms;
    int64_t raw_expired_before_ms = 0;
    uint64_t points_expired = 0;
    uint64_t rewrites = 0;
  } retention;  // StatsResponse.Retention
};

// What Client::Snapshot made (SnapshotResponse).
struct SnapshotResult {
  uint64_t segments = 0;
  uint64_t segments_linked = 0;
  uint64_t wal_files = 0;
  uint64_t bytes_copied = 0;
};

class Client {
 public:
  // Connects lazily: an unreachable server shows as UNAVAILABLE on calls.
  static Result<std::unique_ptr<Client>> Connect(const std::string& address,
                                                 const ClientOptions& options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // All or nothing; durable when OK (the server's fsync policy permitting).
  Result<WriteResult> Write(const WriteBatch& batch);
  // The batches over one client stream, applied in order; stops at the
  // first rejected one (its error names requests[i]).
  Result<WriteResult> WriteStream(const std::vector<WriteBatch>& batches);

  // Streams the results to `sink` as they arrive (in key order). The
  // query's limits are sent as requests; the server caps them at its own.
  // `stats`, if given, receives what served the query and what had expired
  // (query::QueryStats, from the call's trailers) once it succeeded.
  Status QueryRange(const query::Query& query,
                    const std::function<Status(query::ResultSeries&&)>& sink,
                    query::QueryStats* stats = nullptr);
  // The same, collected.
  Result<std::vector<query::ResultSeries>> QueryRange(const query::Query& query,
                                                      query::QueryStats* stats = nullptr);

  Result<std::vector<SeriesKey>> ListSeries(const query::Selector& selector, uint64_t limit = 0);
  Result<std::vector<std::string>> LabelNames(std::string_view metric = "");
  Result<std::vector<std::string>> LabelValues(std::string_view name, std::string_view metric = "");
  Result<ServerStats> Stats();
  Status Flush();
  // Runs every merge the server's compaction policy has due, and returns
  // the number of files replaced.
  Result<uint64_t> Compact();
  // Asks the server's background compactor for the same; returns at once
  // (Stats().compaction shows its progress).
  Status StartCompaction();
  // Deletes the points of the matching series in [start_ms, end_ms) (both 0:
  // all of them); the number of points deleted. Idempotent.
  Result<uint64_t> DeleteSeries(const query::Selector& selector, int64_t start_ms = 0,
                                int64_t end_ms = 0);
  // Has the server write a consistent copy of its data dir to `dest_dir`,
  // an absolute path on the server's machine (new or empty), while writes
  // go on: every write acknowledged before the call is in it.
  Result<SnapshotResult> Snapshot(const std::string& dest_dir);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kpidb
