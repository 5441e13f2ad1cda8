// Engine configuration: one struct with documented defaults, passed to
// Engine::Open. README.md ("Configuration") lists every field.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "kpidb/series.h"

namespace kpidb {

enum class WalSyncPolicy {
  kAlways,    // acknowledge a write after fdatasync of its WAL record (default)
  kInterval,  // fdatasync every wal_sync_interval_ms; a crash loses at most that
  kNone,      // never fdatasync (benchmarks only); the OS decides
};

// Receives one line per event worth an operator's attention (recovery,
// flush, quarantine, dropped WAL tail). Must be thread-safe.
using Logger = std::function<void(std::string_view line)>;
// Writes "kpidb: <line>" to stderr.
Logger StderrLogger();

struct EngineOptions {
  WriteLimits limits;
  // Distinct series the engine accepts; a write creating more is refused
  // with RESOURCE_EXHAUSTED.
  uint64_t max_series = 10'000'000;

  WalSyncPolicy wal_sync = WalSyncPolicy::kAlways;
  uint32_t wal_sync_interval_ms = 100;
  // Group commit, policy kAlways: before syncing, the write leader waits up
  // to this long for writers that are already inside Write() (still
  // validating or encoding) to join its group, so they share its fdatasync
  // instead of each paying for one. 0 disables the wait. A lone writer never
  // waits.
  uint32_t group_commit_wait_us = 200;
  // A WAL file is rotated once it exceeds this size.
  uint64_t wal_file_bytes = 64ull << 20;

  // When the head holds more than this (approximate bytes), it is flushed to
  // segments in the background; writes wait if a second head fills up while
  // a flush is still running.
  uint64_t head_max_bytes = 256ull << 20;
  // Segments are time-partitioned: one file per flush and partition.
  int64_t segment_partition_ms = 86'400'000;  // one day
  uint32_t max_points_per_chunk = 2048;
  // Rollup tiers built for every series of every segment (rollup.h): steps
  // in ms, positive and increasing. Queries whose buckets are unions of a
  // tier's buckets read its rows instead of the points. A step should divide
  // segment_partition_ms (a row straddling two partitions is never used); a
  // tier needing more than 65536 rows in one segment is not built there.
  // Empty: no rollups. Each tier costs disk (docs/segment-format.md gives
  // the figures): 1 h costs 0.022 byte per point of dense 10 s data. A row
  // costs about the same whatever it covers, so sparse series (a few points
  // per hour) pay far more per point. While raw points are kept for ever, a
  // tier that would have a single row for a series in a segment is left out
  // there (the chunks' stats answer the same buckets): the 1 d tier costs
  // nothing in day files and is built in the 30-day files of old data.
  std::vector<int64_t> rollup_tiers_ms = {3'600'000, 86'400'000};
  // A series' tier in a segment is built only where its rows summarise at
  // least this many points each on average (1: always): at 10 s a 1 h row
  // covers 360 points and costs 0.022 byte a point, at 5 min it covers 12
  // and costs about 1.6, for little gain (a query then reads 12 points).
  // The default keeps 1 h rows from 1-minute data up. Not applied when
  // raw_retention_ms is set: the rows then outlive the points, so every
  // series gets every tier.
  uint32_t rollup_min_points_per_row = 32;
  // Retention (docs/internals.md, "Retention"). Raw points older than
  // raw_retention_ms (0: kept for ever) are expired: queries and reads
  // never return them, writes of them are refused (INVALID_ARGUMENT), and
  // the compactor drops them from the files, a whole partition at a time
  // where it can, keeping the files' rollup rows, which then hold the
  // history. rollup_retention_ms gives each tier of rollup_tiers_ms its own
  // time (same length, or empty: every tier kept for ever; 0: that tier
  // kept for ever); a row expires once its bucket ended that long ago.
  // When raw_retention_ms is set each tier's time must be 0 or at least the
  // finer tier's (and raw_retention_ms), and each step divide the next.
  int64_t raw_retention_ms = 0;
  std::vector<int64_t> rollup_retention_ms;
  // The clock retention is measured against, in ms since the Unix epoch
  // (default, when empty: the system clock). For tests and replays.
  std::function<int64_t()> wall_clock_ms;
  // Also store m2 in the rows so that stddev reads rows instead of points
  // (~0.02 byte per point more at 1 h).
  bool rollup_stddev = false;
  // Compaction (docs/internals.md, "Compaction"). A background compactor
  // merges the files of a partition into one (newest write wins), which
  // makes reads touch one file and rebuilds the rollup rows that late points
  // invalidated: a day that has ended once its files were all written
  // compaction_quiet_ms ago; the running day's newest files (of similar
  // size) once it holds compaction_trigger_files. Old data moves to coarser partitions: each
  // of partition_level_factors makes a level of windows that many times
  // wider than the level before (the first: segment_partition_ms; windows
  // are aligned to the epoch), and once a window ended
  // partition_merge_after_ms ago (by the wall clock) its files are merged
  // into one, so that a series has one index entry and full chunks there.
  // The default, {30}: 30-day windows. Empty: partitions stay
  // segment_partition_ms wide.
  bool auto_compaction = true;
  uint32_t compaction_trigger_files = 4;
  uint32_t compaction_quiet_ms = 60'000;
  std::vector<uint32_t> partition_level_factors = {30};
  int64_t partition_merge_after_ms = 86'400'000;
  // How often the compactor looks for work besides after each flush.
  uint32_t compaction_interval_ms = 10'000;
  // Bytes a second the background compactor writes at most (0: no limit);
  // a merge that Compact was asked to wait for is not limited. While a
  // flush runs, a background merge pauses.
  uint64_t compaction_max_bytes_per_second = 0;

  // Decode every chunk of every segment when opening (checksums and
  // structure); a corrupt segment is quarantined. Off by default: open then
  // checks each segment's header, footer and index checksums, and a chunk's
  // checksum is checked whenever it is read (a corrupt chunk fails that
  // read, naming the file), so reopening does not read the whole store.
  bool verify_segments_on_open = false;
  // Keep series.idx, a snapshot of the series index that an open maps
  // instead of rebuilding the index from series.log: written by the
  // background thread on a tick with no flush asked for, once the series
  // logged since the last snapshot number as many as it holds (at least
  // 1,024), and at close when any were.
  bool index_snapshots = true;

  Logger logger = StderrLogger();
};

}  // namespace kpidb
