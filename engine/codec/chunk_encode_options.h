// Encoder knobs for EncodeChunk, for benchmarks and tests that compare codec
// choices side by side. EncodeChunk (engine/chunk.h) is
// EncodeChunkWithOptions with the defaults; every option produces chunks that
// DecodeChunk reads. (Kept out of chunk.h, whose declarations the segment
// layer depends on.)
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace kpidb {

struct ChunkEncodeOptions {
  // Let the decimal value codec use its entropy-coded int modes
  // (docs/chunk-format.md, value codec 03, int modes 02 and 03).
  bool entropy_coding = true;
};

// Defined in engine/chunk.cc. Same contract as EncodeChunk.
void EncodeChunkWithOptions(std::span<const int64_t> timestamps, std::span<const double> values,
                            const ChunkEncodeOptions& options, std::string* out);

}  // namespace kpidb
