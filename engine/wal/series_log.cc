#include "engine/wal/series_log.h"

#include <xxhash.h>

#include "engine/common/coding.h"
#include "engine/wal/record_log.h"

namespace kpidb {

bool SeriesLog::DecodeRecord(const LogRecord& rec, std::vector<DefinitionView>* out) {
  ByteReader r(rec.payload);
  uint64_t n;
  bool ok = rec.type == kSeriesDefinitionRecord && r.GetVarint64(&n) && n <= r.remaining();
  for (uint64_t i = 0; ok && i < n; ++i) {
    uint64_t id;
    std::string_view canonical;
    ok = r.GetFixed64(&id) && r.GetLengthPrefixed(&canonical);
    if (ok) out->emplace_back(id, canonical);
  }
  return ok && r.empty();
}

namespace {

// The hash a resume point keeps of the bytes before it: [start, bytes).
uint64_t TailHashOf(std::string_view before) {
  return XXH3_64bits(before.data(), before.size());
}
uint64_t TailStart(uint64_t bytes) {
  return bytes > kLogFileHeaderSize + kSeriesLogTailCheckBytes ? bytes - kSeriesLogTailCheckBytes
                                                               : kLogFileHeaderSize;
}

// Reads the file's header and what follows `resume` into *contents (the
// header, then the bytes from resume->bytes on), if the bytes before it
// still hash as they did.
Result<bool> ReadFromResumePoint(const std::string& path, std::string_view magic,
                                 const SeriesLog::Resume& resume, std::string* contents) {
  if (resume.bytes < kLogFileHeaderSize) return false;
  std::string header, tail;
  Status read = ReadFileRange(path, 0, kLogFileHeaderSize, &header);
  if (read.IsNotFound()) return false;
  KPIDB_RETURN_IF_ERROR(read);
  // The tail hash does not cover the header: a damaged one must be read
  // (and refused) as a whole read would, never taken for a fresh file.
  if (header != LogFileHeader(magic, 1) && header != LogFileHeader(magic, 2)) return false;
  const uint64_t start = TailStart(resume.bytes);
  KPIDB_RETURN_IF_ERROR(ReadFileRange(path, start, UINT64_MAX, &tail));
  if (tail.size() < resume.bytes - start ||  // shorter than when the point was taken
      TailHashOf(std::string_view(tail).substr(0, resume.bytes - start)) != resume.tail_hash) {
    return false;
  }
  *contents = std::move(header);
  contents->append(tail, resume.bytes - start);
  return true;
}

}  // namespace

Result<SeriesLog::Resume> SeriesLog::ResumePoint(uint64_t length) const {
  Resume point{length, 0};
  std::string before;
  const uint64_t start = TailStart(point.bytes);
  KPIDB_RETURN_IF_ERROR(ReadFileRange(path_, start, point.bytes - start, &before));
  if (before.size() != point.bytes - start) {
    return Status::IOError(path_ + " is shorter than the " + std::to_string(point.bytes) +
                           " bytes written to it");
  }
  point.tail_hash = TailHashOf(before);
  return point;
}

Result<std::unique_ptr<SeriesLog>> SeriesLog::Open(const std::string& path, const Logger& log,
                                                   Stored* stored, const Resume* resume) {
  const std::string_view magic(kSeriesLogMagic, 8);
  const std::string& contents = stored->bytes;
  stored->bytes.clear();  // stays empty if the file does not exist
  stored->definitions.clear();
  stored->resumed = false;
  if (resume != nullptr) {
    KPIDB_ASSIGN_OR_RETURN(stored->resumed, ReadFromResumePoint(path, magic, *resume, &stored->bytes));
  }
  if (!stored->resumed) {
    Status read = ReadFileToString(path, &stored->bytes);
    if (!read.ok() && !read.IsNotFound()) return read;
  }
  // File offset of contents[i] for i past the header: contents skips what
  // the resume point covers.
  const uint64_t skipped = stored->resumed ? resume->bytes - kLogFileHeaderSize : 0;
  ParsedLog parsed = ParseLog(contents, magic);
  for (LogRecord& rec : parsed.records) rec.offset += skipped;
  if (parsed.header_ok) parsed.valid_bytes += skipped;
  for (const LogRecord& rec : parsed.records) {
    if (!DecodeRecord(rec, &stored->definitions)) {
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
        ", truncating " + std::to_string(contents.size() + skipped - parsed.valid_bytes) + " bytes");
    KPIDB_RETURN_IF_ERROR(TruncateFile(path, parsed.valid_bytes));
  }
  KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(path, /*truncate=*/fresh));
  if (fresh) {
    KPIDB_RETURN_IF_ERROR(file->Append(LogFileHeader(magic)));
    KPIDB_RETURN_IF_ERROR(file->Sync());
  }
  return std::unique_ptr<SeriesLog>(new SeriesLog(path, std::move(file), version));
}

Status SeriesLog::Append(std::span<const DefinitionView> definitions) {
  KPIDB_RETURN_IF_ERROR(AppendUnsynced(definitions));
  return Sync();
}

Status SeriesLog::Sync() { return file_->Sync(); }

Status SeriesLog::AppendUnsynced(std::span<const DefinitionView> definitions) {
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
  return Status::Ok();
}

}  // namespace kpidb
