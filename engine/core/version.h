// The version a read pins, and the manifest that makes it durable.
//
//   std::shared_ptr<const Version> v = versions.Current();   // pin
//   ... read v->active, v->flushing, v->segments as long as needed ...
//
// Every change builds a new Version from the current one and installs it
// whole (copy on write): a reader never sees half a change, and the heads
// and segment files it pinned stay valid (mapped) until it drops them.
// Changes that the manifest records (segments flushed, segments merged)
// write MANIFEST first and install after: the files a Version names are
// durable before any reader sees them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/head/head.h"
#include "engine/segment/manifest.h"
#include "engine/segment/segment.h"
#include "kpidb/status.h"

namespace kpidb {

struct Version {
  std::shared_ptr<Head> active;    // takes the writes
  std::shared_ptr<Head> flushing;  // frozen, being written to segments; or null
  std::vector<std::shared_ptr<SegmentReader>> segments;  // oldest first: later ones win
};

// Thread-safe. Locks: manifest_mu_ -> state_mu_ (both leaves for callers:
// nothing else is taken under them).
class VersionSet {
 public:
  VersionSet(std::string dir, std::string segment_dir);

  std::shared_ptr<const Version> Current() const;
  // segments/<number>.kps
  std::string SegmentPath(uint64_t number) const;
  // A fresh WAL or segment file number; numbers are never reused.
  uint64_t NewFileNumber() { return next_file_number_++; }
  // The number NewFileNumber would give next (every file numbered below it
  // was allocated already).
  uint64_t NextFileNumber() const { return next_file_number_.load(); }

  // Recovery, before any other use: the manifest as opened and the first
  // version; writes the manifest (with `next_file_number`).
  Status Reset(Manifest manifest, std::shared_ptr<const Version> version,
               uint64_t next_file_number);
  uint64_t wal_checkpoint() const;
  // The manifest as last written and the version it describes, together
  // (next_file_number set).
  std::pair<Manifest, std::shared_ptr<const Version>> ManifestAndVersion() const;

  // The active head becomes the flushing one and `fresh` takes the writes.
  // The caller holds the WAL lock, so that no write lands in the old head
  // afterwards. REQUIRES: no head is flushing.
  void FreezeHead(std::shared_ptr<Head> fresh);
  // The flushing head is in segments `numbers` (read by `readers`): they
  // join the newest end, the WAL files below `wal_checkpoint` are no longer
  // needed, and no head is flushing any more.
  Status AddFlushed(const std::vector<uint64_t>& numbers,
                    std::vector<std::shared_ptr<SegmentReader>> readers, uint64_t wal_checkpoint);
  // `old` (numbered `old_numbers`) is replaced by `merged` (numbered
  // `number`; null: every point was deleted), which takes the place of the
  // newest file of `old`: files added after it (flushed meanwhile into the
  // same partition) stay newer, as their points are.
  Status ReplaceMerged(const std::vector<std::shared_ptr<SegmentReader>>& old,
                       const std::set<uint64_t>& old_numbers,
                       std::shared_ptr<SegmentReader> merged, uint64_t number);
  // Closing: waits for a manifest change in progress; later ones fail
  // (UNAVAILABLE) and leave the manifest alone, so that nothing writes it
  // once the dir lock is released.
  void Seal();

 private:
  // REQUIRES manifest_mu_. Writes `next` with the current file number.
  Status SaveManifest(Manifest next);
  void Install(std::shared_ptr<const Version> next);

  const std::string dir_;
  const std::string segment_dir_;
  std::atomic<uint64_t> next_file_number_{1};

  mutable std::mutex manifest_mu_;  // one manifest change at a time
  Manifest manifest_;               // under manifest_mu_
  bool sealed_ = false;             // under manifest_mu_

  mutable std::shared_mutex state_mu_;
  std::shared_ptr<const Version> current_;  // under state_mu_
};

}  // namespace kpidb
