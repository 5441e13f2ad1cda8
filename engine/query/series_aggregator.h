// Aggregates one series' points into the buckets of a grid, as a
// ScanVisitor: points arrive in time order, so buckets fill in order and
// are kept sparse (only buckets with points cost memory). A chunk lying
// wholly inside one bucket contributes its stored stats instead of its
// points, for the aggregations its stats determine (avg, sum, min, max,
// count, first, last); a rollup row lying wholly inside one bucket does the
// same, and also serves stddev (Chan's merge of Welford states).
//
// Not thread-safe: one aggregator per series scan.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "engine/query/time_buckets.h"

namespace kpidb::query {

using Clock = std::chrono::steady_clock;

// Per-bucket values of one series (or group): bucket indices, increasing,
// and the value of each.
struct BucketValues {
  std::vector<uint32_t> buckets;
  std::vector<double> values;
};

class SeriesAggregator : public ScanVisitor {
 public:
  // `max_bytes`: memory this aggregator may hold (RESOURCE_EXHAUSTED past
  // it). `use_precomputed`: take chunk stats and rollup rows where exact.
  SeriesAggregator(const BucketGrid& grid, Aggregation aggregation, Clock::time_point deadline,
                   size_t max_bytes, bool use_precomputed = true);
  ~SeriesAggregator();

  bool OnChunkStats(const ChunkStats& stats) override;
  bool UsesRollups() const override;
  bool ChunkStatsSuffice(const ChunkStats& stats) const override;
  bool WantsRollupRow(int64_t step_ms, const RollupRow& row) override;
  Status OnRollupRow(int64_t step_ms, const RollupRow& row) override;
  Status OnPoints(std::span<const int64_t> timestamps, std::span<const double> values) override;

  // The value of every bucket that has one (see query.h).
  BucketValues Finish() const;
  // What this aggregator read (series is left 0).
  const QueryStats& read() const { return read_; }

 private:
  struct Bucket {
    uint32_t index;
    uint64_t count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    double first = 0;
    double last = 0;
    uint64_t welford_count = 0;  // Welford, for stddev
    double mean = 0;
    double m2 = 0;
    double increase = 0;
    bool has_increase = false;
  };
  Bucket& BucketFor(int64_t ts);
  // The deadline (read every 64 calls: a row costs less than reading the
  // clock), and the bucket memory bound (one more bucket must fit).
  Status CheckLimits();
  // Stddev and counter state for one point, in time order.
  void AddPointMoments(Bucket& b, double v);
  // Folds the statistics of points that follow the bucket's into it.
  void AddStats(Bucket& b, uint64_t count, double sum, double min, double max, double first,
                double last);

  const BucketGrid& grid_;
  const Aggregation aggregation_;
  const Clock::time_point deadline_;
  const size_t max_buckets_held_;
  std::vector<Bucket> buckets_;  // in index order (per-thread scratch)
  uint32_t limit_checks_ = 0;
  int64_t current_end_ = 0;      // end of buckets_.back()'s bucket
  bool has_previous_ = false;    // for increase/rate: the series' last point
  double previous_ = 0;
  const bool use_precomputed_;
  QueryStats read_;
};

}  // namespace kpidb::query
