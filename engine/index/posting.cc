#include "engine/index/posting.h"

#include <algorithm>
#include <bit>

#include "engine/common/mapped_allocator.h"

namespace kpidb {

static_assert(sizeof(Posting) == 24);

size_t Posting::Capacity(size_t size) { return size <= kInline ? kInline : std::bit_ceil(size); }

Posting::~Posting() {
  if (size_ > kInline) MappedAllocator<SeriesRef>().deallocate(heap_, Capacity(size_));
}

void Posting::Append(SeriesRef ref) {
  if (size_ < Capacity(size_)) {
    (size_ < kInline ? inline_ : heap_)[size_++] = ref;
    return;
  }
  // Full: twice the room (from inline, the first array).
  const size_t capacity = 2 * Capacity(size_);
  SeriesRef* grown = MappedAllocator<SeriesRef>().allocate(capacity);
  std::copy(data(), data() + size_, grown);
  grown[size_] = ref;
  if (size_ > kInline) MappedAllocator<SeriesRef>().deallocate(heap_, size_);
  heap_ = grown;
  ++size_;
}

}  // namespace kpidb
