#include "engine/codec/huffman_code.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "engine/common/coding.h"

namespace kpidb::codec {
namespace {

constexpr uint8_t kZeroRunNibble = 15;

// The low `bits` bits of v in reverse order (bits <= 16).
constexpr std::array<uint8_t, 256> kReversedBytes = [] {
  std::array<uint8_t, 256> r{};
  for (int b = 0; b < 256; ++b) {
    for (int i = 0; i < 8; ++i) r[b] |= static_cast<uint8_t>(((b >> i) & 1) << (7 - i));
  }
  return r;
}();
inline uint32_t ReverseBits(uint32_t v, int bits) {
  const uint32_t reversed16 =
      uint32_t{kReversedBytes[v & 255]} << 8 | kReversedBytes[(v >> 8) & 255];
  return reversed16 >> (16 - bits);
}
constexpr size_t kMinZeroRun = 2, kMaxZeroRun = 17;

// Scratch of HuffmanLengths, kept per thread: a flush plans thousands of
// codes a second, and the allocations were a tenth of their cost.
struct HuffmanScratch {
  struct Leaf {
    uint64_t count;
    uint32_t symbol;
  };
  std::vector<Leaf> leaves;
  std::vector<uint64_t> weight;
  std::vector<uint32_t> parent;
  std::vector<uint8_t> depth;
  std::vector<uint64_t> scaled;
};
thread_local HuffmanScratch huffman_scratch;

// Unlimited Huffman code lengths of the used symbols (two-queue method over
// leaves sorted by count). Returns the maximum length.
int HuffmanLengths(std::span<const uint64_t> counts, uint8_t* lengths) {
  using Leaf = HuffmanScratch::Leaf;
  HuffmanScratch& scratch = huffman_scratch;
  std::vector<Leaf>& leaves = scratch.leaves;
  leaves.clear();
  for (uint32_t s = 0; s < counts.size(); ++s) {
    lengths[s] = 0;
    if (counts[s] != 0) leaves.push_back({counts[s], s});
  }
  const size_t n = leaves.size();
  if (n == 0) return 0;
  if (n == 1) {
    lengths[leaves[0].symbol] = 1;
    return 1;
  }
  std::sort(leaves.begin(), leaves.end(), [](const Leaf& a, const Leaf& b) {
    return a.count != b.count ? a.count < b.count : a.symbol < b.symbol;
  });
  // Nodes 0..n-1 are the leaves, n..2n-2 the internal nodes in creation
  // order (their weights never decrease, so both queues stay sorted).
  std::vector<uint64_t>& weight = scratch.weight;
  std::vector<uint32_t>& parent = scratch.parent;
  std::vector<uint8_t>& depth = scratch.depth;
  weight.resize(2 * n - 1);
  parent.assign(2 * n - 1, 0);
  depth.assign(2 * n - 1, 0);
  for (size_t i = 0; i < n; ++i) weight[i] = leaves[i].count;
  size_t next_leaf = 0, next_internal = n;
  auto pop_smallest = [&](size_t created) {
    if (next_leaf < n && (next_internal >= created || weight[next_leaf] <= weight[next_internal])) {
      return next_leaf++;
    }
    return next_internal++;
  };
  for (size_t created = n; created < 2 * n - 1; ++created) {
    size_t a = pop_smallest(created);
    size_t b = pop_smallest(created);
    weight[created] = weight[a] + weight[b];
    parent[a] = parent[b] = static_cast<uint32_t>(created);
  }
  int max_length = 0;
  for (size_t k = 2 * n - 1; k-- > 0;) {
    if (k != 2 * n - 2) depth[k] = static_cast<uint8_t>(std::min(255, depth[parent[k]] + 1));
    if (k < n) {
      lengths[leaves[k].symbol] = depth[k];
      max_length = std::max<int>(max_length, depth[k]);
    }
  }
  return max_length;
}

// Calls nibble(v) for each nibble of the serialized lengths (after the
// count), in order; returns the count of used symbols.
template <typename Fn>
size_t ForEachLengthNibble(std::span<const uint8_t> lengths, Fn&& nibble) {
  size_t used = lengths.size();
  while (used > 0 && lengths[used - 1] == 0) --used;
  for (size_t s = 0; s < used;) {
    size_t run = 0;
    while (s + run < used && lengths[s + run] == 0 && run < kMaxZeroRun) ++run;
    if (run >= kMinZeroRun) {
      nibble(kZeroRunNibble);
      nibble(static_cast<uint8_t>(run - kMinZeroRun));
      s += run;
    } else {
      nibble(lengths[s++]);
    }
  }
  return used;
}

}  // namespace

void BuildCodeLengths(std::span<const uint32_t> counts, uint8_t* lengths) {
  std::vector<uint64_t>& scaled = huffman_scratch.scaled;
  scaled.assign(counts.begin(), counts.end());
  while (HuffmanLengths(scaled, lengths) > kMaxCodeLength) {
    // Flatten the distribution; used symbols stay used. Terminates: all
    // counts reach 1, giving depth <= ceil(log2(1024)) = 10.
    for (uint64_t& c : scaled) c = (c + 1) / 2;
  }
}

void BuildEncoderCodes(std::span<const uint8_t> lengths, uint16_t* codes) {
  std::array<uint32_t, kMaxCodeLength + 2> length_count{}, next_code{};
  for (uint8_t l : lengths) ++length_count[l];
  length_count[0] = 0;
  uint32_t code = 0;
  for (int l = 1; l <= kMaxCodeLength; ++l) {
    code = (code + length_count[l - 1]) << 1;
    next_code[l] = code;
  }
  for (size_t s = 0; s < lengths.size(); ++s) {
    const int l = lengths[s];
    codes[s] = 0;
    if (l == 0) continue;
    uint32_t c = next_code[l]++, reversed = 0;
    for (int i = 0; i < l; ++i) reversed |= ((c >> i) & 1) << (l - 1 - i);
    codes[s] = static_cast<uint16_t>(reversed);
  }
}

void PutCodeLengths(std::span<const uint8_t> lengths, std::string* out) {
  size_t used = lengths.size();
  while (used > 0 && lengths[used - 1] == 0) --used;
  PutVarint64(out, used);
  int pending = -1;  // a low nibble waiting for its high one
  ForEachLengthNibble(lengths, [&](uint8_t v) {
    if (pending < 0) {
      pending = v;
    } else {
      out->push_back(static_cast<char>(pending | (v << 4)));
      pending = -1;
    }
  });
  if (pending >= 0) out->push_back(static_cast<char>(pending));
}

size_t CodeLengthsSize(std::span<const uint8_t> lengths) {
  size_t nibbles = 0;
  const size_t used = ForEachLengthNibble(lengths, [&](uint8_t) { ++nibbles; });
  return VarintLength(used) + (nibbles + 1) / 2;
}

Status GetCodeLengths(std::string_view in, size_t* pos, size_t alphabet_size, uint8_t* lengths,
                      size_t* used_symbols) {
  ByteReader reader(in.substr(*pos));
  uint64_t used;
  if (!reader.GetVarint64(&used)) return Status::Corruption("huffman lengths: truncated count");
  if (used == 0 || used > alphabet_size) return Status::Corruption("huffman lengths: bad symbol count");
  size_t p = *pos + reader.position();
  size_t nibble = 0;  // index of the next nibble from in[p]
  auto next_nibble = [&](uint8_t* v) {
    size_t byte = p + nibble / 2;
    if (byte >= in.size()) return false;
    *v = static_cast<uint8_t>(static_cast<uint8_t>(in[byte]) >> (4 * (nibble & 1))) & 15;
    ++nibble;
    return true;
  };
  for (size_t s = 0; s < used;) {
    uint8_t v;
    if (!next_nibble(&v)) return Status::Corruption("huffman lengths: truncated");
    if (v <= kMaxCodeLength) {
      lengths[s++] = v;
    } else if (v == kZeroRunNibble) {
      uint8_t r;
      if (!next_nibble(&r)) return Status::Corruption("huffman lengths: truncated");
      size_t run = r + kMinZeroRun;
      if (run > used - s) return Status::Corruption("huffman lengths: zero run too long");
      std::fill(lengths + s, lengths + s + run, 0);
      s += run;
    } else {
      return Status::Corruption("huffman lengths: bad nibble");
    }
  }
  *used_symbols = used;
  *pos = p + (nibble + 1) / 2;
  return Status::Ok();
}

Status BuildDecodeTable(std::span<const uint8_t> lengths, std::span<const uint8_t> extra_bits,
                        HuffmanDecodeEntry* table, int* table_bits) {
  std::array<uint32_t, kMaxCodeLength + 2> length_count{};  // [l]: symbols of length l
  size_t last_used = 0;
  for (size_t s = 0; s < lengths.size(); ++s) {
    const int l = lengths[s];
    if (l > kMaxCodeLength) return Status::Corruption("huffman code: length too large");
    ++length_count[l];
    if (l != 0) last_used = s;
  }
  const size_t used = lengths.size() - length_count[0];
  if (used == 0) return Status::Corruption("huffman code: no symbols");
  if (used == 1) {
    if (lengths[last_used] != 1) return Status::Corruption("huffman code: lone symbol length");
    *table_bits = 0;
    table[0] = {static_cast<uint16_t>(last_used), 0, extra_bits[last_used]};
    return Status::Ok();
  }
  uint32_t kraft = 0;  // in units of 2^-kMaxCodeLength
  int max_length = 0;
  for (int l = 1; l <= kMaxCodeLength; ++l) {
    kraft += length_count[l] << (kMaxCodeLength - l);
    if (length_count[l] != 0) max_length = l;
  }
  if (kraft != (uint32_t{1} << kMaxCodeLength)) {
    return Status::Corruption(kraft > (uint32_t{1} << kMaxCodeLength)
                                  ? "huffman code: over-subscribed"
                                  : "huffman code: incomplete");
  }
  // Symbols in canonical order (by length, then symbol): a counting sort.
  std::array<uint16_t, kMaxCodeLength + 2> first_of_length{};
  for (int l = 1; l <= kMaxCodeLength; ++l) {
    first_of_length[l + 1] = static_cast<uint16_t>(first_of_length[l] + length_count[l]);
  }
  std::array<uint16_t, kMaxHuffmanSymbols> canonical;
  std::array<uint16_t, kMaxCodeLength + 2> next = first_of_length;
  for (size_t s = 0; s <= last_used; ++s) {
    if (lengths[s] != 0) canonical[next[lengths[s]]++] = static_cast<uint16_t>(s);
  }
  // Doubling: once table[0 .. 2^l) is right for every code of length <= l,
  // its copy is right for 2^(l+1) entries except where codes of length
  // l + 1 go, which are then written once each (at their bit-reversed code,
  // as the stream is LSB-first). Complete codes leave no entry unwritten.
  table[0] = {};
  size_t size = 1;
  uint32_t code = 0;  // canonical code of the next symbol, MSB-first
  for (int l = 1; l <= max_length; ++l) {
    std::memcpy(table + size, table, size * sizeof(HuffmanDecodeEntry));
    size *= 2;
    code <<= 1;
    for (size_t k = first_of_length[l]; k < first_of_length[l + 1]; ++k, ++code) {
      const uint16_t s = canonical[k];
      table[ReverseBits(code, l)] = {s, static_cast<uint8_t>(l),
                                     static_cast<uint8_t>(l + extra_bits[s])};
    }
  }
  *table_bits = max_length;
  return Status::Ok();
}

}  // namespace kpidb::codec
