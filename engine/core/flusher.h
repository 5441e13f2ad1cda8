// The flusher: writes the head to time-partitioned segment files, one flush
// at a time, when a writer finds the head full, on Flush(), and from its
// background thread (which also syncs the WAL under the interval policy).
//
// A flush freezes the active head and starts a new WAL file (under the
// log's lock, briefly: writes go on in a fresh head), writes the frozen head
// to segments without any lock readers or writers need, records the new
// series in series.log, installs the segments (manifest, then version) and
// removes the WAL files the segments now hold.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/mapped_allocator.h"
#include "engine/core/version.h"
#include "engine/core/write_queue.h"
#include "engine/index/series_index.h"
#include "engine/wal/series_log.h"
#include "engine/wal/wal.h"
#include "kpidb/options.h"
#include "kpidb/status.h"

namespace kpidb {

// The WAL being written, and the series it defined since the head was last
// frozen: shared by the write leader (appends) and the flusher (freezes the
// head, starts a new file).
struct ActiveLog {
  std::mutex mu;
  std::unique_ptr<WalWriter> wal;                 // under mu
  // Ids only: the keys are in the index (8 bytes a new series until the
  // flush, not a copy of its key), mapped: the storage it outgrows and
  // frees at the freeze goes back to the system (mapped_allocator.h).
  std::vector<SeriesId, MappedAllocator<SeriesId>> new_series;  // since the last freeze; under mu
};

// A segment writer with the options' chunk size and rollup tiers (with
// raw_retention_ms set, every series gets every tier: its rows will outlive
// its points).
Result<std::unique_ptr<SegmentWriter>> NewSegmentWriter(const EngineOptions& options,
                                                        const std::string& path);

class Flusher {
 public:
  struct Deps {
    const EngineOptions* options;
    std::string wal_dir;
    std::string segment_dir;
    ActiveLog* log;
    VersionSet* versions;
    const SeriesIndex* index;
    const WriteQueue* queue;  // CheckOpen
    std::shared_ptr<SlabPool> head_slabs;
    std::unique_ptr<SeriesLog> series_log;
    std::string index_snapshot_path;  // series.idx
    SeriesRef logged_series = 0;      // Recovered::logged_series
    SeriesRef snapshot_series = 0;    // Recovered::snapshot_series
  };
  explicit Flusher(Deps deps);
  ~Flusher();  // Stop()

  // Starts the background thread.
  void Start();
  // Stops the background thread and waits for a flush in progress; later
  // flushes fail with the queue's UNAVAILABLE (close it first). Idempotent.
  void Stop();

  // Flushes the head now; returns when done. UNAVAILABLE once closed.
  Status Flush();
  // Asks the background thread for a flush.
  void RequestFlush();
  // Backpressure: while `full()`, asks for flushes and waits for them to
  // freeze the head. UNAVAILABLE (and the caller writes nothing) if the
  // latest flush failed; OK at once when stopping.
  Status WaitForRoom(const std::function<bool()>& full);

  // Writes series.idx if series were logged since the last one (and
  // EngineOptions::index_snapshots). Call once stopped; a failure is logged:
  // the snapshot only speeds up the next open.
  void WriteIndexSnapshotAtClose();

  uint64_t flushes() const { return flushes_.load(); }
  // Whether a flush is running (the compactor's background merges pause).
  bool busy() const { return busy_.load(); }
  // Called after each flush that wrote segments (under mu_: `fn` may take
  // only leaf locks). Set before Start().
  void SetFlushListener(std::function<void()> fn) { on_flushed_ = std::move(fn); }

 private:
  Status FlushLocked();      // REQUIRES mu_
  Status WriteFrozenHead();  // REQUIRES mu_; flushes the version's flushing head
  Status WriteSegments(const Head& head, std::vector<uint64_t>* numbers);  // REQUIRES mu_
  Status LogFlushingSeries();  // REQUIRES mu_; appends flushing_series_ to series.log
  // REQUIRES mu_. Writes series.idx of the logged series when due (at
  // close: any new; from the background thread's quiet ticks, when no flush
  // is asked for: as many new as it holds, at least 1,024). New series wait
  // while it is written (SeriesIndex::WriteSnapshot): ~1 s at 1M series.
  void MaybeWriteIndexSnapshot(bool at_close);
  void BackgroundLoop();
  void NotifyFlushDone();

  const EngineOptions& options_;
  const std::string wal_dir_;
  const std::string segment_dir_;
  ActiveLog& log_;
  VersionSet& versions_;
  const SeriesIndex& index_;
  const WriteQueue& queue_;
  const std::shared_ptr<SlabPool> head_slabs_;

  std::mutex mu_;  // one flush at a time
  std::unique_ptr<SeriesLog> series_log_;               // under mu_
  std::vector<SeriesId, MappedAllocator<SeriesId>> flushing_series_;  // frozen with the head; under mu_
  SeriesRef frozen_series_ = 0;   // the index's size at the last freeze; under mu_
  SeriesRef logged_series_ = 0;   // refs below are in series.log (or a segment); under mu_
  // series.log's length once they were: a failed append may leave records
  // of later series past it, which a snapshot must not claim to cover.
  uint64_t logged_bytes_ = 0;     // under mu_
  SeriesRef snapshot_series_ = 0;  // refs series.idx holds; under mu_
  const std::string index_snapshot_path_;
  uint64_t flushing_checkpoint_ = 0;                    // under mu_

  // The background thread's state. bg_mu_ may be taken under mu_ (to wake
  // writers once a flush froze or wrote the head), never mu_ under it; the
  // versions' locks may be taken under it.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::condition_variable flush_done_cv_;
  bool bg_stop_ = false;          // under bg_mu_
  bool flush_requested_ = false;  // under bg_mu_
  Status last_flush_error_;  // of the latest background flush; OK once one succeeds; under bg_mu_
  std::thread bg_thread_;

  std::atomic<uint64_t> flushes_{0};
  std::atomic<bool> busy_{false};
  std::function<void()> on_flushed_;  // set before Start
};

}  // namespace kpidb
