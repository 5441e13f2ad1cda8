#include "engine/core/compactor.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "engine/common/coding.h"
#include "engine/common/file_util.h"
#include "engine/common/point_order.h"

namespace kpidb {
namespace {

using Files = std::vector<std::shared_ptr<SegmentReader>>;

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? INT64_MAX : INT64_MIN;
  return out;
}

// Where window `index` of `width` starts, clamped to the int64 range (the
// lowest window is partial).
int64_t WindowStart(int64_t index, int64_t width) {
  int64_t out;
  if (__builtin_mul_overflow(index, width, &out)) return index < 0 ? INT64_MIN : INT64_MAX;
  return out;
}

// The newest files of a window that are worth merging on their own while
// the window still takes writes: walking back from the newest, a file joins
// while it is at most twice the size of those after it, so that a large
// merged file is rewritten only once the small ones add up to half of it
// (each point is rewritten O(log) times in a day, not once every few
// flushes). Empty if fewer than two qualify.
Files NewestOfSimilarSize(const Files& files) {
  size_t first = files.size() - 1;
  uint64_t newer = files.back()->file_size();
  while (first > 0 && files[first - 1]->file_size() <= 2 * newer) {
    --first;
    newer += files[first]->file_size();
  }
  if (files.size() - first < 2) return {};
  return Files(files.begin() + static_cast<std::ptrdiff_t>(first), files.end());
}

// How long ago a file was last written, by its mtime (a file that cannot be
// stat'ed counts as old: the merge will report it if it is gone).
int64_t FileAgeMs(const SegmentReader& segment) {
  struct stat st;
  if (::stat(segment.path().c_str(), &st) != 0) return INT64_MAX;
  const int64_t mtime_ms = int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  return std::max<int64_t>(0, WallNowMs() - mtime_ms);
}

// The files of each window of `width` (window index -> files, in version
// order), without the windows that a file crosses.
std::map<int64_t, Files> ByWindow(const Files& segments, int64_t width) {
  std::map<int64_t, Files> windows;
  std::vector<std::pair<int64_t, int64_t>> crossed;
  for (const auto& segment : segments) {
    const int64_t first = FloorDiv(segment->min_timestamp_ms(), width);
    const int64_t last = FloorDiv(segment->max_timestamp_ms(), width);
    if (first != last) {
      crossed.emplace_back(first, last);
    } else {
      windows[first].push_back(segment);
    }
  }
  for (const auto& [first, last] : crossed) {
    windows.erase(windows.lower_bound(first), windows.upper_bound(last));
  }
  return windows;
}

// Groups of files whose time ranges overlap, transitively: no file outside
// a group overlaps one inside, so a group may be merged alone. With `align`
// (> 1), a range is widened to multiples of it: files holding data in one
// bucket of that step share a group. Each group in version order.
std::vector<Files> OverlapGroups(const Files& segments, int64_t align = 1) {
  auto lo = [&](const SegmentReader& s) { return WindowStart(FloorDiv(s.min_timestamp_ms(), align), align); };
  auto hi = [&](const SegmentReader& s) {
    return SaturatingAdd(WindowStart(FloorDiv(s.max_timestamp_ms(), align), align), align - 1);
  };
  std::vector<size_t> order(segments.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return lo(*segments[a]) < lo(*segments[b]); });
  std::vector<std::vector<size_t>> groups;
  int64_t group_max = INT64_MIN;
  for (size_t i : order) {
    if (groups.empty() || lo(*segments[i]) > group_max) {
      groups.emplace_back();
      group_max = INT64_MIN;
    }
    groups.back().push_back(i);
    group_max = std::max(group_max, hi(*segments[i]));
  }
  std::vector<Files> out;
  for (auto& group : groups) {
    std::sort(group.begin(), group.end());
    Files files;
    for (size_t i : group) files.push_back(segments[i]);
    out.push_back(std::move(files));
  }
  return out;
}

// Adds to *history the rows of one file's series (`tiers`) that no point
// of that file's series (`points`, sorted) lies in: rows whose points are
// gone. A later file's row replaces an earlier one's.
void CollectHistoryRows(const std::vector<RollupTier>& tiers, std::span<const int64_t> points,
                        std::map<int64_t, std::map<int64_t, RollupRow>>* history) {
  for (const RollupTier& tier : tiers) {
    for (const RollupRow& row : tier.rows) {
      const int64_t s = RollupBucketStart(tier.step_ms, row.bucket);
      auto p = std::lower_bound(points.begin(), points.end(), s);
      if (p != points.end() && *p < RollupBucketEnd(tier.step_ms, row.bucket)) continue;
      (*history)[tier.step_ms][row.bucket] = row;
    }
  }
}

// Merges history rows into the tiers computed from the points: a bucket
// that points are in keeps the points' row (newer data); steps that only
// the history has become tiers of their own. Tiers stay in step order.
void AddHistoryRows(const std::map<int64_t, std::map<int64_t, RollupRow>>& history, bool with_m2,
                    std::vector<RollupTier>* tiers) {
  for (const auto& [step, rows] : history) {
    if (rows.empty()) continue;
    auto tier = std::find_if(tiers->begin(), tiers->end(),
                             [&](const RollupTier& t) { return t.step_ms >= step; });
    if (tier == tiers->end() || tier->step_ms != step) {
      tier = tiers->insert(tier, RollupTier{step, rows.begin()->second.has_m2 && with_m2, {}});
    }
    std::vector<RollupRow> merged;
    merged.reserve(tier->rows.size() + rows.size());
    auto h = rows.begin();
    for (const RollupRow& r : tier->rows) {
      for (; h != rows.end() && h->first < r.bucket; ++h) merged.push_back(h->second);
      if (h != rows.end() && h->first == r.bucket) ++h;  // the points' row wins
      merged.push_back(r);
    }
    for (; h != rows.end(); ++h) merged.push_back(h->second);
    // A tier keeps m2 only if every row has it.
    for (RollupRow& r : merged) {
      if (!r.has_m2) tier->with_m2 = false;
    }
    if (!tier->with_m2) {
      for (RollupRow& r : merged) r.has_m2 = false;
    }
    tier->rows = std::move(merged);
  }
}

// Whether the retention has something to do in `file`: drop every point
// (before the cutoff where raw points are dropped), or every row of one of
// its tiers, or build the rows of expired points.
bool RetentionDue(const SegmentReader& file, const Retention& retention) {
  if (retention.raw_expires() && file.point_count() > 0 &&
      file.max_timestamp_ms() < retention.raw_drop_before_ms) {
    return true;
  }
  // A file with expired points whose writer did not give every series
  // every tier (written before the retention was set, or by version 2): its
  // rows are built now, while its points are still there. (Once: the
  // rewrite gives every tier it can.)
  if (retention.raw_expires() && file.point_count() > 0 &&
      file.min_timestamp_ms() < retention.raw_from_ms && !file.every_tier() &&
      !retention.tier_steps_ms.empty()) {
    return true;
  }
  for (int64_t step : file.rollup_steps()) {
    const int64_t from = retention.RowsFrom(step);
    if (from != INT64_MIN && RollupBucketEnd(step, FloorDiv(file.max_timestamp_ms(), step)) <= from) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<uint64_t> CountDistinctPoints(const Files& segments) {
  uint64_t total = 0;
  std::vector<SegmentSeries> entries;
  std::vector<std::pair<const ChunkMeta*, size_t>> chunks;  // with their file
  std::vector<int64_t> ts, all;
  std::vector<double> vs;
  for (const Files& group : OverlapGroups(segments)) {
    for (const auto& f : group) total += f->point_count();
    if (group.size() < 2) continue;
    // The series in two or more of the group's files: a walk of their id lists.
    std::vector<size_t> at(group.size(), 0);
    entries.resize(group.size());
    while (true) {
      SeriesId id = UINT64_MAX;
      bool any = false;
      for (size_t i = 0; i < group.size(); ++i) {
        if (at[i] < group[i]->series_count()) {
          id = std::min(id, group[i]->id_at(at[i]));
          any = true;
        }
      }
      if (!any) break;
      std::vector<size_t> holders;
      for (size_t i = 0; i < group.size(); ++i) {
        if (at[i] < group[i]->series_count() && group[i]->id_at(at[i]) == id) {
          holders.push_back(i);
          ++at[i];
        }
      }
      if (holders.size() < 2) continue;
      chunks.clear();
      for (size_t i : holders) {
        KPIDB_ASSIGN_OR_RETURN(bool found, group[i]->Find(id, &entries[i]));
        if (!found) continue;
        for (const ChunkMeta& c : entries[i].chunks) chunks.emplace_back(&c, i);
      }
      std::sort(chunks.begin(), chunks.end(), [](const auto& a, const auto& b) {
        return a.first->stats.min_timestamp_ms < b.first->stats.min_timestamp_ms;
      });
      // Runs of chunks overlapping in time across files share timestamps
      // at most there: decode those runs, count their distinct timestamps.
      for (size_t i = 0; i < chunks.size();) {
        size_t j = i + 1;
        int64_t hi = chunks[i].first->stats.max_timestamp_ms;
        bool shared = false;
        while (j < chunks.size() && chunks[j].first->stats.min_timestamp_ms <= hi) {
          shared = shared || chunks[j].second != chunks[i].second;
          hi = std::max(hi, chunks[j].first->stats.max_timestamp_ms);
          ++j;
        }
        if (shared) {
          all.clear();
          uint64_t counted = 0;
          for (size_t k = i; k < j; ++k) {
            ts.clear();
            vs.clear();
            KPIDB_RETURN_IF_ERROR(group[chunks[k].second]->ReadChunk(*chunks[k].first, &ts, &vs));
            all.insert(all.end(), ts.begin(), ts.end());
            counted += chunks[k].first->stats.count;
          }
          std::sort(all.begin(), all.end());
          const auto distinct = static_cast<uint64_t>(std::unique(all.begin(), all.end()) - all.begin());
          total -= counted - distinct;
        }
        i = j;
      }
    }
  }
  return total;
}

std::vector<MergeJob> PlanRetention(const Files& segments, const Retention& retention) {
  std::vector<MergeJob> jobs;
  const int64_t align = retention.tier_steps_ms.empty() ? 1 : retention.tier_steps_ms.back();
  for (Files& group : OverlapGroups(segments, align)) {
    if (std::none_of(group.begin(), group.end(),
                     [&](const auto& f) { return RetentionDue(*f, retention); })) {
      continue;
    }
    MergeJob job;
    job.start_ms = INT64_MAX;
    job.end_ms = INT64_MIN;
    for (const auto& f : group) {
      job.start_ms = std::min(job.start_ms, f->min_timestamp_ms());
      job.end_ms = std::max(job.end_ms, SaturatingAdd(f->max_timestamp_ms(), 1));
    }
    job.retention = true;
    job.drop_before_ms = retention.raw_drop_before_ms;
    job.files = std::move(group);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<MergeJob> PlanMerges(const Files& segments, const EngineOptions& options,
                                 int64_t now_ms, bool forced,
                                 const std::function<int64_t(const SegmentReader&)>& age_ms,
                                 size_t* waiting) {
  std::vector<MergeJob> jobs;
  size_t not_quiet = 0;
  auto quiet = [&](const Files& files) {
    return std::all_of(files.begin(), files.end(), [&](const auto& f) {
      return age_ms(*f) >= static_cast<int64_t>(options.compaction_quiet_ms);
    });
  };
  // Old windows of the coarse levels, coarsest first; a finer window inside
  // one is its business.
  std::vector<std::pair<int64_t, int64_t>> old_windows;
  auto inside_old = [&](int64_t start, int64_t end) {
    return std::any_of(old_windows.begin(), old_windows.end(),
                       [&](const auto& w) { return w.first <= start && end <= w.second; });
  };
  const int64_t old_before = SaturatingAdd(now_ms, -options.partition_merge_after_ms);
  std::vector<int64_t> widths{options.segment_partition_ms};  // validated: no overflow
  for (uint32_t factor : options.partition_level_factors) widths.push_back(widths.back() * factor);
  for (size_t level = widths.size() - 1; level >= 1; --level) {
    const int64_t width = widths[level];
    for (auto& [index, files] : ByWindow(segments, width)) {
      const int64_t start = WindowStart(index, width);
      const int64_t end = SaturatingAdd(start, width);
      if (end > old_before || inside_old(start, end)) continue;
      old_windows.emplace_back(start, end);
      if (files.size() < 2) continue;
      if (!forced && !quiet(files)) {
        ++not_quiet;
        continue;
      }
      jobs.push_back({level, start, end, std::move(files)});
    }
  }
  const int64_t width = options.segment_partition_ms;
  for (auto& [index, files] : ByWindow(segments, width)) {
    const int64_t start = WindowStart(index, width);
    const int64_t end = SaturatingAdd(start, width);
    if (files.size() < 2 || inside_old(start, end)) continue;
    // A day that has ended is merged whole once quiet (its rows serve every
    // hour again); one still taking writes only its newest files, once
    // there are enough of them.
    if (forced || (end <= now_ms && quiet(files))) {
      jobs.push_back({0, start, end, std::move(files)});
      continue;
    }
    Files newest;
    if (files.size() >= options.compaction_trigger_files) newest = NewestOfSimilarSize(files);
    if (newest.empty()) {
      ++not_quiet;
      continue;
    }
    jobs.push_back({0, start, end, std::move(newest)});
  }
  if (waiting != nullptr) *waiting = not_quiet;
  return jobs;
}

Compactor::Compactor(const EngineOptions& options, std::string segment_dir, VersionSet* versions,
                     Flusher* flusher, const WriteQueue* queue)
    : options_(options),
      segment_dir_(std::move(segment_dir)),
      versions_(*versions),
      flusher_(*flusher),
      queue_(*queue) {}

Compactor::~Compactor() { Stop(); }

void Compactor::Start() {
  thread_ = std::thread([this] { BackgroundLoop(); });
}

void Compactor::Stop() {
  {
    std::lock_guard lock(bg_mu_);
    stop_ = true;
    bg_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // A Compact or Delete on another thread gives up at its next series (it
  // sees stop_); wait for it, so that no merge outlives Close.
  std::lock_guard lock(mu_);
}

void Compactor::Wake() {
  std::lock_guard lock(bg_mu_);
  woken_ = true;
  bg_cv_.notify_all();
}

bool Compactor::stopping() const {
  std::lock_guard lock(bg_mu_);
  return stop_;
}

bool Compactor::Pause(std::chrono::milliseconds ms) {
  std::unique_lock lock(bg_mu_);
  return !bg_cv_.wait_for(lock, ms, [&] { return stop_; });
}

CompactionStats Compactor::stats() const {
  std::lock_guard lock(bg_mu_);
  return stats_;
}

void Compactor::SetMergeHookForTest(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  merge_hook_for_test_ = std::move(hook);
}

std::vector<MergeJob> Compactor::Plan(bool forced) {
  size_t waiting = 0;
  // One snapshot: the heads it holds and the files it names.
  const auto version = versions_.Current();
  const auto& segments = version->segments;
  // Retention first: what it drops need not be merged.
  auto jobs = PlanRetention(segments, RetentionAt(options_, WallClockMs(options_)));
  for (MergeJob& job : jobs) {
    // Points it would drop that are still in a head: not in the plan's
    // files, so the job waits for their flush.
    for (const Head* head : {version->active.get(), version->flushing.get()}) {
      if (head != nullptr && head->min_timestamp_ms() < job.drop_before_ms) job.wait_for_flush = true;
    }
  }
  auto merges = PlanMerges(segments, options_, WallClockMs(options_), forced, FileAgeMs, &waiting);
  // A merge holding every file of the retention jobs it meets (a whole
  // window) does their work too; one holding part of a job's files waits
  // for it.
  std::vector<bool> absorbed(jobs.size(), false);
  std::erase_if(merges, [&](MergeJob& m) {
    auto holds = [&](const auto& f) { return std::find(m.files.begin(), m.files.end(), f) != m.files.end(); };
    std::vector<size_t> met;
    bool whole = true;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const auto& files = jobs[i].files;
      if (std::none_of(files.begin(), files.end(), holds)) continue;
      met.push_back(i);
      whole = whole && std::all_of(files.begin(), files.end(), holds);
    }
    if (met.empty()) return false;
    if (!whole) return true;
    m.retention = true;
    m.drop_before_ms = jobs[met[0]].drop_before_ms;
    m.wait_for_flush = jobs[met[0]].wait_for_flush;
    for (size_t i : met) absorbed[i] = true;
    return false;
  });
  for (size_t i = jobs.size(); i-- > 0;) {
    if (absorbed[i]) jobs.erase(jobs.begin() + static_cast<std::ptrdiff_t>(i));
  }
  jobs.insert(jobs.end(), std::make_move_iterator(merges.begin()),
              std::make_move_iterator(merges.end()));
  if (forced) return jobs;
  // Jobs over a file whose merge failed lately wait for their retry time.
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(jobs, [&](const MergeJob& job) {
    return std::any_of(job.files.begin(), job.files.end(), [&](const auto& f) {
      auto it = failed_.find(f.get());
      return it != failed_.end() && it->second.retry_at > now;
    });
  });
  std::lock_guard lock(bg_mu_);
  stats_.backlog = jobs.size();
  stats_.waiting = waiting;
  return jobs;
}

bool Compactor::StillCurrent(const MergeJob& job) const {
  const auto version = versions_.Current();
  return std::all_of(job.files.begin(), job.files.end(), [&](const auto& f) {
    return std::find(version->segments.begin(), version->segments.end(), f) != version->segments.end();
  });
}

void Compactor::RecordFailure(const MergeJob& job, const Status& s) {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& f : job.files) {
    Retry& r = failed_[f.get()];
    r.failures = std::min(r.failures + 1, 12);
    r.retry_at = now + std::chrono::milliseconds(options_.compaction_interval_ms) * (1 << r.failures);
    r.file = f;  // keeps the key's reader alive while it is remembered
  }
  {
    std::lock_guard lock(bg_mu_);
    stats_.last_error = s.ToString();
  }
  options_.logger("background compaction of " + std::to_string(job.files.size()) + " files in [" +
                  std::to_string(job.start_ms) + ", " + std::to_string(job.end_ms) +
                  ") failed (retried later, with backoff): " + s.ToString());
}

Status Compactor::Merge(const Files& old, const DeleteRange* remove, bool background,
                        uint64_t* removed_points, int64_t drop_before) {
  const auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(bg_mu_);
    stats_.running = true;
  }
  struct NotRunning {
    Compactor& c;
    ~NotRunning() {
      std::lock_guard lock(c.bg_mu_);
      c.stats_.running = false;
    }
  } not_running{*this};

  // Every series, its points merged oldest file first so that the newest
  // write wins; minus the deleted range.
  std::map<SeriesId, std::string> series;  // id -> canonical key
  for (const auto& segment : old) {
    KPIDB_RETURN_IF_ERROR(segment->ForEachKey([&](SeriesId id, std::string_view canonical) {
      series.emplace(id, canonical);
      return Status::Ok();
    }));
  }
  const uint64_t number = versions_.NewFileNumber();
  const std::string path = versions_.SegmentPath(number);
  KPIDB_ASSIGN_OR_RETURN(auto writer, NewSegmentWriter(options_, path));
  // Expired rows are left out of every merge; expired points only where
  // the job holds every file sharing their buckets (PlanRetention, whose
  // cutoff `drop_before` is), so that the rows that replace them are exact.
  const Retention retention = RetentionAt(options_, WallClockMs(options_));
  const bool any_history = std::any_of(old.begin(), old.end(),
                                       [](const auto& f) { return f->has_history_rows(); });
  // A merge that stops half-way leaves no file (one no manifest names would
  // be removed at the next open anyway).
  struct Partial {
    const std::string& path;
    std::unique_ptr<SegmentWriter>& writer;
    bool keep = false;
    ~Partial() {
      if (keep) return;
      writer.reset();
      (void)RemoveFile(path);
    }
  } partial{path, writer};

  std::vector<int64_t> ts, kept_ts;
  std::vector<double> vs, kept_vs;
  std::vector<RollupTier> file_tiers;
  SegmentSeries entry;
  // Rows whose points are gone, by step and bucket (the newest file's wins).
  std::map<int64_t, std::map<int64_t, RollupRow>> history;
  uint64_t removed = 0, written = 0, expired = 0;
  std::vector<SeriesId> vanished;  // series of the old files the new one lacks
  const uint64_t rate = background ? options_.compaction_max_bytes_per_second : 0;
  constexpr auto kYield = std::chrono::milliseconds(100);
  auto worked_since = started;
  for (const auto& [id, canonical] : series) {
    if (stopping()) return Status::Unavailable("compaction stopped: the engine is closing");
    if (background) {
      if (foreground_waiting_.load() > 0) {
        return Status::Aborted("a background merge gave way to a Compact or Delete");
      }
      // Flushes first (they hold writers back once the head is full), but
      // not for ever: under sustained ingest a flush is always running, and
      // the merge must still end. It gives way for at most kYield, then
      // works for at least kYield: half the time at worst.
      if (flusher_.busy() && std::chrono::steady_clock::now() - worked_since >= kYield) {
        const auto until = std::chrono::steady_clock::now() + kYield;
        while (flusher_.busy() && foreground_waiting_.load() == 0 &&
               std::chrono::steady_clock::now() < until) {
          if (!Pause(std::chrono::milliseconds(2))) {
            return Status::Unavailable("compaction stopped: the engine is closing");
          }
        }
        worked_since = std::chrono::steady_clock::now();
      }
      if (rate > 0) {
        const auto due = started + std::chrono::microseconds(writer->file_size() * 1'000'000 / rate);
        const auto now = std::chrono::steady_clock::now();
        if (due > now && !Pause(std::chrono::duration_cast<std::chrono::milliseconds>(due - now))) {
          return Status::Unavailable("compaction stopped: the engine is closing");
        }
      }
    }
    ts.clear();
    vs.clear();
    history.clear();
    int sources = 0;
    for (const auto& segment : old) {
      const size_t before = ts.size();
      KPIDB_RETURN_IF_ERROR(segment->Read(id, INT64_MIN, INT64_MAX, &ts, &vs));
      sources += ts.size() > before;
      if (segment->has_history_rows()) {
        KPIDB_ASSIGN_OR_RETURN(bool found, segment->Find(id, &entry));
        if (found) {
          KPIDB_RETURN_IF_ERROR(segment->ReadRollup(entry, &file_tiers));
          CollectHistoryRows(file_tiers, std::span<const int64_t>(ts).subspan(before), &history);
        }
      }
    }
    if (sources > 1) SortByTimestampKeepingLast(&ts, &vs);
    if (remove != nullptr && remove->ids.count(id) > 0) {
      // Rows whose points are gone go whole if they meet the range.
      for (auto& [step, rows] : history) {
        std::erase_if(rows, [&](const auto& row) {
          return RollupBucketStart(step, row.first) < remove->end_ms &&
                 RollupBucketEnd(step, row.first) > remove->start_ms;
        });
      }
      kept_ts.clear();
      kept_vs.clear();
      AppendPointsInRange(ts, vs, INT64_MIN, remove->start_ms, &kept_ts, &kept_vs);
      if (remove->end_ms != INT64_MAX) {
        AppendPointsInRange(ts, vs, remove->end_ms, INT64_MAX, &kept_ts, &kept_vs);
      }
      removed += ts.size() - kept_ts.size();
      ts.swap(kept_ts);
      vs.swap(kept_vs);
    }
    if (!any_history && drop_before == INT64_MIN) {
      written += ts.size();
      if (!ts.empty()) KPIDB_RETURN_IF_ERROR(writer->AddSeries(id, canonical, ts, vs));
      if (ts.empty()) vanished.push_back(id);
      continue;
    }
    // The rows of every point (those about to expire included), with the
    // history rows in the buckets no point is in; expired rows left out.
    std::vector<RollupTier> tiers = writer->ComputeTiers(ts, vs);
    AddHistoryRows(history, options_.rollup_stddev, &tiers);
    for (RollupTier& tier : tiers) {
      std::erase_if(tier.rows, [&](const RollupRow& r) { return !retention.RowLive(tier.step_ms, r.bucket); });
    }
    const size_t live = static_cast<size_t>(std::lower_bound(ts.begin(), ts.end(), drop_before) - ts.begin());
    expired += live;
    const auto kept_ts_view = std::span<const int64_t>(ts).subspan(live);
    const auto kept_vs_view = std::span<const double>(vs).subspan(live);
    written += kept_ts_view.size();
    const bool any_rows = std::any_of(tiers.begin(), tiers.end(), [](const RollupTier& t) { return !t.rows.empty(); });
    if (!kept_ts_view.empty() || any_rows) {
      KPIDB_RETURN_IF_ERROR(
          writer->AddSeriesWithRows(id, canonical, kept_ts_view, kept_vs_view, std::move(tiers)));
    } else {
      vanished.push_back(id);
    }
  }
  KPIDB_RETURN_IF_ERROR(writer->Finish());
  const uint64_t bytes = writer->file_size();
  KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
  std::shared_ptr<SegmentReader> reader;
  if (writer->series_count() > 0) {
    KPIDB_ASSIGN_OR_RETURN(reader, SegmentReader::Open(path, false));
  }

  if (merge_hook_for_test_) merge_hook_for_test_();
  if (!vanished.empty() && vanished_) KPIDB_RETURN_IF_ERROR(vanished_(vanished, false));

  std::set<uint64_t> replaced;
  for (const auto& segment : old) {
    uint64_t n;
    const std::string& p = segment->path();
    if (!ParseSegmentFileName(p.substr(p.rfind('/') + 1), &n)) {
      return Status::Internal("segment with an unexpected name: " + p);
    }
    replaced.insert(n);
  }
  // From here the manifest may name the new file (a failure after its
  // rename still returns an error): never remove it; if no manifest names
  // it, the next open does.
  partial.keep = true;
  KPIDB_RETURN_IF_ERROR(versions_.ReplaceMerged(old, replaced, reader, number));
  if (!vanished.empty() && vanished_) (void)vanished_(vanished, true);
  // Readers still holding the old files keep their mappings.
  if (!reader) replaced.insert(number);  // an empty result: no file at all
  for (uint64_t n : replaced) {
    const std::string old_path = versions_.SegmentPath(n);
    Status s = RemoveFile(old_path);
    if (!s.ok()) options_.logger("could not remove " + old_path + ": " + s.ToString());
  }
  options_.logger((remove ? "rewrote " : "compacted ") + std::to_string(old.size()) +
                  " segments into " + (reader ? path : std::string("none")) + " (" +
                  std::to_string(written) + " points" +
                  (remove ? ", " + std::to_string(removed) + " deleted" : std::string()) +
                  (expired > 0 ? ", " + std::to_string(expired) + " expired" : std::string()) + ")");
  if (removed_points != nullptr) *removed_points += removed;
  std::lock_guard lock(bg_mu_);
  stats_.merges += 1;
  stats_.files_merged += old.size();
  stats_.bytes_written += reader ? bytes : 0;
  stats_.points_written += written;
  stats_.points_expired += expired;
  if (drop_before != INT64_MIN) stats_.retention_rewrites += 1;
  stats_.last_merge_unix_ms = WallClockMs(options_);
  stats_.last_merge_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::Ok();
}

Status Compactor::Compact(bool wait, uint64_t* merged) {
  if (merged != nullptr) *merged = 0;
  KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
  if (!wait) {
    std::lock_guard lock(bg_mu_);
    compact_requested_ = true;
    bg_cv_.notify_all();
    return Status::Ok();
  }
  std::unique_lock lock = LockForeground();
  // The merges due in one snapshot: files that flushes add meanwhile are
  // left for the next run, so Compact ends (but a retention job whose
  // points the head still holds flushes them, and the plan is made again).
  std::vector<MergeJob> jobs = Plan(/*forced=*/true);
  if (std::any_of(jobs.begin(), jobs.end(), [](const MergeJob& j) { return j.wait_for_flush; })) {
    KPIDB_RETURN_IF_ERROR(flusher_.Flush());
    jobs = Plan(/*forced=*/true);
  }
  for (const MergeJob& job : jobs) {
    KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
    if (job.wait_for_flush) continue;  // the next run's
    KPIDB_RETURN_IF_ERROR(
        Merge(job.files, nullptr, /*background=*/false, nullptr, job.retention ? job.drop_before_ms : INT64_MIN));
    if (merged != nullptr) *merged += job.files.size();
  }
  Plan(/*forced=*/false);  // the backlog left, for Stats
  return Status::Ok();
}


std::unique_lock<std::mutex> Compactor::LockForeground() {
  // A background merge holding mu_ sees the count and gives up between two
  // series, so a caller waits for one series' merge, not a whole file's.
  foreground_waiting_.fetch_add(1);
  std::unique_lock lock(mu_);
  foreground_waiting_.fetch_sub(1);
  return lock;
}

Status Compactor::RunPass(bool forced) {
  // Foreground callers go first: the pass takes mu_ once they are done.
  auto wait_for_foreground = [&] {
    while (foreground_waiting_.load() > 0) {
      if (!Pause(std::chrono::milliseconds(1))) return false;
    }
    return true;
  };
  std::vector<MergeJob> jobs;
  if (forced) {
    std::lock_guard lock(mu_);
    jobs = Plan(/*forced=*/true);  // what was due when asked
  }
  Status last;
  for (size_t next = 0;;) {
    if (!wait_for_foreground()) return Status::Ok();
    std::unique_lock lock(mu_);
    KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
    MergeJob job;
    if (forced) {
      // One job at a time, mu_ released between them; a job whose files
      // changed meanwhile (a Delete rewrote them) is left for the policy.
      while (next < jobs.size() && !StillCurrent(jobs[next])) ++next;
      if (next == jobs.size()) break;
      job = jobs[next++];
    } else {
      // Planned again after each merge: files flushed meanwhile count.
      auto due = Plan(/*forced=*/false);
      if (due.empty()) break;
      job = std::move(due.front());
    }
    if (job.wait_for_flush) {
      // Their files first (the next plan has them), or their rows would be
      // made without them.
      const Status flushed = flusher_.Flush();
      if (!flushed.ok()) return flushed;
      if (forced) {
        jobs = Plan(/*forced=*/true);
        next = 0;
      }
      continue;
    }
    const Status s = Merge(job.files, nullptr, /*background=*/true, nullptr,
                           job.retention ? job.drop_before_ms : INT64_MIN);
    if (s.code() == StatusCode::kAborted) {
      if (forced) --next;  // gave way: run it again after the caller
      continue;
    }
    if (!s.ok()) {
      if (stopping() || !queue_.CheckOpen().ok()) return Status::Ok();
      RecordFailure(job, s);
      last = s;
    }
  }
  std::lock_guard lock(mu_);
  Plan(/*forced=*/false);  // the backlog left, for Stats
  // Forget failures of files no longer live.
  const auto version = versions_.Current();
  std::erase_if(failed_, [&](const auto& entry) {
    return std::find(version->segments.begin(), version->segments.end(), entry.second.file) ==
           version->segments.end();
  });
  return last;
}

void Compactor::BackgroundLoop() {
  const auto interval = std::chrono::milliseconds(options_.compaction_interval_ms);
  std::unique_lock lock(bg_mu_);
  while (!stop_) {
    bg_cv_.wait_for(lock, interval, [&] { return stop_ || woken_ || compact_requested_; });
    if (stop_) break;
    const bool requested = compact_requested_;
    compact_requested_ = false;
    woken_ = false;
    if (!options_.auto_compaction && !requested) continue;
    lock.unlock();
    // Failures are logged and remembered per file (RecordFailure), with
    // backoff; the other windows go on.
    (void)RunPass(requested);
    lock.lock();
  }
}

Status Compactor::Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                         uint64_t* deleted_points) {
  if (deleted_points != nullptr) *deleted_points = 0;
  if (start_ms >= end_ms) return Status::InvalidArgument("end_ms must be after start_ms");
  if (ids.empty()) return Status::Ok();
  std::unique_lock lock = LockForeground();
  // Everything written before the call goes to segments first; points
  // written while it runs land in the new head and are kept.
  KPIDB_RETURN_IF_ERROR(flusher_.Flush());
  DeleteRange remove{std::set<SeriesId>(ids.begin(), ids.end()), start_ms, end_ms};
  auto touches = [&](const SegmentReader& segment) {
    const bool history = segment.has_history_rows();
    if (segment.max_timestamp_ms() < start_ms || segment.min_timestamp_ms() >= end_ms) return false;
    SegmentSeries entry;
    return std::any_of(remove.ids.begin(), remove.ids.end(), [&](SeriesId id) {
      // An entry that cannot be decoded counts: the merge reports it.
      auto chunks = segment.ChunksOverlapping(id, start_ms, end_ms, &entry);
      if (!chunks.ok() || !chunks->empty()) return true;
      if (!history) return false;
      auto found = segment.Find(id, &entry);
      return !found.ok() || (*found && entry.rollup_length > 0);
    });
  };
  // Each group of overlapping files that holds such points is rewritten
  // whole (its files merged), whatever partitions they were written for.
  for (const Files& group : OverlapGroups(versions_.Current()->segments)) {
    if (std::none_of(group.begin(), group.end(), [&](const auto& s) { return touches(*s); })) {
      continue;
    }
    KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
    KPIDB_RETURN_IF_ERROR(Merge(group, &remove, /*background=*/false, deleted_points, INT64_MIN));
  }
  return Status::Ok();
}

}  // namespace kpidb
