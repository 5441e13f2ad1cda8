#include "engine/core/compactor.h"

#include <algorithm>

#include "engine/common/coding.h"
#include "engine/common/file_util.h"
#include "engine/common/point_order.h"

namespace kpidb {

Compactor::Compactor(const EngineOptions& options, std::string segment_dir, VersionSet* versions,
                     Flusher* flusher, const WriteQueue* queue)
    : options_(options),
      segment_dir_(std::move(segment_dir)),
      versions_(*versions),
      flusher_(*flusher),
      queue_(*queue) {}

void Compactor::SetMergeHookForTest(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  merge_hook_for_test_ = std::move(hook);
}

// A merged file is the newest of its partition, which would put it ahead of
// a spanning file newer than some of the files merged: partitions a spanning
// file overlaps are left alone.
std::map<int64_t, std::vector<std::shared_ptr<SegmentReader>>> Compactor::SegmentsByPartition(
    const Version& version, std::vector<std::shared_ptr<SegmentReader>>* spanning) const {
  std::map<int64_t, std::vector<std::shared_ptr<SegmentReader>>> partitions;
  for (const auto& segment : version.segments) {
    const int64_t p = FloorDiv(segment->min_timestamp_ms(), options_.segment_partition_ms);
    if (FloorDiv(segment->max_timestamp_ms(), options_.segment_partition_ms) != p) {
      spanning->push_back(segment);
      continue;
    }
    partitions[p].push_back(segment);
  }
  for (const auto& s : *spanning) {
    const int64_t first = FloorDiv(s->min_timestamp_ms(), options_.segment_partition_ms);
    const int64_t last = FloorDiv(s->max_timestamp_ms(), options_.segment_partition_ms);
    partitions.erase(partitions.lower_bound(first), partitions.upper_bound(last));
  }
  return partitions;
}

Status Compactor::Merge(const std::vector<std::shared_ptr<SegmentReader>>& old,
                        const DeleteRange* remove, uint64_t* removed_points) {
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
  KPIDB_ASSIGN_OR_RETURN(auto writer,
                         SegmentWriter::Create(path, options_.max_points_per_chunk,
                                               options_.rollup_tiers_ms, options_.rollup_stddev));
  std::vector<int64_t> ts, kept_ts;
  std::vector<double> vs, kept_vs;
  uint64_t removed = 0, written = 0;
  for (const auto& [id, canonical] : series) {
    ts.clear();
    vs.clear();
    int sources = 0;
    for (const auto& segment : old) {
      const size_t before = ts.size();
      KPIDB_RETURN_IF_ERROR(segment->Read(id, INT64_MIN, INT64_MAX, &ts, &vs));
      sources += ts.size() > before;
    }
    if (sources > 1) SortByTimestampKeepingLast(&ts, &vs);
    if (remove != nullptr && remove->ids.count(id) > 0) {
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
    written += ts.size();
    if (!ts.empty()) KPIDB_RETURN_IF_ERROR(writer->AddSeries(id, canonical, ts, vs));
  }
  KPIDB_RETURN_IF_ERROR(writer->Finish());
  KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
  std::shared_ptr<SegmentReader> reader;
  if (written > 0) {
    KPIDB_ASSIGN_OR_RETURN(reader, SegmentReader::Open(path, false));
  }

  if (merge_hook_for_test_) merge_hook_for_test_();

  std::set<uint64_t> replaced;
  for (const auto& segment : old) {
    uint64_t n;
    const std::string& p = segment->path();
    if (!ParseSegmentFileName(p.substr(p.rfind('/') + 1), &n)) {
      return Status::Internal("segment with an unexpected name: " + p);
    }
    replaced.insert(n);
  }
  KPIDB_RETURN_IF_ERROR(versions_.ReplaceMerged(old, replaced, reader, number));
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
                  (remove ? ", " + std::to_string(removed) + " deleted" : std::string()) + ")");
  if (removed_points != nullptr) *removed_points += removed;
  return Status::Ok();
}

Status Compactor::Compact(uint64_t* merged) {
  if (merged != nullptr) *merged = 0;
  std::lock_guard lock(mu_);
  KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
  // The partitions to merge are those of one snapshot: files that flushes
  // add meanwhile are left for the next run, so Compact ends.
  std::vector<std::shared_ptr<SegmentReader>> spanning;
  const auto partitions = SegmentsByPartition(*versions_.Current(), &spanning);
  for (const auto& [partition, segments] : partitions) {
    if (segments.size() < 2) continue;
    KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
    KPIDB_RETURN_IF_ERROR(Merge(segments, nullptr, nullptr));
    if (merged != nullptr) *merged += segments.size();
  }
  return Status::Ok();
}

Status Compactor::Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                         uint64_t* deleted_points) {
  if (deleted_points != nullptr) *deleted_points = 0;
  if (start_ms >= end_ms) return Status::InvalidArgument("end_ms must be after start_ms");
  if (ids.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  // Everything written before the call goes to segments first; points
  // written while it runs land in the new head and are kept.
  KPIDB_RETURN_IF_ERROR(flusher_.Flush());
  DeleteRange remove{std::set<SeriesId>(ids.begin(), ids.end()), start_ms, end_ms};
  auto touches = [&](const SegmentReader& segment) {
    SegmentSeries entry;
    return std::any_of(remove.ids.begin(), remove.ids.end(), [&](SeriesId id) {
      // An entry that cannot be decoded counts: the merge reports it.
      auto chunks = segment.ChunksOverlapping(id, start_ms, end_ms, &entry);
      return !chunks.ok() || !chunks->empty();
    });
  };
  std::vector<std::shared_ptr<SegmentReader>> spanning;
  auto partitions = SegmentsByPartition(*versions_.Current(), &spanning);
  for (const auto& s : spanning) {
    if (touches(*s)) {
      return Status::FailedPrecondition(
          "segment " + s->path() + " spans several partitions (written with another "
          "segment_partition_ms) and holds points to delete; nothing was deleted");
    }
  }
  for (const auto& [partition, segments] : partitions) {
    if (std::none_of(segments.begin(), segments.end(),
                     [&](const auto& s) { return touches(*s); })) {
      continue;
    }
    KPIDB_RETURN_IF_ERROR(Merge(segments, &remove, deleted_points));
  }
  return Status::Ok();
}

}  // namespace kpidb
