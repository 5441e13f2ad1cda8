// kpidb's storage engine core: what the public Engine (include/kpidb/engine.h)
// and the query layer (engine/query/) are built on. Internal: not installed.
//
//   auto engine = EngineCore::Open("/var/lib/kpidb", options);   // Result<>
//   Status s = (*engine)->Write(batch);   // durable (per wal_sync) on OK
//   auto data = (*engine)->Read(id, start_ms, end_ms);
//
// Writes are validated whole and applied all or nothing: appended to the WAL
// (concurrent writers share one fdatasync: group commit), then to the
// in-memory head, where reads see them at once. The head is flushed to
// immutable, time-partitioned segment files when it grows past
// head_max_bytes, or on Flush(). The last write of a (series, timestamp)
// wins, whatever the order of arrival.
//
// Data dir layout: LOCK, MANIFEST, series.log, wal/, segments/, quarantine/
// (see docs/internals.md).
//
// Thread-safety: every method may be called from any thread concurrently,
// except that Close() must not race with itself. Only one EngineCore (in any
// process) may open a data dir at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/core/compactor.h"
#include "engine/core/flusher.h"
#include "engine/core/version.h"
#include "engine/core/write_queue.h"
#include "engine/head/head.h"
#include "engine/index/series_index.h"
#include "engine/read/retention.h"
#include "engine/read/scan_visitor.h"
#include "engine/segment/segment.h"
#include "engine/wal/series_log.h"
#include "engine/wal/wal.h"
#include "kpidb/engine.h"
#include "kpidb/options.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

class EngineCore {
 public:
  // Opens or creates the data dir and recovers: loads series.log and the
  // segments in MANIFEST (quarantining corrupt ones), then replays the WAL.
  static Result<std::unique_ptr<EngineCore>> Open(const std::string& dir,
                                              const EngineOptions& options);
  ~EngineCore();  // Close()
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // Validates the batch whole, then appends and applies it. OK means durable
  // under the wal_sync policy and visible to reads. Errors:
  // INVALID_ARGUMENT / RESOURCE_EXHAUSTED (bad input or a limit; nothing is
  // written), UNAVAILABLE (closed), INTERNAL (I/O; the engine then refuses
  // further writes).
  Status Write(const WriteBatch& batch);

  // Points of series `id` in [start_ms, end_ms). NOT_FOUND for an unknown id;
  // DATA_LOSS (naming the file and offset) if a chunk it needs is corrupt.
  Result<SeriesData> Read(SeriesId id, int64_t start_ms, int64_t end_ms) const;

  // The same points as Read, delivered to `visitor` in time order, offering
  // chunk stats where they are exact (see ScanVisitor). Stops at the first
  // error the visitor returns.
  // Expired data (retention.h) is left out, as of now.
  Status Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor) const;
  // The same, with the retention of one moment (a query takes one for all
  // its series); `incomplete`, if given, is set when some data in the range
  // before the raw cutoff could not be answered (MergeScan::incomplete).
  Status Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor,
              const Retention& retention, bool* incomplete) const;
  // What has expired now (EngineOptions::raw_retention_ms and
  // rollup_retention_ms, measured against wall_clock_ms).
  Retention CurrentRetention() const;

  // The points a Read or Scan of `ids` in [start_ms, end_ms) touches, at
  // most: whole chunks that overlap the range, and every head point of the
  // series (rollup blocks, and points written meanwhile, aside). From the
  // segments' index entries only (no chunk is decoded); a caller uses it to
  // tell cheap reads from costly ones. Counting stops once past `enough`.
  // nullopt, at once, when it would look up more than `max_lookups`
  // (series, segment) pairs, or when a segment's index cannot be decoded.
  std::optional<uint64_t> EstimatePoints(std::span<const SeriesId> ids, int64_t start_ms,
                                         int64_t end_ms, uint64_t enough = UINT64_MAX,
                                         size_t max_lookups = SIZE_MAX) const;

  // Series of `metric` (empty: any) carrying every label in `equal_labels`,
  // sorted by id; the query layer builds richer matchers on top.
  std::vector<SeriesId> SelectSeries(std::string_view metric, const Labels& equal_labels) const;
  std::optional<SeriesId> FindSeries(std::string_view metric, const Labels& labels) const;
  std::optional<SeriesKey> SeriesKeyOf(SeriesId id) const;
  // The series index (postings, label names and values), for the query layer.
  const SeriesIndex& series_index() const { return index_; }

  // Writes the head to segments and truncates the WAL; returns when done.
  Status Flush();
  // Engine::Snapshot (snapshot.cc): the WAL files and series.log are opened
  // and measured under log_.mu (a moment between two writes), then the
  // manifest and its version are taken: a flush that completed meanwhile
  // only makes some copied WAL bytes redundant, since it removes WAL files
  // after its manifest is written, and open files stay readable.
  Result<SnapshotInfo> Snapshot(const std::string& dest);
  // Runs every merge the compaction policy has due (compactor.h), whole and
  // not waiting for quiet files: each window's files into one (newest write
  // wins), so that reads of it touch one file and its rollup rows cover
  // every point again. One window at a time, from a snapshot:
  // flushes wait for at most one merged file's install (a manifest write),
  // never for a merge; reads never wait. Crash-safe (the new
  // file is in place before the manifest names it; files no manifest names
  // are removed at open). `merged`: segment files replaced, if given.
  Status Compact(uint64_t* merged = nullptr);
  // Asks the compactor's background thread for such a run; returns at once.
  Status StartCompaction();
  // Deletes the points of `ids` in [start_ms, end_ms): flushes the head, then
  // rewrites each group of overlapping files holding such points (as
  // Compact merges them).
  // Points written while it runs are kept. Idempotent: if it fails (or the
  // process dies) part-way, some partitions may be done; run it again.
  // `deleted_points`: how many were removed, if given. A series left with
  // nothing is emptied (IsEmptied): the listings leave it out.
  Status Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                uint64_t* deleted_points = nullptr);
  // Stops accepting writes, waits for in-flight ones, syncs the WAL and
  // stops background work. Idempotent. Does not flush the head (the WAL
  // holds it).
  Status Close();

  EngineStats GetStats() const;
  // Series whose every point and row is gone (deleted, or expired whole):
  // listings leave them out until they are written again. Persisted in
  // DIR/emptied (docs/internals.md, "Data dir").
  bool IsEmptied(SeriesId id) const;
  size_t EmptiedCount() const { return emptied_count_.load(std::memory_order_relaxed); }
  // The memory of the engine's heads (fault injection in tests).
  SlabPool& head_memory() { return *head_slabs_; }
  // Tests: runs `hook` in each merge of Compact or Delete, after the merged
  // file is written and before it is installed.
  void SetMergeHookForTest(std::function<void()> hook) {
    compactor_->SetMergeHookForTest(std::move(hook));
  }
  const std::string& dir() const { return dir_; }
  const EngineOptions& options() const { return options_; }

 private:
  EngineCore(std::string dir, EngineOptions options);
  // Loads series.log, the manifest's segments and the WAL into the index,
  // the version set and the head; returns series.log for the flusher.
  // What recovery found, for the flusher.
  struct Recovered {
    std::unique_ptr<SeriesLog> series_log;
    SeriesRef logged_series = 0;    // refs below are in series.log or a segment
    SeriesRef snapshot_series = 0;  // refs series.idx holds (0: none adopted)
  };
  Result<Recovered> Recover();
  // The live segments of `manifest` (quarantining corrupt ones: `manifest`
  // then lists only the others), their series registered in the index.
  // Segments numbered below `known_below` hold no series the index lacks
  // (the adopted snapshot says so): their keys are not read.
  Result<std::vector<std::shared_ptr<SegmentReader>>> OpenSegments(Manifest* manifest,
                                                                   uint64_t known_below);

  // INVALID_ARGUMENT naming the first point older than the raw retention.
  Status CheckNotExpired(const WriteBatch& batch, const std::vector<SeriesKey>& keys) const;
  // The group leader's work (WriteQueue::Submit): waits for room in the
  // head, then logs and applies the group under log_.mu.
  Status CommitGroup(std::vector<PendingWrite*>& group);
  // REQUIRES log_.mu.
  Status WriteGroup(std::vector<PendingWrite*>& group);
  // REQUIRES log_.mu. Starts a new WAL file when the current one is full;
  // a failure is logged and the current file kept.
  void MaybeRotateWal();

  // The parts, and their locks, always taken in this order (a lock may be
  // taken while holding those before it, never the reverse):
  //
  //   snapshot_mu_ (Snapshot only; it takes log_.mu, then versions_, each alone)
  //   compactor_.mu_ -> flusher_.mu_ -> log_.mu -> { queue_.mu_,
  //       flusher_.bg_mu_ -> versions_ (manifest_mu_ -> state_mu_),
  //       SeriesIndex's and Head's own }
  //
  // - compactor_ (compactor.h): one Compact, Delete or background merge
  //   at a time, merging from a snapshot without other locks. Its
  //   background state (bg_mu_) is a leaf, taken under flusher_.mu_ when
  //   a flush wakes it.
  // - flusher_ (flusher.h): one flush at a time; its background thread.
  // - log_.mu: the WAL writer and the active head's writes: held by the
  //   write leader for a group, and by a flush to freeze the head.
  // - queue_ (write_queue.h): group commit; its lock is a leaf.
  // - versions_ (version.h): the version readers pin and the manifest;
  //   readers take only its state lock (shared), to copy the pointer.
  const std::string dir_;
  const std::string wal_dir_;
  const std::string segment_dir_;
  const EngineOptions options_;
  std::unique_ptr<DirLock> lock_;
  SeriesIndex index_;
  // Memory of flushed heads, kept (up to head_max_bytes) for the next.
  const std::shared_ptr<SlabPool> head_slabs_;
  VersionSet versions_;
  WriteQueue queue_;
  ActiveLog log_;
  std::atomic<uint64_t> quarantined_{0};
  std::atomic<uint64_t> points_written_{0};  // acknowledged since open
  std::mutex snapshot_mu_;  // one Snapshot at a time (see the lock order above)
  // Whether any head or segment holds series `id`.
  bool HasData(SeriesId id) const;
  // The compactor's VanishedListener (Compactor::SetVanishedListener).
  Status OnVanished(const std::vector<SeriesId>& ids, bool installed);
  // Loads DIR/emptied after recovery, keeping the series still without data.
  Status LoadEmptied();
  // REQUIRES emptied_mu_. Writes `ids` to DIR/emptied (atomically).
  Status StoreEmptiedLocked(const std::unordered_set<SeriesId>& ids) const;
  // CountDistinctPoints of the segments Stats last saw (they change at
  // flushes and merges only).
  mutable std::mutex distinct_mu_;
  mutable std::vector<std::weak_ptr<SegmentReader>> distinct_for_;  // under distinct_mu_
  mutable uint64_t distinct_points_ = 0;                            // under distinct_mu_
  mutable std::mutex emptied_mu_;
  std::unordered_set<SeriesId> emptied_;  // under emptied_mu_
  std::atomic<size_t> emptied_count_{0};
  // Built once recovered; destroyed first (they use the parts above).
  std::unique_ptr<Flusher> flusher_;
  std::unique_ptr<Compactor> compactor_;
};

}  // namespace kpidb
