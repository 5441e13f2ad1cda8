// kpictl's offline commands (offline.cc): on a data directory, refused
// while a server holds its lock.
#pragma once

#include <string>

#include "tools/kpictl/commands.h"

namespace kpidb::kpictl {

// Every checksum of the data dir; kExitCorruption if it found a problem
// (each printed with its path and offset).
int Verify(Context& ctx, const std::string& dir);
// what: "" (the live segments), "wal", or a segment file's path (its index).
int Inspect(Context& ctx, const std::string& dir, const std::string& what);
// Offline: the WAL files a server would refuse to open with (damage before
// acknowledged records) are rewritten without their damaged bytes, after
// saying what is kept and what is lost and asking (unless `yes`); the
// original files are moved to quarantine/, never deleted.
int Repair(Context& ctx, const std::string& dir, bool yes);
// Online: the server snapshots its data dir into `dest` (a path on its
// machine); verified here when this machine sees it.
int Backup(Context& ctx, const std::string& dest);
// Offline: `src` (a backup) verified, copied into `dir` (new or empty, or
// with `force` emptied first; never one a server holds), verified again.
int Restore(Context& ctx, const std::string& src, const std::string& dir, bool force);

}  // namespace kpidb::kpictl
