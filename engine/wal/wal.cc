#include "engine/wal/wal.h"

#include <lz4.h>

#include <algorithm>
#include <functional>

#include <cstring>

#include "engine/codec/chunk.h"
#include "engine/common/coding.h"
#include "engine/wal/record_log.h"

namespace kpidb {
namespace {

constexpr uint8_t kPointsRaw = 0;
constexpr uint8_t kPointsLz4 = 1;
constexpr uint8_t kPointsChunk = 2;
constexpr uint64_t kMaxRawPointsBytes = 1ull << 30;

}  // namespace

std::string EncodeWalPoints(std::span<const int64_t> timestamps, std::span<const double> values) {
  // The usual case, timestamps strictly increasing: a chunk, ~10x smaller
  // than LZ4 over raw points, so each group commit syncs fewer bytes.
  if (!timestamps.empty() && timestamps.size() <= kMaxChunkPoints &&
      std::adjacent_find(timestamps.begin(), timestamps.end(),
                         std::greater_equal<int64_t>()) == timestamps.end()) {
    std::string out(1, static_cast<char>(kPointsChunk));
    EncodeChunkWithOptions(timestamps, values, ChunkEncodeOptions{.entropy_coding = false}, &out);
    return out;
  }
  // Per-thread scratch: writers encode in their own threads, many times.
  thread_local std::string raw;
  thread_local std::string compressed;
  raw.clear();
  uint64_t prev = 0;
  for (int64_t t : timestamps) {
    const uint64_t u = static_cast<uint64_t>(t);
    PutVarint64(&raw, ZigZagEncode(static_cast<int64_t>(u - prev)));
    prev = u;
  }
  const size_t ts_bytes = raw.size();
  raw.resize(ts_bytes + values.size() * sizeof(double));
  for (size_t i = 0; i < values.size(); ++i) {
    const uint64_t bits = DoubleBits(values[i]);
    for (int b = 0; b < 8; ++b) raw[ts_bytes + i * 8 + b] = static_cast<char>(bits >> (8 * b));
  }

  const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
  if (compressed.size() < static_cast<size_t>(bound)) compressed.resize(static_cast<size_t>(bound));
  const int n = LZ4_compress_default(raw.data(), compressed.data(), static_cast<int>(raw.size()),
                                     bound);
  std::string out;
  if (n > 0 && static_cast<size_t>(n) < raw.size()) {
    out.reserve(static_cast<size_t>(n) + 21);
    out.push_back(static_cast<char>(kPointsLz4));
    PutVarint64(&out, raw.size());
    PutVarint64(&out, static_cast<uint64_t>(n));
    out.append(compressed.data(), static_cast<size_t>(n));
  } else {
    out.reserve(raw.size() + 11);
    out.push_back(static_cast<char>(kPointsRaw));
    PutVarint64(&out, raw.size());
    out.append(raw);
  }
  return out;
}

void StartWalRecord(uint32_t series_count, std::string* body) { PutVarint64(body, series_count); }

void AppendWalSeries(SeriesId id, std::string_view canonical, uint32_t point_count,
                     std::string_view encoded_points, std::string* body) {
  PutFixed64(body, id);
  PutLengthPrefixed(body, canonical);
  PutVarint64(body, point_count);
  PutLengthPrefixed(body, encoded_points);
}

static Status DecodeWalPoints(std::string_view encoded, uint64_t count, WalSeriesEntry* e) {
  if (!encoded.empty() && static_cast<uint8_t>(encoded[0]) == kPointsChunk) {
    e->timestamps.clear();
    e->values.clear();
    KPIDB_RETURN_IF_ERROR(DecodeChunk(encoded.substr(1), &e->timestamps, &e->values));
    if (e->timestamps.size() != count) return Status::Corruption("point count mismatch");
    return Status::Ok();
  }
  ByteReader r(encoded);
  uint8_t encoding;
  uint64_t raw_len;
  if (!r.GetByte(&encoding) || !r.GetVarint64(&raw_len) || raw_len > kMaxRawPointsBytes ||
      count > raw_len / 9) {
    return Status::Corruption("malformed points header");
  }
  std::string buffer;
  std::string_view raw;
  if (encoding == kPointsLz4) {
    uint64_t stored;
    std::string_view data;
    if (!r.GetVarint64(&stored) || !r.GetBytes(stored, &data) || !r.empty()) {
      return Status::Corruption("malformed compressed points");
    }
    buffer.resize(raw_len);
    int n = LZ4_decompress_safe(data.data(), buffer.data(), static_cast<int>(data.size()),
                                static_cast<int>(raw_len));
    if (n < 0 || static_cast<uint64_t>(n) != raw_len) {
      return Status::Corruption("points fail to decompress");
    }
    raw = buffer;
  } else if (encoding == kPointsRaw) {
    if (!r.GetBytes(raw_len, &raw) || !r.empty()) return Status::Corruption("malformed points");
  } else {
    return Status::Corruption("unknown points encoding " + std::to_string(encoding));
  }
  ByteReader p(raw);
  e->timestamps.resize(count);
  e->values.resize(count);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < count; ++i) {
    int64_t delta;
    if (!p.GetVarsint64(&delta)) return Status::Corruption("truncated timestamps");
    prev += static_cast<uint64_t>(delta);
    e->timestamps[i] = static_cast<int64_t>(prev);
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!p.GetDouble(&e->values[i])) return Status::Corruption("truncated values");
  }
  if (!p.empty()) return Status::Corruption("trailing bytes after points");
  return Status::Ok();
}

Status DecodeWalRecord(std::string_view body, std::vector<WalSeriesEntry>* entries) {
  ByteReader r(body);
  uint64_t n;
  if (!r.GetVarint64(&n) || n > r.remaining()) return Status::Corruption("bad series count");
  entries->clear();
  entries->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    WalSeriesEntry e;
    uint64_t count;
    std::string_view points;
    if (!r.GetFixed64(&e.id) || !r.GetLengthPrefixed(&e.canonical) || !r.GetVarint64(&count) ||
        !r.GetLengthPrefixed(&points)) {
      return Status::Corruption("malformed series entry " + std::to_string(i));
    }
    KPIDB_RETURN_IF_ERROR(DecodeWalPoints(points, count, &e));
    entries->push_back(std::move(e));
  }
  if (!r.empty()) return Status::Corruption("trailing bytes in record");
  return Status::Ok();
}

size_t BeginWalGroupMember(std::string* members) {
  const size_t start = members->size();
  PutFixed32(members, 0);  // the member's length, set by EndWalGroupMember
  return start;
}

void EndWalGroupMember(size_t start, std::string* members) {
  const uint32_t length = static_cast<uint32_t>(members->size() - start - 4);
  for (int i = 0; i < 4; ++i) (*members)[start + i] = static_cast<char>(length >> (8 * i));
}

std::string WalGroupCount(uint32_t count) {
  std::string out;
  PutVarint64(&out, count);
  return out;
}

// Calls `apply` for each write batch of a record (one for type 1, each
// member for type 3).
static Status ForEachWalBatch(const LogRecord& rec, std::vector<WalSeriesEntry>* entries,
                              const std::function<Status(std::vector<WalSeriesEntry>&)>& apply,
                              uint64_t* points) {
  auto one = [&](std::string_view body) -> Status {
    Status s = DecodeWalRecord(body, entries);
    if (!s.ok()) return Status::Corruption(s.message());
    for (const WalSeriesEntry& e : *entries) *points += e.timestamps.size();
    return apply(*entries);
  };
  if (rec.type == kWalWriteRecord) return one(rec.payload);
  if (rec.type != kWalGroupRecord) {
    return Status::Corruption("unknown record type " + std::to_string(rec.type));
  }
  ByteReader r(rec.payload);
  uint64_t n;
  if (!r.GetVarint64(&n) || n > r.remaining()) return Status::Corruption("bad group size");
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t length;
    std::string_view body;
    if (!r.GetFixed32(&length) || !r.GetBytes(length, &body)) {
      return Status::Corruption("truncated group member");
    }
    KPIDB_RETURN_IF_ERROR(one(body));
  }
  if (!r.empty()) return Status::Corruption("trailing bytes in group");
  return Status::Ok();
}

std::string WalFileName(uint64_t file_number) { return NumberedFileName(file_number, ".log"); }

bool ParseWalFileName(std::string_view name, uint64_t* file_number) {
  return ParseNumberedFileName(name, ".log", file_number);
}

Status RemoveWalFilesBefore(const std::string& wal_dir, uint64_t checkpoint) {
  KPIDB_ASSIGN_OR_RETURN(auto names, ListDir(wal_dir));
  for (const std::string& name : names) {
    uint64_t number;
    if (ParseWalFileName(name, &number) && number < checkpoint) {
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(wal_dir, name)));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<WalWriter>> WalWriter::Create(const std::string& wal_dir,
                                                     uint64_t file_number) {
  const std::string path = JoinPath(wal_dir, WalFileName(file_number));
  KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(path, /*truncate=*/true));
  KPIDB_RETURN_IF_ERROR(file->Append(LogFileHeader(std::string_view(kWalMagic, 8))));
  KPIDB_RETURN_IF_ERROR(file->Sync());
  KPIDB_RETURN_IF_ERROR(SyncDir(wal_dir));
  return std::unique_ptr<WalWriter>(new WalWriter(std::move(file), file_number));
}

Status CheckWalFile(const std::string& path, std::string_view contents, bool last,
                    const std::function<Status(std::vector<WalSeriesEntry>&)>& apply,
                    WalFileCheck* check) {
  ParsedLog parsed = ParseLog(contents, std::string_view(kWalMagic, 8));
  check->header_ok = parsed.header_ok;
  std::vector<WalSeriesEntry> entries;
  for (const LogRecord& rec : parsed.records) {
    Status s = ForEachWalBatch(rec, &entries, apply, &check->points);
    if (s.IsCorruption()) {
      return Status::Corruption("WAL " + path + " at offset " + std::to_string(rec.offset) + ": " +
                                s.message());
    }
    KPIDB_RETURN_IF_ERROR(s);
    ++check->records;
  }
  if (!parsed.bad_tail) return Status::Ok();
  if (!parsed.header_ok && !parsed.header_torn) {
    return Status::Corruption("WAL " + path + " at offset 0: bad file header");
  }
  const uint64_t bad_at = parsed.header_ok ? parsed.valid_bytes : 0;
  if (!last || parsed.valid_records_after_bad) {
    return Status::Corruption(
        "WAL " + path + " at offset " + std::to_string(bad_at) + ": corrupt record" +
        (last ? " followed by " + std::to_string(parsed.records_after_bad) + " valid records"
              : " in a WAL file that is not the last") +
        "; refusing to drop acknowledged writes (move the file aside to accept the loss)");
  }
  check->torn = true;
  check->torn_at = bad_at;
  return Status::Ok();
}

Status ReplayWal(const std::string& wal_dir, uint64_t first_file_number, const Logger& log,
                 const std::function<Status(std::vector<WalSeriesEntry>&)>& apply,
                 WalReplayStats* stats, uint64_t* max_file_number) {
  KPIDB_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(wal_dir));
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const std::string& name : names) {
    uint64_t number;
    if (ParseWalFileName(name, &number)) {
      *max_file_number = std::max(*max_file_number, number);
      if (number >= first_file_number) files.emplace_back(number, name);
    }
  }
  for (size_t f = 0; f < files.size(); ++f) {
    const std::string path = JoinPath(wal_dir, files[f].second);
    std::string contents;
    KPIDB_RETURN_IF_ERROR(ReadFileToString(path, &contents));
    WalFileCheck check;
    KPIDB_RETURN_IF_ERROR(CheckWalFile(path, contents, f + 1 == files.size(), apply, &check));
    ++stats->files;
    stats->records += check.records;
    stats->points += check.points;
    if (!check.torn) continue;
    const uint64_t dropped = contents.size() - check.torn_at;
    stats->dropped_bytes += dropped;
    stats->dropped_records += 1;
    log("WAL " + path + ": torn tail at offset " + std::to_string(check.torn_at) + ", truncating " +
        std::to_string(dropped) + " bytes (1 incomplete record dropped)");
    if (check.header_ok) {
      KPIDB_RETURN_IF_ERROR(TruncateFile(path, check.torn_at));
    } else {
      KPIDB_RETURN_IF_ERROR(RemoveFile(path));  // torn before its header was complete
    }
  }
  return Status::Ok();
}

}  // namespace kpidb
