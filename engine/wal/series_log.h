// series.log: the persistent half of the series index. An append-only record
// log (record_log.h, magic "KPIDBSER") of series definitions (id, canonical
// key). Definitions first reach disk inside WAL records; at each flush the
// ones created since the previous flush are appended here (and fsynced)
// before the WAL files holding them are deleted. Layout: docs/wal-format.md.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/file_util.h"
#include "kpidb/options.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

inline constexpr char kSeriesLogMagic[] = "KPIDBSER";
inline constexpr uint8_t kSeriesDefinitionRecord = 2;
// How many bytes before a resume point its hash covers (SeriesLog::Resume).
inline constexpr uint64_t kSeriesLogTailCheckBytes = 4096;

struct LogRecord;

class SeriesLog {
 public:
  using Definition = std::pair<SeriesId, std::string>;  // id, canonical key
  using DefinitionView = std::pair<SeriesId, std::string_view>;
  // Appends the definitions of one record of the log to *out (views into
  // its payload); false if it is not a well-formed definition record (what
  // was read before the malformation is appended). kpictl verify reads the
  // log with it too.
  static bool DecodeRecord(const LogRecord& rec, std::vector<DefinitionView>* out);
  // What Open read: the file's bytes and the definitions, as views into them
  // (a million series are then two allocations, not a million).
  struct Stored {
    Stored() = default;
    // The views point into `bytes`: a copy would view the original's.
    Stored(const Stored&) = delete;
    Stored& operator=(const Stored&) = delete;
    std::string bytes;
    std::vector<DefinitionView> definitions;
    // Open read from the resume point only (the file matched it).
    bool resumed = false;
    // The definitions, owning their keys.
    std::vector<Definition> Copy() const {
      return std::vector<Definition>(definitions.begin(), definitions.end());
    }
  };

  // A point to read on from: a length the file had (at a record boundary)
  // and TailHash() of the bytes before it, as an index snapshot records them.
  struct Resume {
    uint64_t bytes = 0;
    uint64_t tail_hash = 0;
  };

  // Opens (creating if absent) `path`, returning every stored definition in
  // *stored; with `resume`, only those after it, if the file still holds
  // what it held then (else all, and stored->resumed is false). A torn tail
  // is truncated and logged; a corrupt record followed by valid ones is
  // Corruption naming the path and offset.
  static Result<std::unique_ptr<SeriesLog>> Open(const std::string& path, const Logger& log,
                                                 Stored* stored, const Resume* resume = nullptr);
  // The file's length, and what Resume needs to read on from `length` (a
  // length it had after an Append that succeeded).
  uint64_t bytes() const { return file_->size(); }
  Result<Resume> ResumePoint(uint64_t length) const;
  // Appends the definitions (in records of ~1 MiB, in the file's own format
  // version, written one by one: a flush of a million series holds one
  // record, not the whole batch, framed) and fsyncs. Not thread-safe.
  Status Append(std::span<const DefinitionView> definitions);
  // The same without the fsync: a caller appending in parts syncs once, at
  // the end (Sync).
  Status AppendUnsynced(std::span<const DefinitionView> definitions);
  Status Sync();

 private:
  SeriesLog(std::string path, std::unique_ptr<AppendFile> file, uint32_t version)
      : path_(std::move(path)), file_(std::move(file)), version_(version) {}
  std::string path_;
  std::unique_ptr<AppendFile> file_;
  uint32_t version_;  // the record format of the file (record_log.h)
};

}  // namespace kpidb
