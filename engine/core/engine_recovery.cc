// Part of EngineCore (engine_core.h): recovery when a data dir is opened.
#include "engine/core/engine_core.h"

#include <algorithm>

namespace kpidb {

Result<std::vector<std::shared_ptr<SegmentReader>>> EngineCore::OpenSegments(Manifest* manifest,
                                                                       uint64_t known_below) {
  std::vector<std::shared_ptr<SegmentReader>> readers;
  std::vector<uint64_t> live;
  for (uint64_t number : manifest->segments) {
    const std::string path = versions_.SegmentPath(number);
    auto reader = SegmentReader::Open(path, options_.verify_segments_on_open);
    Status s = reader.ok() ? Status::Ok() : reader.status();
    if (s.ok() && number >= known_below) {
      // series.log holds every series of a segment in the manifest (a flush
      // appends to it before installing its segments), so this registers
      // nothing unless series.log lost definitions; a known id is not
      // compared key for key (both files are checksummed): a million series
      // reopen without a million key comparisons.
      s = (*reader)->ForEachKey([&](SeriesId id, std::string_view canonical) {
        if (index_.Contains(id)) return Status::Ok();
        Status r = index_.Register(id, canonical);
        return r.ok() ? r : Status::Corruption("segment " + path + ": " + r.message());
      });
      // The keys were read again (Open had dropped its pages): drop them too.
      (*reader)->DropResidentPages();
    }
    if (!s.ok() && !s.IsCorruption() && !s.IsNotFound()) {
      return s;  // an I/O problem, not bad data: fail rather than drop the segment
    }
    if (!s.ok()) {
      // Quarantine: move it aside, keep serving everything else.
      const std::string aside = JoinPath(JoinPath(dir_, "quarantine"), SegmentFileName(number));
      options_.logger("quarantining corrupt segment " + path + " -> " + aside + ": " +
                      s.ToString());
      if (FileExists(path)) {
        KPIDB_RETURN_IF_ERROR(RenameFile(path, aside));
        KPIDB_RETURN_IF_ERROR(SyncDir(JoinPath(dir_, "quarantine")));
        KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
      }
      quarantined_.fetch_add(1);
      continue;
    }
    live.push_back(number);
    readers.push_back(std::shared_ptr<SegmentReader>(std::move(reader).value()));
  }
  manifest->segments = live;
  return readers;
}

Result<EngineCore::Recovered> EngineCore::Recover() {
  Manifest manifest;
  auto read_manifest = ReadManifest(dir_);
  if (read_manifest.ok()) {
    manifest = std::move(read_manifest).value();
  } else if (!read_manifest.status().IsNotFound()) {
    return read_manifest.status();
  } else {
    // No manifest: a new dir, or a lost manifest. Never treat segments as
    // orphans (and delete them) without one.
    KPIDB_ASSIGN_OR_RETURN(auto existing, ListDir(segment_dir_));
    for (const std::string& name : existing) {
      uint64_t number;
      if (ParseSegmentFileName(name, &number)) {
        return Status::Corruption(JoinPath(dir_, "MANIFEST") + " is missing but " + segment_dir_ +
                                  " holds segment files; restore the manifest or move the "
                                  "segments aside");
      }
    }
  }
  Recovered recovered;
  uint64_t segments_known_below = 0;
  {
    // series.idx, if it matches series.log, holds the index up to a point
    // of it: only what series.log gained since is registered one by one.
    std::unique_ptr<const IndexSnapshot> snapshot;
    SeriesLog::Resume resume;
    const std::string snapshot_path = JoinPath(dir_, kIndexSnapshotFileName);
    if (options_.index_snapshots && FileExists(snapshot_path)) {
      auto opened = IndexSnapshot::Open(snapshot_path);
      if (opened.ok()) {
        snapshot = std::move(opened).value();
        resume = {snapshot->coverage().series_log_bytes, snapshot->coverage().series_log_tail_hash};
      } else {
        options_.logger("ignoring " + snapshot_path + " (the index is rebuilt from series.log): " +
                        opened.status().ToString());
      }
    }
    SeriesLog::Stored stored;
    KPIDB_ASSIGN_OR_RETURN(recovered.series_log,
                           SeriesLog::Open(JoinPath(dir_, "series.log"), options_.logger, &stored,
                                           snapshot ? &resume : nullptr));
    if (snapshot && !stored.resumed) {
      options_.logger("ignoring " + snapshot_path + " (the index is rebuilt from series.log): " +
                      "series.log does not hold the " + std::to_string(resume.bytes) +
                      " bytes it was taken at");
      snapshot.reset();
    }
    if (snapshot) {
      segments_known_below = snapshot->coverage().segments_below;
      recovered.snapshot_series = snapshot->series();
      KPIDB_RETURN_IF_ERROR(index_.Adopt(std::move(snapshot)));
    }
    // A snapshot being written when the process stopped.
    KPIDB_RETURN_IF_ERROR(RemoveFile(snapshot_path + ".tmp"));
    index_.Reserve(stored.definitions.size());
    for (const auto& [id, canonical] : stored.definitions) {
      Status s = index_.Register(id, canonical);
      if (!s.ok()) return Status::Corruption(JoinPath(dir_, "series.log") + ": " + s.message());
    }
  }
  auto version = std::make_shared<Version>();
  version->active = std::make_shared<Head>(head_slabs_);
  KPIDB_ASSIGN_OR_RETURN(version->segments, OpenSegments(&manifest, segments_known_below));
  // Everything known so far is in series.log or a segment; the WAL's new
  // series follow (and reach series.log with the next flush).
  recovered.logged_series = static_cast<SeriesRef>(index_.size());

  // Files a crashed flush left behind (not in the manifest) hold nothing the
  // WAL does not: remove them.
  // Numbers below segments_known_below were handed out before the snapshot
  // was taken (some perhaps to files never made): never again, or a new
  // segment would skip the key check that the snapshot vouches for only
  // older ones.
  uint64_t max_number = std::max(manifest.next_file_number, segments_known_below);
  KPIDB_ASSIGN_OR_RETURN(auto names, ListDir(segment_dir_));
  for (const std::string& name : names) {
    if (name.ends_with(std::string(".kps") + std::string(SegmentWriter::kSpillSuffix))) {
      options_.logger("removing a crashed flush's index spill " + JoinPath(segment_dir_, name));
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(segment_dir_, name)));
      continue;
    }
    uint64_t number;
    bool known = ParseSegmentFileName(name, &number) &&
                 std::find(manifest.segments.begin(), manifest.segments.end(), number) !=
                     manifest.segments.end();
    if (ParseSegmentFileName(name, &number)) max_number = std::max(max_number, number + 1);
    if (!known && ParseSegmentFileName(name, &number)) {
      options_.logger("removing unreferenced file " + JoinPath(segment_dir_, name));
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(segment_dir_, name)));
    }
  }

  Head* head = version->active.get();
  WalReplayStats stats;
  uint64_t max_wal = 0;
  KPIDB_RETURN_IF_ERROR(ReplayWal(
      wal_dir_, manifest.wal_checkpoint, options_.logger,
      [&](std::vector<WalSeriesEntry>& entries) -> Status {
        for (WalSeriesEntry& e : entries) {
          if (!e.canonical.empty()) {
            KPIDB_RETURN_IF_ERROR(index_.Register(e.id, e.canonical));
            log_.new_series.push_back(e.id);
          } else if (!index_.Key(e.id)) {
            return Status::Corruption("WAL refers to undefined series id " +
                                      std::to_string(e.id));
          }
          head->Append(e.id, e.timestamps, e.values);
        }
        return Status::Ok();
      },
      &stats, &max_wal));
  max_number = std::max(max_number, max_wal + 1);

  // WAL files below the checkpoint were flushed before a crash.
  KPIDB_RETURN_IF_ERROR(RemoveWalFilesBefore(wal_dir_, manifest.wal_checkpoint));

  KPIDB_ASSIGN_OR_RETURN(log_.wal, WalWriter::Create(wal_dir_, max_number));
  const size_t segments = manifest.segments.size();
  KPIDB_RETURN_IF_ERROR(versions_.Reset(std::move(manifest), std::move(version), max_number + 1));
  options_.logger("opened " + dir_ + ": " + std::to_string(index_.size()) + " series (" +
                  std::to_string(recovered.snapshot_series) + " from series.idx), " +
                  std::to_string(segments) + " segments, replayed " +
                  std::to_string(stats.records) + " WAL records (" +
                  std::to_string(stats.points) + " points) from " +
                  std::to_string(stats.files) + " files");
  return recovered;
}

}  // namespace kpidb
