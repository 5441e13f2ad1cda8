// Part of EngineCore (engine_core.h): flushing the head to segments, and the background thread.
#include "engine/core/engine_core.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "engine/common/coding.h"

namespace kpidb {

Status EngineCore::Flush() {
  std::lock_guard lock(flush_mu_);
  KPIDB_RETURN_IF_ERROR(CheckOpen());
  return FlushLocked();
}

Status EngineCore::CheckOpen() {
  std::lock_guard lock(queue_mu_);
  if (closed_) return Status::Unavailable("engine " + dir_ + " is closed");
  return Status::Ok();
}

Status EngineCore::FlushLocked() {
  // A head frozen by an earlier, failed flush goes first.
  if (State()->flushing) KPIDB_RETURN_IF_ERROR(WriteFrozenHead());
  {
    // Freeze the head and start a new WAL file: everything before it is in
    // the frozen head, so once segments hold it the old files can go.
    std::lock_guard wal_lock(wal_mu_);
    auto state = State();
    if (state->active->empty()) return Status::Ok();
    if (options_.wal_sync != WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(wal_->Sync());
    KPIDB_ASSIGN_OR_RETURN(wal_, WalWriter::Create(wal_dir_, next_file_number_++));
    flushing_checkpoint_ = wal_->file_number();
    flushing_series_.insert(flushing_series_.end(), new_series_.begin(), new_series_.end());
    new_series_.clear();
    auto next = std::make_shared<ReadState>(*state);
    next->flushing = state->active;
    next->active = std::make_shared<Head>(head_slabs_);
    SetState(next);
  }
  {
    std::lock_guard bg(bg_mu_);
    flush_done_cv_.notify_all();  // writers waiting for room go on in the new head
  }
  return WriteFrozenHead();
}

Status EngineCore::WriteFrozenHead() {
  auto state = State();
  std::vector<uint64_t> numbers;
  KPIDB_RETURN_IF_ERROR(WriteSegments(*state->flushing, &numbers));
  KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
  KPIDB_RETURN_IF_ERROR(series_log_->Append(flushing_series_));
  std::vector<std::shared_ptr<SegmentReader>> readers;
  for (uint64_t number : numbers) {
    KPIDB_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(SegmentPath(number), false));
    readers.push_back(std::move(reader));
  }
  Manifest next_manifest = manifest_;
  next_manifest.segments.insert(next_manifest.segments.end(), numbers.begin(), numbers.end());
  next_manifest.wal_checkpoint = flushing_checkpoint_;
  next_manifest.next_file_number = next_file_number_;
  KPIDB_RETURN_IF_ERROR(WriteManifest(dir_, next_manifest));
  manifest_ = std::move(next_manifest);
  flushing_series_.clear();
  {
    std::unique_lock lock(state_mu_);
    auto next = std::make_shared<ReadState>(*state_);
    next->flushing = nullptr;
    next->segments.insert(next->segments.end(), readers.begin(), readers.end());
    state_ = next;
  }
  KPIDB_ASSIGN_OR_RETURN(auto wal_names, ListDir(wal_dir_));
  for (const std::string& name : wal_names) {
    uint64_t number;
    if (ParseWalFileName(name, &number) && number < manifest_.wal_checkpoint) {
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(wal_dir_, name)));
    }
  }
  flushes_.fetch_add(1);
  options_.logger("flushed " + std::to_string(state->flushing->points()) + " points into " +
                  std::to_string(numbers.size()) + " segment files");
  {
    std::lock_guard bg(bg_mu_);
    flush_done_cv_.notify_all();
  }
  return Status::Ok();
}

Status EngineCore::WriteSegments(const Head& head, std::vector<uint64_t>* numbers) {
  std::map<int64_t, std::pair<uint64_t, std::unique_ptr<SegmentWriter>>> writers;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (SeriesId id : head.Ids()) {
    ts.clear();
    vs.clear();
    head.Read(id, INT64_MIN, INT64_MAX, &ts, &vs);
    if (ts.empty()) continue;
    auto canonical = index_.Canonical(id);
    if (!canonical) return Status::Internal("head holds unknown series " + std::to_string(id));
    size_t start = 0;
    while (start < ts.size()) {
      const int64_t partition = FloorDiv(ts[start], options_.segment_partition_ms);
      size_t end = start + 1;
      while (end < ts.size() && FloorDiv(ts[end], options_.segment_partition_ms) == partition) ++end;
      auto& slot = writers[partition];
      if (!slot.second) {
        slot.first = next_file_number_++;
        KPIDB_ASSIGN_OR_RETURN(slot.second, SegmentWriter::Create(SegmentPath(slot.first),
                                                                  options_.max_points_per_chunk,
                                                                  options_.rollup_tiers_ms,
                                                                  options_.rollup_stddev));
      }
      KPIDB_RETURN_IF_ERROR(slot.second->AddSeries(
          id, *canonical, std::span<const int64_t>(ts).subspan(start, end - start),
          std::span<const double>(vs).subspan(start, end - start)));
      start = end;
    }
  }
  for (auto& [partition, slot] : writers) {
    KPIDB_RETURN_IF_ERROR(slot.second->Finish());
    numbers->push_back(slot.first);
  }
  std::sort(numbers->begin(), numbers->end());
  return Status::Ok();
}

void EngineCore::BackgroundLoop() {
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
      std::lock_guard flush_lock(flush_mu_);
      flushed = FlushLocked();
    }
    if (options_.wal_sync == WalSyncPolicy::kInterval) {
      std::lock_guard wal_lock(wal_mu_);
      Status s = wal_->Sync();
      if (!s.ok()) options_.logger("WAL sync failed: " + s.ToString());
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
