// Segment files: immutable, columnar, one time partition each. Written once
// by SegmentWriter at flush (or compaction), then only read. The byte layout
// is documented in docs/segment-format.md:
//
//   header(16) | (chunk* rollup-block?)* | index | footer(72)
//
// The index lists, per series (increasing id), its canonical key, its
// chunks with their offset, length and stats, and its rollup block (rollup.h),
// so a reader can answer aggregations from rollups and stats and decode only
// the chunks it needs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/codec/chunk.h"
#include "engine/common/file_util.h"
#include "engine/segment/rollup.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

inline constexpr char kSegmentMagic[] = "KPIDBSEG";
// Version 3 (written): the index starts with the tier steps present, and a
// series may hold rollup rows without points (history whose raw points have
// expired). Version 2 files (no such entries) are still read.
inline constexpr uint32_t kSegmentFormatVersion = 3;
inline constexpr uint32_t kOldestSegmentFormatVersion = 2;
inline constexpr size_t kSegmentHeaderSize = 16;
inline constexpr size_t kSegmentFooterSize = 72;

// Segment files are named segments/<20-digit number>.kps.
std::string SegmentFileName(uint64_t number);
bool ParseSegmentFileName(std::string_view name, uint64_t* number);

struct ChunkMeta {
  uint64_t offset = 0;  // in the file
  uint32_t length = 0;
  ChunkStats stats;
};

// A series' entry in a segment's index, decoded.
struct SegmentSeries {
  SeriesId id = 0;
  // The series key, so a segment is self-describing: a view into the
  // reader's mapping (or the writer's scratch), valid as long as they live.
  std::string_view canonical;
  std::vector<ChunkMeta> chunks;  // in time order, non-overlapping
  // The rollup block of these points (all tiers), if any (length 0: none).
  uint64_t rollup_offset = 0;
  uint32_t rollup_length = 0;

  // The chunks holding points in [start_ms, end_ms): a run of `chunks`.
  std::span<const ChunkMeta> ChunksOverlapping(int64_t start_ms, int64_t end_ms) const;
};

// Writes one segment file. Not thread-safe.
class SegmentWriter {
 public:
  // `max_points_per_chunk` in [1, kMaxChunkPoints]; `rollup_steps_ms`:
  // the tiers to build for every series, increasing (empty: none), with m2
  // (for stddev) when `rollup_m2`. A series' tier whose rows would summarise
  // fewer than `rollup_min_points_per_row` points each on average is left
  // out for that series (its scans read the points, which are few), and so
  // is one with a single row when `skip_single_row_tiers` (the chunks'
  // stats then answer every bucket the row would).
  static Result<std::unique_ptr<SegmentWriter>> Create(const std::string& path,
                                                       uint32_t max_points_per_chunk,
                                                       std::vector<int64_t> rollup_steps_ms = {},
                                                       bool rollup_m2 = false,
                                                       uint32_t rollup_min_points_per_row = 1,
                                                       bool skip_single_row_tiers = false);
  // REQUIRES: ids strictly increasing across calls; timestamps strictly
  // increasing, non-empty, same length as values. After an error the writer
  // is in an unknown state: drop it (its destructor removes the spill).
  Status AddSeries(SeriesId id, std::string_view canonical, std::span<const int64_t> timestamps,
                   std::span<const double> values);
  // The same with the rollup tiers given instead of computed (a merge that
  // keeps rows whose points have expired): `tiers` as EncodeRollupBlock
  // takes them (empty tiers are left out); the points may then be none.
  // REQUIRES: points or rows.
  Status AddSeriesWithRows(SeriesId id, std::string_view canonical,
                           std::span<const int64_t> timestamps, std::span<const double> values,
                           std::vector<RollupTier> tiers);
  // The tiers a series gets for these points (the rules of Create).
  std::vector<RollupTier> ComputeTiers(std::span<const int64_t> timestamps,
                                       std::span<const double> values) const;
  // Writes the index and footer, fsyncs and closes the file. The caller
  // fsyncs the directory (once for all files of a flush).
  Status Finish();
  uint64_t file_size() const { return file_->size() + buffer_.size(); }
  uint64_t series_count() const { return series_count_; }
  // Removes the spill file, if Finish did not.
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // The suffix of a writer's spill file beside its segment (recovery removes
  // any a crash left).
  static constexpr std::string_view kSpillSuffix = ".spill";
  static constexpr size_t kIndexPiecesInMemory = 4;

 private:
  SegmentWriter(std::string path, std::unique_ptr<AppendFile> file, uint32_t max_points_per_chunk,
                std::vector<int64_t> rollup_steps_ms, bool rollup_m2,
                uint32_t rollup_min_points_per_row, bool skip_single_row_tiers);
  Status MaybeFlushBuffer(bool force);

  std::unique_ptr<AppendFile> file_;
  const uint32_t max_points_per_chunk_;
  const std::vector<int64_t> rollup_steps_ms_;
  const bool rollup_m2_;
  const uint32_t rollup_min_points_per_row_;
  const bool skip_single_row_tiers_;
  std::vector<int64_t> steps_written_;  // tier steps of the blocks written, increasing
  bool history_rows_ = false;  // some series has rows before its first point
  std::string buffer_;
  // Moves the full pieces of index_ to the spill file (created at first).
  Status SpillIndex();
  std::string SpillPath() const { return path_ + std::string(kSpillSuffix); }

  const std::string path_;
  // The index entries so far (the index less its leading series count), in
  // pieces of ~1 MiB, after those moved to the spill file: past
  // kIndexPiecesInMemory pieces the full ones go to `path_`.spill and come
  // back at Finish, so a flush of a million series does not hold their
  // ~150 bytes each of entries in memory.
  std::vector<std::string> index_;
  std::unique_ptr<AppendFile> spill_;  // null until the first spill
  SegmentSeries entry_;  // AddSeries' scratch
  uint64_t series_count_ = 0;
  int64_t min_ts_ = INT64_MAX;
  int64_t max_ts_ = INT64_MIN;
  uint64_t points_ = 0;
  SeriesId last_id_ = 0;
};

// Reads one segment file (memory-mapped). Thread-safe after Open.
class SegmentReader {
 public:
  // Validates the header, footer and index checksums; with `verify_chunks`
  // also decodes every chunk (checksums and structure). Any problem is
  // Corruption naming the path and offset. Keeps 16 bytes a series in
  // memory, and none of the pages it read resident (DropResidentPages).
  static Result<std::unique_ptr<SegmentReader>> Open(const std::string& path, bool verify_chunks);

  // Decodes the entry of series `id` into *entry; false if the file lacks
  // the series. The index is validated at Open, so an error here means the
  // file changed under the reader.
  Result<bool> Find(SeriesId id, SegmentSeries* entry) const;
  // Whether the file holds series `id` (points or rows), from memory.
  bool Contains(SeriesId id) const;
  // Whether the file holds data in [start_ms, end_ms) (of any series): a
  // point, or a history row's bucket meeting it.
  bool Overlaps(int64_t start_ms, int64_t end_ms) const {
    return max_ts_ >= start_ms && min_ts_ < end_ms;
  }
  // The chunks of `id` holding points in [start_ms, end_ms), in time order
  // (none if the file does not overlap the range or lacks the series),
  // pointing into *entry, which holds the series' decoded entry when there
  // are some.
  Result<std::span<const ChunkMeta>> ChunksOverlapping(SeriesId id, int64_t start_ms,
                                                       int64_t end_ms,
                                                       SegmentSeries* entry) const;
  // Calls fn with every series' id and key (a view into the mapping), in id
  // order; stops at fn's first error.
  Status ForEachKey(const std::function<Status(SeriesId, std::string_view)>& fn) const;
  size_t series_count() const { return entries_.size(); }
  // The id of the i-th series in id order (i < series_count()), from memory.
  SeriesId id_at(size_t i) const { return entries_[i].id; }

  // Lets the kernel take back the pages of the mapping this process has
  // touched (Open does, after reading the file to verify it): they stay in
  // the page cache, and a read faults in only what it needs. Reads remain
  // valid.
  void DropResidentPages() const { file_->DropResidentPages(); }

  // Appends the points of `id` in [start_ms, end_ms) (sorted) to the output.
  Status Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
              std::vector<double>* values) const;
  // Decodes one chunk, appending all its points.
  Status ReadChunk(const ChunkMeta& chunk, std::vector<int64_t>* timestamps,
                   std::vector<double>* values) const;

  // Decodes the series' rollup block (none: empty).
  Status ReadRollup(const SegmentSeries& series, std::vector<RollupTier>* tiers) const;
  // The same a tier at a time (RollupBlockReader): OpenRollup, then
  // ReadRollupTier for the tiers needed. Corruption names the file.
  Status OpenRollup(const SegmentSeries& series, RollupBlockReader* block) const;
  Status ReadRollupTier(const SegmentSeries& series, const RollupBlockReader& block, size_t i,
                        RollupTier* tier) const;

  const std::string& path() const { return file_->path(); }
  // The time span of the file's data: its points, and the buckets of the
  // rollup rows that no point of their series is in (history rows).
  int64_t min_timestamp_ms() const { return min_ts_; }
  int64_t max_timestamp_ms() const { return max_ts_; }
  uint64_t point_count() const { return points_; }
  uint64_t file_size() const { return file_->data().size(); }
  // The whole file, as mapped (for copying it).
  std::string_view contents() const { return file_->data(); }
  // The bytes of the series index (entries and keys, without the footer).
  uint64_t index_bytes() const { return index_.size(); }
  // The tier steps of the file's rollup blocks, increasing (version 2
  // files: the steps are not recorded, and this is empty).
  const std::vector<int64_t>& rollup_steps() const { return rollup_steps_; }
  uint32_t format_version() const { return version_; }
  // Whether some series holds rollup rows that start before its first
  // point, or has no point (rows whose points have expired).
  bool has_history_rows() const { return has_history_rows_; }
  // Whether its writer gave every series every tier it could (rows that
  // outlive their points: raw_retention_ms was set), version 3.
  bool every_tier() const { return every_tier_; }

 private:
  explicit SegmentReader(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}
  // Where a series' entry starts in the index, and its id: 16 bytes a
  // series in memory; the entry itself is decoded from the mapping when read.
  struct EntryRef {
    SeriesId id;
    uint64_t offset;  // in the index
  };
  Status Parse(bool verify_chunks);
  // Decodes the entry at index offset `at` into *entry, and where it ends
  // into *end (checked: any malformation is Corruption at its file offset).
  Status DecodeEntry(uint64_t at, SegmentSeries* entry, uint64_t* end = nullptr) const;
  Status VerifyChunks(const SegmentSeries& entry) const;
  Status Corrupt(uint64_t offset, std::string_view what) const;

  std::unique_ptr<MappedFile> file_;
  std::string_view index_;  // into the mapping
  uint64_t index_offset_ = 0;
  std::vector<EntryRef> entries_;  // sorted by id
  int64_t min_ts_ = 0;
  int64_t max_ts_ = 0;
  uint64_t points_ = 0;
  std::vector<int64_t> rollup_steps_;
  bool has_history_rows_ = false;
  bool every_tier_ = false;
  uint32_t version_ = 0;
};

}  // namespace kpidb
