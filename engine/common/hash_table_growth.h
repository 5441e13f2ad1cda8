// Growing an absl hash table without its exception hazard.
//
// Debian's Abseil (20220623) sets a table's new capacity before it
// allocates the larger arrays: a std::bad_alloc there leaves a table that
// reads past its arrays and frees them with the wrong size. The write path
// turns an allocation failure into RESOURCE_EXHAUSTED and goes on serving,
// so a table must never be left that way. GrowForInsert makes room for one
// more element first, by building the larger table beside the old one and
// swapping it in once built (nothing changes if that throws); the insert
// that follows then never reallocates.
#pragma once

#include <algorithm>
#include <cstddef>

namespace kpidb {

// REQUIRES `table` is an absl flat_hash_set or flat_hash_map. Throws
// std::bad_alloc, `table` unchanged.
template <typename Table>
void GrowForInsert(Table& table) {
  // absl grows once size reaches 7/8 of the capacity, and with erased
  // slots it may rehash from 25/32 up (in place below that): stay under.
  const size_t capacity = table.capacity();
  if (table.size() + 1 < capacity * 25 / 32) return;
  // Sized by its constructor: if that allocation throws, no table was made
  // (reserve() on an empty table would have the same hazard as insert).
  const size_t room = std::max<size_t>(16, 2 * (table.size() + 1));
  Table grown(room / 7 * 8 + 8, table.hash_function(), table.key_eq(), table.get_allocator());
  for (const auto& element : table) grown.insert(element);
  table.swap(grown);
}

}  // namespace kpidb
