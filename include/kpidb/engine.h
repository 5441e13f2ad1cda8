// kpidb embedded: the storage engine and its query layer in your process.
//
//   auto engine = kpidb::Engine::Open("/var/lib/kpidb", kpidb::EngineOptions{});
//   if (!engine.ok()) { ... engine.status() ... }
//   Status s = (*engine)->Write(batch);        // durable (per wal_sync) on OK
//   s = (*engine)->Query(q, [](kpidb::query::ResultSeries&& r) { ...; return kpidb::Status::Ok(); });
//
// Writes are validated whole and applied all or nothing: appended to the
// write-ahead log (concurrent writers share one fdatasync), then to the
// in-memory head, where reads see them at once. The head is flushed to
// immutable, time-partitioned segment files in the background. The last write
// of a (series, timestamp) wins, whatever the order of arrival.
//
// Thread-safety: every method may be called from any thread concurrently,
// except that Close() must not race with itself. One Engine (in any process)
// may open a data dir at a time (FAILED_PRECONDITION for the second).
// Part of the public API (include/kpidb/): the engine's state is private to
// its implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/options.h"
#include "kpidb/query.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

// What Engine::Snapshot wrote.
struct SnapshotInfo {
  uint64_t segments = 0;         // segment files in the snapshot...
  uint64_t segments_linked = 0;  // ...hard-linked (the others copied)
  uint64_t wal_files = 0;        // WAL files copied (up to the snapshot's moment)
  uint64_t bytes_copied = 0;     // bytes written (links cost none)
};

struct EngineStats {
  uint64_t series = 0;
  uint64_t head_points = 0;  // points in memory (active and flushing heads)
  uint64_t head_bytes = 0;
  uint64_t head_reserved_bytes = 0;  // memory of flushed heads kept for the next
  uint64_t segments = 0;
  uint64_t segment_points = 0;  // points in segment files, a copy in each file counted
  // Distinct points in segments: copies of a point in several files (a
  // rewrite that no merge has folded yet) count once.
  uint64_t segment_distinct_points = 0;
  uint64_t segment_bytes = 0;
  uint64_t wal_files = 0;
  uint64_t wal_bytes = 0;
  uint64_t quarantined_segments = 0;  // since open
  uint64_t flushes = 0;               // since open
  uint64_t points_written = 0;        // acknowledged since open
  struct Compaction {
    bool running = false;        // a merge is in progress
    uint64_t backlog = 0;        // merges due at the policy's last look
    uint64_t waiting = 0;        // merges waiting for their files to be quiet
    uint64_t merges = 0;         // merged files written since open
    uint64_t files_merged = 0;   // files they replaced
    uint64_t bytes_written = 0;
    uint64_t points_written = 0;
    int64_t last_merge_unix_ms = 0;  // 0: none since open
    double last_merge_seconds = 0;
    std::string last_error;      // of the latest failed background merge
  } compaction;
  struct Retention {
    int64_t raw_retention_ms = 0;            // 0: raw points kept for ever
    std::vector<int64_t> tier_steps_ms;      // the rollup tiers
    std::vector<int64_t> tier_retention_ms;  // each tier's time (0: for ever)
    int64_t raw_expired_before_ms = 0;       // now: raw points before are expired (0: none)
    uint64_t points_expired = 0;             // raw points dropped from files since open
    uint64_t rewrites = 0;                   // retention merges since open
  } retention;
};

// What Engine::Delete did.
struct DeleteResult {
  uint64_t series_matched = 0;
  uint64_t points_deleted = 0;
};

class EngineCore;  // engine/core/engine_core.h (internal)

class Engine {
 public:
  // Opens or creates the data dir and recovers it (segments, then the WAL).
  // INVALID_ARGUMENT for bad options, FAILED_PRECONDITION when another
  // process holds the dir, DATA_LOSS (naming the file) for damage that would
  // lose acknowledged writes.
  static Result<std::unique_ptr<Engine>> Open(const std::string& dir, const EngineOptions& options);
  ~Engine();  // Close()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates the batch whole, then appends and applies it. OK means durable
  // under the wal_sync policy and visible to reads. INVALID_ARGUMENT /
  // RESOURCE_EXHAUSTED (bad input, a limit, memory; nothing is written),
  // UNAVAILABLE (closed, or the head is full while flushes fail), INTERNAL
  // (I/O; later writes are refused).
  Status Write(const WriteBatch& batch);

  // Raw points of one series in [start_ms, end_ms). NOT_FOUND for an unknown
  // id; DATA_LOSS (naming the file and offset) for a corrupt chunk.
  Result<SeriesData> Read(SeriesId id, int64_t start_ms, int64_t end_ms) const;
  std::optional<SeriesId> FindSeries(std::string_view metric, const Labels& labels) const;
  std::optional<SeriesKey> SeriesKeyOf(SeriesId id) const;

  // Runs a query (kpidb/query.h, docs/query.md), streaming its results to
  // `sink`; fills *stats if given.
  Status Query(const query::Query& query, const query::ResultSink& sink,
               query::QueryStats* stats = nullptr) const;
  // The points `query` would read, estimated from in-memory indexes only
  // (see engine/query/query.h): nullopt where finding out costs more than a
  // lookup. Counting stops past `enough`.
  std::optional<uint64_t> EstimateQueryPoints(const query::Query& query, size_t max_series,
                                              uint64_t enough = UINT64_MAX,
                                              size_t max_lookups = SIZE_MAX) const;

  // The keys of the series `selector` selects (at least a metric or a
  // matcher), sorted by metric then labels; RESOURCE_EXHAUSTED past
  // `max_series`. `field` names the selector in error messages.
  Result<std::vector<SeriesKey>> ListSeries(const query::Selector& selector, size_t max_series,
                                            std::string_view field = "selector") const;
  // Label names (values of label `name`) of the series of `metric`, or of
  // every series when `metric` is empty; sorted, unique.
  std::vector<std::string> LabelNames(std::string_view metric = {}) const;
  std::vector<std::string> LabelValues(std::string_view name, std::string_view metric = {}) const;

  // Writes the head to segments; returns when done.
  Status Flush();
  // A consistent copy of the data dir in `dest` (a new or empty directory),
  // taken while writes, flushes and merges go on: every write acknowledged
  // before the call is in it, and it opens as a data dir on its own.
  // Segments are hard links where `dest` is on the same file system
  // (copies otherwise); the WAL and series.log are copied as they were at
  // the call. FAILED_PRECONDITION if `dest` is not empty.
  Result<SnapshotInfo> Snapshot(const std::string& dest);
  // Runs every merge the compaction policy has due, without waiting for
  // files to be quiet (options.h; newest write wins); returns when done.
  // `merged`: segment files replaced, if given.
  Status Compact(uint64_t* merged = nullptr);
  // The same in the background: returns at once (EngineStats::compaction
  // says when it ran).
  Status StartCompaction();
  // Deletes the points in [start_ms, end_ms) of the series `selector`
  // selects (refused when it is empty: it would select everything). A
  // series left with no point and no row leaves the listings (ListSeries,
  // LabelNames, LabelValues, Stats) until written again; so does one whose
  // every point and row expired. Idempotent; see EngineCore::Delete.
  Result<DeleteResult> Delete(const query::Selector& selector, int64_t start_ms, int64_t end_ms,
                              size_t max_series);
  // Stops accepting writes, waits for in-flight ones, syncs the WAL and
  // stops background work. Idempotent.
  Status Close();

  EngineStats GetStats() const;
  const std::string& dir() const;
  const EngineOptions& options() const;

 private:
  explicit Engine(std::unique_ptr<EngineCore> core);
  std::unique_ptr<EngineCore> core_;
};

}  // namespace kpidb
