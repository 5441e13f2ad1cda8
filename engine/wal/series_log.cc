#include "engine/wal/series_log.h"

#include "engine/common/coding.h"
#include "engine/wal/record_log.h"

namespace kpidb {

Result<std::unique_ptr<SeriesLog>> SeriesLog::Open(const std::string& path, const Logger& log,
                                                   Stored* stored) {
  const std::string_view magic(kSeriesLogMagic, 8);
  const std::string& contents = stored->bytes;
  stored->bytes.clear();  // stays empty if the file does not exist
  stored->definitions.clear();
  Status read = ReadFileToString(path, &stored->bytes);
  if (!read.ok() && !read.IsNotFound()) return read;
  ParsedLog parsed = ParseLog(contents, magic);
  for (const LogRecord& rec : parsed.records) {
    ByteReader r(rec.payload);
    uint64_t n;
    bool ok = rec.type == kSeriesDefinitionRecord && r.GetVarint64(&n) && n <= r.remaining();
    for (uint64_t i = 0; ok && i < n; ++i) {
      uint64_t id;
      std::string_view canonical;
      ok = r.GetFixed64(&id) && r.GetLengthPrefixed(&canonical);
      if (ok) stored->definitions.emplace_back(id, canonical);
    }
    if (!ok || !r.empty()) {
      return Status::Corruption("series log " + path + " at offset " + std::to_string(rec.offset) +
                                ": malformed definition record");
    }
  }
  if (parsed.valid_records_after_bad) {
    return Status::Corruption("series log " + path + " at offset " +
                              std::to_string(parsed.valid_bytes) +
                              ": corrupt record followed by valid ones");
  }
  if (!parsed.header_ok && !parsed.header_torn) {
    return Status::Corruption("series log " + path + " at offset 0: bad file header");
  }
  bool fresh = !parsed.header_ok;
  // A file an older version created keeps its format: appending v2 records
  // behind a v1 header would make them unreadable.
  const uint32_t version = fresh ? kLogFormatVersion : parsed.version;
  if (parsed.bad_tail && parsed.header_ok) {
    log("series log " + path + ": torn tail at offset " + std::to_string(parsed.valid_bytes) +
        ", truncating " + std::to_string(contents.size() - parsed.valid_bytes) + " bytes");
    KPIDB_RETURN_IF_ERROR(TruncateFile(path, parsed.valid_bytes));
  }
  KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(path, /*truncate=*/fresh));
  if (fresh) {
    KPIDB_RETURN_IF_ERROR(file->Append(LogFileHeader(magic)));
    KPIDB_RETURN_IF_ERROR(file->Sync());
  }
  return std::unique_ptr<SeriesLog>(new SeriesLog(std::move(file), version));
}

Status SeriesLog::Append(std::span<const DefinitionView> definitions) {
  // Records of at most ~1 MiB, so no flush, however many series it
  // carries, writes a record too large to read back.
  constexpr size_t kRecordBytes = 1 << 20;
  if (definitions.empty()) return Status::Ok();
  std::string payload, framed;
  for (size_t i = 0; i < definitions.size();) {
    size_t n = 0, bytes = 0;
    while (i + n < definitions.size() && (n == 0 || bytes < kRecordBytes)) {
      bytes += 8 + 5 + definitions[i + n].second.size();
      ++n;
    }
    payload.clear();
    PutVarint64(&payload, n);
    for (size_t k = i; k < i + n; ++k) {
      PutFixed64(&payload, definitions[k].first);
      PutLengthPrefixed(&payload, definitions[k].second);
    }
    framed.clear();
    AppendLogRecordInVersion(version_, kSeriesDefinitionRecord, payload, &framed);
    KPIDB_RETURN_IF_ERROR(file_->Append(framed));
    i += n;
  }
  return file_->Sync();
}

}  // namespace kpidb
