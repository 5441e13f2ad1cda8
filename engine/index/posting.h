// One posting of the series index in memory: a label pair's key and the
// refs of the series that have it, ascending, appended as series are
// learnt.
//
// 24 bytes, because an index holds one per label value in use and a label
// unique to each series (an order id, a unit number) makes as many postings
// as series: the key is a pointer and a 32-bit size into the index's arena,
// and up to two refs are held inline, so such a posting allocates nothing.
// Longer lists are arrays whose capacity is the size rounded up to a power
// of two, from MappedAllocator (mapped when large: the arrays a list
// outgrows go back to the system).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/index/series_ref.h"

namespace kpidb {

class Posting {
 public:
  // `key` must outlive the posting. REQUIRES key.size() < 2^32.
  explicit Posting(std::string_view key)
      : key_(key.data()), key_size_(static_cast<uint32_t>(key.size())) {}
  ~Posting();
  Posting(const Posting&) = delete;
  Posting& operator=(const Posting&) = delete;

  std::string_view key() const { return {key_, key_size_}; }
  // Valid until the next Append.
  std::span<const SeriesRef> refs() const { return {data(), size_}; }
  size_t size() const { return size_; }
  // Bytes allocated beyond the posting itself.
  size_t allocated_bytes() const { return size_ > kInline ? Capacity(size_) * sizeof(SeriesRef) : 0; }

  // REQUIRES ref above every ref held. Throws std::bad_alloc, the posting
  // unchanged.
  void Append(SeriesRef ref);

 private:
  static constexpr uint32_t kInline = 2;
  // The room a list of `size` refs has.
  static size_t Capacity(size_t size);
  const SeriesRef* data() const { return size_ > kInline ? heap_ : inline_; }

  const char* key_;
  uint32_t key_size_;
  uint32_t size_ = 0;
  union {
    SeriesRef inline_[kInline];  // size_ <= kInline
    SeriesRef* heap_;            // size_ > kInline: Capacity(size_) refs
  };
};

}  // namespace kpidb
