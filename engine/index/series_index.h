// The series index: canonical key <-> series id, and postings (label pair ->
// series) for selecting series by matchers.
//
// A series id is XXH3-64 of the canonical key. If that id is already bound to
// a different key (a hash collision), the next free id (id+1, id+2, ...) is
// taken: the two series are never merged. Assignments are made once, by the
// engine's single write leader, and persisted (WAL, then series.log), so an
// id never changes once written.
//
// Inside the index a series is a dense SeriesRef (0, 1, 2... in the order this
// process learnt of it), which is never persisted. Postings lists hold refs,
// so a new series appends to its lists (O(1)) instead of inserting its hash
// in the middle of sorted id lists (O(n) moves each, O(n^2) for a metric of n
// series at every open). Keys are kept once, in their canonical bytes, in an
// append-only arena; SeriesKey values are decoded on demand.
//
// A snapshot (index_snapshot.h), when the open found one, holds refs
// 0 .. base_n_ - 1 where it lies (mapped, read-only); the structures below
// hold the refs learnt after it. A posting may have refs in both: those in
// the snapshot are all lower, so its list is the snapshot's followed by
// this process's.
//
// Thread-safety: all methods are thread-safe (internal reader/writer lock,
// `mu_`, which guards every field below it). A SeriesRef stays valid for the
// index's lifetime.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/mapped_allocator.h"
#include "engine/index/index_snapshot.h"
#include "engine/index/posting.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

// The series id of a canonical key: XXH3-64 of its bytes.
uint64_t HashCanonicalKey(std::string_view canonical);

// The ids in both sorted lists, sorted.
std::vector<SeriesId> IntersectSorted(const std::vector<SeriesId>& a, const std::vector<SeriesId>& b);

// The value of label `name` in a canonical key ("" when absent; "__name__"
// gives the metric), without decoding the key.
std::string_view LabelValueInCanonical(std::string_view canonical, std::string_view name);

class SeriesIndex {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  // `hash` is replaceable so tests can force collisions.
  explicit SeriesIndex(HashFn hash = &HashCanonicalKey);
  ~SeriesIndex();
  SeriesIndex(const SeriesIndex&) = delete;
  SeriesIndex& operator=(const SeriesIndex&) = delete;

  // The id of the series with this canonical key, if known.
  std::optional<SeriesId> Find(std::string_view canonical) const;

  // The id of `key`, assigning a fresh one if the series is new (*created is
  // then true). `canonical` must be key.Canonical().
  SeriesId GetOrAssign(const SeriesKey& key, const std::string& canonical, bool* created);

  // The id GetOrAssign would give a new series with this canonical key,
  // skipping also the ids `taken` says are proposed for other new series not
  // added yet; adds nothing. REQUIRES that nothing else adds series until the
  // caller has added (Register) or dropped its proposals: the engine's write
  // leader proposes the ids of a group, logs the group, then registers them.
  SeriesId ProposeId(std::string_view canonical,
                     const std::function<bool(SeriesId)>& taken) const;

  // Binds a stored (id, key) pair, e.g. from series.log or the WAL during
  // recovery. Registering the same pair twice is a no-op; binding an id or
  // a key to something else is Corruption.
  Status Register(SeriesId id, std::string_view canonical);
  // Room for `n` series in all (recovery knows how many series.log holds).
  void Reserve(size_t n);

  // Makes `snapshot` the index's first refs; FAILED_PRECONDITION unless
  // the index is empty.
  Status Adopt(std::unique_ptr<const IndexSnapshot> snapshot);
  // Writes a snapshot of refs 0 .. series - 1 (at least those of the adopted
  // snapshot) to `tmp_path` (then InstallIndexSnapshot), under the shared
  // lock: new series wait for it, reads do not.
  Status WriteSnapshot(const std::string& tmp_path, SeriesRef series,
                       const SnapshotCoverage& cover) const;

  bool Contains(SeriesId id) const;
  std::optional<SeriesKey> Key(SeriesId id) const;
  std::optional<std::string> Canonical(SeriesId id) const;
  // The canonical key of `id` without a copy: keys are never moved or
  // dropped, so the view stays valid for the index's lifetime.
  std::optional<std::string_view> CanonicalView(SeriesId id) const;

  // Series of `metric` whose labels include every (name, value) of
  // `equal_labels`; an empty metric matches any. Sorted by id.
  std::vector<SeriesId> SelectEqual(std::string_view metric, const Labels& equal_labels) const;

  // --- Refs, for selection (engine/query/selector.h). Lists of refs are
  // sorted (ascending), as postings are.
  // Refs of the series with label name=value (metric: "__name__").
  std::vector<SeriesRef> Postings(std::string_view name, std::string_view value) const;
  // Postings(name, value).size(), without the copy.
  size_t PostingsSize(std::string_view name, std::string_view value) const;
  // Keeps in *refs (sorted) those with label name=value, without copying the
  // postings list (a metric's may hold millions of refs).
  void KeepInPostings(std::vector<SeriesRef>* refs, std::string_view name,
                      std::string_view value) const;
  // Calls fn(value, refs) for every value of label `name` in use, in no
  // particular order, under the index's shared lock: fn must not call back
  // into the index.
  void ForEachLabelValue(std::string_view name,
                         const std::function<void(std::string_view value,
                                                  std::span<const SeriesRef> refs)>& fn) const;
  // Keeps in *refs those whose canonical key satisfies `keep` (called under
  // the shared lock: it must not call back into the index).
  void FilterByCanonical(std::vector<SeriesRef>* refs,
                         const std::function<bool(std::string_view canonical)>& keep) const;
  // The ids of refs, sorted by id.
  std::vector<SeriesId> IdsOf(std::span<const SeriesRef> refs) const;
  // The id of each ref, in the refs' order.
  std::vector<SeriesId> IdsInOrder(std::span<const SeriesRef> refs) const;
  // Every ref: 0 .. size() - 1.
  std::vector<SeriesRef> AllRefs() const;

  // Label names in use, sorted ("__name__" not included).
  std::vector<std::string> LabelNames() const;
  // Values of a label in use, sorted; "__name__" gives the metric names.
  std::vector<std::string> LabelValues(std::string_view name) const;

  size_t size() const;
  // Every id, sorted.
  std::vector<SeriesId> AllIds() const;
  // Approximate heap bytes held (keys, maps, postings), for Stats.
  size_t MemoryBytes() const;

 private:
  class Arena;
  using PostingId = uint32_t;  // index into postings_
  // A series id to look a ref up by in by_id_ (heterogeneous lookup).
  struct IdKey {
    SeriesId id;
  };
  // The hash sets below hold 4-byte refs or posting ids and hash them by
  // what they stand for (a series' id or key, a posting's key), read from
  // the dense vectors: a million series cost 4 bytes a slot in each, not a
  // copy of the key (or a 40-byte map slot).
  struct IdHash {
    using is_transparent = void;
    const SeriesIndex* index;
    size_t operator()(SeriesRef ref) const { return (*this)(IdKey{index->IdOf(ref)}); }
    size_t operator()(IdKey key) const { return absl::Hash<SeriesId>{}(key.id); }
  };
  struct IdEq {
    using is_transparent = void;
    const SeriesIndex* index;
    // Refs compare by what they stand for: inserting a ref whose id (or
    // key, below) is bound already finds the bound one.
    bool operator()(SeriesRef a, SeriesRef b) const { return index->IdOf(a) == index->IdOf(b); }
    bool operator()(SeriesRef a, IdKey b) const { return index->IdOf(a) == b.id; }
    bool operator()(IdKey a, SeriesRef b) const { return (*this)(b, a); }
  };
  struct CanonicalHash {
    using is_transparent = void;
    const SeriesIndex* index;
    size_t operator()(SeriesRef ref) const;
    size_t operator()(std::string_view canonical) const;
  };
  struct CanonicalEq {
    using is_transparent = void;
    const SeriesIndex* index;
    bool operator()(SeriesRef a, SeriesRef b) const { return index->KeyOf(a) == index->KeyOf(b); }
    bool operator()(SeriesRef a, std::string_view b) const;
    bool operator()(std::string_view a, SeriesRef b) const { return (*this)(b, a); }
  };
  struct PostingHash {
    using is_transparent = void;
    const SeriesIndex* index;
    size_t operator()(PostingId id) const;
    size_t operator()(std::string_view key) const;
  };
  struct PostingEq {
    using is_transparent = void;
    const SeriesIndex* index;
    bool operator()(PostingId a, PostingId b) const {
      return index->postings_[a].key() == index->postings_[b].key();
    }
    bool operator()(PostingId a, std::string_view b) const;
    bool operator()(std::string_view a, PostingId b) const { return (*this)(b, a); }
  };

  // REQUIRES mu_ held exclusively, and that neither `id` nor `canonical`
  // is bound.
  void AddLocked(SeriesId id, std::string_view canonical);
  // REQUIRES mu_ held exclusively. Adds the series unless `id` or
  // `canonical` is bound already: returns nullopt if added, else the ref
  // bound to the id (*id_taken) or to the key, or kMalformed.
  std::optional<SeriesRef> TryAddLocked(SeriesId id, std::string_view canonical, bool* id_taken);
  static constexpr SeriesRef kMalformed = ~SeriesRef{0};
  // The refs of one posting: the snapshot's, then this process's (higher).
  struct PostingRefs {
    std::span<const SeriesRef> base;
    std::span<const SeriesRef> delta;
    size_t size() const { return base.size() + delta.size(); }
  };
  // REQUIRES mu_ (shared). The postings of name=value (empty if none).
  PostingRefs FindPostingsLocked(std::string_view name, std::string_view value) const;
  PostingRefs PostingsOfKeyLocked(std::string_view key) const;
  // REQUIRES mu_ (shared) for refs learnt after the snapshot.
  SeriesId IdOf(SeriesRef ref) const { return ref < base_n_ ? base_->Id(ref) : ids_[ref - base_n_]; }
  std::string_view KeyOf(SeriesRef ref) const {
    return ref < base_n_ ? base_->Key(ref) : keys_[ref - base_n_];
  }
  std::optional<SeriesRef> FindRefLocked(std::string_view canonical) const;
  std::optional<SeriesRef> RefOfIdLocked(SeriesId id) const;

  const HashFn hash_;
  mutable std::shared_mutex mu_;
  std::string posting_scratch_;            // AddLocked's lookup key; under mu_ (exclusive)
  std::unique_ptr<Arena> arena_;           // canonical keys and posting keys
  std::unique_ptr<const IndexSnapshot> base_;  // refs [0, base_n_), or null
  SeriesRef base_n_ = 0;
  // The tables below grow to tens of MiB: mapped, so that the storage they
  // outgrow goes back to the system (mapped_allocator.h).
  std::vector<SeriesId, MappedAllocator<SeriesId>> ids_;  // ref - base_n_ -> id
  // ref - base_n_ -> canonical key (in arena_)
  std::vector<std::string_view, MappedAllocator<std::string_view>> keys_;
  // The sets and postings_ below hold refs >= base_n_ only.
  absl::flat_hash_set<SeriesRef, IdHash, IdEq, MappedAllocator<SeriesRef>> by_id_;
  absl::flat_hash_set<SeriesRef, CanonicalHash, CanonicalEq, MappedAllocator<SeriesRef>>
      by_canonical_;
  // By PostingId; a deque: no doubling slack. A posting's key is
  // "name\0value" (the metric under "__name__"), in arena_.
  std::deque<Posting> postings_;
  absl::flat_hash_set<PostingId, PostingHash, PostingEq, MappedAllocator<PostingId>>
      posting_ids_;  // by key
  // label name -> the postings of its values in use, unordered.
  absl::flat_hash_map<std::string_view, std::vector<PostingId, MappedAllocator<PostingId>>>
      values_by_name_;
};

}  // namespace kpidb
