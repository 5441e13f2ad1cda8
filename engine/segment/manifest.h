// The manifest: which segment files are live and where WAL replay starts.
// One small file, MANIFEST, replaced atomically (write MANIFEST.tmp, fsync,
// rename, fsync the directory): a crash at any instant leaves the old or the
// new state. Layout in docs/segment-format.md ("Manifest").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

struct Manifest {
  // The next number to give a WAL or segment file; numbers are never reused.
  uint64_t next_file_number = 1;
  // WAL files numbered below this are fully flushed; replay starts here.
  uint64_t wal_checkpoint = 0;
  // Live segment file numbers in age order, oldest first: a later one holds
  // later writes, which win over earlier ones. Flushes append; a merged file
  // takes the place of the newest file it replaced (files flushed into its
  // partition meanwhile stay after it), so files after it may have lower
  // numbers. Not sorted.
  std::vector<uint64_t> segments;

  std::string Encode() const;
  // Corruption (naming `path`) on a bad magic, version or checksum.
  static Result<Manifest> Decode(std::string_view data, const std::string& path);
};

// Reads dir/MANIFEST; NotFound when the data dir is new.
Result<Manifest> ReadManifest(const std::string& dir);
Status WriteManifest(const std::string& dir, const Manifest& manifest);

}  // namespace kpidb
