// Rollup tiers: per-bucket summaries of one series' points, stored beside
// its chunks in a segment (docs/segment-format.md, "Rollup blocks") so that
// a query whose buckets are unions of tier buckets reads a few rows instead
// of decoding every point.
//
// A tier has a step (ms); its bucket k is [k * step, (k + 1) * step), aligned
// to the Unix epoch like the query layer's fixed steps. A row summarises the
// points of one bucket with mergeable statistics: count, sum, min, max,
// first, last, and optionally m2 (the sum of squared deviations from the
// row's mean, as Welford's algorithm computes it), from which avg, sum, min,
// max, count, first, last and (with m2) stddev of any union of rows follow
// (stddev by Chan's merge, which keeps the digits a sum of squares would
// lose on large, nearly constant values).
//
// The sum is exact where it can be: when every value of a row is a decimal
// (what KPIs are: at most 18 fraction digits, the scaled integers and their
// sum below 2^53), the row's sum is the exact
// decimal sum rounded once to a double (so it is usually shorter to store,
// and never further from the truth than a left-to-right double sum);
// otherwise it is the left-to-right double sum in time order.
//
// Rows hold every bit of the statistics: a block is encoded with the chunk
// codecs (docs/chunk-format.md), so it is lossless.
//
// Thread-safety: free functions with no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

// Rows per tier in one block, at most (a tier that would need more for one
// series in one segment is left out of that segment's block).
inline constexpr uint64_t kMaxRollupRows = 65536;

struct RollupRow {
  int64_t bucket = 0;  // bucket index: the row covers [bucket * step, (bucket + 1) * step)
  uint64_t count = 0;
  double sum = 0;  // exact decimal sum rounded once, else left to right (see above)
  double min = 0;
  double max = 0;
  double first = 0;
  double last = 0;
  double m2 = 0;  // Welford's sum of squared deviations from the mean
  bool has_m2 = false;  // m2 is stored in the tier (RollupTier::with_m2)
};

struct RollupTier {
  int64_t step_ms = 0;
  bool with_m2 = false;  // the rows carry m2 (for stddev)
  std::vector<RollupRow> rows;  // bucket increasing, no empty rows
};

// The span of bucket `bucket` of a tier, clamped to the int64 range.
int64_t RollupBucketStart(int64_t step_ms, int64_t bucket);
int64_t RollupBucketEnd(int64_t step_ms, int64_t bucket);  // exclusive

// Rows of the points for a tier of `step_ms` (> 0), m2 included (has_m2).
// REQUIRES: timestamps strictly increasing, sizes equal.
std::vector<RollupRow> ComputeRollupRows(int64_t step_ms, std::span<const int64_t> timestamps,
                                         std::span<const double> values);

// Appends one encoded, checksummed rollup block holding `tiers` (each with at
// least one row, steps increasing); m2 is stored for tiers with_m2.
void EncodeRollupBlock(std::span<const RollupTier> tiers, std::string* out);

// A block's tiers, decoded one at a time on demand: a query of daily
// buckets need not decode the hourly rows. Open checks the checksum,
// decompresses and finds each tier's bytes (Corruption on anything
// malformed); Decode(i) decodes tier i (Corruption if its columns are).
// Not thread-safe; holds the decompressed body.
class RollupBlockReader {
 public:
  RollupBlockReader() = default;
  RollupBlockReader(const RollupBlockReader&) = delete;  // views into itself
  RollupBlockReader& operator=(const RollupBlockReader&) = delete;
  Status Open(std::string_view block);
  size_t tier_count() const { return tiers_.size(); }
  int64_t step_ms(size_t i) const { return tiers_[i].step_ms; }
  Status Decode(size_t i, RollupTier* out) const;

 private:
  struct TierBytes {
    int64_t step_ms = 0;
    bool with_m2 = false;
    size_t rows = 0;
    std::string_view buckets;  // the bucket column
    std::string_view columns;  // the value columns
  };
  std::string decompressed_;
  std::vector<TierBytes> tiers_;  // views into the block or decompressed_
  // Decode's scratch, reused from block to block.
  mutable std::vector<int64_t> buckets_;
  mutable std::vector<double> column_;
};

// Decodes a block produced by EncodeRollupBlock. Corruption (never a crash,
// never a read outside `block`) when the checksum fails or the content is
// malformed; the caller adds the file path and offset.
Status DecodeRollupBlock(std::string_view block, std::vector<RollupTier>* tiers);

}  // namespace kpidb
