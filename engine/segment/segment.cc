#include "engine/segment/segment.h"

#include <xxhash.h>

#include <algorithm>

#include "engine/common/coding.h"
#include "engine/common/point_order.h"

namespace kpidb {
namespace {

constexpr size_t kWriteBufferBytes = 1 << 20;

std::string SegmentHeader(uint32_t version = kSegmentFormatVersion) {
  std::string h(kSegmentMagic, 8);
  PutFixed32(&h, version);
  PutFixed32(&h, 0);  // flags, reserved
  return h;
}

// One series' index entry (docs/segment-format.md).
void EncodeEntry(const SegmentSeries& s, std::string* out) {
  PutFixed64(out, s.id);
  PutLengthPrefixed(out, s.canonical);
  PutVarint64(out, s.chunks.size());
  uint64_t prev_end = 0;
  int64_t prev_max_ts = 0;
  for (const ChunkMeta& c : s.chunks) {
    PutVarint64(out, c.offset - prev_end);
    PutVarint64(out, c.length);
    PutVarint64(out, c.stats.count);
    PutVarsint64(out, static_cast<int64_t>(static_cast<uint64_t>(c.stats.min_timestamp_ms) -
                                           static_cast<uint64_t>(prev_max_ts)));
    PutVarint64(out, static_cast<uint64_t>(c.stats.max_timestamp_ms) -
                         static_cast<uint64_t>(c.stats.min_timestamp_ms));
    PutDouble(out, c.stats.sum);
    PutDouble(out, c.stats.min);
    PutDouble(out, c.stats.max);
    PutDouble(out, c.stats.first);
    PutDouble(out, c.stats.last);
    prev_end = c.offset + c.length;
    prev_max_ts = c.stats.max_timestamp_ms;
  }
  PutVarint64(out, s.rollup_length == 0 ? 0 : s.rollup_offset - prev_end);
  PutVarint64(out, s.rollup_length);
}

}  // namespace

std::string SegmentFileName(uint64_t number) { return NumberedFileName(number, ".kps"); }

bool ParseSegmentFileName(std::string_view name, uint64_t* number) {
  return ParseNumberedFileName(name, ".kps", number);
}

SegmentWriter::SegmentWriter(std::string path, std::unique_ptr<AppendFile> file,
                             uint32_t max_points_per_chunk, std::vector<int64_t> rollup_steps_ms,
                             bool rollup_m2, uint32_t rollup_min_points_per_row,
                             bool skip_single_row_tiers)
    : file_(std::move(file)),
      max_points_per_chunk_(max_points_per_chunk),
      rollup_steps_ms_(std::move(rollup_steps_ms)),
      rollup_m2_(rollup_m2),
      rollup_min_points_per_row_(rollup_min_points_per_row),
      skip_single_row_tiers_(skip_single_row_tiers),
      path_(std::move(path)) {
  buffer_ = SegmentHeader();
}

SegmentWriter::~SegmentWriter() {
  if (spill_) {
    spill_.reset();
    (void)RemoveFile(SpillPath());  // best effort: recovery removes leftovers
  }
}

Status SegmentWriter::SpillIndex() {
  if (!spill_) {
    KPIDB_ASSIGN_OR_RETURN(spill_, AppendFile::Open(SpillPath(), true));
  }
  for (size_t i = 0; i + 1 < index_.size(); ++i) KPIDB_RETURN_IF_ERROR(spill_->Append(index_[i]));
  index_.erase(index_.begin(), index_.end() - 1);
  return Status::Ok();
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(const std::string& path,
                                                             uint32_t max_points_per_chunk,
                                                             std::vector<int64_t> rollup_steps_ms,
                                                             bool rollup_m2,
                                                             uint32_t rollup_min_points_per_row,
                                                             bool skip_single_row_tiers) {
  if (max_points_per_chunk == 0 || max_points_per_chunk > kMaxChunkPoints) {
    return Status::InvalidArgument("max_points_per_chunk must be in [1, " +
                                   std::to_string(kMaxChunkPoints) + "]");
  }
  for (size_t i = 0; i < rollup_steps_ms.size(); ++i) {
    if (rollup_steps_ms[i] <= 0 || (i > 0 && rollup_steps_ms[i] <= rollup_steps_ms[i - 1])) {
      return Status::InvalidArgument("rollup steps must be positive and increasing");
    }
  }
  KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(path, /*truncate=*/true));
  return std::unique_ptr<SegmentWriter>(
      new SegmentWriter(path, std::move(file), max_points_per_chunk, std::move(rollup_steps_ms),
                        rollup_m2, rollup_min_points_per_row, skip_single_row_tiers));
}

Status SegmentWriter::MaybeFlushBuffer(bool force) {
  if (buffer_.empty() || (!force && buffer_.size() < kWriteBufferBytes)) return Status::Ok();
  KPIDB_RETURN_IF_ERROR(file_->Append(buffer_));
  buffer_.clear();
  return Status::Ok();
}

std::vector<RollupTier> SegmentWriter::ComputeTiers(std::span<const int64_t> timestamps,
                                                    std::span<const double> values) const {
  std::vector<RollupTier> tiers;
  for (int64_t step : rollup_steps_ms_) {
    tiers.push_back({step, rollup_m2_, ComputeRollupRows(step, timestamps, values)});
    // A tier too fine for this many points is left out (scans then use
    // the points, or a coarser tier), and so is one too fine for so few:
    // its rows would cost about as much as the points they summarise.
    const size_t rows = tiers.back().rows.size();
    if (rows > kMaxRollupRows || timestamps.size() < uint64_t{rollup_min_points_per_row_} * rows ||
        (skip_single_row_tiers_ && rows == 1)) {
      tiers.pop_back();
    }
  }
  return tiers;
}

Status SegmentWriter::AddSeries(SeriesId id, std::string_view canonical,
                                std::span<const int64_t> timestamps,
                                std::span<const double> values) {
  return AddSeriesWithRows(id, canonical, timestamps, values, ComputeTiers(timestamps, values));
}

Status SegmentWriter::AddSeriesWithRows(SeriesId id, std::string_view canonical,
                                        std::span<const int64_t> timestamps,
                                        std::span<const double> values,
                                        std::vector<RollupTier> tiers) {
  if (series_count_ > 0 && id <= last_id_) {
    return Status::Internal("segment series added out of id order");
  }
  std::erase_if(tiers, [](const RollupTier& t) { return t.rows.empty(); });
  for (const RollupTier& t : tiers) {
    if (t.rows.size() > kMaxRollupRows) {
      return Status::InvalidArgument("a rollup tier of " + std::to_string(t.rows.size()) +
                                     " rows for one series, over " + std::to_string(kMaxRollupRows));
    }
  }
  if (timestamps.empty() && tiers.empty()) {
    return Status::Internal("segment series added without points or rows");
  }
  last_id_ = id;
  SegmentSeries& entry = entry_;
  entry.id = id;
  entry.canonical = canonical;
  entry.chunks.clear();
  entry.rollup_offset = 0;
  entry.rollup_length = 0;
  for (size_t start = 0; start < timestamps.size(); start += max_points_per_chunk_) {
    size_t n = std::min<size_t>(max_points_per_chunk_, timestamps.size() - start);
    auto ts = timestamps.subspan(start, n);
    auto vs = values.subspan(start, n);
    ChunkMeta meta;
    meta.offset = file_size();
    size_t before = buffer_.size();
    EncodeChunk(ts, vs, &buffer_);
    meta.length = static_cast<uint32_t>(buffer_.size() - before);
    meta.stats = ComputeChunkStats(ts, vs);
    entry.chunks.push_back(meta);
    KPIDB_RETURN_IF_ERROR(MaybeFlushBuffer(false));
  }
  if (!tiers.empty()) {
    entry.rollup_offset = file_size();
    const size_t before = buffer_.size();
    EncodeRollupBlock(tiers, &buffer_);
    entry.rollup_length = static_cast<uint32_t>(buffer_.size() - before);
    KPIDB_RETURN_IF_ERROR(MaybeFlushBuffer(false));
    for (const RollupTier& t : tiers) {
      auto at = std::lower_bound(steps_written_.begin(), steps_written_.end(), t.step_ms);
      if (at == steps_written_.end() || *at != t.step_ms) steps_written_.insert(at, t.step_ms);
      // The file's span covers the buckets of the rows no point is in (rows
      // whose points are gone: history), which lie before the points.
      const int64_t first = RollupBucketStart(t.step_ms, t.rows.front().bucket);
      const int64_t last = RollupBucketEnd(t.step_ms, t.rows.back().bucket) - 1;
      if (timestamps.empty() ||
          RollupBucketEnd(t.step_ms, t.rows.front().bucket) <= timestamps.front()) {
        history_rows_ = true;
        min_ts_ = std::min(min_ts_, first);
      }
      if (timestamps.empty() ||
          RollupBucketStart(t.step_ms, t.rows.back().bucket) > timestamps.back()) {
        history_rows_ = true;
        max_ts_ = std::max(max_ts_, last);
      }
    }
  }
  if (!timestamps.empty()) {
    min_ts_ = std::min(min_ts_, timestamps.front());
    max_ts_ = std::max(max_ts_, timestamps.back());
  }
  points_ += timestamps.size();
  constexpr size_t kIndexPieceBytes = 1 << 20;
  if (index_.empty() || index_.back().size() >= kIndexPieceBytes) {
    if (index_.size() >= kIndexPiecesInMemory) KPIDB_RETURN_IF_ERROR(SpillIndex());
    index_.emplace_back().reserve(kIndexPieceBytes + 4096);
  }
  EncodeEntry(entry, &index_.back());
  ++series_count_;
  return Status::Ok();
}

Status SegmentWriter::Finish() {
  // The index is written piece by piece, hashed as it goes: a flush of a
  // million series holds its entries once, never in one copy.
  const uint64_t index_offset = file_size();
  KPIDB_RETURN_IF_ERROR(MaybeFlushBuffer(true));
  std::string count;  // the tier steps present (version 3), then the series count
  PutVarint64(&count, steps_written_.size());
  for (int64_t step : steps_written_) PutVarint64(&count, static_cast<uint64_t>(step));
  // Flags: bit 0, some series has history rows; bit 1, every series got
  // every tier it could (no density or single-row rule).
  const bool every_tier = rollup_min_points_per_row_ <= 1 && !skip_single_row_tiers_;
  PutVarint64(&count, (history_rows_ ? 1 : 0) | (every_tier ? 2 : 0));
  PutVarint64(&count, series_count_);
  XXH3_state_t* hash = XXH3_createState();
  if (hash == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(hash);
  uint64_t index_size = 0;
  auto put = [&](std::string_view piece) {
    XXH3_64bits_update(hash, piece.data(), piece.size());
    index_size += piece.size();
    return file_->Append(piece);
  };
  Status written = put(count);
  if (spill_ && written.ok()) {
    // The spilled pieces first, read back a piece at a time.
    const uint64_t spilled = spill_->size();
    written = spill_->Close();
    std::string piece;
    for (uint64_t at = 0; at < spilled && written.ok(); at += piece.size()) {
      written = ReadFileRange(SpillPath(), at, 1 << 20, &piece);
      if (written.ok() && piece.empty()) {
        written = Status::IOError(SpillPath() + " is shorter than written");
      }
      if (written.ok()) written = put(piece);
    }
  }
  for (size_t i = 0; i < index_.size() && written.ok(); ++i) written = put(index_[i]);
  const uint64_t index_checksum = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);
  KPIDB_RETURN_IF_ERROR(written);
  std::vector<std::string>().swap(index_);
  std::string footer;
  PutFixed64(&footer, index_offset);
  PutFixed64(&footer, index_size);
  PutFixed64(&footer, index_checksum);
  PutFixed64(&footer, static_cast<uint64_t>(series_count_ == 0 ? 0 : min_ts_));
  PutFixed64(&footer, static_cast<uint64_t>(series_count_ == 0 ? 0 : max_ts_));
  PutFixed64(&footer, points_);
  PutFixed32(&footer, static_cast<uint32_t>(series_count_));
  PutFixed32(&footer, kSegmentFormatVersion);
  PutFixed64(&footer, XXH3_64bits(footer.data(), footer.size()));
  footer.append(kSegmentMagic, 8);
  buffer_.append(footer);
  KPIDB_RETURN_IF_ERROR(MaybeFlushBuffer(true));
  KPIDB_RETURN_IF_ERROR(file_->Sync());
  KPIDB_RETURN_IF_ERROR(file_->Close());
  if (spill_) {
    // The segment is whole and durable: failing to remove the spill must
    // not fail it (the next open removes a leftover spill).
    spill_.reset();
    (void)RemoveFile(SpillPath());
  }
  return Status::Ok();
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(const std::string& path,
                                                           bool verify_chunks) {
  KPIDB_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  std::unique_ptr<SegmentReader> reader(new SegmentReader(std::move(file)));
  KPIDB_RETURN_IF_ERROR(reader->Parse(verify_chunks));
  reader->DropResidentPages();  // parsing read the index (and chunks); queries fault in theirs
  return reader;
}

Status SegmentReader::Corrupt(uint64_t offset, std::string_view what) const {
  return Status::Corruption("segment " + path() + " at offset " + std::to_string(offset) + ": " +
                            std::string(what));
}

Status SegmentReader::Parse(bool verify_chunks) {
  std::string_view data = file_->data();
  if (data.size() < kSegmentHeaderSize + kSegmentFooterSize) {
    return Corrupt(0, "file is " + std::to_string(data.size()) + " bytes, too short");
  }
  const uint32_t header_version = DecodeFixed32(data.data() + 8);
  if (header_version < kOldestSegmentFormatVersion || header_version > kSegmentFormatVersion ||
      data.substr(0, kSegmentHeaderSize) != SegmentHeader(header_version)) {
    return Corrupt(0, "bad magic or unsupported version in header");
  }
  const size_t footer_at = data.size() - kSegmentFooterSize;
  std::string_view footer = data.substr(footer_at);
  if (footer.substr(64) != std::string_view(kSegmentMagic, 8)) {
    return Corrupt(footer_at + 64, "bad footer magic (truncated file?)");
  }
  if (XXH3_64bits(footer.data(), 56) != DecodeFixed64(footer.data() + 56)) {
    return Corrupt(footer_at, "footer checksum mismatch");
  }
  ByteReader f(footer);
  uint64_t index_offset, index_length, index_checksum, min_ts, max_ts;
  uint32_t series_count, version;
  f.GetFixed64(&index_offset);
  f.GetFixed64(&index_length);
  f.GetFixed64(&index_checksum);
  f.GetFixed64(&min_ts);
  f.GetFixed64(&max_ts);
  f.GetFixed64(&points_);
  f.GetFixed32(&series_count);
  f.GetFixed32(&version);
  if (version != header_version) return Corrupt(footer_at, "unsupported format version");
  version_ = version;
  min_ts_ = static_cast<int64_t>(min_ts);
  max_ts_ = static_cast<int64_t>(max_ts);
  if (index_offset < kSegmentHeaderSize || index_offset > footer_at ||
      index_length != footer_at - index_offset) {
    return Corrupt(footer_at, "index bounds out of range");
  }
  std::string_view index = data.substr(index_offset, index_length);
  // The index is read twice (hashed, then decoded), a window at a time,
  // each window's pages dropped behind it: a segment of a million series
  // (~150 MB of index) never holds its index resident, as a flush opening
  // it with its head still in memory would.
  constexpr size_t kWindow = 8 << 20;
  XXH3_state_t* hash = XXH3_createState();
  if (hash == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(hash);
  for (size_t at = 0; at < index.size(); at += kWindow) {
    const size_t n = std::min(kWindow, index.size() - at);
    XXH3_64bits_update(hash, index.data() + at, n);
    file_->DropResidentPages(index_offset + at, n);
  }
  const uint64_t computed = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);
  if (computed != index_checksum) return Corrupt(index_offset, "index checksum mismatch");
  index_ = index;
  index_offset_ = index_offset;
  ByteReader r(index);
  uint64_t n;
  rollup_steps_.clear();
  if (version_ >= 3) {
    uint64_t steps, step;
    if (!r.GetVarint64(&steps) || steps > 64) return Corrupt(index_offset, "bad tier step count");
    for (uint64_t i = 0; i < steps; ++i) {
      if (!r.GetVarint64(&step) || step == 0 || step > static_cast<uint64_t>(INT64_MAX) ||
          (!rollup_steps_.empty() && static_cast<int64_t>(step) <= rollup_steps_.back())) {
        return Corrupt(index_offset, "bad tier steps");
      }
      rollup_steps_.push_back(static_cast<int64_t>(step));
    }
    uint64_t flags;
    if (!r.GetVarint64(&flags) || flags > 3) return Corrupt(index_offset, "bad index flags");
    has_history_rows_ = (flags & 1) != 0;
    every_tier_ = (flags & 2) != 0;
  }
  if (!r.GetVarint64(&n) || n != series_count) return Corrupt(index_offset, "bad series count");
  entries_.reserve(std::min<uint64_t>(n, index.size()));
  uint64_t counted_points = 0;
  SegmentSeries entry;
  uint64_t at = r.position();
  uint64_t dropped = 0;  // index bytes whose pages were dropped
  for (uint64_t i = 0; i < n; ++i) {
    if (at >= index.size()) return Corrupt(index_offset + at, "malformed series entry");
    if (at - dropped >= kWindow) {
      file_->DropResidentPages(index_offset + dropped, at - dropped);
      dropped = at;
    }
    uint64_t end;
    KPIDB_RETURN_IF_ERROR(DecodeEntry(at, &entry, &end));
    if (!entries_.empty() && entry.id <= entries_.back().id) {
      return Corrupt(index_offset + at, "series ids not increasing");
    }
    for (const ChunkMeta& c : entry.chunks) counted_points += c.stats.count;
    if (verify_chunks) KPIDB_RETURN_IF_ERROR(VerifyChunks(entry));
    entries_.push_back({entry.id, at});
    at = end;
  }
  if (at != index.size()) return Corrupt(index_offset + at, "trailing bytes in index");
  if (counted_points != points_) return Corrupt(footer_at, "point count mismatch");
  return Status::Ok();
}

Status SegmentReader::DecodeEntry(uint64_t at, SegmentSeries* s, uint64_t* end) const {
  ByteReader r(index_.substr(at));
  const uint64_t base = index_offset_ + at;
  uint64_t chunk_count;
  if (!r.GetFixed64(&s->id) || !r.GetLengthPrefixed(&s->canonical) ||
      !r.GetVarint64(&chunk_count) || chunk_count > r.remaining()) {
    return Corrupt(base + r.position(), "malformed series entry");
  }
  s->chunks.clear();
  s->chunks.reserve(chunk_count);
  s->rollup_offset = 0;
  s->rollup_length = 0;
  uint64_t prev_end = 0;
  int64_t prev_max_ts = 0;
  for (uint64_t c = 0; c < chunk_count; ++c) {
    ChunkMeta m;
    uint64_t gap, length, count, span;
    int64_t min_delta;
    bool ok = r.GetVarint64(&gap) && r.GetVarint64(&length) && r.GetVarint64(&count) &&
              r.GetVarsint64(&min_delta) && r.GetVarint64(&span) && r.GetDouble(&m.stats.sum) &&
              r.GetDouble(&m.stats.min) && r.GetDouble(&m.stats.max) &&
              r.GetDouble(&m.stats.first) && r.GetDouble(&m.stats.last);
    m.offset = prev_end + gap;
    if (!ok || length > UINT32_MAX || count == 0 || count > kMaxChunkPoints ||
        m.offset < kSegmentHeaderSize || m.offset > index_offset_ ||
        length > index_offset_ - m.offset || (c > 0 && min_delta <= 0)) {
      return Corrupt(base + r.position(), "malformed chunk entry");
    }
    m.length = static_cast<uint32_t>(length);
    m.stats.count = static_cast<uint32_t>(count);
    m.stats.min_timestamp_ms = static_cast<int64_t>(static_cast<uint64_t>(prev_max_ts) +
                                                    static_cast<uint64_t>(min_delta));
    m.stats.max_timestamp_ms =
        static_cast<int64_t>(static_cast<uint64_t>(m.stats.min_timestamp_ms) + span);
    prev_end = m.offset + m.length;
    prev_max_ts = m.stats.max_timestamp_ms;
    s->chunks.push_back(m);
  }
  uint64_t rollup_gap, rollup_length;
  if (!r.GetVarint64(&rollup_gap) || !r.GetVarint64(&rollup_length)) {
    return Corrupt(base + r.position(), "malformed rollup entry");
  }
  if (rollup_length > 0) {
    s->rollup_offset = prev_end + rollup_gap;
    if (rollup_length > UINT32_MAX || rollup_gap > index_offset_ ||
        s->rollup_offset < kSegmentHeaderSize || s->rollup_offset > index_offset_ ||
        rollup_length > index_offset_ - s->rollup_offset) {
      return Corrupt(base + r.position(), "malformed rollup entry");
    }
    s->rollup_length = static_cast<uint32_t>(rollup_length);
  } else if (s->chunks.empty()) {
    return Corrupt(base, "series entry without points or rollup rows");
  }
  if (end != nullptr) *end = at + r.position();
  return Status::Ok();
}

Status SegmentReader::VerifyChunks(const SegmentSeries& s) const {
  std::vector<int64_t> ts, all;
  std::vector<double> vs;
  for (const ChunkMeta& c : s.chunks) {
    ts.clear();
    vs.clear();
    KPIDB_RETURN_IF_ERROR(ReadChunk(c, &ts, &vs));
    if (ts.size() != c.stats.count || ts.front() != c.stats.min_timestamp_ms ||
        ts.back() != c.stats.max_timestamp_ms) {
      return Corrupt(c.offset, "chunk does not match its index entry");
    }
    all.insert(all.end(), ts.begin(), ts.end());
  }
  std::vector<RollupTier> tiers;
  KPIDB_RETURN_IF_ERROR(ReadRollup(s, &tiers));
  // Each row counts the series' points in its bucket, and every point is in
  // a row; a row no point is in summarises points that expired (history).
  for (const RollupTier& tier : tiers) {
    uint64_t counted = 0;
    bool rows_match = true;
    for (const RollupRow& row : tier.rows) {
      const auto lo = std::lower_bound(all.begin(), all.end(), RollupBucketStart(tier.step_ms, row.bucket));
      const auto hi = std::lower_bound(lo, all.end(), RollupBucketEnd(tier.step_ms, row.bucket));
      const auto in_bucket = static_cast<uint64_t>(hi - lo);
      if (in_bucket != 0 && in_bucket != row.count) rows_match = false;
      counted += in_bucket;
    }
    if (!rows_match || counted != all.size()) {
      return Corrupt(s.rollup_offset, "rollup tier of " + std::to_string(tier.step_ms) +
                                          " ms does not count the series' points");
    }
  }
  return Status::Ok();
}

bool SegmentReader::Contains(SeriesId id) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const EntryRef& e, SeriesId v) { return e.id < v; });
  return it != entries_.end() && it->id == id;
}

Result<bool> SegmentReader::Find(SeriesId id, SegmentSeries* entry) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const EntryRef& e, SeriesId v) { return e.id < v; });
  if (it == entries_.end() || it->id != id) return false;
  KPIDB_RETURN_IF_ERROR(DecodeEntry(it->offset, entry));
  if (entry->id != id) return Corrupt(index_offset_ + it->offset, "series entry changed");
  return true;
}

Status SegmentReader::ForEachKey(
    const std::function<Status(SeriesId, std::string_view)>& fn) const {
  for (const EntryRef& e : entries_) {
    // An entry starts with its id and key: no need to decode its chunks.
    ByteReader r(index_.substr(e.offset));
    SeriesId id;
    std::string_view canonical;
    if (!r.GetFixed64(&id) || !r.GetLengthPrefixed(&canonical) || id != e.id) {
      return Corrupt(index_offset_ + e.offset, "series entry changed");
    }
    KPIDB_RETURN_IF_ERROR(fn(id, canonical));
  }
  return Status::Ok();
}

Status SegmentReader::ReadChunk(const ChunkMeta& chunk, std::vector<int64_t>* timestamps,
                                std::vector<double>* values) const {
  Status s = DecodeChunk(file_->data().substr(chunk.offset, chunk.length), timestamps, values);
  if (!s.ok()) return Corrupt(chunk.offset, "chunk: " + s.message());
  return Status::Ok();
}

Status SegmentReader::ReadRollup(const SegmentSeries& series,
                                 std::vector<RollupTier>* tiers) const {
  tiers->clear();
  if (series.rollup_length == 0) return Status::Ok();
  Status s =
      DecodeRollupBlock(file_->data().substr(series.rollup_offset, series.rollup_length), tiers);
  if (!s.ok()) return Corrupt(series.rollup_offset, s.message());
  return Status::Ok();
}

Status SegmentReader::OpenRollup(const SegmentSeries& series, RollupBlockReader* block) const {
  Status s = block->Open(file_->data().substr(series.rollup_offset, series.rollup_length));
  if (!s.ok()) return Corrupt(series.rollup_offset, s.message());
  return Status::Ok();
}

Status SegmentReader::ReadRollupTier(const SegmentSeries& series, const RollupBlockReader& block,
                                     size_t i, RollupTier* tier) const {
  Status s = block.Decode(i, tier);
  if (!s.ok()) return Corrupt(series.rollup_offset, s.message());
  return Status::Ok();
}

std::span<const ChunkMeta> SegmentSeries::ChunksOverlapping(int64_t start_ms, int64_t end_ms) const {
  // Chunks are in time order and do not overlap: the run from the first
  // that ends at or after start_ms to the first that begins at end_ms.
  auto first = std::partition_point(chunks.begin(), chunks.end(), [&](const ChunkMeta& c) {
    return c.stats.max_timestamp_ms < start_ms;
  });
  auto last = std::partition_point(first, chunks.end(), [&](const ChunkMeta& c) {
    return c.stats.min_timestamp_ms < end_ms;
  });
  return {first, last};
}

Result<std::span<const ChunkMeta>> SegmentReader::ChunksOverlapping(SeriesId id, int64_t start_ms,
                                                                    int64_t end_ms,
                                                                    SegmentSeries* entry) const {
  if (start_ms >= end_ms || !Overlaps(start_ms, end_ms)) return std::span<const ChunkMeta>{};
  KPIDB_ASSIGN_OR_RETURN(bool found, Find(id, entry));
  if (!found) return std::span<const ChunkMeta>{};
  return entry->ChunksOverlapping(start_ms, end_ms);
}

Status SegmentReader::Read(SeriesId id, int64_t start_ms, int64_t end_ms,
                           std::vector<int64_t>* timestamps, std::vector<double>* values) const {
  SegmentSeries entry;
  KPIDB_ASSIGN_OR_RETURN(auto chunks, ChunksOverlapping(id, start_ms, end_ms, &entry));
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const ChunkMeta& c : chunks) {
    if (c.stats.min_timestamp_ms >= start_ms && c.stats.max_timestamp_ms < end_ms) {
      KPIDB_RETURN_IF_ERROR(ReadChunk(c, timestamps, values));  // wholly inside
      continue;
    }
    ts.clear();
    vs.clear();
    KPIDB_RETURN_IF_ERROR(ReadChunk(c, &ts, &vs));
    AppendPointsInRange(ts, vs, start_ms, end_ms, timestamps, values);
  }
  return Status::Ok();
}

}  // namespace kpidb
