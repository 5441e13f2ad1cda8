// The compactor: merges segment files into one (newest write wins), so that
// reads touch one file and its rollup rows cover every point again; moves
// old data into coarser partitions; and deletes, which is such a merge
// leaving points out.
//
// What to merge is decided by PlanMerges (the policy, below) over a version
// snapshot. A background thread runs it after each flush and every
// compaction_interval_ms; Compact runs it now. Each merge reads and writes
// without any lock but the compactor's own (segments are immutable); only
// installing the merged file takes the version set's manifest lock, briefly,
// so flushes and reads go on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/flusher.h"
#include "engine/core/version.h"
#include "engine/core/write_queue.h"
#include "engine/read/retention.h"
#include "kpidb/options.h"
#include "kpidb/status.h"

namespace kpidb {

// Files to merge into one: every file of `segments` whose points lie in
// [start_ms, end_ms), oldest first; no other file of the version overlaps
// that window, so the merged file may take the place of the newest of them.
struct MergeJob {
  size_t level = 0;  // 0: segment_partition_ms; i: partition_level_factors[i - 1] times level i - 1
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<std::shared_ptr<SegmentReader>> files;
  // A retention job (PlanRetention): the merge also drops the points
  // before drop_before_ms (the retention's raw drop cutoff when planned: the
  // job holds every file with points there), keeping their rows.
  bool retention = false;
  int64_t drop_before_ms = INT64_MIN;
  // A head of the plan's snapshot holds points before drop_before_ms: they
  // must be flushed, and the plan made again, before the job runs (or the
  // rows that outlive the files' points would be made without them, and a
  // later merge could not tell them from newer data).
  bool wait_for_flush = false;
};

// The retention's jobs: each group of files sharing a bucket of the
// coarsest tier (so a row's points are all in one job) where one file has
// only points before the raw drop cutoff, or only expired rows of one of
// its tiers. Merging the group drops them.
std::vector<MergeJob> PlanRetention(const std::vector<std::shared_ptr<SegmentReader>>& segments,
                                    const Retention& retention);

// The policy. Windows of a level are the multiples of its width; a file
// belongs to the window holding all its points, and a window that a file
// crosses (written with other widths) is left alone at that level.
// - A window of a coarse level (partition_level_factors) that ended at least
//   partition_merge_after_ms before `now_ms` is old: its files are merged
//   into one once there are two or more and the newest is quiet; the finer
//   windows inside it are not merged on their own any more.
// - Any other window of segment_partition_ms (a day) that has ended is
//   merged whole once it holds two or more files, all quiet (written
//   compaction_quiet_ms ago). One still running, once it holds
//   compaction_trigger_files files, merges only its newest files of similar
//   size (each at most twice those after it), so that a large file merged
//   earlier is rewritten only when the new ones add up to half of it.
// `forced` (Compact): every window with two or more files is due whole,
// quiet or not. `age_ms(file)`: how long ago a file was written. `waiting`, if
// given: windows that will be due once their files are quiet.
std::vector<MergeJob> PlanMerges(const std::vector<std::shared_ptr<SegmentReader>>& segments,
                                 const EngineOptions& options, int64_t now_ms, bool forced,
                                 const std::function<int64_t(const SegmentReader&)>& age_ms,
                                 size_t* waiting = nullptr);

// The distinct points (series, timestamp) of `segments`: copies of a point
// in several files (a rewrite not merged yet) count once. Only series whose
// chunks in different files of one overlapping group overlap in time are
// decoded; the rest is counted from the index. Fails only if a chunk
// cannot be decoded.
Result<uint64_t> CountDistinctPoints(const std::vector<std::shared_ptr<SegmentReader>>& segments);

// What the compactor did since open (EngineStats).
struct CompactionStats {
  bool running = false;      // a merge is in progress
  uint64_t backlog = 0;      // merges due at the policy's last look, not done yet
  uint64_t waiting = 0;      // merges that wait for their files to be quiet
  uint64_t merges = 0;       // merged files written (deletes' rewrites included)
  uint64_t files_merged = 0;  // files they replaced
  uint64_t bytes_written = 0;
  uint64_t points_written = 0;
  uint64_t points_expired = 0;      // raw points dropped by retention
  uint64_t retention_rewrites = 0;  // retention jobs done
  int64_t last_merge_unix_ms = 0;  // when the last merge ended (0: none yet)
  double last_merge_seconds = 0;
  std::string last_error;  // of the latest background merge that failed
};

class Compactor {
 public:
  Compactor(const EngineOptions& options, std::string segment_dir, VersionSet* versions,
            Flusher* flusher, const WriteQueue* queue);
  ~Compactor();  // Stop()

  // Starts the background thread: it runs the policy if
  // EngineOptions::auto_compaction, and the runs StartCompaction asks for.
  void Start();
  // Stops it, makes a merge in progress (background or not) give up
  // (UNAVAILABLE, its partial file removed), and waits for a Compact or
  // Delete on another thread to return. Idempotent.
  void Stop();
  // Wakes the background thread (after a flush). Takes only bg_mu_.
  void Wake();

  // Runs every merge that is due, quiet or not, from one snapshot, and
  // returns when done (`wait`), or asks the background thread to and returns
  // at once. `merged`: segment files replaced, if given (0 without `wait`).
  Status Compact(bool wait, uint64_t* merged);
  // Flushes the head, then rewrites the files holding points of `ids` in
  // [start_ms, end_ms) without them. See EngineCore::Delete.
  Status Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                uint64_t* deleted_points);
  CompactionStats stats() const;
  // Tests: runs `hook` in each merge, after the merged file is written and
  // before it is installed.
  void SetMergeHookForTest(std::function<void()> hook);
  // Series of a merge's files that its merged file does not hold (deleted
  // or expired whole): `listener(ids, false)` before the install (an error
  // fails the merge), `listener(ids, true)` after it. Set before Start.
  using VanishedListener = std::function<Status(const std::vector<SeriesId>& ids, bool installed)>;
  void SetVanishedListener(VanishedListener listener) { vanished_ = std::move(listener); }

 private:
  struct DeleteRange {
    std::set<SeriesId> ids;
    int64_t start_ms;
    int64_t end_ms;
  };
  // REQUIRES mu_. Replaces `old` (files no other file overlaps, oldest
  // first) by one merged file, leaving out `remove` if given, and expired
  // rows. `background`: throttled (compaction_max_bytes_per_second), and it
  // gives way to a running flush for up to 100 ms after every 100 ms of
  // work. `drop_before_ms` (a retention job's, else INT64_MIN): the points before it
  // raw drop cutoff are left out too, their rows kept (computed from them,
  // rows of buckets whose points went earlier carried over).
  Status Merge(const std::vector<std::shared_ptr<SegmentReader>>& old, const DeleteRange* remove,
               bool background, uint64_t* removed_points, int64_t drop_before_ms);
  // REQUIRES mu_. The policy's jobs now; not forced: without those over a
  // file whose merge failed lately, and the backlog in stats_.
  std::vector<MergeJob> Plan(bool forced);
  // REQUIRES mu_. Whether every file of `job` is still live.
  bool StillCurrent(const MergeJob& job) const;
  // REQUIRES mu_. Remembers the job's files for a retry with backoff, and
  // logs (a failing window does not hold the others back).
  void RecordFailure(const MergeJob& job, const Status& s);
  // mu_, for a Compact or Delete: a background merge holding it gives way.
  std::unique_lock<std::mutex> LockForeground();
  // One background pass: merges what is due, one file at a time, taking
  // mu_ for each and planning again after each; a requested Compact runs
  // what was due when asked. Returns the last failure.
  Status RunPass(bool forced);
  void BackgroundLoop();
  bool stopping() const;
  // Sleeps up to `ms`, or until stopping. Returns false when stopping.
  bool Pause(std::chrono::milliseconds ms);

  const EngineOptions& options_;
  const std::string segment_dir_;
  VersionSet& versions_;
  Flusher& flusher_;
  const WriteQueue& queue_;

  std::mutex mu_;  // one Compact, Delete or background merge at a time
  std::function<void()> merge_hook_for_test_;  // under mu_
  VanishedListener vanished_;  // set before Start
  struct Retry {
    std::shared_ptr<SegmentReader> file;
    int failures = 0;
    std::chrono::steady_clock::time_point retry_at;
  };
  std::map<const SegmentReader*, Retry> failed_;  // under mu_
  // Compact and Delete calls waiting for mu_: a background merge gives way.
  std::atomic<int> foreground_waiting_{0};

  // The background thread's state and the stats: a leaf (taken under
  // mu_, and under the flusher's mu_ by Wake).
  mutable std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;            // under bg_mu_
  bool woken_ = false;           // under bg_mu_
  bool compact_requested_ = false;  // under bg_mu_
  CompactionStats stats_;        // under bg_mu_
  std::thread thread_;
};

}  // namespace kpidb
