// The merge scan: one series' points in [start_ms, end_ms), from the head
// and from every segment holding chunks of it, merged in time order (the
// newest write of a timestamp wins) and delivered to a ScanVisitor, with
// chunk stats and rollup rows in place of points wherever those are exact.
//
//   MergeScan scan(start_ms, end_ms, visitor, &retention);
//   scan.SetHeadPoints(std::move(ts), std::move(vs));   // step 1: sources
//   for (segment : segments, oldest first) scan.AddSegment(*segment, id);
//   Status s = scan.Run();                              // steps 2 to 4
//
// The steps, each public so that tests can check it on its own:
//   1. Sources: the head's points, and the chunks overlapping the range of
//      each segment (chunks(), sorted by start time).
//   2. ChooseRollupRows: the rollup rows the visitor takes (taken()): rows
//      wholly inside the range whose bucket no other source has points in.
//   3. Components: the chunks whose time spans overlap, transitively, with
//      the head points in their span: the units that are decoded and merged
//      together (or answered by one chunk's stats, or skipped under rows).
//   4. EmitComponent for each, in order, then Finish: the head points
//      between components, and the rows, reach the visitor in time order.
//
// Retention (retention.h): points before its raw_from_ms are not delivered
// (chunks holding only such points are never decoded), and expired rows
// are never offered. Where the range reaches before raw_from_ms, rows answer
// for the expired points; incomplete() tells whether some data there could
// not be answered: a row the visitor would not take (its buckets are finer
// than a row's, or another source has points in its bucket) without finer
// live rows under it, a row cut by the range's ends, or points there with
// no rows at all (or a visitor that takes none).
//
// Not thread-safe; the segments must outlive it (a read pins them).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/read/retention.h"
#include "engine/read/scan_visitor.h"
#include "engine/segment/segment.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

// A chunk of the scanned series in one segment.
struct ChunkRef {
  const SegmentSeries* entry;
  const SegmentReader* segment;
  const ChunkMeta* chunk;
  size_t age;  // the segment's place, oldest first: a higher one holds newer writes
};

// A rollup row the visitor took, with its bucket [start, end).
struct TakenRow {
  int64_t start;
  int64_t end;
  int64_t step_ms;
  RollupRow row;
};

// chunks()[first, last), whose spans overlap transitively and cover
// [lo, hi] (inclusive), and the head points [head_first, head_last) in it.
struct ScanComponent {
  size_t first;
  size_t last;
  int64_t lo;
  int64_t hi;
  size_t head_first;
  size_t head_last;
};

class MergeScan {
 public:
  // `retention`: null keeps everything; else it must outlive the scan.
  MergeScan(int64_t start_ms, int64_t end_ms, ScanVisitor* visitor,
            const Retention* retention = nullptr);
  // Its chunk refs point into its own entries: not copyable.
  MergeScan(const MergeScan&) = delete;
  MergeScan& operator=(const MergeScan&) = delete;
  ~MergeScan();

  // Step 1. The head's points of the series in the range: increasing
  // timestamps, one value each (the newest); expired ones are dropped.
  void SetHeadPoints(std::vector<int64_t> timestamps, std::vector<double> values);
  // The series' chunks in `segment` overlapping the range (the live part)
  // and its rollup block; segments are added oldest first. Fails only if
  // the segment's index cannot be decoded.
  Status AddSegment(const SegmentReader& segment, SeriesId id);

  // Steps 2 to 4.
  Status Run();

  // The chunks added, sorted by start time (older segments first at equal starts).
  const std::vector<ChunkRef>& chunks() const { return refs_; }
  // Whether a source other than segment `age` may have points in [s, e): a
  // head point there, or another segment's chunk whose span meets it.
  bool OthersMayHavePoints(size_t age, int64_t s, int64_t e) const;

  // Step 2 (only when the visitor UsesRollups()).
  Status ChooseRollupRows();
  const std::vector<TakenRow>& taken() const { return taken_; }
  // Whether data in the range before the raw cutoff could not be answered
  // (see above). Complete after Run.
  bool incomplete() const { return incomplete_; }

  // Step 3.
  std::vector<ScanComponent> Components() const;

  // Step 4: the head points before `c`, then `c` itself (after its
  // predecessors, in order); Finish delivers the rest.
  Status EmitComponent(const ScanComponent& c);
  Status Finish();

 private:
  // Rows starting at or before t.
  Status EmitRowsThrough(int64_t t);
  // Points, skipping those a taken row covers, with the rows in order.
  Status Deliver(std::span<const int64_t> ts, std::span<const double> vs);
  Status EmitHead(size_t from, size_t to);
  // The taken row that meets [lo, hi], if any (rows do not overlap).
  const TakenRow* RowMeeting(int64_t lo, int64_t hi) const;
  // Whether a run of adjacent taken rows covers all of [lo, hi].
  bool RowsCover(int64_t lo, int64_t hi) const;
  // Whether the live rows of the tier finer than tiers[t] hold every point
  // of `row` (one of tiers[t] that was not taken); whether each of them was
  // taken is checked on its own.
  bool FinerRowsAnswer(const std::vector<RollupTier>& tiers, size_t t, const RollupRow& row) const;
  // Whether the entry of `src` has points in [s, e) (decoding a chunk that
  // only partly meets it).
  struct RowSource;
  Result<bool> HasPointsIn(const RowSource& src, int64_t s, int64_t e);
  // The same for the part [s, e) of a row cut by the range: no bucket of
  // the finer tier there has expired.
  bool FinerRowsLive(const std::vector<RollupTier>& tiers, size_t t, int64_t s, int64_t e) const;

  const int64_t start_ms_;
  const int64_t end_ms_;
  ScanVisitor* const visitor_;
  const Retention* const retention_;  // null: everything live
  // Where live points start: start_ms_, or the raw cutoff if later.
  const int64_t points_start_;
  // The entries that have a rollup block and may have rows in the range.
  struct RowSource {
    const SegmentSeries* entry;
    const SegmentReader* segment;
    size_t age;
  };
  std::vector<RowSource> row_sources_;
  // Spans [lo, hi] of the chunks holding only expired points (before
  // points_start_), with their segment's age: they hold points a row of
  // another segment would leave out. Sorted by lo.
  struct HiddenSpan {
    int64_t lo;
    int64_t hi;
    size_t age;
  };
  std::vector<HiddenSpan> hidden_;
  bool entry_kept_ = true;  // entries_.back() is referenced (not reusable)
  bool incomplete_ = false;
  std::vector<int64_t> head_ts_;
  std::vector<double> head_vs_;
  std::deque<SegmentSeries> entries_;  // decoded entries the refs point into
  std::vector<ChunkRef> refs_;
  size_t segments_ = 0;
  int64_t max_span_ = 0;  // of any chunk in refs_, in ms
  std::vector<TakenRow> taken_;  // sorted by start, non-overlapping (per-thread scratch)
  size_t next_row_ = 0;          // the first taken row not yet delivered
  size_t head_pos_ = 0;          // the first head point not yet delivered
  // Buffers reused across components.
  std::vector<ChunkRef> parts_;
  std::vector<int64_t> ts_, merged_ts_;
  std::vector<double> vs_, merged_vs_;
};

}  // namespace kpidb
