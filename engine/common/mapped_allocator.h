// An allocator for containers that grow large and live long: the series
// index's tables and posting lists, the head's map, the list of series
// waiting for a flush.
//
// Such a container doubles as it grows and frees its old storage each
// time. From the heap, those freed blocks stay resident: the server keeps
// big requests in the heap on purpose (server/main.cc raises glibc's mmap
// and trim thresholds) and a heap is only ever trimmed at its top, so at a
// million series about 200 MiB of freed tables and lists stayed in RSS.
// Here an allocation of at least kMappedAllocationBytes is its own
// anonymous mapping, unmapped when freed, and the room a container reserves
// but has not written yet is never faulted in. Smaller ones come from the
// heap as usual. Under AddressSanitizer every allocation comes from the
// heap, so that an overrun is still caught.
#pragma once

#include <cstddef>
#include <new>

namespace kpidb {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr size_t kMappedAllocationBytes = static_cast<size_t>(-1);
#else
inline constexpr size_t kMappedAllocationBytes = size_t{256} << 10;
#endif

// `bytes` (>= 1) rounded up to whole pages, mapped anonymous and zeroed.
// Throws std::bad_alloc if the system refuses.
void* AllocateMapped(size_t bytes);
// Unmaps what AllocateMapped(bytes) returned.
void FreeMapped(void* p, size_t bytes) noexcept;

template <typename T>
struct MappedAllocator {
  using value_type = T;

  MappedAllocator() = default;
  template <typename U>
  MappedAllocator(const MappedAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMappedAllocationBytes) return static_cast<T*>(AllocateMapped(bytes));
    if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    } else {
      return static_cast<T*>(::operator new(bytes));
    }
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMappedAllocationBytes) {
      FreeMapped(p, bytes);
    } else {
      if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
        ::operator delete(p, bytes, std::align_val_t{alignof(T)});
      } else {
        ::operator delete(p, bytes);
      }
    }
  }

  template <typename U>
  bool operator==(const MappedAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace kpidb
