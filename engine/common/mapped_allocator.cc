#include "engine/common/mapped_allocator.h"

#include <sys/mman.h>

namespace kpidb {

void* AllocateMapped(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void FreeMapped(void* p, size_t bytes) noexcept { munmap(p, bytes); }

}  // namespace kpidb
