#include "engine/common/mapped_allocator.h"

#include <sys/mman.h>

namespace kpidb {

namespace {
constexpr size_t kHugePageBytes = size_t{2} << 20;
}  // namespace

void* AllocateMapped(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // A table this large is probed at random: huge pages save a TLB miss per
  // probe and a page fault per 4 KiB written. Advice only.
  if (bytes >= kHugePageBytes) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

void FreeMapped(void* p, size_t bytes) noexcept { munmap(p, bytes); }

}  // namespace kpidb
