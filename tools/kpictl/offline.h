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

}  // namespace kpidb::kpictl
