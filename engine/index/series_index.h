// The series index: canonical key <-> series id, and postings (label pair ->
// series ids) for selecting series by matchers.
//
// A series id is XXH3-64 of the canonical key. If that id is already bound to
// a different key (a hash collision), the next free id (id+1, id+2, ...) is
// taken: the two series are never merged. Assignments are made once, by the
// engine's single write leader, and persisted (WAL, then series.log), so an
// id never changes once written.
//
// Thread-safety: all methods are thread-safe (internal reader/writer lock).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

// The series id of a canonical key: XXH3-64 of its bytes.
uint64_t HashCanonicalKey(std::string_view canonical);

// The ids in both sorted lists, sorted.
std::vector<SeriesId> IntersectSorted(const std::vector<SeriesId>& a, const std::vector<SeriesId>& b);

class SeriesIndex {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  // `hash` is replaceable so tests can force collisions.
  explicit SeriesIndex(HashFn hash = &HashCanonicalKey) : hash_(hash) {}
  SeriesIndex(const SeriesIndex&) = delete;
  SeriesIndex& operator=(const SeriesIndex&) = delete;

  // The id of the series with this canonical key, if known.
  std::optional<SeriesId> Find(std::string_view canonical) const;

  // The id of `key`, assigning a fresh one if the series is new (*created is
  // then true). `canonical` must be key.Canonical().
  SeriesId GetOrAssign(const SeriesKey& key, const std::string& canonical, bool* created);

  // Binds a stored (id, key) pair, e.g. from series.log or the WAL during
  // recovery. Registering the same pair twice is a no-op; binding an id or
  // a key to something else is Corruption.
  Status Register(SeriesId id, const std::string& canonical);

  std::optional<SeriesKey> Key(SeriesId id) const;
  std::optional<std::string> Canonical(SeriesId id) const;

  // Series of `metric` whose labels include every (name, value) of
  // `equal_labels`; an empty metric matches any. Sorted by id.
  std::vector<SeriesId> SelectEqual(std::string_view metric, const Labels& equal_labels) const;

  // Sorted ids of the series with label name=value (metric: "__name__").
  std::vector<SeriesId> Postings(std::string_view name, std::string_view value) const;
  // Postings(name, value).size(), without the copy.
  size_t PostingsSize(std::string_view name, std::string_view value) const;
  // Keeps in *ids (sorted) those with label name=value, without copying the
  // postings list (a metric's may hold millions of ids).
  void KeepInPostings(std::vector<SeriesId>* ids, std::string_view name, std::string_view value) const;
  // Label names in use, sorted ("__name__" not included).
  std::vector<std::string> LabelNames() const;
  // Values of a label in use, sorted; "__name__" gives the metric names.
  std::vector<std::string> LabelValues(std::string_view name) const;

  size_t size() const;
  // Every id, sorted.
  std::vector<SeriesId> AllIds() const;

 private:
  struct Entry {
    SeriesKey key;
    std::string canonical;
  };
  void AddLocked(SeriesId id, SeriesKey key, std::string canonical);
  // REQUIRES mu_ (shared). The postings of name=value, or null.
  const std::vector<SeriesId>* FindPostingsLocked(std::string_view name, std::string_view value) const;
  static void KeepIn(std::vector<SeriesId>* ids, const std::vector<SeriesId>* postings);

  // Lets by_canonical_ be searched with a string_view, without a copy.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  const HashFn hash_;
  mutable std::shared_mutex mu_;
  std::unordered_map<SeriesId, Entry> by_id_;
  std::unordered_map<std::string, SeriesId, StringHash, std::equal_to<>> by_canonical_;
  // postings_[metric] and postings_["\x01" name "\x00" value]: sorted ids.
  std::unordered_map<std::string, std::vector<SeriesId>> postings_;
  // label name ("__name__" for metrics) -> its values in use.
  std::map<std::string, std::set<std::string>, std::less<>> label_values_;
};

}  // namespace kpidb
