// Per-thread spare vectors for per-series scratch that is too large for
// malloc to keep: a query makes one merge scan and one aggregator per
// series, and their row and bucket vectors (hundreds of KiB for a 90-day
// hourly range) came back from the kernel as fresh pages for every series
// (malloc maps and trims blocks that large), which cost more than the rows.
//
//   std::vector<Row> rows = TakeScratch<Row>();   // empty, with capacity
//   ...
//   ReturnScratch(std::move(rows));               // kept for the next user
//
// A thread keeps at most kScratchKept vectors of a type, each of at most
// kScratchKeptBytes capacity (larger ones are freed): a few MiB per thread
// at worst, none until a query ran on it.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace kpidb {

inline constexpr size_t kScratchKept = 4;
inline constexpr size_t kScratchKeptBytes = size_t{1} << 20;

template <class T>
std::vector<std::vector<T>>& ScratchPool() {
  thread_local std::vector<std::vector<T>> pool;
  return pool;
}

template <class T>
std::vector<T> TakeScratch() {
  auto& pool = ScratchPool<T>();
  if (pool.empty()) return {};
  std::vector<T> v = std::move(pool.back());
  pool.pop_back();
  return v;
}

template <class T>
void ReturnScratch(std::vector<T>&& v) {
  auto& pool = ScratchPool<T>();
  if (v.capacity() * sizeof(T) > kScratchKeptBytes || pool.size() >= kScratchKept) return;
  v.clear();
  pool.push_back(std::move(v));
}

// A vector from the pool, returned when it goes out of scope.
template <class T>
class ScopedScratch {
 public:
  ScopedScratch() : v_(TakeScratch<T>()) {}
  ~ScopedScratch() { ReturnScratch(std::move(v_)); }
  ScopedScratch(const ScopedScratch&) = delete;
  ScopedScratch& operator=(const ScopedScratch&) = delete;
  std::vector<T>& get() { return v_; }

 private:
  std::vector<T> v_;
};

}  // namespace kpidb
