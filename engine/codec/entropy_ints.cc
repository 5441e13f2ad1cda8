#include "engine/codec/entropy_ints.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "engine/codec/bit_stream.h"
#include "engine/codec/huffman_code.h"
#include "engine/common/coding.h"

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
  int max_width = 0;

  explicit ValueHistogram(std::span<const uint64_t> values) {
    for (uint64_t u : values) {
      if (u < small.size()) ++small[u];
      const int b = BitWidth(u);
      max_width = std::max(max_width, b);
      const int below = b - 1 - kMaxMantissaBits;  // bits below the mantissa
      const uint64_t mantissa = below >= 0 ? u >> below : u << -below;
      ++width_mantissa[b][static_cast<uint32_t>(mantissa) & (kMantissas - 1)];
    }
  }

  // Token counts for (d, m), up to the last bit-width class present (the
  // tokens past it are unused); returns the total extra bits.
  uint64_t TokenCounts(int d, int m, std::vector<uint32_t>* counts) const {
    counts->assign((size_t{1} << d) + (size_t(std::max(0, max_width - d)) << m), 0);
    for (size_t u = 0; u < (size_t{1} << d); ++u) (*counts)[u] = small[u];
    uint64_t extra = 0;
    for (int b = d + 1; b <= max_width; ++b) {
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

// A block's decoding tables (rebuilt per block: keeping the last block's
// tables for a block with the same code bytes measured no faster on the KPI
// workload, as consecutive blocks rarely share a code).
struct DecoderTables {
  std::array<HuffmanDecodeEntry, 1 << kMaxCodeLength> table;
  std::array<uint8_t, kMaxHuffmanSymbols> lengths;
  TokenBase tokens;
  int table_bits = 0;
  int max_symbol_bits = 0;  // max code + extra bits of a used symbol
};

// Symbols of at most this many bits (code + extra) come two per 8-byte load,
// which always provides >= 57 bits.
constexpr int kMaxTwoPerLoadBits = 28;

// Decodes count values, value i from stream i % 4 at bit position
// bit_pos[i % 4] (advanced past it), reading only inside data[0..size).
// kTwoPerLoad: every used symbol takes <= kMaxTwoPerLoadBits.
template <bool kTwoPerLoad>
void DecodeStreams(const uint8_t* __restrict data, size_t size,
                   const HuffmanDecodeEntry* __restrict table, uint64_t table_mask,
                   const TokenBase& tokens, size_t count, uint64_t* bit_pos,
                   uint64_t* __restrict out) {
  const uint64_t* __restrict base = tokens.base.data();
  const uint64_t* __restrict extra_mask = tokens.extra_mask.data();
  // Fast path: an 8-byte load at every stream's position stays inside the
  // input, and a symbol of <= 56 bits (code <= 11, extra <= 45) fits the 57
  // bits such a load always provides.
  constexpr int kMaxFastBits = 56;
  const uint64_t fast_limit = size >= 8 ? uint64_t{size - 8} * 8 : 0;
  // Decodes the symbol at the bottom of `word` (already shifted to bit_pos).
  auto value_of = [&](const HuffmanDecodeEntry& e, uint64_t word) {
    return base[e.symbol] + ((word >> e.code_length) & extra_mask[e.symbol]);
  };
  auto decode_one = [&](uint64_t& bp, bool fast) -> uint64_t {
    const uint64_t word =
        (fast ? Load64(data + (bp >> 3)) : LoadLE64Padded(data, size, bp >> 3)) >> (bp & 7);
    const HuffmanDecodeEntry e = table[word & table_mask];
    uint64_t value;
    if (fast && e.total_bits <= kMaxFastBits) [[likely]] {
      value = value_of(e, word);
    } else {
      value =
          base[e.symbol] + ReadBitsAt(data, size, bp + e.code_length, e.total_bits - e.code_length);
    }
    bp += e.total_bits;
    return value;
  };
  // Two symbols of one stream: values i and i + 4.
  auto decode_two = [&](uint64_t& bp, uint64_t* first) {
    uint64_t word = Load64(data + (bp >> 3)) >> (bp & 7);
    const HuffmanDecodeEntry e1 = table[word & table_mask];
    first[0] = value_of(e1, word);
    word >>= e1.total_bits;
    const HuffmanDecodeEntry e2 = table[word & table_mask];
    first[kEntropyStreams] = value_of(e2, word);
    bp += e1.total_bits + e2.total_bits;
  };
  uint64_t p0 = bit_pos[0], p1 = bit_pos[1], p2 = bit_pos[2], p3 = bit_pos[3];
  size_t i = 0;
  if constexpr (kTwoPerLoad) {
    for (;
         i + 8 <= count && p0 < fast_limit && p1 < fast_limit && p2 < fast_limit && p3 < fast_limit;
         i += 8) {
      decode_two(p0, out + i);
      decode_two(p1, out + i + 1);
      decode_two(p2, out + i + 2);
      decode_two(p3, out + i + 3);
    }
  }
  for (; i + 4 <= count && p0 < fast_limit && p1 < fast_limit && p2 < fast_limit && p3 < fast_limit;
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

// Parses the parameter byte and code lengths at in[*pos] into *t,
// advancing *pos.
Status LoadTables(std::string_view in, size_t* pos, DecoderTables* t) {
  size_t p = *pos;
  if (p >= in.size()) return Status::Corruption("entropy ints: truncated");
  const uint8_t params = static_cast<uint8_t>(in[p++]);
  const int d = params & 15, m = params >> 4;
  if (d > kMaxDirectBits || m > kMaxMantissaBits || m > d) {
    return Status::Corruption("entropy ints: bad token parameters");
  }
  size_t used;  // symbols 0..used-1 may have codes
  KPIDB_RETURN_IF_ERROR(GetCodeLengths(in, &p, AlphabetSize(d, m), t->lengths.data(), &used));
  FillTokenBases(d, m, used, &t->tokens);
  KPIDB_RETURN_IF_ERROR(BuildDecodeTable(std::span(t->lengths.data(), used), t->tokens.extra_bits,
                                         t->table.data(), &t->table_bits));
  int max_symbol_bits = 0;
  for (size_t s = 0; s < used; ++s) {
    if (t->lengths[s] != 0) {
      max_symbol_bits = std::max(max_symbol_bits, t->lengths[s] + t->tokens.extra_bits[s]);
    }
  }
  t->max_symbol_bits = max_symbol_bits;
  *pos = p;
  return Status::Ok();
}

// The (d, m) configurations in the order the planner breaks ties in.
struct Config {
  int d, m;
};
constexpr std::array<Config, 30> kConfigs = [] {
  std::array<Config, 30> configs{};
  size_t i = 0;
  for (int d = 0; d <= kMaxDirectBits; ++d) {
    for (int m = 0; m <= std::min(d, kMaxMantissaBits); ++m) configs[i++] = {d, m};
  }
  return configs;
}();

// c * log2(c), from a table for the small counts that dominate.
double CountLog2(uint32_t c) {
  static const std::array<double, 4096> table = [] {
    std::array<double, 4096> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = static_cast<double>(i) * std::log2(static_cast<double>(i));
    return t;
  }();
  return c < table.size() ? table[c] : static_cast<double>(c) * std::log2(static_cast<double>(c));
}

// The planner's estimate for one configuration: code and extra bits in one
// stream, table, headers. Sets *lengths.
size_t EstimateConfig(const std::vector<uint32_t>& counts, uint64_t extra_bits, uint8_t* lengths) {
  BuildCodeLengths(counts, lengths);
  uint64_t bits = extra_bits;
  for (size_t s = 0; s < counts.size(); ++s) bits += uint64_t{counts[s]} * lengths[s];
  return 1 + CodeLengthsSize(std::span(lengths, counts.size())) + bits / 8 + 2 * kEntropyStreams;
}

// A lower bound of EstimateConfig: no prefix code beats the entropy of the
// counts (Shannon), and the table's size depends only on which counts are
// zero. The entropy is rounded down with a margin for floating-point error.
size_t EstimateLowerBound(const std::vector<uint32_t>& counts, uint64_t extra_bits,
                          uint8_t* zero_pattern) {
  uint64_t n = 0;
  double sum = 0;
  for (size_t s = 0; s < counts.size(); ++s) {
    zero_pattern[s] = counts[s] != 0;
    n += counts[s];
    if (counts[s] > 1) sum += CountLog2(counts[s]);
  }
  const double dn = static_cast<double>(n);
  const double entropy_bits = dn > 1 ? dn * std::log2(dn) - sum : 0;
  const double safe = entropy_bits * (1 - 1e-9) - 1;
  const uint64_t code_bits = safe > 0 ? static_cast<uint64_t>(safe) : 0;
  return 1 + CodeLengthsSize(std::span(zero_pattern, counts.size())) + (extra_bits + code_bits) / 8 +
         2 * kEntropyStreams;
}

// Replaces the plan's estimate with the exact size EncodeEntropyInts writes:
// per-stream bits, rounded up to bytes, plus headers.
void SetExactSize(std::span<const uint64_t> values, EntropyIntsPlan* plan) {
  const std::vector<uint8_t> code_bits = CodeBits(plan->code_lengths);
  std::array<uint64_t, kEntropyStreams> stream_bits{};
  for (size_t i = 0; i < values.size(); ++i) {
    Token t = Tokenize(values[i], plan->direct_bits, plan->mantissa_bits);
    stream_bits[i % kEntropyStreams] += code_bits[t.symbol] + t.extra_bits;
  }
  plan->encoded_size = 1 + CodeLengthsSize(plan->code_lengths);
  for (uint64_t bits : stream_bits) plan->encoded_size += VarintLength((bits + 7) / 8) + (bits + 7) / 8;
}

}  // namespace

// Every (d, m) is a candidate (a pruned search by d first costs ~0.006 B/pt
// on the KPI workload: revenue needs its best m at a d the first round would
// not pick), but a Huffman build is the expensive step, so candidates are
// built in the order of their lower bounds and the search stops once a bound
// exceeds the best estimate. The result is the exhaustive search's: the
// smallest estimate, ties going to the earlier configuration.
EntropyIntsPlan PlanEntropyInts(std::span<const uint64_t> values) {
  const ValueHistogram histogram(values);
  struct Candidate {
    size_t lower_bound;
    uint64_t extra_bits;
    uint32_t index;
  };
  std::array<Candidate, kConfigs.size()> candidates;
  std::array<std::vector<uint32_t>, kConfigs.size()> counts;
  std::vector<uint8_t> lengths(kMaxHuffmanSymbols);
  for (uint32_t i = 0; i < kConfigs.size(); ++i) {
    const uint64_t extra = histogram.TokenCounts(kConfigs[i].d, kConfigs[i].m, &counts[i]);
    candidates[i] = {EstimateLowerBound(counts[i], extra, lengths.data()), extra, i};
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.lower_bound != b.lower_bound ? a.lower_bound < b.lower_bound : a.index < b.index;
  });
  EntropyIntsPlan best;
  best.encoded_size = SIZE_MAX;
  uint32_t best_index = UINT32_MAX;
  for (const Candidate& c : candidates) {
    if (c.lower_bound > best.encoded_size) break;
    if (c.lower_bound == best.encoded_size && c.index > best_index) continue;
    const std::vector<uint32_t>& config_counts = counts[c.index];
    const size_t estimate = EstimateConfig(config_counts, c.extra_bits, lengths.data());
    if (estimate < best.encoded_size || (estimate == best.encoded_size && c.index < best_index)) {
      best.direct_bits = kConfigs[c.index].d;
      best.mantissa_bits = kConfigs[c.index].m;
      best.code_lengths.assign(lengths.begin(), lengths.begin() + config_counts.size());
      best.encoded_size = estimate;
      best_index = c.index;
    }
  }
  SetExactSize(values, &best);
  return best;
}

EntropyIntsPlan PlanEntropyIntsExhaustive(std::span<const uint64_t> values) {
  const ValueHistogram histogram(values);
  EntropyIntsPlan best;
  best.encoded_size = SIZE_MAX;
  std::vector<uint32_t> counts;
  std::vector<uint8_t> lengths(kMaxHuffmanSymbols);
  for (const Config& config : kConfigs) {
    const uint64_t extra = histogram.TokenCounts(config.d, config.m, &counts);
    const size_t estimate = EstimateConfig(counts, extra, lengths.data());
    if (estimate < best.encoded_size) {
      best.direct_bits = config.d;
      best.mantissa_bits = config.m;
      best.code_lengths.assign(lengths.begin(), lengths.begin() + counts.size());
      best.encoded_size = estimate;
    }
  }
  SetExactSize(values, &best);
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
  thread_local DecoderTables tables;
  size_t p = *pos;
  KPIDB_RETURN_IF_ERROR(LoadTables(in, &p, &tables));
  const size_t table_size = size_t{1} << tables.table_bits;

  ByteReader lengths(in.substr(p));
  std::array<uint64_t, kEntropyStreams> bit_pos, bit_end;
  uint64_t start = 0;
  for (int j = 0; j < kEntropyStreams; ++j) {
    uint64_t len;
    if (!lengths.GetVarint64(&len)) return Status::Corruption("entropy ints: truncated lengths");
    if (len > in.size()) return Status::Corruption("entropy ints: streams truncated");
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

  const auto* data = reinterpret_cast<const uint8_t*>(in.data());
  if (tables.max_symbol_bits <= kMaxTwoPerLoadBits) {
    DecodeStreams<true>(data, in.size(), tables.table.data(), table_size - 1, tables.tokens, count,
                        bit_pos.data(), out);
  } else {
    DecodeStreams<false>(data, in.size(), tables.table.data(), table_size - 1, tables.tokens, count,
                         bit_pos.data(), out);
  }
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
