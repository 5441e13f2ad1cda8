#include "engine/query/series_aggregator.h"

#include <algorithm>
#include <cmath>

#include "engine/common/scratch_pool.h"

namespace kpidb::query {
namespace {

bool StatsSuffice(Aggregation a) {
  switch (a) {
    case Aggregation::kAvg:
    case Aggregation::kSum:
    case Aggregation::kMin:
    case Aggregation::kMax:
    case Aggregation::kCount:
    case Aggregation::kFirst:
    case Aggregation::kLast:
      return true;
    case Aggregation::kStddev:  // needs the sum of squares, not in chunk stats
    case Aggregation::kRate:    // need the points (resets)
    case Aggregation::kIncrease:
      return false;
  }
  return false;
}

// Runs of points are folded into a bucket with kLanes independent
// accumulators: a left-to-right loop is one dependency chain (an add, or a
// min, every 4 cycles), which made aggregation as slow as decoding.
constexpr size_t kLanes = 8;

// The sum of v[0, n) added to `sum`: not left to right, so it may differ
// from that by rounding (query.h, "Floating point"), with an error bound no
// larger than the left-to-right one. Where lanes overflow (values near
// DBL_MAX), the left-to-right sum, whose intermediate results may not.
double AddRun(double sum, const double* v, size_t n) {
  double lanes[kLanes] = {};
  size_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) lanes[j] += v[k + j];
  }
  for (; k < n; ++k) lanes[0] += v[k];
  const double total = sum + (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                              ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
  if (std::isfinite(total)) return total;
  for (k = 0; k < n; ++k) sum += v[k];
  return sum;
}

// min(lo, v[0, n)) (max when `Max`), bit for bit what a left-to-right scan
// keeping the earliest of equal values returns. Values that compare equal
// have the same bits except 0 and -0, so only a zero result is rescanned
// in order.
template <bool Max>
double ExtremeOfRun(double lo, const double* v, size_t n) {
  auto better = [](double a, double b) { return Max ? a > b : a < b; };
  double lanes[kLanes];
  for (double& l : lanes) l = lo;
  size_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) lanes[j] = better(v[k + j], lanes[j]) ? v[k + j] : lanes[j];
  }
  for (; k < n; ++k) lanes[0] = better(v[k], lanes[0]) ? v[k] : lanes[0];
  double best = lo;
  for (double l : lanes) best = better(l, best) ? l : best;
  if (best != 0) return best;
  for (k = 0; k < n; ++k) lo = better(v[k], lo) ? v[k] : lo;
  return lo;
}

}  // namespace

SeriesAggregator::SeriesAggregator(const BucketGrid& grid, Aggregation aggregation,
                                   Clock::time_point deadline, size_t max_bytes,
                                   bool use_precomputed)
    : grid_(grid),
      aggregation_(aggregation),
      deadline_(deadline),
      max_buckets_held_(std::max<size_t>(1, max_bytes / sizeof(Bucket))),
      buckets_(TakeScratch<Bucket>()),
      use_precomputed_(use_precomputed) {
  // Buckets fill one by one: no doubling copies for the usual grids.
  buckets_.reserve(std::min({grid.size(), max_buckets_held_, kScratchKeptBytes / sizeof(Bucket)}));
}

SeriesAggregator::~SeriesAggregator() { ReturnScratch(std::move(buckets_)); }

SeriesAggregator::Bucket& SeriesAggregator::BucketFor(int64_t ts) {
  if (buckets_.empty() || ts >= current_end_) {
    const size_t index = grid_.BucketOf(ts);
    buckets_.push_back(Bucket{static_cast<uint32_t>(index)});
    current_end_ = grid_.bucket_end(index);
  }
  return buckets_.back();
}

void SeriesAggregator::AddStats(Bucket& b, uint64_t count, double sum, double min, double max,
                                double first, double last) {
  if (b.count == 0) {
    b.first = first;
    b.min = min;
    b.max = max;
  } else {
    if (min < b.min) b.min = min;
    if (max > b.max) b.max = max;
  }
  b.count += count;
  b.sum += sum;
  b.last = last;
}

bool SeriesAggregator::ChunkStatsSuffice(const ChunkStats& stats) const {
  return use_precomputed_ && StatsSuffice(aggregation_) &&
         grid_.BucketOf(stats.min_timestamp_ms) == grid_.BucketOf(stats.max_timestamp_ms);
}

bool SeriesAggregator::OnChunkStats(const ChunkStats& stats) {
  // Past a limit, take the points instead: OnPoints reports it.
  if (!ChunkStatsSuffice(stats) || !CheckLimits().ok()) return false;
  Bucket& b = BucketFor(stats.min_timestamp_ms);
  AddStats(b, stats.count, stats.sum, stats.min, stats.max, stats.first, stats.last);
  ++read_.chunk_stats;
  return true;
}

bool SeriesAggregator::UsesRollups() const {
  return use_precomputed_ &&
         (StatsSuffice(aggregation_) || aggregation_ == Aggregation::kStddev);
}

bool SeriesAggregator::WantsRollupRow(int64_t step_ms, const RollupRow& row) {
  if (!UsesRollups() || (aggregation_ == Aggregation::kStddev && !row.has_m2)) return false;
  // The row's bucket must lie inside one of ours (Scan offers only rows
  // inside the scanned range, which the grid covers).
  return grid_.BucketOf(RollupBucketStart(step_ms, row.bucket)) ==
         grid_.BucketOf(RollupBucketEnd(step_ms, row.bucket) - 1);
}

Status SeriesAggregator::CheckLimits() {
  if ((limit_checks_++ & 63) == 0 && Clock::now() > deadline_) return Status::DeadlineExceeded("query passed its timeout");
  if (buckets_.size() >= max_buckets_held_) {
    return Status::ResourceExhausted("one series' buckets need more than its share of "
                                     "max_memory_bytes (" + std::to_string(max_buckets_held_) +
                                     " buckets)");
  }
  return Status::Ok();
}

Status SeriesAggregator::OnRollupRow(int64_t step_ms, const RollupRow& row) {
  KPIDB_RETURN_IF_ERROR(CheckLimits());
  Bucket& b = BucketFor(RollupBucketStart(step_ms, row.bucket));
  if (aggregation_ == Aggregation::kStddev) {
    // Chan et al.: merge (count, mean, m2) of the row into the bucket's.
    const double n_a = static_cast<double>(b.welford_count);
    const double n_b = static_cast<double>(row.count);
    const double n = n_a + n_b;
    const double delta = row.sum / n_b - b.mean;
    b.mean += delta * (n_b / n);
    b.m2 += row.m2 + delta * delta * (n_a * n_b / n);
    b.welford_count += row.count;
  }
  AddStats(b, row.count, row.sum, row.min, row.max, row.first, row.last);
  ++read_.rollup_rows;
  auto& steps = read_.rollup_steps_ms;
  if (std::find(steps.begin(), steps.end(), step_ms) == steps.end()) {
    steps.insert(std::upper_bound(steps.begin(), steps.end(), step_ms), step_ms);
  }
  return Status::Ok();
}

Status SeriesAggregator::OnPoints(std::span<const int64_t> timestamps,
                                  std::span<const double> values) {
  KPIDB_RETURN_IF_ERROR(CheckLimits());
  read_.points += timestamps.size();
  const bool per_point =
      aggregation_ == Aggregation::kStddev || aggregation_ == Aggregation::kRate ||
      aggregation_ == Aggregation::kIncrease;
  const bool needs_sum = aggregation_ == Aggregation::kAvg || aggregation_ == Aggregation::kSum;
  for (size_t i = 0; i < timestamps.size();) {
    Bucket& b = BucketFor(timestamps[i]);
    // The run of points in this bucket (timestamps are sorted).
    const size_t end = static_cast<size_t>(
        std::lower_bound(timestamps.begin() + static_cast<ptrdiff_t>(i) + 1, timestamps.end(),
                         current_end_) - timestamps.begin());
    const double* v = values.data() + i;
    const size_t n = end - i;
    if (b.count == 0) b.first = b.min = b.max = v[0];
    // Only the fields the aggregation reads in Finish are kept up to date.
    if (needs_sum) b.sum = AddRun(b.sum, v, n);
    if (aggregation_ == Aggregation::kMin) b.min = ExtremeOfRun<false>(b.min, v, n);
    if (aggregation_ == Aggregation::kMax) b.max = ExtremeOfRun<true>(b.max, v, n);
    b.last = v[n - 1];
    if (per_point) {
      for (size_t k = 0; k < n; ++k) AddPointMoments(b, v[k]);
    }
    b.count += n;
    i = end;
  }
  return Status::Ok();
}

void SeriesAggregator::AddPointMoments(Bucket& b, double v) {
  if (aggregation_ == Aggregation::kStddev) {
    // Welford; b.count is not yet updated for this run, so count along.
    ++b.welford_count;
    const double delta = v - b.mean;
    b.mean += delta / static_cast<double>(b.welford_count);
    b.m2 += delta * (v - b.mean);
    return;
  }
  if (has_previous_) {  // increase, rate
    b.increase += v >= previous_ ? v - previous_ : v;  // a drop is a counter reset
    b.has_increase = true;
  }
  has_previous_ = true;
  previous_ = v;
}

BucketValues SeriesAggregator::Finish() const {
  BucketValues out;
  out.buckets.reserve(buckets_.size());
  out.values.reserve(buckets_.size());
  for (const Bucket& b : buckets_) {
    double v = 0;
    switch (aggregation_) {
      case Aggregation::kAvg: v = b.sum / static_cast<double>(b.count); break;
      case Aggregation::kSum: v = b.sum; break;
      case Aggregation::kMin: v = b.min; break;
      case Aggregation::kMax: v = b.max; break;
      case Aggregation::kCount: v = static_cast<double>(b.count); break;
      case Aggregation::kFirst: v = b.first; break;
      case Aggregation::kLast: v = b.last; break;
      case Aggregation::kStddev: v = std::sqrt(b.m2 / static_cast<double>(b.welford_count)); break;
      case Aggregation::kIncrease:
        if (!b.has_increase) continue;
        v = b.increase;
        break;
      case Aggregation::kRate:
        if (!b.has_increase) continue;
        v = b.increase / grid_.bucket_seconds(b.index);
        break;
    }
    out.buckets.push_back(b.index);
    out.values.push_back(v);
  }
  return out;
}

}  // namespace kpidb::query
