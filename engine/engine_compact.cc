// Part of Engine (engine.h): compaction, merging the segments of a time
// partition into one.
#include <algorithm>
#include <map>
#include <set>

#include "engine/coding.h"
#include "engine/engine.h"
#include "engine/point_order.h"

namespace kpidb {

Status Engine::Compact(uint64_t* merged) {
  if (merged != nullptr) *merged = 0;
  while (true) {
    std::lock_guard lock(flush_mu_);
    {
      std::lock_guard queue_lock(queue_mu_);
      if (closed_) return Status::Unavailable("engine " + dir_ + " is closed");
    }
    auto state = State();
    // Segments by partition, oldest first.
    std::map<int64_t, std::vector<std::shared_ptr<SegmentReader>>> partitions;
    std::vector<std::shared_ptr<SegmentReader>> spanning;
    for (const auto& segment : state->segments) {
      const int64_t p = FloorDiv(segment->min_timestamp_ms(), options_.segment_partition_ms);
      // A file spanning partitions (written with another segment_partition_ms)
      // stays as it is...
      if (FloorDiv(segment->max_timestamp_ms(), options_.segment_partition_ms) != p) {
        spanning.push_back(segment);
        continue;
      }
      partitions[p].push_back(segment);
    }
    // ...and so do the partitions it overlaps: the merged file is the newest,
    // which would put it ahead of a spanning file that is newer than some of
    // the files merged.
    for (const auto& s : spanning) {
      const int64_t first = FloorDiv(s->min_timestamp_ms(), options_.segment_partition_ms);
      const int64_t last = FloorDiv(s->max_timestamp_ms(), options_.segment_partition_ms);
      partitions.erase(partitions.lower_bound(first), partitions.upper_bound(last));
    }
    auto group = std::find_if(partitions.begin(), partitions.end(),
                              [](const auto& entry) { return entry.second.size() > 1; });
    if (group == partitions.end()) return Status::Ok();
    const std::vector<std::shared_ptr<SegmentReader>>& old = group->second;

    // Every series of the partition, its points merged oldest file first so
    // that the newest write wins.
    std::map<SeriesId, std::string> series;  // id -> canonical key
    for (const auto& segment : old) {
      for (const SegmentSeries& s : segment->series()) series.emplace(s.id, s.canonical);
    }
    const uint64_t number = next_file_number_++;
    KPIDB_ASSIGN_OR_RETURN(auto writer,
                           SegmentWriter::Create(SegmentPath(number), options_.max_points_per_chunk,
                                                 options_.rollup_tiers_ms, options_.rollup_stddev));
    std::vector<int64_t> ts;
    std::vector<double> vs;
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
      if (!ts.empty()) KPIDB_RETURN_IF_ERROR(writer->AddSeries(id, canonical, ts, vs));
    }
    KPIDB_RETURN_IF_ERROR(writer->Finish());
    KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
    KPIDB_ASSIGN_OR_RETURN(std::shared_ptr<SegmentReader> reader,
                           SegmentReader::Open(SegmentPath(number), false));

    std::set<uint64_t> replaced;
    for (const auto& segment : old) {
      uint64_t n;
      const std::string& path = segment->path();
      if (!ParseSegmentFileName(path.substr(path.rfind('/') + 1), &n)) {
        return Status::Internal("segment with an unexpected name: " + path);
      }
      replaced.insert(n);
    }
    Manifest next_manifest = manifest_;
    std::erase_if(next_manifest.segments, [&](uint64_t n) { return replaced.count(n) > 0; });
    next_manifest.segments.push_back(number);  // the newest number: still in age order
    next_manifest.next_file_number = next_file_number_;
    KPIDB_RETURN_IF_ERROR(WriteManifest(dir_, next_manifest));
    manifest_ = std::move(next_manifest);
    {
      std::unique_lock state_lock(state_mu_);
      auto next = std::make_shared<ReadState>(*state_);
      std::erase_if(next->segments, [&](const std::shared_ptr<SegmentReader>& s) {
        return std::find(old.begin(), old.end(), s) != old.end();
      });
      next->segments.push_back(reader);
      state_ = next;
    }
    // Readers still holding the old files keep their mappings.
    for (uint64_t n : replaced) {
      Status s = RemoveFile(SegmentPath(n));
      if (!s.ok()) options_.logger("compaction: could not remove " + SegmentPath(n) + ": " + s.ToString());
    }
    options_.logger("compacted " + std::to_string(old.size()) + " segments of partition " +
                    std::to_string(group->first) + " into " + SegmentPath(number) + " (" +
                    std::to_string(reader->point_count()) + " points)");
    if (merged != nullptr) *merged += old.size();
  }
}

}  // namespace kpidb
