#include "engine/segment/rollup.h"

#include <lz4.h>
#include <xxhash.h>

#include <climits>
#include <cmath>

#include "engine/codec/chunk.h"
#include "engine/codec/decimal_codec.h"
#include "engine/codec/timestamp_codec.h"
#include "engine/common/coding.h"

namespace kpidb {
namespace {

// See docs/segment-format.md, "Rollup blocks".
constexpr uint8_t kRollupMagic = 0xB1;  // rollup block format version 1
constexpr uint8_t kFlagLz4 = 0x01;
constexpr uint8_t kTierWithM2 = 0x01;  // tier flags
constexpr size_t kChecksumSize = 8;
constexpr uint64_t kMaxTiers = 16;
constexpr size_t kMaxBodyBytes = 64u << 20;

// The statistics columns of a tier, in their stored order (after count);
// m2, the last, only in tiers with_m2.
constexpr int kColumns = 6;
template <typename Row>  // RollupRow or const RollupRow
auto* Column(Row& row, int c) {
  switch (c) {
    case 0: return &row.sum;
    case 1: return &row.min;
    case 2: return &row.max;
    case 3: return &row.first;
    case 4: return &row.last;
    default: return &row.m2;
  }
}

}  // namespace

int64_t RollupBucketStart(int64_t step_ms, int64_t bucket) {
  return SaturateInt64(static_cast<__int128>(bucket) * step_ms);
}

int64_t RollupBucketEnd(int64_t step_ms, int64_t bucket) {
  return SaturateInt64((static_cast<__int128>(bucket) + 1) * step_ms);
}

namespace {

// The exact decimal sum of `values`, rounded once to a double, when every
// value is a decimal with at most kMaxDecimalExponent fraction digits whose
// scaled integer fits 2^53 (and the sum's fits 2^53 as well).
bool ExactDecimalSum(std::span<const double> values, double* sum) {
  int e = 0;
  for (double v : values) {
    // The fewest digits that give v back bit for bit.
    while (true) {
      const double scaled = v * codec::kPow10[e];
      if (std::fabs(scaled) < 9007199254740992.0 &&
          DoubleBits(codec::DecimalToDouble(static_cast<int64_t>(std::nearbyint(scaled)), e)) ==
              DoubleBits(v)) {
        break;
      }
      if (++e > codec::kMaxDecimalExponent) return false;
    }
  }
  __int128 total = 0;
  for (double v : values) {
    // A value checked at a smaller exponent may not fit 2^53 at the final one.
    const double scaled = std::nearbyint(v * codec::kPow10[e]);
    if (!(std::fabs(scaled) < 9007199254740992.0)) return false;
    total += static_cast<int64_t>(scaled);
  }
  if (total >= (__int128{1} << 53) || total <= -(__int128{1} << 53)) return false;
  *sum = codec::DecimalToDouble(static_cast<int64_t>(total), e);
  return true;
}

}  // namespace

std::vector<RollupRow> ComputeRollupRows(int64_t step_ms, std::span<const int64_t> timestamps,
                                         std::span<const double> values) {
  std::vector<RollupRow> rows;
  double mean = 0;  // Welford's running mean of the current row
  size_t row_start = 0;
  auto finish_row = [&](size_t end) {
    double exact;
    if (ExactDecimalSum(values.subspan(row_start, end - row_start), &exact)) rows.back().sum = exact;
  };
  for (size_t i = 0; i < timestamps.size(); ++i) {
    const int64_t bucket = FloorDiv(timestamps[i], step_ms);
    const double v = values[i];
    if (rows.empty() || rows.back().bucket != bucket) {
      if (!rows.empty()) finish_row(i);
      rows.push_back(RollupRow{bucket, 1, v, v, v, v, v, 0, true});
      mean = v;
      row_start = i;
      continue;
    }
    RollupRow& r = rows.back();
    ++r.count;
    r.sum += v;
    const double delta = v - mean;  // Welford, in time order
    mean += delta / static_cast<double>(r.count);
    r.m2 += delta * (v - mean);
    if (v < r.min) r.min = v;
    if (v > r.max) r.max = v;
    r.last = v;
  }
  if (!rows.empty()) finish_row(timestamps.size());
  return rows;
}

void EncodeRollupBlock(std::span<const RollupTier> tiers, std::string* out) {
  std::string body;
  PutVarint64(&body, tiers.size());
  std::vector<int64_t> buckets;
  std::vector<double> column;
  for (const RollupTier& tier : tiers) {
    PutVarint64(&body, static_cast<uint64_t>(tier.step_ms));
    body.push_back(static_cast<char>(tier.with_m2 ? kTierWithM2 : 0));
    PutVarint64(&body, tier.rows.size());
    buckets.clear();
    for (const RollupRow& r : tier.rows) buckets.push_back(r.bucket);
    std::string bucket_bytes;
    codec::EncodeTimestamps(buckets, &bucket_bytes);
    PutLengthPrefixed(&body, bucket_bytes);
    column.clear();
    for (const RollupRow& r : tier.rows) column.push_back(static_cast<double>(r.count));
    EncodeValueColumn(column, ChunkEncodeOptions{}, &body);
    for (int c = 0; c < (tier.with_m2 ? kColumns : kColumns - 1); ++c) {
      column.clear();
      for (const RollupRow& r : tier.rows) column.push_back(*Column(r, c));
      EncodeValueColumn(column, ChunkEncodeOptions{}, &body);
    }
  }

  const size_t start = out->size();
  std::string compressed(static_cast<size_t>(LZ4_compressBound(static_cast<int>(body.size()))),
                         '\0');
  const int compressed_size =
      LZ4_compress_default(body.data(), compressed.data(), static_cast<int>(body.size()),
                           static_cast<int>(compressed.size()));
  const bool use_lz4 = compressed_size > 0 && static_cast<size_t>(compressed_size) < body.size();
  out->push_back(static_cast<char>(kRollupMagic));
  out->push_back(static_cast<char>(use_lz4 ? kFlagLz4 : 0));
  PutVarint64(out, body.size());
  if (use_lz4) {
    out->append(compressed.data(), static_cast<size_t>(compressed_size));
  } else {
    out->append(body);
  }
  PutFixed64(out, XXH3_64bits(out->data() + start, out->size() - start));
}

namespace {

// Skips one value column (codec:u8 length:varint bytes) of *in.
bool SkipValueColumn(std::string_view* in) {
  ByteReader reader(*in);
  uint8_t codec_id;
  uint64_t length;
  if (!reader.GetByte(&codec_id) || !reader.GetVarint64(&length) || length > reader.remaining()) {
    return false;
  }
  in->remove_prefix(reader.position() + static_cast<size_t>(length));
  return true;
}

}  // namespace

Status RollupBlockReader::Open(std::string_view block) {
  tiers_.clear();
  decompressed_.clear();
  if (block.size() < kChecksumSize + 3) return Status::Corruption("rollup block: truncated");
  std::string_view covered = block.substr(0, block.size() - kChecksumSize);
  if (XXH3_64bits(covered.data(), covered.size()) != DecodeFixed64(covered.data() + covered.size())) {
    return Status::Corruption("rollup block: checksum mismatch");
  }
  ByteReader header(covered);
  uint8_t magic, flags;
  uint64_t body_size;
  if (!header.GetByte(&magic) || !header.GetByte(&flags) || !header.GetVarint64(&body_size)) {
    return Status::Corruption("rollup block: header truncated");
  }
  if (magic != kRollupMagic) return Status::Corruption("rollup block: bad magic/format byte");
  if (flags & ~kFlagLz4) return Status::Corruption("rollup block: unknown flags");
  if (body_size > kMaxBodyBytes) return Status::Corruption("rollup block: body size out of range");
  std::string_view stored = covered.substr(header.position());
  std::string_view body = stored;
  if (flags & kFlagLz4) {
    decompressed_.resize(static_cast<size_t>(body_size));
    const int n = LZ4_decompress_safe(stored.data(), decompressed_.data(),
                                      static_cast<int>(stored.size()), static_cast<int>(body_size));
    if (n < 0 || static_cast<uint64_t>(n) != body_size) {
      return Status::Corruption("rollup block: LZ4 body malformed");
    }
    body = decompressed_;
  } else if (stored.size() != body_size) {
    return Status::Corruption("rollup block: body length mismatch");
  }

  // Each tier's header, and where its columns lie (skipped, not decoded).
  std::string_view rest = body;  // what is left to parse
  ByteReader count_reader(rest);
  uint64_t tier_count;
  if (!count_reader.GetVarint64(&tier_count) || tier_count > kMaxTiers) {
    return Status::Corruption("rollup block: bad tier count");
  }
  rest.remove_prefix(count_reader.position());
  for (uint64_t t = 0; t < tier_count; ++t) {
    uint64_t step, rows;
    uint8_t tier_flags;
    TierBytes tier;
    ByteReader r(rest);
    if (!r.GetVarint64(&step) || !r.GetByte(&tier_flags) || !r.GetVarint64(&rows) ||
        !r.GetLengthPrefixed(&tier.buckets)) {
      return Status::Corruption("rollup block: tier header truncated");
    }
    if (tier_flags & ~kTierWithM2) return Status::Corruption("rollup block: unknown tier flags");
    if (step == 0 || step > static_cast<uint64_t>(INT64_MAX) ||
        (!tiers_.empty() && static_cast<int64_t>(step) <= tiers_.back().step_ms)) {
      return Status::Corruption("rollup block: tier steps not increasing");
    }
    if (rows == 0 || rows > kMaxRollupRows) return Status::Corruption("rollup block: bad row count");
    tier.step_ms = static_cast<int64_t>(step);
    tier.with_m2 = (tier_flags & kTierWithM2) != 0;
    tier.rows = static_cast<size_t>(rows);
    rest.remove_prefix(r.position());
    const std::string_view columns_start = rest;
    const int columns = 1 + (tier.with_m2 ? kColumns : kColumns - 1);  // counts, then the stats
    for (int c = 0; c < columns; ++c) {
      if (!SkipValueColumn(&rest)) return Status::Corruption("rollup block: column truncated");
    }
    tier.columns = columns_start.substr(0, columns_start.size() - rest.size());
    tiers_.push_back(tier);
  }
  if (!rest.empty()) return Status::Corruption("rollup block: trailing bytes");
  return Status::Ok();
}

Status RollupBlockReader::Decode(size_t i, RollupTier* out) const {
  const TierBytes& t = tiers_[i];
  out->step_ms = t.step_ms;
  out->with_m2 = t.with_m2;
  out->rows.assign(t.rows, RollupRow{});
  std::vector<int64_t>& buckets = buckets_;
  std::vector<double>& column = column_;
  buckets.resize(t.rows);
  column.resize(t.rows);
  Status s = codec::DecodeTimestamps(t.buckets, buckets.size(), buckets.data());
  if (!s.ok()) return Status::Corruption("rollup block: buckets: " + s.message());
  for (size_t k = 0; k < buckets.size(); ++k) {
    if (k > 0 && buckets[k] <= buckets[k - 1]) {
      return Status::Corruption("rollup block: buckets not increasing");
    }
    out->rows[k].bucket = buckets[k];
  }
  std::string_view rest = t.columns;
  s = DecodeValueColumn(&rest, column.size(), column.data());
  if (!s.ok()) return Status::Corruption("rollup block: counts: " + s.message());
  for (size_t k = 0; k < column.size(); ++k) {
    const double c = column[k];
    if (!(c >= 1 && c <= 9007199254740992.0) || c != std::floor(c)) {
      return Status::Corruption("rollup block: bad row count value");
    }
    out->rows[k].count = static_cast<uint64_t>(c);
  }
  for (int c = 0; c < (t.with_m2 ? kColumns : kColumns - 1); ++c) {
    s = DecodeValueColumn(&rest, column.size(), column.data());
    if (!s.ok()) return Status::Corruption("rollup block: statistics: " + s.message());
    for (size_t k = 0; k < column.size(); ++k) *Column(out->rows[k], c) = column[k];
  }
  if (!rest.empty()) return Status::Corruption("rollup block: column lengths disagree");
  for (RollupRow& row : out->rows) row.has_m2 = t.with_m2;
  return Status::Ok();
}

Status DecodeRollupBlock(std::string_view block, std::vector<RollupTier>* tiers) {
  tiers->clear();
  RollupBlockReader reader;
  KPIDB_RETURN_IF_ERROR(reader.Open(block));
  tiers->resize(reader.tier_count());
  for (size_t i = 0; i < reader.tier_count(); ++i) {
    Status s = reader.Decode(i, &(*tiers)[i]);
    if (!s.ok()) {
      tiers->clear();
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace kpidb
