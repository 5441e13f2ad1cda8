#include "engine/codec/decimal_ints.h"

#include <algorithm>
#include <bit>
#include <vector>

#include "engine/codec/decimal_codec.h"
#include "engine/codec/entropy_ints.h"
#include "engine/codec/for_blocks.h"
#include "engine/common/coding.h"

namespace kpidb::codec {
namespace {

// Below this many values a code table cannot pay for itself.
constexpr size_t kMinEntropyValues = 64;
// Dictionary mode is tried when at most n / kDictionaryRatio values are
// distinct: beyond, the dictionary costs more than indices save.
constexpr size_t kDictionaryRatio = 8;

uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

struct Candidate {
  DecimalIntMode mode;
  std::string payload;
};

// out[i] = DecimalToDouble(words[i] + offset, e), divisor = 10^e. Written
// so that it vectorizes on the baseline ISA (SSE2 has no int64 -> double
// conversion): for |x| < 2^51, adding x to the bits of 1.5 * 2^52 gives the
// bits of 1.5 * 2^52 + x, and subtracting 1.5 * 2^52 leaves exactly x. A
// block with a larger integer (rare: the codec allows up to 2^53) is redone
// with the plain conversion. Division is correctly rounded in every lane,
// so the results are those of DecimalToDouble bit for bit.
template <bool kDivide>
[[gnu::always_inline]] inline void ConvertToDoubles(const uint64_t* __restrict words, size_t count,
                                                    uint64_t offset, double divisor,
                                                    double* __restrict out) {
  constexpr uint64_t kMagicBits = 0x4338000000000000;  // 1.5 * 2^52
  constexpr double kMagic = 6755399441055744.0;
  uint64_t out_of_range = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t x = words[i] + offset;
    out_of_range |= (x + (uint64_t{1} << 51)) >> 52;  // 0 iff -2^51 <= x < 2^51
    const double d = std::bit_cast<double>(x + kMagicBits) - kMagic;
    out[i] = kDivide ? d / divisor : d;
  }
  if (out_of_range == 0) return;
  for (size_t i = 0; i < count; ++i) {
    const double d = static_cast<double>(static_cast<int64_t>(words[i] + offset));
    out[i] = kDivide ? d / divisor : d;
  }
}

void ConvertDividing(const uint64_t* words, size_t count, uint64_t offset, double divisor,
                     double* out) {
  ConvertToDoubles<true>(words, count, offset, divisor, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The division dominates the conversion and SSE2 divides two doubles at a
// time; where the CPU has AVX2, a copy compiled for it divides four.
[[gnu::target("avx2")]] void ConvertDividingAvx2(const uint64_t* words, size_t count,
                                                 uint64_t offset, double divisor, double* out) {
  ConvertToDoubles<true>(words, count, offset, divisor, out);
}
#endif

void Convert(const uint64_t* words, size_t count, uint64_t offset, int e, double* out) {
  if (e == 0) return ConvertToDoubles<false>(words, count, offset, 1.0, out);
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) return ConvertDividingAvx2(words, count, offset, kPow10[e], out);
#endif
  ConvertDividing(words, count, offset, kPow10[e], out);
}

// words[0] = first, words[i] = words[i-1] + delta i (zigzag-coded or not).
template <bool kZigZag>
void PrefixSum(uint64_t* words, size_t count, uint64_t first) {
  uint64_t x = first;
  words[0] = x;
  for (size_t i = 1; i < count; ++i) {
    x += kZigZag ? U(ZigZagDecode(words[i])) : words[i];
    words[i] = x;
  }
}

thread_local std::vector<uint64_t> decode_words;
thread_local std::vector<double> decode_dictionary;

// The distinct values of a column when there are at most `limit` of them,
// by an open-addressing set that stops at the first value past the limit
// (most columns have many, and sorting them all to find out was a tenth of a
// flush), then each value's index among them in sorted order. The slots are
// stamped with a per-call generation, so a call never clears the table.
class DistinctValues {
 public:
  // Collects the distinct values of `ints` in sorted order; false when there
  // are more than `limit`.
  bool Collect(std::span<const int64_t> ints, size_t limit) {
    size_t capacity = 16;
    while (capacity < 2 * (limit + 1)) capacity *= 2;
    if (slots_.size() < capacity || ++generation_ == 0) {
      slots_.assign(std::max(capacity, slots_.size()), Slot{});
      generation_ = 1;
    }
    shift_ = 64 - std::countr_zero(capacity);
    mask_ = capacity - 1;
    sorted_.clear();
    for (int64_t x : ints) {
      Slot& slot = Find(x);
      if (slot.generation == generation_) continue;
      if (sorted_.size() == limit) return false;
      slot = {x, generation_, 0};
      sorted_.push_back(x);
    }
    std::sort(sorted_.begin(), sorted_.end());
    for (uint32_t j = 0; j < sorted_.size(); ++j) Find(sorted_[j]).index = j;
    return true;
  }
  const std::vector<int64_t>& sorted() const { return sorted_; }
  // REQUIRES: x was among the collected values.
  uint32_t IndexOf(int64_t x) { return Find(x).index; }

 private:
  struct Slot {
    int64_t key = 0;
    uint32_t generation = 0;
    uint32_t index = 0;
  };
  Slot& Find(int64_t x) {
    size_t i = static_cast<size_t>((U(x) * 0x9E3779B97F4A7C15ull) >> shift_);
    while (slots_[i].generation == generation_ && slots_[i].key != x) i = (i + 1) & mask_;
    return slots_[i];
  }
  std::vector<Slot> slots_;
  std::vector<int64_t> sorted_;
  uint32_t generation_ = 0;
  int shift_ = 0;
  size_t mask_ = 0;
};
thread_local DistinctValues distinct_values;

}  // namespace

DecimalIntMode EncodeDecimalInts(std::span<const int64_t> ints, bool entropy_coding,
                                 std::string* out) {
  const size_t n = ints.size();
  Candidate best{DecimalIntMode::kRaw, {}};
  EncodeForBlocks(ints, &best.payload);
  auto consider = [&](DecimalIntMode mode, std::string payload) {
    if (payload.size() < best.payload.size()) best = {mode, std::move(payload)};
  };
  if (n > 1) {
    std::vector<int64_t> deltas(n - 1);
    for (size_t i = 1; i < n; ++i) deltas[i - 1] = static_cast<int64_t>(U(ints[i]) - U(ints[i - 1]));
    if (VarintLength(ZigZagEncode(ints[0])) + ForBlocksEncodedSize(deltas) < best.payload.size()) {
      std::string payload;
      PutVarsint64(&payload, ints[0]);
      EncodeForBlocks(deltas, &payload);
      consider(DecimalIntMode::kDelta, std::move(payload));
    }
  }
  if (!entropy_coding || n < kMinEntropyValues) {
    out->append(best.payload);
    return best.mode;
  }

  // Entropy raw: offsets from the minimum.
  const int64_t min = *std::min_element(ints.begin(), ints.end());
  std::vector<uint64_t> words(n);
  for (size_t i = 0; i < n; ++i) words[i] = U(ints[i]) - U(min);
  EntropyIntsPlan plan = PlanEntropyInts(words);
  if (VarintLength(ZigZagEncode(min)) + plan.encoded_size < best.payload.size()) {
    std::string payload;
    PutVarsint64(&payload, min);
    EncodeEntropyInts(words, plan, &payload);
    consider(DecimalIntMode::kEntropyRaw, std::move(payload));
  }

  // Entropy delta: zigzag deltas.
  std::span<const uint64_t> deltas(words.data(), n - 1);
  for (size_t i = 1; i < n; ++i) words[i - 1] = ZigZagEncode(static_cast<int64_t>(U(ints[i]) - U(ints[i - 1])));
  plan = PlanEntropyInts(deltas);
  if (VarintLength(ZigZagEncode(ints[0])) + plan.encoded_size < best.payload.size()) {
    std::string payload;
    PutVarsint64(&payload, ints[0]);
    EncodeEntropyInts(deltas, plan, &payload);
    consider(DecimalIntMode::kEntropyDelta, std::move(payload));
  }

  // Entropy dictionary: indices into the sorted distinct values.
  if (distinct_values.Collect(ints, n / kDictionaryRatio)) {
    const std::vector<int64_t>& dictionary = distinct_values.sorted();
    std::string payload;
    PutVarint64(&payload, dictionary.size());
    PutVarsint64(&payload, dictionary[0]);
    for (size_t j = 1; j < dictionary.size(); ++j) {
      PutVarint64(&payload, U(dictionary[j]) - U(dictionary[j - 1]) - 1);
    }
    for (size_t i = 0; i < n; ++i) words[i] = distinct_values.IndexOf(ints[i]);
    plan = PlanEntropyInts(words);
    if (payload.size() + plan.encoded_size < best.payload.size()) {
      EncodeEntropyInts(words, plan, &payload);
      consider(DecimalIntMode::kEntropyDictionary, std::move(payload));
    }
  }
  out->append(best.payload);
  return best.mode;
}

Status DecodeDecimalInts(std::string_view in, size_t* pos, uint8_t mode, size_t count, int e,
                         double* out) {
  if (mode > static_cast<uint8_t>(DecimalIntMode::kEntropyDictionary)) {
    return Status::Corruption("decimal column: unknown int mode");
  }
  const auto int_mode = static_cast<DecimalIntMode>(mode);
  if (count == 0) {
    return int_mode == DecimalIntMode::kRaw ? Status::Ok()
                                            : Status::Corruption("decimal column: no points");
  }
  // Integers land in a per-thread buffer (no allocation once warm).
  if (decode_words.size() < count) decode_words.resize(count);
  uint64_t* words = decode_words.data();
  auto* ints = reinterpret_cast<int64_t*>(words);

  ByteReader reader(in.substr(*pos));
  uint64_t first = 0;
  if (int_mode != DecimalIntMode::kRaw && int_mode != DecimalIntMode::kEntropyDictionary) {
    int64_t v;
    if (!reader.GetVarsint64(&v)) return Status::Corruption("decimal column: bad x[0]/min");
    first = U(v);
  }
  if (int_mode == DecimalIntMode::kEntropyDictionary) {
    uint64_t size;
    int64_t v;
    if (!reader.GetVarint64(&size) || size == 0 || size > count || !reader.GetVarsint64(&v)) {
      return Status::Corruption("decimal column: bad dictionary");
    }
    if (decode_dictionary.size() < size) decode_dictionary.resize(size);
    uint64_t x = U(v);
    decode_dictionary[0] = DecimalToDouble(v, e);
    for (uint64_t j = 1; j < size; ++j) {
      uint64_t gap;
      if (!reader.GetVarint64(&gap)) return Status::Corruption("decimal column: bad dictionary");
      x += gap + 1;
      decode_dictionary[j] = DecimalToDouble(static_cast<int64_t>(x), e);
    }
    *pos += reader.position();
    KPIDB_RETURN_IF_ERROR(DecodeEntropyInts(in, pos, count, words));
    const double* dictionary = decode_dictionary.data();
    uint64_t bad = 0;
    for (size_t i = 0; i < count; ++i) {
      const uint64_t index = words[i];
      bad |= index >= size;
      out[i] = dictionary[index < size ? index : 0];
    }
    if (bad) return Status::Corruption("decimal column: dictionary index out of range");
    return Status::Ok();
  }
  *pos += reader.position();

  switch (int_mode) {
    case DecimalIntMode::kRaw:
      KPIDB_RETURN_IF_ERROR(DecodeForBlocks(in, pos, count, ints));
      break;
    case DecimalIntMode::kDelta:
      KPIDB_RETURN_IF_ERROR(DecodeForBlocks(in, pos, count - 1, ints + 1));
      PrefixSum<false>(words, count, first);
      break;
    case DecimalIntMode::kEntropyRaw:
      KPIDB_RETURN_IF_ERROR(DecodeEntropyInts(in, pos, count, words));
      break;
    case DecimalIntMode::kEntropyDelta:
      KPIDB_RETURN_IF_ERROR(DecodeEntropyInts(in, pos, count - 1, words + 1));
      PrefixSum<true>(words, count, first);
      break;
    case DecimalIntMode::kEntropyDictionary:
      break;  // handled above
  }
  const uint64_t min = int_mode == DecimalIntMode::kEntropyRaw ? first : 0;
  Convert(words, count, min, e, out);
  return Status::Ok();
}

}  // namespace kpidb::codec
