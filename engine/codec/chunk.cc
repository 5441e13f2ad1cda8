#include "engine/codec/chunk.h"

#include <lz4.h>
#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "engine/codec/decimal_codec.h"
#include "engine/codec/rle_codec.h"
#include "engine/codec/timestamp_codec.h"
#include "engine/codec/xor_codec.h"
#include "engine/common/coding.h"

namespace kpidb {
namespace {

// See docs/chunk-format.md for the byte layout.
constexpr uint8_t kChunkMagic = 0xC1;  // chunk format version 1
constexpr uint8_t kTimestampCodecDeltaOfDelta = 1;
enum class ValueCodec : uint8_t { kRle = 1, kXor = 2, kDecimal = 3 };
constexpr uint8_t kFlagLz4 = 0x01;
constexpr size_t kChecksumSize = 8;

// Upper bound of a body's decoded size for n points: far above what the
// encoder produces (< 20 bytes/point in the worst case), low enough that a
// corrupt length cannot make us allocate absurd memory.
size_t MaxBodySize(uint64_t n) { return 32 * n + 4096; }

uint64_t Checksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

struct EncodedValues {
  ValueCodec codec;
  std::string bytes;
};

EncodedValues EncodeValues(std::span<const double> values, const ChunkEncodeOptions& options) {
  EncodedValues best{ValueCodec::kDecimal, {}};
  codec::EncodeDecimal(values, &best.bytes, {.entropy_coding = options.entropy_coding});
  auto consider = [&](ValueCodec id, std::string bytes) {
    if (bytes.size() < best.bytes.size()) best = {id, std::move(bytes)};
  };
  // Runs cost >= 9 bytes each: only try RLE when it can possibly win.
  if (codec::CountRuns(values) * 9 < best.bytes.size()) {
    std::string rle;
    codec::EncodeRle(values, &rle);
    consider(ValueCodec::kRle, std::move(rle));
  }
  // XOR needs >= 1 bit per value; skip it when the decimal form is tighter.
  if (best.bytes.size() > 8 + values.size() / 8) {
    std::string xor_bytes;
    codec::EncodeXor(values, &xor_bytes);
    consider(ValueCodec::kXor, std::move(xor_bytes));
  }
  return best;
}

Status DecodeValues(uint8_t codec_id, std::string_view in, size_t count, double* out) {
  switch (static_cast<ValueCodec>(codec_id)) {
    case ValueCodec::kRle:
      return codec::DecodeRle(in, count, out);
    case ValueCodec::kXor:
      return codec::DecodeXor(in, count, out);
    case ValueCodec::kDecimal:
      return codec::DecodeDecimal(in, count, out);
  }
  return Status::Corruption("chunk: unknown value codec " + std::to_string(codec_id));
}

struct ChunkHeader {
  uint32_t count;
  uint8_t timestamp_codec;
  uint8_t value_codec;
  uint8_t flags;
  uint64_t timestamp_bytes;
  uint64_t value_bytes;
};

Status ParseHeader(ByteReader* reader, ChunkHeader* header) {
  uint8_t magic;
  if (!reader->GetByte(&magic)) return Status::Corruption("chunk: empty");
  if (magic != kChunkMagic) return Status::Corruption("chunk: bad magic/format byte");
  if (!reader->GetVarint32(&header->count)) return Status::Corruption("chunk: bad point count");
  if (header->count == 0 || header->count > kMaxChunkPoints) {
    return Status::Corruption("chunk: point count out of range");
  }
  if (!reader->GetByte(&header->timestamp_codec) || !reader->GetByte(&header->value_codec) ||
      !reader->GetByte(&header->flags) || !reader->GetVarint64(&header->timestamp_bytes) ||
      !reader->GetVarint64(&header->value_bytes)) {
    return Status::Corruption("chunk: header truncated");
  }
  return Status::Ok();
}

// Room for a decompressed body of `size` bytes: a per-thread buffer that is
// only zero-filled when it grows (bodies of ordinary chunks are a few KiB),
// or *large for bodies above kMaxReusedBodySize, so that one huge chunk does
// not pin its memory to the thread. Valid until the next call on this thread.
constexpr size_t kMaxReusedBodySize = 256 << 10;
char* DecompressionBuffer(size_t size, std::string* large) {
  if (size > kMaxReusedBodySize) {
    large->resize(size);
    return large->data();
  }
  thread_local std::string buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

}  // namespace

ChunkStats ComputeChunkStats(std::span<const int64_t> timestamps, std::span<const double> values) {
  ChunkStats stats;
  stats.count = static_cast<uint32_t>(values.size());
  stats.min_timestamp_ms = timestamps.front();
  stats.max_timestamp_ms = timestamps.back();
  stats.first = values.front();
  stats.last = values.back();
  stats.min = values.front();
  stats.max = values.front();
  for (double v : values) {
    stats.sum += v;
    stats.min = std::min(stats.min, v);
    stats.max = std::max(stats.max, v);
  }
  return stats;
}

void EncodeChunk(std::span<const int64_t> timestamps, std::span<const double> values,
                 std::string* out) {
  EncodeChunkWithOptions(timestamps, values, ChunkEncodeOptions{}, out);
}

void EncodeChunkWithOptions(std::span<const int64_t> timestamps, std::span<const double> values,
                            const ChunkEncodeOptions& options, std::string* out) {
  const size_t start = out->size();
  std::string body;
  codec::EncodeTimestamps(timestamps, &body);
  const size_t timestamp_bytes = body.size();
  EncodedValues encoded = EncodeValues(values, options);
  body += encoded.bytes;

  std::string compressed(static_cast<size_t>(LZ4_compressBound(static_cast<int>(body.size()))), '\0');
  int compressed_size = LZ4_compress_default(body.data(), compressed.data(),
                                             static_cast<int>(body.size()),
                                             static_cast<int>(compressed.size()));
  const bool use_lz4 = compressed_size > 0 && static_cast<size_t>(compressed_size) < body.size();

  out->push_back(static_cast<char>(kChunkMagic));
  PutVarint64(out, values.size());
  out->push_back(static_cast<char>(kTimestampCodecDeltaOfDelta));
  out->push_back(static_cast<char>(encoded.codec));
  out->push_back(static_cast<char>(use_lz4 ? kFlagLz4 : 0));
  PutVarint64(out, timestamp_bytes);
  PutVarint64(out, encoded.bytes.size());
  if (use_lz4) {
    out->append(compressed.data(), static_cast<size_t>(compressed_size));
  } else {
    out->append(body);
  }
  PutFixed64(out, Checksum(std::string_view(*out).substr(start)));
}

Status DecodeChunk(std::string_view chunk, std::vector<int64_t>* timestamps,
                   std::vector<double>* values) {
  if (chunk.size() < kChecksumSize + 1) return Status::Corruption("chunk: truncated");
  std::string_view covered = chunk.substr(0, chunk.size() - kChecksumSize);
  if (Checksum(covered) != DecodeFixed64(chunk.data() + covered.size())) {
    return Status::Corruption("chunk: checksum mismatch");
  }
  ByteReader reader(covered);
  ChunkHeader header;
  KPIDB_RETURN_IF_ERROR(ParseHeader(&reader, &header));
  if (header.timestamp_codec != kTimestampCodecDeltaOfDelta) {
    return Status::Corruption("chunk: unknown timestamp codec");
  }
  if (header.flags & ~kFlagLz4) return Status::Corruption("chunk: unknown flags");
  const uint64_t max_body = MaxBodySize(header.count);
  if (header.timestamp_bytes > max_body || header.value_bytes > max_body - header.timestamp_bytes) {
    return Status::Corruption("chunk: column lengths out of range");
  }
  const size_t body_size = static_cast<size_t>(header.timestamp_bytes + header.value_bytes);
  std::string_view stored = covered.substr(reader.position());

  std::string large_body;
  std::string_view body;
  if (header.flags & kFlagLz4) {
    if (stored.size() > static_cast<size_t>(INT32_MAX)) return Status::Corruption("chunk: LZ4 body too large");
    char* buffer = DecompressionBuffer(body_size, &large_body);
    int n = LZ4_decompress_safe(stored.data(), buffer, static_cast<int>(stored.size()),
                                static_cast<int>(body_size));
    if (n < 0 || static_cast<size_t>(n) != body_size) {
      return Status::Corruption("chunk: LZ4 body malformed");
    }
    body = std::string_view(buffer, body_size);
  } else {
    if (stored.size() != body_size) return Status::Corruption("chunk: body length mismatch");
    body = stored;
  }

  const size_t old_size = timestamps->size();
  const size_t old_values = values->size();
  timestamps->resize(old_size + header.count);
  values->resize(old_values + header.count);
  Status s = codec::DecodeTimestamps(body.substr(0, header.timestamp_bytes), header.count,
                                     timestamps->data() + old_size);
  if (s.ok()) {
    s = DecodeValues(header.value_codec, body.substr(header.timestamp_bytes), header.count,
                     values->data() + old_values);
  }
  if (!s.ok()) {
    timestamps->resize(old_size);
    values->resize(old_values);
  }
  return s;
}

void EncodeValueColumn(std::span<const double> values, const ChunkEncodeOptions& options,
                       std::string* out) {
  EncodedValues encoded = EncodeValues(values, options);
  out->push_back(static_cast<char>(encoded.codec));
  PutVarint64(out, encoded.bytes.size());
  out->append(encoded.bytes);
}

Status DecodeValueColumn(std::string_view* in, size_t count, double* out) {
  ByteReader reader(*in);
  uint8_t codec_id;
  uint64_t length;
  if (!reader.GetByte(&codec_id) || !reader.GetVarint64(&length) || length > reader.remaining()) {
    return Status::Corruption("value column: header truncated");
  }
  std::string_view bytes = in->substr(reader.position(), static_cast<size_t>(length));
  KPIDB_RETURN_IF_ERROR(DecodeValues(codec_id, bytes, count, out));
  in->remove_prefix(reader.position() + static_cast<size_t>(length));
  return Status::Ok();
}

Result<ChunkHeaderInfo> ReadChunkHeader(std::string_view chunk) {
  KPIDB_ASSIGN_OR_RETURN(uint32_t count, ChunkPointCount(chunk));
  ByteReader reader(chunk);
  uint8_t magic, ts, vs, flags;
  uint32_t skip;
  if (!reader.GetByte(&magic) || !reader.GetVarint32(&skip) || !reader.GetByte(&ts) ||
      !reader.GetByte(&vs) || !reader.GetByte(&flags)) {
    return Status::Corruption("chunk: header truncated");
  }
  return ChunkHeaderInfo{count, ts, vs, (flags & 1) != 0};
}

Result<uint32_t> ChunkPointCount(std::string_view chunk) {
  ByteReader reader(chunk);
  uint8_t magic;
  uint32_t count;
  if (!reader.GetByte(&magic) || !reader.GetVarint32(&count)) {
    return Status::Corruption("chunk: header truncated");
  }
  if (magic != kChunkMagic) return Status::Corruption("chunk: bad magic/format byte");
  if (count == 0 || count > kMaxChunkPoints) return Status::Corruption("chunk: point count out of range");
  return count;
}

}  // namespace kpidb
