#include "engine/codec/entropy_ints.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "engine/codec/bit_stream.h"
#include "engine/codec/huffman_code.h"
#include "engine/coding.h"

namespace kpidb::codec {
namespace {

constexpr int kMaxDirectBits = 8;
constexpr int kMaxMantissaBits = 3;

size_t AlphabetSize(int d, int m) { return (size_t{1} << d) + (size_t(64 - d) << m); }

struct Token {
  uint32_t symbol;
  int extra_bits;
};

inline Token Tokenize(uint64_t u, int d, int m) {
  if (u < (uint64_t{1} << d)) return {static_cast<uint32_t>(u), 0};
  const int b = BitWidth(u), k = b - 1 - m;
  const uint32_t mantissa = static_cast<uint32_t>((u >> k) & ((1u << m) - 1));
  return {(1u << d) + (static_cast<uint32_t>(b - d - 1) << m) + mantissa, k};
}

// Histograms from which the token counts of any (d, m) follow without
// another pass over the values: small values, and per bit width b the
// kMaxMantissaBits bits after the leading one (left-aligned when b is small).
struct ValueHistogram {
  static constexpr uint32_t kMantissas = 1u << kMaxMantissaBits;
  std::array<uint32_t, 1 << kMaxDirectBits> small{};
  std::array<std::array<uint32_t, kMantissas>, 65> width_mantissa{};

  explicit ValueHistogram(std::span<const uint64_t> values) {
    for (uint64_t u : values) {
      if (u < small.size()) ++small[u];
      const int b = BitWidth(u);
      const int below = b - 1 - kMaxMantissaBits;  // bits below the mantissa
      const uint64_t mantissa = below >= 0 ? u >> below : u << -below;
      ++width_mantissa[b][static_cast<uint32_t>(mantissa) & (kMantissas - 1)];
    }
  }

  // Token counts for (d, m); returns the total extra bits.
  uint64_t TokenCounts(int d, int m, std::vector<uint32_t>* counts) const {
    counts->assign(AlphabetSize(d, m), 0);
    for (size_t u = 0; u < (size_t{1} << d); ++u) (*counts)[u] = small[u];
    uint64_t extra = 0;
    for (int b = d + 1; b <= 64; ++b) {
      for (uint32_t top = 0; top < kMantissas; ++top) {
        uint32_t c = width_mantissa[b][top];
        if (c == 0) continue;
        (*counts)[(size_t{1} << d) + (size_t(b - d - 1) << m) + (top >> (kMaxMantissaBits - m))] += c;
        extra += uint64_t{c} * static_cast<uint64_t>(b - 1 - m);
      }
    }
    return extra;
  }
};

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// Per-token decoding facts: value = base + extra bits.
struct TokenBase {
  std::array<uint64_t, kMaxHuffmanSymbols> base;
  std::array<uint64_t, kMaxHuffmanSymbols> extra_mask;  // LowBits(extra_bits)
  std::array<uint8_t, kMaxHuffmanSymbols> extra_bits;
};

void FillTokenBases(int d, int m, size_t symbols, TokenBase* t) {
  for (size_t s = 0; s < symbols; ++s) {
    if (s < (size_t{1} << d)) {
      t->base[s] = s;
      t->extra_bits[s] = 0;
      t->extra_mask[s] = 0;
      continue;
    }
    const size_t c = s - (size_t{1} << d);
    const int b = d + 1 + static_cast<int>(c >> m), k = b - 1 - m;
    const uint64_t mantissa = c & ((size_t{1} << m) - 1);
    t->base[s] = (uint64_t{1} << (b - 1)) | (mantissa << k);
    t->extra_bits[s] = static_cast<uint8_t>(k);
    t->extra_mask[s] = LowBits(k);
  }
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// Bits each token's code takes in the stream: its length, except that a
// lone symbol takes none (huffman_code.h).
std::vector<uint8_t> CodeBits(const std::vector<uint8_t>& lengths) {
  std::vector<uint8_t> bits(lengths);
  if (std::count_if(bits.begin(), bits.end(), [](uint8_t l) { return l != 0; }) == 1) {
    std::fill(bits.begin(), bits.end(), 0);
  }
  return bits;
}

struct DecoderScratch {
  std::array<HuffmanDecodeEntry, 1 << kMaxCodeLength> table;
  std::array<uint8_t, kMaxHuffmanSymbols> lengths;
  TokenBase tokens;
};

// Decodes count values, value i from stream i % 4 at bit position
// bit_pos[i % 4] (advanced past it), reading only inside data[0..size).
void DecodeStreams(const uint8_t* __restrict data, size_t size,
                   const HuffmanDecodeEntry* __restrict table, uint64_t table_mask,
                   const TokenBase& tokens, size_t count, uint64_t* bit_pos,
                   uint64_t* __restrict out) {
  const uint64_t* __restrict base = tokens.base.data();
  const uint64_t* __restrict extra_mask = tokens.extra_mask.data();
  // Fast path: an 8-byte load at every stream's position stays inside the
  // input, and code (<= 11) + extra bits (<= 45) fit the 56 bits such a
  // load always provides.
  constexpr int kMaxFastExtraBits = 56 - kMaxCodeLength;
  const uint64_t fast_limit = size >= 8 ? uint64_t{size - 8} * 8 : 0;
  auto decode_one = [&](uint64_t& bp, bool fast) -> uint64_t {
    const uint64_t word =
        (fast ? Load64(data + (bp >> 3)) : LoadLE64Padded(data, size, bp >> 3)) >> (bp & 7);
    const HuffmanDecodeEntry e = table[word & table_mask];
    uint64_t value;
    if (fast && e.extra_bits <= kMaxFastExtraBits) [[likely]] {
      value = base[e.symbol] + ((word >> e.code_length) & extra_mask[e.symbol]);
    } else {
      value = base[e.symbol] + ReadBitsAt(data, size, bp + e.code_length, e.extra_bits);
    }
    bp += static_cast<uint64_t>(e.code_length) + e.extra_bits;
    return value;
  };
  uint64_t p0 = bit_pos[0], p1 = bit_pos[1], p2 = bit_pos[2], p3 = bit_pos[3];
  size_t i = 0;
  for (; i + 4 <= count && p0 < fast_limit && p1 < fast_limit && p2 < fast_limit &&
         p3 < fast_limit;
       i += 4) {
    out[i] = decode_one(p0, true);
    out[i + 1] = decode_one(p1, true);
    out[i + 2] = decode_one(p2, true);
    out[i + 3] = decode_one(p3, true);
  }
  bit_pos[0] = p0;
  bit_pos[1] = p1;
  bit_pos[2] = p2;
  bit_pos[3] = p3;
  for (; i < count; ++i) out[i] = decode_one(bit_pos[i % kEntropyStreams], false);
}

}  // namespace

EntropyIntsPlan PlanEntropyInts(std::span<const uint64_t> values) {
  const ValueHistogram histogram(values);
  EntropyIntsPlan best;
  best.encoded_size = SIZE_MAX;
  std::vector<uint32_t> counts;
  std::vector<uint8_t> lengths(kMaxHuffmanSymbols);
  std::string table;
  auto try_config = [&](int d, int m) {
    uint64_t bits = histogram.TokenCounts(d, m, &counts);
    BuildCodeLengths(counts, lengths.data());
    for (size_t s = 0; s < counts.size(); ++s) bits += uint64_t{counts[s]} * lengths[s];
    table.clear();
    PutCodeLengths(std::span(lengths.data(), counts.size()), &table);
    const size_t estimate = 1 + table.size() + bits / 8 + 2 * kEntropyStreams;
    if (estimate < best.encoded_size) {
      best.direct_bits = d;
      best.mantissa_bits = m;
      best.code_lengths.assign(lengths.begin(), lengths.begin() + counts.size());
      best.encoded_size = estimate;
    }
  };
  // Every (d, m): a pruned search costs ~0.006 B/pt on the KPI workload
  // (revenue needs its best m at a d the first round would not pick).
  for (int d = 0; d <= kMaxDirectBits; ++d) {
    for (int m = 0; m <= std::min(d, kMaxMantissaBits); ++m) try_config(d, m);
  }
  // The exact size: per-stream bits, rounded up to bytes, plus headers.
  const std::vector<uint8_t> code_bits = CodeBits(best.code_lengths);
  std::array<uint64_t, kEntropyStreams> stream_bits{};
  for (size_t i = 0; i < values.size(); ++i) {
    Token t = Tokenize(values[i], best.direct_bits, best.mantissa_bits);
    stream_bits[i % kEntropyStreams] += code_bits[t.symbol] + t.extra_bits;
  }
  table.clear();
  PutCodeLengths(best.code_lengths, &table);
  best.encoded_size = 1 + table.size();
  for (uint64_t bits : stream_bits) best.encoded_size += VarintSize((bits + 7) / 8) + (bits + 7) / 8;
  return best;
}

void EncodeEntropyInts(std::span<const uint64_t> values, const EntropyIntsPlan& plan,
                       std::string* out) {
  const int d = plan.direct_bits, m = plan.mantissa_bits;
  const std::vector<uint8_t> bits_of = CodeBits(plan.code_lengths);
  std::vector<uint16_t> codes(plan.code_lengths.size());
  BuildEncoderCodes(plan.code_lengths, codes.data());

  out->push_back(static_cast<char>(d | (m << 4)));
  PutCodeLengths(plan.code_lengths, out);
  std::array<std::string, kEntropyStreams> streams;
  for (int j = 0; j < kEntropyStreams; ++j) {
    BitWriter writer(&streams[j]);
    for (size_t i = j; i < values.size(); i += kEntropyStreams) {
      const uint64_t u = values[i];
      Token t = Tokenize(u, d, m);
      writer.Write(codes[t.symbol], bits_of[t.symbol]);
      writer.Write(u, t.extra_bits);  // Write keeps the low extra_bits bits
    }
    writer.Finish();
  }
  for (const std::string& s : streams) PutVarint64(out, s.size());
  for (const std::string& s : streams) out->append(s);
}

Status DecodeEntropyInts(std::string_view in, size_t* pos, size_t count, uint64_t* out) {
  thread_local DecoderScratch scratch;
  size_t p = *pos;
  if (p >= in.size()) return Status::Corruption("entropy ints: truncated");
  const uint8_t params = static_cast<uint8_t>(in[p++]);
  const int d = params & 15, m = params >> 4;
  if (d > kMaxDirectBits || m > kMaxMantissaBits || m > d) {
    return Status::Corruption("entropy ints: bad token parameters");
  }
  size_t used;  // symbols 0..used-1 may have codes
  KPIDB_RETURN_IF_ERROR(GetCodeLengths(in, &p, AlphabetSize(d, m), scratch.lengths.data(), &used));
  TokenBase& tokens = scratch.tokens;
  FillTokenBases(d, m, used, &tokens);
  int table_bits;
  HuffmanDecodeEntry* table = scratch.table.data();
  KPIDB_RETURN_IF_ERROR(BuildDecodeTable(std::span(scratch.lengths.data(), used),
                                         tokens.extra_bits, table, &table_bits));
  const size_t table_size = size_t{1} << table_bits;

  ByteReader lengths(in.substr(p));
  std::array<uint64_t, kEntropyStreams> bit_pos, bit_end;
  uint64_t start = 0;
  for (int j = 0; j < kEntropyStreams; ++j) {
    uint64_t len;
    if (!lengths.GetVarint64(&len)) return Status::Corruption("entropy ints: truncated lengths");
    bit_pos[j] = start;
    start += len;
    bit_end[j] = start;
  }
  p += lengths.position();
  if (start > in.size() - p) return Status::Corruption("entropy ints: streams truncated");
  for (int j = 0; j < kEntropyStreams; ++j) {
    bit_pos[j] = (bit_pos[j] + p) * 8;
    bit_end[j] = (bit_end[j] + p) * 8;
  }

  DecodeStreams(reinterpret_cast<const uint8_t*>(in.data()), in.size(), table, table_size - 1,
                tokens, count, bit_pos.data(), out);
  for (int j = 0; j < kEntropyStreams; ++j) {
    // Each stream must end in its last byte (the rest is padding).
    if (bit_pos[j] > bit_end[j] || bit_pos[j] + 8 <= bit_end[j]) {
      return Status::Corruption("entropy ints: stream length mismatch");
    }
  }
  *pos = p + static_cast<size_t>(start);
  return Status::Ok();
}

}  // namespace kpidb::codec
