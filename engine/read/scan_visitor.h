// What a scan of one series delivers, and to whom: the points of a range in
// time order, with chunk stats and rollup rows in their place where those
// are exact. Implemented by the query layer's aggregators and by Read's
// collector; driven by MergeScan (merge_scan.h).
#pragma once

#include <cstdint>
#include <span>

#include "engine/codec/chunk.h"
#include "engine/segment/rollup.h"
#include "kpidb/status.h"

namespace kpidb {

// Receives a series' points from a scan, in time order.
class ScanVisitor {
 public:
  virtual ~ScanVisitor() = default;
  // A segment chunk lying wholly inside the scanned range whose points no
  // other source (segment, head) overrides: its stats are exactly those of
  // the points it holds. Return true if the stats were enough (the chunk is
  // then not decoded), false to receive its points through OnPoints.
  virtual bool OnChunkStats(const ChunkStats& stats) = 0;
  // Rollup rows (rollup.h). When UsesRollups(), the scan offers the rows of
  // the segments' rollup tiers, coarsest tier first, whose bucket lies
  // wholly inside the scanned range and holds no point of any other source
  // (another segment, the head): such a row's statistics are exactly those
  // of the series' points in its bucket. WantsRollupRow returns true to take
  // it; a finer row overlapping a taken one is not offered. Taken rows then
  // reach OnRollupRow, in time order with the points and stats, and the
  // points they cover are not delivered.
  virtual bool UsesRollups() const { return false; }
  // Whether OnChunkStats would take these stats (no side effect). The scan
  // skips the rollup rows of a segment whose chunks in range all serve as
  // stats: those are in memory, rows must be decoded.
  virtual bool ChunkStatsSuffice(const ChunkStats& /*stats*/) const { return false; }
  virtual bool WantsRollupRow(int64_t /*step_ms*/, const RollupRow& /*row*/) { return false; }
  virtual Status OnRollupRow(int64_t /*step_ms*/, const RollupRow& /*row*/) {
    return Status::Ok();
  }
  // Points, strictly increasing in time across calls, one value per
  // timestamp (the newest write), all inside the scanned range.
  virtual Status OnPoints(std::span<const int64_t> timestamps, std::span<const double> values) = 0;
};

}  // namespace kpidb
