#include "engine/core/flusher.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "engine/common/coding.h"
#include "engine/common/file_util.h"

namespace kpidb {

Flusher::Flusher(Deps deps)
    : options_(*deps.options),
      wal_dir_(std::move(deps.wal_dir)),
      segment_dir_(std::move(deps.segment_dir)),
      log_(*deps.log),
      versions_(*deps.versions),
      index_(*deps.index),
      queue_(*deps.queue),
      head_slabs_(std::move(deps.head_slabs)),
      series_log_(std::move(deps.series_log)),
      logged_series_(deps.logged_series),
      logged_bytes_(series_log_->bytes()),
      snapshot_series_(deps.snapshot_series),
      index_snapshot_path_(std::move(deps.index_snapshot_path)) {}

Flusher::~Flusher() { Stop(); }

void Flusher::Start() {
  bg_thread_ = std::thread([this] { BackgroundLoop(); });
}

void Flusher::Stop() {
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
    bg_cv_.notify_all();
    flush_done_cv_.notify_all();  // writers waiting for room must not wait for it
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  std::lock_guard lock(mu_);  // a flush in progress ends first
}

Status Flusher::Flush() {
  std::lock_guard lock(mu_);
  KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
  return FlushLocked();
}

void Flusher::RequestFlush() {
  std::lock_guard lock(bg_mu_);
  flush_requested_ = true;
  bg_cv_.notify_one();
}

void Flusher::NotifyFlushDone() {
  std::lock_guard lock(bg_mu_);
  flush_done_cv_.notify_all();
}

Status Flusher::WaitForRoom(const std::function<bool()>& full) {
  if (!full()) return Status::Ok();
  std::unique_lock lock(bg_mu_);
  while (full() && !bg_stop_ && last_flush_error_.ok()) {
    flush_requested_ = true;
    bg_cv_.notify_one();
    flush_done_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (!last_flush_error_.ok() && !bg_stop_) {
    return Status::Unavailable("the head is full and flushing it failed (retrying): " +
                               last_flush_error_.ToString());
  }
  return Status::Ok();
}

Status Flusher::FlushLocked() {
  busy_ = true;
  struct Done {
    std::atomic<bool>& busy;
    ~Done() { busy = false; }
  } done{busy_};
  // A head frozen by an earlier, failed flush goes first.
  if (versions_.Current()->flushing) KPIDB_RETURN_IF_ERROR(WriteFrozenHead());
  {
    // Freeze the head and start a new WAL file: everything before it is in
    // the frozen head, so once segments hold it the old files can go.
    std::lock_guard wal_lock(log_.mu);
    if (versions_.Current()->active->empty()) return Status::Ok();
    if (options_.wal_sync != WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(log_.wal->Sync());
    KPIDB_ASSIGN_OR_RETURN(log_.wal, WalWriter::Create(wal_dir_, versions_.NewFileNumber()));
    flushing_checkpoint_ = log_.wal->file_number();
    flushing_series_.insert(flushing_series_.end(), log_.new_series.begin(), log_.new_series.end());
    log_.new_series.clear();
    // Every series registered so far is logged, or in flushing_series_.
    frozen_series_ = static_cast<SeriesRef>(index_.size());
    versions_.FreezeHead(std::make_shared<Head>(head_slabs_));
  }
  NotifyFlushDone();  // writers waiting for room go on in the new head
  return WriteFrozenHead();
}

Status Flusher::WriteFrozenHead() {
  const std::shared_ptr<const Version> version = versions_.Current();
  const Head& head = *version->flushing;
  std::vector<uint64_t> numbers;
  KPIDB_RETURN_IF_ERROR(WriteSegments(head, &numbers));
  KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
  KPIDB_RETURN_IF_ERROR(LogFlushingSeries());
  logged_series_ = std::max(logged_series_, frozen_series_);
  logged_bytes_ = series_log_->bytes();
  std::vector<std::shared_ptr<SegmentReader>> readers;
  for (uint64_t number : numbers) {
    KPIDB_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(versions_.SegmentPath(number), false));
    readers.push_back(std::move(reader));
  }
  KPIDB_RETURN_IF_ERROR(versions_.AddFlushed(numbers, std::move(readers), flushing_checkpoint_));
  flushing_series_.clear();
  KPIDB_RETURN_IF_ERROR(RemoveWalFilesBefore(wal_dir_, flushing_checkpoint_));
  flushes_.fetch_add(1);
  if (on_flushed_) on_flushed_();
  options_.logger("flushed " + std::to_string(head.points()) + " points into " +
                  std::to_string(numbers.size()) + " segment files");
  NotifyFlushDone();
  return Status::Ok();
}

void Flusher::WriteIndexSnapshotAtClose() {
  std::lock_guard lock(mu_);
  MaybeWriteIndexSnapshot(/*at_close=*/true);
}

void Flusher::MaybeWriteIndexSnapshot(bool at_close) {
  if (!options_.index_snapshots || logged_series_ <= snapshot_series_) return;
  const SeriesRef fresh = logged_series_ - snapshot_series_;
  if (!at_close && fresh < std::max<SeriesRef>(snapshot_series_, 1024)) return;
  const auto start = std::chrono::steady_clock::now();
  auto point = series_log_->ResumePoint(logged_bytes_);
  Status s = point.status();
  if (s.ok()) {
    // Segments allocated so far hold only logged series: flushes log their
    // series before installing them, and a merge's are its inputs'.
    const SnapshotCoverage cover{point->bytes, point->tail_hash, versions_.NextFileNumber()};
    const std::string tmp = index_snapshot_path_ + ".tmp";
    s = index_.WriteSnapshot(tmp, logged_series_, cover);
    if (s.ok()) s = InstallIndexSnapshot(tmp, index_snapshot_path_);
  }
  if (!s.ok()) {
    options_.logger("writing " + index_snapshot_path_ + " failed (the next open replays series.log): " +
                    s.ToString());
    return;
  }
  snapshot_series_ = logged_series_;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  options_.logger("wrote " + index_snapshot_path_ + ": " + std::to_string(snapshot_series_) +
                  " series in " + std::to_string(ms) + " ms");
}

Status Flusher::LogFlushingSeries() {
  // In parts, synced once: a million new series' definitions at once would
  // be a 24 MB vector, during the flush, when memory peaks.
  constexpr size_t kPart = 16384;
  std::vector<SeriesLog::DefinitionView> definitions;
  definitions.reserve(std::min(kPart, flushing_series_.size()));
  for (size_t i = 0; i < flushing_series_.size(); i += kPart) {
    definitions.clear();
    for (size_t k = i; k < std::min(i + kPart, flushing_series_.size()); ++k) {
      const SeriesId id = flushing_series_[k];
      auto canonical = index_.CanonicalView(id);
      if (!canonical) return Status::Internal("a new series is missing from the index: " + std::to_string(id));
      definitions.emplace_back(id, *canonical);
    }
    KPIDB_RETURN_IF_ERROR(series_log_->AppendUnsynced(definitions));
  }
  return flushing_series_.empty() ? Status::Ok() : series_log_->Sync();
}

Result<std::unique_ptr<SegmentWriter>> NewSegmentWriter(const EngineOptions& options,
                                                        const std::string& path) {
  // Rows that will outlive their points are built for every series. A
  // single row answers nothing that the chunks' stats do not, but stddev.
  const bool rows_outlive_points = options.raw_retention_ms > 0;
  return SegmentWriter::Create(path, options.max_points_per_chunk, options.rollup_tiers_ms,
                               options.rollup_stddev,
                               rows_outlive_points ? 1 : options.rollup_min_points_per_row,
                               /*skip_single_row_tiers=*/!rows_outlive_points &&
                                   !options.rollup_stddev);
}

Status Flusher::WriteSegments(const Head& head, std::vector<uint64_t>* numbers) {
  std::map<int64_t, std::pair<uint64_t, std::unique_ptr<SegmentWriter>>> writers;
  KPIDB_RETURN_IF_ERROR(head.ForEachSeries([&](SeriesId id, std::span<const int64_t> ts,
                                                std::span<const double> vs) -> Status {
    auto canonical = index_.CanonicalView(id);  // stable: keys never move
    if (!canonical) return Status::Internal("head holds unknown series " + std::to_string(id));
    size_t start = 0;
    while (start < ts.size()) {
      const int64_t partition = FloorDiv(ts[start], options_.segment_partition_ms);
      size_t end = start + 1;
      while (end < ts.size() && FloorDiv(ts[end], options_.segment_partition_ms) == partition) ++end;
      auto& slot = writers[partition];
      if (!slot.second) {
        slot.first = versions_.NewFileNumber();
        KPIDB_ASSIGN_OR_RETURN(slot.second,
                               NewSegmentWriter(options_, versions_.SegmentPath(slot.first)));
      }
      KPIDB_RETURN_IF_ERROR(slot.second->AddSeries(id, *canonical, ts.subspan(start, end - start),
                                                   vs.subspan(start, end - start)));
      start = end;
    }
    return Status::Ok();
  }));
  for (auto& [partition, slot] : writers) {
    KPIDB_RETURN_IF_ERROR(slot.second->Finish());
    numbers->push_back(slot.first);
  }
  std::sort(numbers->begin(), numbers->end());
  return Status::Ok();
}

void Flusher::BackgroundLoop() {
  const auto period = options_.wal_sync == WalSyncPolicy::kInterval
                          ? std::chrono::milliseconds(options_.wal_sync_interval_ms)
                          : std::chrono::milliseconds(1000);
  std::chrono::milliseconds retry_delay{0};  // after a failed flush, with backoff
  std::unique_lock lock(bg_mu_);
  while (!bg_stop_) {
    if (retry_delay.count() > 0) {
      bg_cv_.wait_for(lock, retry_delay, [&] { return bg_stop_; });
    } else {
      bg_cv_.wait_for(lock, period, [&] { return bg_stop_ || flush_requested_; });
    }
    if (bg_stop_) break;
    const bool flush = flush_requested_;
    flush_requested_ = false;
    lock.unlock();
    Status flushed;
    if (flush) {
      std::lock_guard flush_lock(mu_);
      flushed = FlushLocked();
    }
    if (options_.wal_sync == WalSyncPolicy::kInterval) {
      std::lock_guard wal_lock(log_.mu);
      Status s = log_.wal->Sync();
      if (!s.ok()) options_.logger("WAL sync failed: " + s.ToString());
    }
    if (!flush) {
      // A quiet tick (no flush asked for), the WAL synced: the time to
      // snapshot the index, if enough series were logged since the last.
      std::lock_guard flush_lock(mu_);
      MaybeWriteIndexSnapshot(/*at_close=*/false);
    }
    lock.lock();
    if (flush) {
      last_flush_error_ = flushed;
      if (flushed.ok()) {
        retry_delay = std::chrono::milliseconds(0);
      } else {
        retry_delay = std::min<std::chrono::milliseconds>(
            std::max<std::chrono::milliseconds>(2 * retry_delay, std::chrono::milliseconds(100)),
            std::chrono::milliseconds(5000));
        flush_requested_ = true;  // keep asking until a flush succeeds
        options_.logger("background flush failed, retrying in " +
                        std::to_string(retry_delay.count()) + " ms: " + flushed.ToString());
      }
    }
    flush_done_cv_.notify_all();
  }
}

}  // namespace kpidb
