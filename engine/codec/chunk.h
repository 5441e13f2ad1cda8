// A chunk: up to kMaxChunkPoints points of one series, encoded as a
// timestamp column and a value column, LZ4-compressed where that shrinks it,
// and sealed with an XXH3-64 checksum. The byte layout is documented in
// docs/chunk-format.md (the segment format embeds it). Chunks are immutable once encoded.
//
// Encoding is lossless: every timestamp and every bit of every double
// (-0.0, denormals, NaN payloads are never written but would survive) comes
// back. The value codec is chosen per chunk: the smallest of XOR-float
// (Gorilla), decimal-scaled integers (with exceptions), and run-length.
//
// Thread-safety: free functions with no shared state; safe to call
// concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

inline constexpr uint32_t kMaxChunkPoints = 65535;

// Per-chunk statistics, stored beside the chunk in a segment's index so that
// aggregations can use them without decoding the chunk.
struct ChunkStats {
  uint32_t count = 0;
  int64_t min_timestamp_ms = 0;  // == first timestamp (chunks are sorted)
  int64_t max_timestamp_ms = 0;  // == last timestamp
  double sum = 0;
  double min = 0;
  double max = 0;
  double first = 0;
  double last = 0;
};

// Statistics of the points; REQUIRES: !timestamps.empty(), sizes equal,
// timestamps strictly increasing.
ChunkStats ComputeChunkStats(std::span<const int64_t> timestamps,
                             std::span<const double> values);

// Appends the encoded chunk to *out.
// REQUIRES: 1 <= timestamps.size() == values.size() <= kMaxChunkPoints,
// timestamps strictly increasing.
void EncodeChunk(std::span<const int64_t> timestamps, std::span<const double> values,
                 std::string* out);

// Encoder knobs; every choice produces chunks that DecodeChunk reads.
struct ChunkEncodeOptions {
  // Let the decimal value codec use its entropy-coded int modes
  // (docs/chunk-format.md, value codec 03, int modes 02..04): smallest
  // output, but encoding is several times slower. Segments use it; the WAL,
  // on the write path, does not.
  bool entropy_coding = true;
};
// EncodeChunk with options; same contract.
void EncodeChunkWithOptions(std::span<const int64_t> timestamps, std::span<const double> values,
                            const ChunkEncodeOptions& options, std::string* out);

// Decodes a whole chunk produced by EncodeChunk, appending its points to
// *timestamps and *values. Returns Corruption (never crashes, never reads
// outside `chunk`) when the checksum fails or the content is malformed; the
// caller adds the file path and offset to the message.
Status DecodeChunk(std::string_view chunk, std::vector<int64_t>* timestamps,
                   std::vector<double>* values);

// A value column on its own, for formats built from the chunk codecs (the
// rollup blocks of rollup.h): appends the codec byte, varint(byte length)
// and the column's bytes, with the codec chosen as for a chunk.
// REQUIRES: !values.empty().
void EncodeValueColumn(std::span<const double> values, const ChunkEncodeOptions& options,
                       std::string* out);
// Reads a column written by EncodeValueColumn at `in`'s position into
// out[0..count), advancing `in` past it. Corruption when malformed.
Status DecodeValueColumn(std::string_view* in, size_t count, double* out);

// What a chunk's header says (for tools: kpictl inspect), read without
// decoding or verifying the chunk. Corruption for a truncated header.
struct ChunkHeaderInfo {
  uint32_t count = 0;
  uint8_t timestamp_codec = 0;
  uint8_t value_codec = 0;  // 1 run-length, 2 XOR-float, 3 decimal (docs/chunk-format.md)
  bool lz4 = false;
};
Result<ChunkHeaderInfo> ReadChunkHeader(std::string_view chunk);

// The number of points in an encoded chunk, read from its header without
// decoding or verifying it. Returns Corruption for a truncated header.
Result<uint32_t> ChunkPointCount(std::string_view chunk);

}  // namespace kpidb
