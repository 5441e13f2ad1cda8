#include "engine/read/merge_scan.h"

#include <algorithm>
#include <iterator>

#include "engine/common/coding.h"
#include "engine/common/point_order.h"
#include "engine/common/scratch_pool.h"

namespace kpidb {

MergeScan::MergeScan(int64_t start_ms, int64_t end_ms, ScanVisitor* visitor,
                     const Retention* retention)
    : start_ms_(start_ms),
      end_ms_(end_ms),
      visitor_(visitor),
      retention_(retention),
      points_start_(retention ? std::max(start_ms, retention->raw_from_ms) : start_ms),
      taken_(TakeScratch<TakenRow>()) {}

MergeScan::~MergeScan() { ReturnScratch(std::move(taken_)); }

namespace {

// The decoded tiers of one series' rollup blocks, kept per thread between
// scans (see scratch_pool.h) with their rows' capacity; a tier whose rows
// outgrew kScratchKeptBytes is freed.
thread_local bool kept_tiers_in_use = false;

std::vector<RollupTier>& KeptTiers() {
  thread_local std::vector<RollupTier> tiers;
  return tiers;
}

class TierScratch {
 public:
  TierScratch() : kept_(!kept_tiers_in_use) { kept_tiers_in_use = true; }
  ~TierScratch() {
    if (!kept_) return;
    for (RollupTier& t : KeptTiers()) {
      if (t.rows.capacity() * sizeof(RollupRow) > kScratchKeptBytes) t.rows = {};
    }
    kept_tiers_in_use = false;
  }
  TierScratch(const TierScratch&) = delete;
  TierScratch& operator=(const TierScratch&) = delete;
  std::vector<RollupTier>& tiers() { return kept_ ? KeptTiers() : own_; }

 private:
  const bool kept_;
  std::vector<RollupTier> own_;
};

}  // namespace

void MergeScan::SetHeadPoints(std::vector<int64_t> timestamps, std::vector<double> values) {
  const auto live = std::lower_bound(timestamps.begin(), timestamps.end(), points_start_);
  if (live != timestamps.begin()) {
    // Expired points the flush has not written yet: no row answers for them.
    incomplete_ = true;
    values.erase(values.begin(), values.begin() + (live - timestamps.begin()));
    timestamps.erase(timestamps.begin(), live);
  }
  head_ts_ = std::move(timestamps);
  head_vs_ = std::move(values);
}

Status MergeScan::AddSegment(const SegmentReader& segment, SeriesId id) {
  const size_t age = segments_++;
  if (start_ms_ >= end_ms_ || !segment.Overlaps(start_ms_, end_ms_)) return Status::Ok();
  if (entries_.empty() || entry_kept_) entries_.emplace_back();
  entry_kept_ = false;
  SegmentSeries* series = &entries_.back();  // a deque: refs into it stay valid
  KPIDB_ASSIGN_OR_RETURN(bool found, segment.Find(id, series));
  if (!found) return Status::Ok();
  const auto chunks = series->ChunksOverlapping(points_start_, end_ms_);
  // Chunks whose points before the raw cutoff are in the range: rows must
  // answer for those points.
  std::span<const ChunkMeta> expired;
  if (points_start_ > start_ms_) {
    expired = series->ChunksOverlapping(start_ms_, points_start_);
    for (const ChunkMeta& c : expired) {
      hidden_.push_back({c.stats.min_timestamp_ms, c.stats.max_timestamp_ms, age});
    }
    const bool rows_here = series->rollup_length > 0;
    if (!expired.empty() && (!rows_here || !visitor_->UsesRollups())) incomplete_ = true;
    // Rows whose points are gone (history), which a visitor without rows
    // cannot see: they lie before the entry's first point.
    if (rows_here && !visitor_->UsesRollups() && segment.has_history_rows() &&
        (series->chunks.empty() || series->chunks.front().stats.min_timestamp_ms > start_ms_) &&
        segment.min_timestamp_ms() < points_start_) {
      incomplete_ = true;
    }
  }
  // Rows can lie in the range where chunks do, and (history rows) before
  // the entry's first point.
  const bool rows_may_meet =
      series->rollup_length > 0 &&
      (!chunks.empty() || !expired.empty() ||
       (segment.has_history_rows() &&
        (series->chunks.empty() || series->chunks.front().stats.min_timestamp_ms > start_ms_)));
  if (rows_may_meet && visitor_->UsesRollups()) {
    row_sources_.push_back({series, &segment, age});
    entry_kept_ = true;
  }
  if (chunks.empty()) return Status::Ok();
  entry_kept_ = true;
  const size_t before = refs_.size();
  for (const ChunkMeta& c : chunks) {
    refs_.push_back({series, &segment, &c, age});
    max_span_ = std::max(max_span_, c.stats.max_timestamp_ms - c.stats.min_timestamp_ms);
  }
  // A segment's chunks are in time order: merge them in, after the older
  // segments' chunks that start at the same time (usually they all start
  // later, and nothing moves).
  if (before == 0 ||
      refs_[before - 1].chunk->stats.min_timestamp_ms <= refs_[before].chunk->stats.min_timestamp_ms) {
    return Status::Ok();
  }
  std::inplace_merge(refs_.begin(), refs_.begin() + static_cast<ptrdiff_t>(before), refs_.end(),
                     [](const ChunkRef& a, const ChunkRef& b) {
                       return a.chunk->stats.min_timestamp_ms < b.chunk->stats.min_timestamp_ms;
                     });
  return Status::Ok();
}

bool MergeScan::OthersMayHavePoints(size_t age, int64_t s, int64_t e) const {
  auto h = std::lower_bound(head_ts_.begin(), head_ts_.end(), s);
  if (h != head_ts_.end() && *h < e) return true;
  // No chunk spans more than max_span_: one starting before s - max_span_
  // ends before s.
  const int64_t from = SaturateInt64(static_cast<__int128>(s) - max_span_);
  auto it = std::lower_bound(refs_.begin(), refs_.end(), from, [](const ChunkRef& r, int64_t t) {
    return r.chunk->stats.min_timestamp_ms < t;
  });
  for (; it != refs_.end() && it->chunk->stats.min_timestamp_ms < e; ++it) {
    if (it->age != age && it->chunk->stats.max_timestamp_ms >= s) return true;
  }
  // Expired points of other segments: few (a range reaching before the
  // raw cutoff), and not sorted by the merge above.
  for (const HiddenSpan& h : hidden_) {
    if (h.age != age && h.lo < e && h.hi >= s) return true;
  }
  return false;
}

Result<bool> MergeScan::HasPointsIn(const RowSource& src, int64_t s, int64_t e) {
  for (const ChunkMeta& c : src.entry->ChunksOverlapping(s, e)) {
    if (c.stats.min_timestamp_ms >= s && c.stats.max_timestamp_ms < e) return true;
    ts_.clear();
    vs_.clear();
    KPIDB_RETURN_IF_ERROR(src.segment->ReadChunk(c, &ts_, &vs_));
    auto p = std::lower_bound(ts_.begin(), ts_.end(), s);
    if (p != ts_.end() && *p < e) return true;
  }
  return false;
}

bool MergeScan::FinerRowsLive(const std::vector<RollupTier>& tiers, size_t t, int64_t s,
                              int64_t e) const {
  if (t == 0 || tiers[t - 1].rows.empty()) return false;
  // Rows are built from every point: the finer tier holds [s, e) whole
  // unless some of its buckets there have expired (dropped or not).
  const int64_t step = tiers[t - 1].step_ms;
  const int64_t first = s / step - (s % step < 0 ? 1 : 0);
  return retention_ == nullptr || s >= e || retention_->RowLive(step, first);
}

bool MergeScan::FinerRowsAnswer(const std::vector<RollupTier>& tiers, size_t t,
                                const RollupRow& row) const {
  if (t == 0) return false;
  const RollupTier& finer = tiers[t - 1];
  const int64_t s = RollupBucketStart(tiers[t].step_ms, row.bucket);
  const int64_t e = RollupBucketEnd(tiers[t].step_ms, row.bucket);
  auto it = std::partition_point(finer.rows.begin(), finer.rows.end(), [&](const RollupRow& r) {
    return RollupBucketEnd(finer.step_ms, r.bucket) <= s;
  });
  // Rows of one series in one segment summarise the same points: the finer
  // live rows hold them all when their counts add up to the row's.
  uint64_t count = 0;
  for (; it != finer.rows.end() && RollupBucketStart(finer.step_ms, it->bucket) < e; ++it) {
    if (retention_ == nullptr || retention_->RowLive(finer.step_ms, it->bucket)) count += it->count;
  }
  return count == row.count;
}

Status MergeScan::ChooseRollupRows() {
  taken_.clear();
  next_row_ = 0;
  TierScratch tier_scratch;
  std::vector<RollupTier>& tiers = tier_scratch.tiers();
  RollupBlockReader block;
  ScopedScratch<TakenRow> mine_scratch;
  std::vector<TakenRow>& mine = mine_scratch.get();  // of one segment, sorted by start
  for (const RowSource& src : row_sources_) {
    // Chunk stats answer for this segment without decoding anything (not
    // where expired points need rows).
    const auto chunks = src.entry->ChunksOverlapping(points_start_, end_ms_);
    // (Rows whose points are gone, history, are read whatever the stats.)
    bool stats_serve = points_start_ == start_ms_ && !chunks.empty() && !src.segment->has_history_rows();
    for (const ChunkMeta& c : chunks) {
      if (!stats_serve) break;
      if (c.stats.min_timestamp_ms < points_start_ || c.stats.max_timestamp_ms >= end_ms_ ||
          !visitor_->ChunkStatsSuffice(c.stats) ||
          OthersMayHavePoints(src.age, c.stats.min_timestamp_ms, c.stats.max_timestamp_ms + 1)) {
        stats_serve = false;
      }
    }
    if (stats_serve) continue;
    // Tiers are decoded on demand, coarsest first: finer ones only while
    // some coarser row in the range is not taken (daily buckets over a
    // 30-day file decode 30 rows, not 720 hourly ones as well).
    KPIDB_RETURN_IF_ERROR(src.segment->OpenRollup(*src.entry, &block));
    tiers.resize(block.tier_count());  // keeps the rows' capacity across sources
    uint32_t decoded = 0;              // a bit per tier (at most 16)
    auto decode = [&](size_t i) -> Status {
      if (decoded & (1u << i)) return Status::Ok();
      decoded |= 1u << i;
      return src.segment->ReadRollupTier(*src.entry, block, i, &tiers[i]);
    };
    mine.clear();
    for (size_t t = tiers.size(); t-- > 0;) {  // coarsest first
      KPIDB_RETURN_IF_ERROR(decode(t));
      const RollupTier& tier = tiers[t];
      const size_t coarser = mine.size();
      bool finer_needed = false;  // a row of this tier meeting the range was not taken
      for (const RollupRow& row : tier.rows) {
        const int64_t s = RollupBucketStart(tier.step_ms, row.bucket);
        const int64_t e = RollupBucketEnd(tier.step_ms, row.bucket);
        if (e <= start_ms_ || s >= end_ms_) continue;
        if (retention_ != nullptr && !retention_->RowLive(tier.step_ms, row.bucket)) {
          finer_needed = true;
          continue;
        }
        // Expired points this row holds, if it is not taken: answered only
        // by finer live rows (each checked in its turn). A row across the
        // cutoff may hold none.
        const int64_t from = std::max(s, start_ms_);
        bool holds_expired = from < points_start_;
        if (holds_expired && e > points_start_) {
          KPIDB_ASSIGN_OR_RETURN(holds_expired, HasPointsIn(src, from, points_start_));
        }
        if (holds_expired && t > 0) KPIDB_RETURN_IF_ERROR(decode(t - 1));
        if (s < start_ms_ || e > end_ms_) {  // cut by the range's ends
          finer_needed = true;
          if (holds_expired && !FinerRowsAnswer(tiers, t, row) &&
              !FinerRowsLive(tiers, t, std::max(s, start_ms_), std::min(e, end_ms_))) {
            incomplete_ = true;
          }
          continue;
        }
        // Not under a coarser row taken already.
        auto next = std::partition_point(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(coarser),
                                         [&](const TakenRow& r) { return r.start <= s; });
        if (next != mine.begin() && std::prev(next)->end > s) continue;
        if (next != mine.begin() + static_cast<ptrdiff_t>(coarser) && next->start < e) continue;
        if (OthersMayHavePoints(src.age, s, e) || !visitor_->WantsRollupRow(tier.step_ms, row)) {
          finer_needed = true;
          if (holds_expired && !FinerRowsAnswer(tiers, t, row)) incomplete_ = true;
          continue;
        }
        mine.push_back({s, e, tier.step_ms, row});
      }
      std::inplace_merge(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(coarser), mine.end(),
                         [](const TakenRow& a, const TakenRow& b) { return a.start < b.start; });
      // Every row of this tier in the range was taken: a finer row lies
      // under one of them (its points are in that bucket too). Not so where
      // rows are history: a delete there may have removed a coarse row and
      // kept finer ones.
      if (!finer_needed && !src.segment->has_history_rows()) break;
    }
    taken_.insert(taken_.end(), mine.begin(), mine.end());
  }
  auto by_start = [](const TakenRow& a, const TakenRow& b) { return a.start < b.start; };
  if (!std::is_sorted(taken_.begin(), taken_.end(), by_start)) {
    std::sort(taken_.begin(), taken_.end(), by_start);
  }
  return Status::Ok();
}

std::vector<ScanComponent> MergeScan::Components() const {
  std::vector<ScanComponent> out;
  size_t head_pos = 0;
  for (size_t i = 0; i < refs_.size();) {
    const int64_t lo = refs_[i].chunk->stats.min_timestamp_ms;
    int64_t hi = refs_[i].chunk->stats.max_timestamp_ms;
    size_t j = i + 1;
    while (j < refs_.size() && refs_[j].chunk->stats.min_timestamp_ms <= hi) {
      hi = std::max(hi, refs_[j].chunk->stats.max_timestamp_ms);
      ++j;
    }
    const auto head_begin = head_ts_.begin() + static_cast<ptrdiff_t>(head_pos);
    const size_t head_lo =
        static_cast<size_t>(std::lower_bound(head_begin, head_ts_.end(), lo) - head_ts_.begin());
    const size_t head_hi = static_cast<size_t>(
        std::upper_bound(head_ts_.begin() + static_cast<ptrdiff_t>(head_lo), head_ts_.end(), hi) -
        head_ts_.begin());
    out.push_back({i, j, lo, hi, head_lo, head_hi});
    head_pos = head_hi;
    i = j;
  }
  return out;
}

Status MergeScan::EmitRowsThrough(int64_t t) {
  for (; next_row_ < taken_.size() && taken_[next_row_].start <= t; ++next_row_) {
    KPIDB_RETURN_IF_ERROR(visitor_->OnRollupRow(taken_[next_row_].step_ms, taken_[next_row_].row));
  }
  return Status::Ok();
}

Status MergeScan::Deliver(std::span<const int64_t> ts, std::span<const double> vs) {
  for (size_t i = 0; i < ts.size();) {
    KPIDB_RETURN_IF_ERROR(EmitRowsThrough(ts[i]));
    if (next_row_ > 0) {  // skip the points of the last row taken
      while (i < ts.size() && ts[i] < taken_[next_row_ - 1].end) ++i;
    }
    size_t j = i;
    while (j < ts.size() && (next_row_ == taken_.size() || ts[j] < taken_[next_row_].start)) ++j;
    if (j > i) KPIDB_RETURN_IF_ERROR(visitor_->OnPoints(ts.subspan(i, j - i), vs.subspan(i, j - i)));
    i = j;
  }
  return Status::Ok();
}

Status MergeScan::EmitHead(size_t from, size_t to) {
  if (from >= to) return Status::Ok();
  return Deliver(std::span<const int64_t>(head_ts_).subspan(from, to - from),
                 std::span<const double>(head_vs_).subspan(from, to - from));
}

const TakenRow* MergeScan::RowMeeting(int64_t lo, int64_t hi) const {
  auto it = std::partition_point(taken_.begin(), taken_.end(),
                                 [&](const TakenRow& r) { return r.start <= hi; });
  if (it == taken_.begin()) return nullptr;
  --it;
  return it->end > lo ? &*it : nullptr;
}

bool MergeScan::RowsCover(int64_t lo, int64_t hi) const {
  const TakenRow* row = RowMeeting(lo, lo);
  if (row == nullptr) return false;
  const TakenRow* const end = taken_.data() + taken_.size();
  while (row->end <= hi && row + 1 < end && (row + 1)->start == row->end) ++row;
  return hi < row->end;
}

Status MergeScan::EmitComponent(const ScanComponent& c) {
  KPIDB_RETURN_IF_ERROR(EmitHead(head_pos_, c.head_first));
  head_pos_ = c.head_last;
  if (!taken_.empty() && RowsCover(c.lo, c.hi)) return Status::Ok();  // nothing to decode
  const TakenRow* row = taken_.empty() ? nullptr : RowMeeting(c.lo, c.hi);
  const bool alone = c.last == c.first + 1 && c.head_first == c.head_last;
  const bool inside = c.lo >= points_start_ && c.hi < end_ms_;
  if (alone && inside && row == nullptr) {
    KPIDB_RETURN_IF_ERROR(EmitRowsThrough(c.lo));
    if (visitor_->OnChunkStats(refs_[c.first].chunk->stats)) return Status::Ok();
  }
  merged_ts_.clear();
  merged_vs_.clear();
  if (alone) {
    // One chunk, nothing overlapping it: decode straight into the output.
    const ChunkRef& ref = refs_[c.first];
    KPIDB_RETURN_IF_ERROR(ref.segment->ReadChunk(*ref.chunk, &merged_ts_, &merged_vs_));
    if (!inside) {
      ts_.swap(merged_ts_);
      vs_.swap(merged_vs_);
      merged_ts_.clear();
      merged_vs_.clear();
      AppendPointsInRange(ts_, vs_, points_start_, end_ms_, &merged_ts_, &merged_vs_);
    }
  } else {
    // Older segments first, the head last: the sort keeps the newest value.
    parts_.assign(refs_.begin() + static_cast<ptrdiff_t>(c.first),
                  refs_.begin() + static_cast<ptrdiff_t>(c.last));
    std::stable_sort(parts_.begin(), parts_.end(),
                     [](const ChunkRef& a, const ChunkRef& b) { return a.age < b.age; });
    for (const ChunkRef& ref : parts_) {
      ts_.clear();
      vs_.clear();
      KPIDB_RETURN_IF_ERROR(ref.segment->ReadChunk(*ref.chunk, &ts_, &vs_));
      AppendPointsInRange(ts_, vs_, points_start_, end_ms_, &merged_ts_, &merged_vs_);
    }
    merged_ts_.insert(merged_ts_.end(), head_ts_.begin() + static_cast<ptrdiff_t>(c.head_first),
                      head_ts_.begin() + static_cast<ptrdiff_t>(c.head_last));
    merged_vs_.insert(merged_vs_.end(), head_vs_.begin() + static_cast<ptrdiff_t>(c.head_first),
                      head_vs_.begin() + static_cast<ptrdiff_t>(c.head_last));
    SortByTimestampKeepingLast(&merged_ts_, &merged_vs_);
  }
  if (merged_ts_.empty()) return Status::Ok();
  return Deliver(merged_ts_, merged_vs_);
}

Status MergeScan::Finish() {
  KPIDB_RETURN_IF_ERROR(EmitHead(head_pos_, head_ts_.size()));
  head_pos_ = head_ts_.size();
  return EmitRowsThrough(INT64_MAX);
}

Status MergeScan::Run() {
  if (start_ms_ >= end_ms_) return Status::Ok();
  if (visitor_->UsesRollups()) KPIDB_RETURN_IF_ERROR(ChooseRollupRows());
  for (const ScanComponent& c : Components()) KPIDB_RETURN_IF_ERROR(EmitComponent(c));
  return Finish();
}

}  // namespace kpidb
