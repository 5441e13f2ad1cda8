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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/head/head.h"
#include "engine/segment/manifest.h"
#include "kpidb/engine.h"
#include "kpidb/options.h"
#include "engine/segment/segment.h"
#include "kpidb/series.h"
#include "engine/index/series_index.h"
#include "engine/wal/series_log.h"
#include "kpidb/status.h"
#include "engine/wal/wal.h"

namespace kpidb {

// Receives a series' points from EngineCore::Scan, in time order.
class ScanVisitor {
 public:
  virtual ~ScanVisitor() = default;
  // A segment chunk lying wholly inside the scanned range whose points no
  // other source (segment, head) overrides: its stats are exactly those of
  // the points it holds. Return true if the stats were enough (the chunk is
  // then not decoded), false to receive its points through OnPoints.
  virtual bool OnChunkStats(const ChunkStats& stats) = 0;
  // Rollup rows (rollup.h). When UsesRollups(), Scan offers the rows of the
  // segments' rollup tiers, coarsest tier first, whose bucket lies wholly
  // inside the scanned range and holds no point of any other source
  // (another segment, the head): such a row's statistics are exactly those
  // of the series' points in its bucket. WantsRollupRow returns true to take
  // it; a finer row overlapping a taken one is not offered. Taken rows then
  // reach OnRollupRow, in time order with the points and stats, and the
  // points they cover are not delivered.
  virtual bool UsesRollups() const { return false; }
  // Whether OnChunkStats would take these stats (no side effect). Scan skips
  // the rollup rows of a segment whose chunks in range all serve as stats:
  // those are in memory, rows must be decoded.
  virtual bool ChunkStatsSuffice(const ChunkStats& /*stats*/) const { return false; }
  virtual bool WantsRollupRow(int64_t /*step_ms*/, const RollupRow& /*row*/) { return false; }
  virtual Status OnRollupRow(int64_t /*step_ms*/, const RollupRow& /*row*/) {
    return Status::Ok();
  }
  // Points, strictly increasing in time across calls, one value per
  // timestamp (the newest write), all inside the scanned range.
  virtual Status OnPoints(std::span<const int64_t> timestamps, std::span<const double> values) = 0;
};

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
  Status Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor) const;

  // The points a Read or Scan of `ids` in [start_ms, end_ms) touches, at
  // most: whole chunks that overlap the range, and every head point of the
  // series (rollup blocks, and points written meanwhile, aside). From in-memory indexes only (no decoding); a
  // caller uses it to tell cheap reads from costly ones. Counting stops once
  // past `enough`. nullopt, at once, when it would look up more than
  // `max_lookups` (series, segment) pairs.
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
  // Merges the segments of each time partition that has several into one
  // (newest write wins), so that reads of it touch one file and its rollup
  // rows cover every point again. One partition at a time: flushes wait for
  // at most one partition's merge; reads never wait. Crash-safe (the new
  // file is in place before the manifest names it; files no manifest names
  // are removed at open). `merged`: segment files replaced, if given.
  Status Compact(uint64_t* merged = nullptr);
  // Deletes the points of `ids` in [start_ms, end_ms): flushes the head, then
  // rewrites the partitions holding such points (as Compact merges them).
  // Points written while it runs are kept. Idempotent: if it fails (or the
  // process dies) part-way, some partitions may be done; run it again.
  // `deleted_points`: how many were removed, if given. The series stay
  // known (listed) even when no point is left.
  Status Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                uint64_t* deleted_points = nullptr);
  // Stops accepting writes, waits for in-flight ones, syncs the WAL and
  // stops background work. Idempotent. Does not flush the head (the WAL
  // holds it).
  Status Close();

  EngineStats GetStats() const;
  // The memory of the engine's heads (fault injection in tests).
  SlabPool& head_memory() { return *head_slabs_; }
  // Tests: runs `hook` in each merge of Compact or Delete, after the merged
  // file is written and before it is installed.
  void SetMergeHookForTest(std::function<void()> hook) {
    std::lock_guard lock(compact_mu_);
    merge_hook_for_test_ = std::move(hook);
  }
  const std::string& dir() const { return dir_; }
  const EngineOptions& options() const { return options_; }

 private:
  struct Writer;
  // What a reader needs, swapped atomically as a whole.
  struct ReadState {
    std::shared_ptr<Head> active;
    std::shared_ptr<Head> flushing;  // frozen, being written to segments
    std::vector<std::shared_ptr<SegmentReader>> segments;  // oldest first
  };

  EngineCore(std::string dir, EngineOptions options);
  Status Recover();
  Status OpenSegments();
  std::shared_ptr<const ReadState> State() const;
  void SetState(std::shared_ptr<const ReadState> state);

  // The write leader's work for one group; REQUIRES wal_mu_ held.
  Status WriteGroup(std::vector<Writer*>& group);
  Status FlushLocked();  // REQUIRES flush_mu_
  // UNAVAILABLE once Close() has begun.
  Status CheckOpen();
  struct DeleteRange {
    std::set<SeriesId> ids;
    int64_t start_ms;
    int64_t end_ms;
  };
  // REQUIRES compact_mu_ (not flush_mu_). Replaces `old` (one partition's
  // segments, oldest first, from a snapshot) by one merged file, leaving out
  // `remove` if given. The merge reads and writes without any other lock
  // (segments are immutable); only installing the result, in the place of
  // the newest of `old`, takes flush_mu_, so flushes go on meanwhile and
  // segments they add to the partition stay newer than the merged file.
  Status MergeSegments(const std::vector<std::shared_ptr<SegmentReader>>& old,
                       const DeleteRange* remove, uint64_t* removed_points);
  std::map<int64_t, std::vector<std::shared_ptr<SegmentReader>>> SegmentsByPartition(
      const ReadState& state, std::vector<std::shared_ptr<SegmentReader>>* spanning) const;
  Status WriteFrozenHead();  // REQUIRES flush_mu_; flushes state_->flushing
  // REQUIRES wal_mu_. Starts a new WAL file when the current one is full;
  // a failure is logged and the current file kept.
  void MaybeRotateWal();
  Status WriteSegments(const Head& head, std::vector<uint64_t>* file_numbers);
  void BackgroundLoop();
  std::string SegmentPath(uint64_t file_number) const;

  // Locks, always taken in this order (a lock may be taken while holding
  // those before it, never the reverse):
  //
  //   compact_mu_  ->  flush_mu_  ->  wal_mu_  ->  { queue_mu_, bg_mu_ -> state_mu_,
  //                                                  SeriesIndex's and Head's own }
  //
  // - compact_mu_: one Compact or Delete; held for its whole run, which
  //   merges from a snapshot without other locks.
  // - flush_mu_: one flush at a time, and the manifest: held while a flush
  //   writes its segments and while a merge installs its file (brief).
  // - wal_mu_: the WAL writer and the head being written: held by the write
  //   leader for a group, and by a flush to freeze the head.
  // - queue_mu_: the writer queue; bg_mu_: the background thread's flags;
  //   state_mu_: the read state pointer. Leaves: nothing is taken under them
  //   but state_mu_ under bg_mu_ (writers waiting for room read the state).
  // Readers take only state_mu_ (shared), to copy the state pointer.
  const std::string dir_;
  const std::string wal_dir_;
  const std::string segment_dir_;
  const EngineOptions options_;
  std::unique_ptr<DirLock> lock_;
  SeriesIndex index_;

  // Writer queue (group commit): the front writer leads.
  std::mutex queue_mu_;
  std::deque<Writer*> writers_;  // under queue_mu_
  bool closed_ = false;          // under queue_mu_
  // Writers inside Write(), from entry (validation, encoding) to return:
  // the group-commit leader waits for those not yet queued.
  std::atomic<int> writers_in_flight_{0};
  Status background_error_;  // sticky after a failed WAL write; under queue_mu_

  // Serialises WAL append + head apply (the leader) against flush freezing
  // the head and rotating the WAL.
  std::mutex wal_mu_;
  std::unique_ptr<WalWriter> wal_;                 // under wal_mu_
  std::vector<SeriesLog::Definition> new_series_;  // since the last freeze; under wal_mu_
  std::atomic<uint64_t> next_file_number_{1};      // segment and WAL file numbers

  // One compaction or delete at a time; held for their whole run (they take
  // flush_mu_ only to install each merged file).
  std::mutex compact_mu_;
  std::function<void()> merge_hook_for_test_;  // under compact_mu_

  std::mutex flush_mu_;  // one flush at a time
  Manifest manifest_;                                   // under flush_mu_
  std::unique_ptr<SeriesLog> series_log_;               // under flush_mu_
  std::vector<SeriesLog::Definition> flushing_series_;  // frozen with the head; under flush_mu_
  uint64_t flushing_checkpoint_ = 0;                    // under flush_mu_

  // The version readers pin: swapped whole (copy on write) by flushes and
  // merges, under flush_mu_ (and wal_mu_ to freeze the head).
  mutable std::shared_mutex state_mu_;
  std::shared_ptr<const ReadState> state_;  // under state_mu_
  // Memory of flushed heads, kept (up to head_max_bytes) for the next.
  const std::shared_ptr<SlabPool> head_slabs_;

  // Background thread: flushes when the head is full, syncs the WAL on the
  // interval policy.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::condition_variable flush_done_cv_;
  bool bg_stop_ = false;          // under bg_mu_
  bool flush_requested_ = false;  // under bg_mu_
  Status last_flush_error_;  // of the latest background flush; OK once one succeeds; under bg_mu_
  std::thread bg_thread_;

  std::atomic<uint64_t> quarantined_{0};
  std::atomic<uint64_t> flushes_{0};
};

}  // namespace kpidb
