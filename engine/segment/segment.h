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
#include <deque>
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
inline constexpr uint32_t kSegmentFormatVersion = 2;
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

struct SegmentSeries {
  SeriesId id = 0;
  // The series key, so a segment is self-describing: a view into the
  // reader's mapping (or the writer's own copy), valid as long as they live.
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
  // (for stddev) when `rollup_m2`.
  static Result<std::unique_ptr<SegmentWriter>> Create(const std::string& path,
                                                       uint32_t max_points_per_chunk,
                                                       std::vector<int64_t> rollup_steps_ms = {},
                                                       bool rollup_m2 = false);
  // REQUIRES: ids strictly increasing across calls; timestamps strictly
  // increasing, non-empty, same length as values.
  Status AddSeries(SeriesId id, std::string_view canonical, std::span<const int64_t> timestamps,
                   std::span<const double> values);
  // Writes the index and footer, fsyncs and closes the file. The caller
  // fsyncs the directory (once for all files of a flush).
  Status Finish();
  uint64_t file_size() const { return file_->size() + buffer_.size(); }

 private:
  SegmentWriter(std::unique_ptr<AppendFile> file, uint32_t max_points_per_chunk,
                std::vector<int64_t> rollup_steps_ms, bool rollup_m2);
  Status MaybeFlushBuffer(bool force);

  std::unique_ptr<AppendFile> file_;
  const uint32_t max_points_per_chunk_;
  const std::vector<int64_t> rollup_steps_ms_;
  const bool rollup_m2_;
  std::string buffer_;
  std::vector<SegmentSeries> series_;
  std::deque<std::string> canonicals_;  // what series_ views (stable addresses)
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
  // Corruption naming the path and offset.
  static Result<std::unique_ptr<SegmentReader>> Open(const std::string& path, bool verify_chunks);

  // The series' entry, or nullptr.
  const SegmentSeries* Find(SeriesId id) const;
  // Whether the file holds points in [start_ms, end_ms) (of any series).
  bool Overlaps(int64_t start_ms, int64_t end_ms) const {
    return max_ts_ >= start_ms && min_ts_ < end_ms;
  }
  // The chunks of `id` holding points in [start_ms, end_ms), in time order
  // (none if the file does not overlap the range or lacks the series); the
  // series' entry in *entry when there are some, if given.
  std::span<const ChunkMeta> ChunksOverlapping(SeriesId id, int64_t start_ms, int64_t end_ms,
                                               const SegmentSeries** entry = nullptr) const;
  const std::vector<SegmentSeries>& series() const { return series_; }

  // Appends the points of `id` in [start_ms, end_ms) (sorted) to the output.
  Status Read(SeriesId id, int64_t start_ms, int64_t end_ms, std::vector<int64_t>* timestamps,
              std::vector<double>* values) const;
  // Decodes one chunk, appending all its points.
  Status ReadChunk(const ChunkMeta& chunk, std::vector<int64_t>* timestamps,
                   std::vector<double>* values) const;

  // Decodes the series' rollup block (none: empty).
  Status ReadRollup(const SegmentSeries& series, std::vector<RollupTier>* tiers) const;

  const std::string& path() const { return file_->path(); }
  int64_t min_timestamp_ms() const { return min_ts_; }
  int64_t max_timestamp_ms() const { return max_ts_; }
  uint64_t point_count() const { return points_; }
  uint64_t file_size() const { return file_->data().size(); }

 private:
  explicit SegmentReader(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}
  Status Parse(bool verify_chunks);
  Status Corrupt(uint64_t offset, std::string_view what) const;

  std::unique_ptr<MappedFile> file_;
  std::vector<SegmentSeries> series_;  // sorted by id
  int64_t min_ts_ = 0;
  int64_t max_ts_ = 0;
  uint64_t points_ = 0;
};

}  // namespace kpidb
