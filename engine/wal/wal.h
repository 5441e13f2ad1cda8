// The write-ahead log: segmented files wal/<number>.log, each a record log
// (record_log.h) of magic "KPIDBWAL". A record is one acknowledged write
// batch. Layout in docs/wal-format.md.
//
// Encoding is split so that the expensive part (compressing the points of
// each series) runs in the writer's own thread, and only the cheap framing
// (series ids, new-series keys) runs in the engine's single write leader.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/file_util.h"
#include "kpidb/options.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

inline constexpr char kWalMagic[] = "KPIDBWAL";
inline constexpr uint8_t kWalWriteRecord = 1;  // one write batch
// One group commit: several write batches under one checksum, so that a
// crash mid-append leaves the whole group torn, never half of it.
inline constexpr uint8_t kWalGroupRecord = 3;

// The points of one series as stored in a WAL record: an encoding byte,
// then a chunk (docs/chunk-format.md) when the timestamps are strictly
// increasing, else the (possibly LZ4-compressed) block of delta-varint
// timestamps and raw little-endian doubles.
std::string EncodeWalPoints(std::span<const int64_t> timestamps, std::span<const double> values);

// Appends one series entry to a write record's body. `canonical` is empty
// when the series was defined earlier (its id is then known from series.log
// or an earlier record).
void AppendWalSeries(SeriesId id, std::string_view canonical, uint32_t point_count,
                     std::string_view encoded_points, std::string* body);
// The body starts with the series count.
void StartWalRecord(uint32_t series_count, std::string* body);

// A group record's payload is built in place: for each member,
// BeginWalGroupMember, then StartWalRecord/AppendWalSeries into the same
// string, then EndWalGroupMember; the record is framed with the count in
// front: AppendLogRecord(kWalGroupRecord, WalGroupCount(n), members, &out).
size_t BeginWalGroupMember(std::string* members);  // returns the member's start
void EndWalGroupMember(size_t start, std::string* members);
std::string WalGroupCount(uint32_t count);

struct WalSeriesEntry {
  SeriesId id;
  std::string_view canonical;  // empty if not defined by this record
  std::vector<int64_t> timestamps;
  std::vector<double> values;
};
// Decodes a write record body. Corruption on malformed input.
Status DecodeWalRecord(std::string_view body, std::vector<WalSeriesEntry>* entries);

// Appends to the current WAL file, rotating to a new numbered file when it
// grows past the configured size. Not thread-safe: the engine serialises
// callers (its write leader and flush).
class WalWriter {
 public:
  // Creates wal/<file_number>.log (fsyncing the file and the directory so
  // that the file itself survives a crash).
  static Result<std::unique_ptr<WalWriter>> Create(const std::string& wal_dir,
                                                   uint64_t file_number);
  Status Append(std::string_view framed_records) { return file_->Append(framed_records); }
  Status Sync() { return file_->Sync(); }
  uint64_t file_number() const { return file_number_; }
  uint64_t file_size() const { return file_->size(); }

 private:
  WalWriter(std::unique_ptr<AppendFile> file, uint64_t number)
      : file_(std::move(file)), file_number_(number) {}
  std::unique_ptr<AppendFile> file_;
  uint64_t file_number_;
};

std::string WalFileName(uint64_t file_number);
// Parses "<number>.log"; false for anything else.
bool ParseWalFileName(std::string_view name, uint64_t* file_number);
// Removes the WAL files numbered below `checkpoint`: segments hold their
// points (after a flush, or a crash right after one).
Status RemoveWalFilesBefore(const std::string& wal_dir, uint64_t checkpoint);

struct WalReplayStats {
  uint64_t files = 0;
  uint64_t records = 0;
  uint64_t points = 0;
  uint64_t dropped_bytes = 0;
  uint64_t dropped_records = 0;
};

// What one WAL file holds, read without changing it (ReplayWal, and
// kpictl verify): the batches of its valid records go to `apply`, counted
// in *check. Corruption naming `path` and the offset where a replay would
// refuse to open (a bad header, a bad record in a file that is not the
// last, or one followed by valid records); a torn tail of the last file is
// not (check->torn_at says where it starts: a replay truncates there).
struct WalFileCheck {
  uint64_t records = 0;
  uint64_t points = 0;
  bool torn = false;     // the last file ends with a torn record...
  uint64_t torn_at = 0;  // ...starting here (0: the header is torn, the file holds nothing)
  bool header_ok = false;
};
Status CheckWalFile(const std::string& path, std::string_view contents, bool last,
                    const std::function<Status(std::vector<WalSeriesEntry>&)>& apply,
                    WalFileCheck* check);

// Replays every WAL file numbered >= `first_file_number`, in order, calling
// `apply` for each record's entries. A torn or corrupt tail of the LAST file
// is truncated away (logged with the bytes and records dropped). A bad
// record anywhere else, or one followed by valid records, is Corruption
// naming the file and offset: acknowledged writes would be lost, so the
// engine refuses to open rather than guess.
Status ReplayWal(const std::string& wal_dir, uint64_t first_file_number, const Logger& log,
                 const std::function<Status(std::vector<WalSeriesEntry>&)>& apply,
                 WalReplayStats* stats, uint64_t* max_file_number);

}  // namespace kpidb
