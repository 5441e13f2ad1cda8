// The compactor: merges the segments of a time partition into one (newest
// write wins), so that reads of it touch one file and its rollup rows cover
// every point again; and deletes, which is such a merge leaving points out.
//
// It works from a version snapshot, one partition at a time, under its own
// lock (one Compact or Delete at a time) and no other while it reads and
// writes: segments are immutable. Only installing a merged file takes the
// version set's manifest lock, briefly, so flushes and reads go on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/core/flusher.h"
#include "engine/core/version.h"
#include "engine/core/write_queue.h"
#include "kpidb/options.h"
#include "kpidb/status.h"

namespace kpidb {

class Compactor {
 public:
  Compactor(const EngineOptions& options, std::string segment_dir, VersionSet* versions,
            Flusher* flusher, const WriteQueue* queue);

  // Merges every partition that has several files in the current version.
  // `merged`: segment files replaced, if given. See EngineCore::Compact.
  Status Compact(uint64_t* merged);
  // Flushes the head, then rewrites the partitions holding points of `ids`
  // in [start_ms, end_ms) without them. See EngineCore::Delete.
  Status Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                uint64_t* deleted_points);
  // Tests: runs `hook` in each merge, after the merged file is written and
  // before it is installed.
  void SetMergeHookForTest(std::function<void()> hook);

 private:
  struct DeleteRange {
    std::set<SeriesId> ids;
    int64_t start_ms;
    int64_t end_ms;
  };
  // Segments by partition, oldest first, without the partitions that a file
  // spanning several partitions (written with another segment_partition_ms)
  // overlaps. `spanning` receives those files.
  std::map<int64_t, std::vector<std::shared_ptr<SegmentReader>>> SegmentsByPartition(
      const Version& version, std::vector<std::shared_ptr<SegmentReader>>* spanning) const;
  // REQUIRES mu_. Replaces `old` (one partition's segments, oldest first)
  // by one merged file, leaving out `remove` if given.
  Status Merge(const std::vector<std::shared_ptr<SegmentReader>>& old, const DeleteRange* remove,
               uint64_t* removed_points);

  const EngineOptions& options_;
  const std::string segment_dir_;
  VersionSet& versions_;
  Flusher& flusher_;
  const WriteQueue& queue_;

  std::mutex mu_;  // one Compact or Delete at a time, for its whole run
  std::function<void()> merge_hook_for_test_;  // under mu_
};

}  // namespace kpidb
