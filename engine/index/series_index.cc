#include "engine/index/series_index.h"

#include <xxhash.h>

#include <algorithm>
#include <mutex>

#include "engine/common/coding.h"
#include "engine/common/hash_table_growth.h"

namespace kpidb {

uint64_t HashCanonicalKey(std::string_view canonical) {
  return XXH3_64bits(canonical.data(), canonical.size());
}

std::vector<SeriesId> IntersectSorted(const std::vector<SeriesId>& a, const std::vector<SeriesId>& b) {
  std::vector<SeriesId> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string_view LabelValueInCanonical(std::string_view canonical, std::string_view name) {
  ByteReader r(canonical);
  std::string_view metric;
  if (!r.GetLengthPrefixed(&metric)) return {};
  if (name == "__name__") return metric;
  while (!r.empty()) {
    std::string_view n, v;
    if (!r.GetLengthPrefixed(&n) || !r.GetLengthPrefixed(&v)) return {};
    if (n == name) return v;
  }
  return {};
}

// The key of the postings of name=value: "name\0value".
static void PostingKeyInto(std::string* key, std::string_view name, std::string_view value) {
  key->clear();
  key->reserve(name.size() + 1 + value.size());
  key->append(name).push_back('\0');
  key->append(value);
}

static std::string PostingKey(std::string_view name, std::string_view value) {
  std::string key;
  PostingKeyInto(&key, name, value);
  return key;
}

// Whether `canonical` is a well-formed canonical key (as FromCanonical
// would parse it), without building it.
static bool WellFormedCanonical(std::string_view canonical) {
  ByteReader r(canonical);
  std::string_view part;
  if (!r.GetLengthPrefixed(&part)) return false;
  while (!r.empty()) {
    if (!r.GetLengthPrefixed(&part) || !r.GetLengthPrefixed(&part)) return false;
  }
  return true;
}

// Append-only storage for key bytes: blocks that never move, so views into
// them stay valid while the index lives.
class SeriesIndex::Arena {
 public:
  std::string_view Copy(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
    const size_t n = a.size() + b.size() + c.size();
    if (blocks_.empty() || used_ + n > block_size_) {
      block_size_ = std::max(kBlockBytes, n);
      blocks_.push_back(std::make_unique<char[]>(block_size_));
      used_ = 0;
      bytes_ += block_size_;
    }
    char* p = blocks_.back().get() + used_;
    std::copy(a.begin(), a.end(), p);
    std::copy(b.begin(), b.end(), p + a.size());
    std::copy(c.begin(), c.end(), p + a.size() + b.size());
    used_ += n;
    return {p, n};
  }
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kBlockBytes = 1 << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_size_ = 0;
  size_t used_ = 0;
  size_t bytes_ = 0;
};

size_t SeriesIndex::CanonicalHash::operator()(SeriesRef ref) const {
  return (*this)(index->KeyOf(ref));
}
size_t SeriesIndex::CanonicalHash::operator()(std::string_view canonical) const {
  return XXH3_64bits(canonical.data(), canonical.size());
}
bool SeriesIndex::CanonicalEq::operator()(SeriesRef a, std::string_view b) const {
  return index->KeyOf(a) == b;
}
size_t SeriesIndex::PostingHash::operator()(PostingId id) const {
  return (*this)(index->postings_[id].key());
}
size_t SeriesIndex::PostingHash::operator()(std::string_view key) const {
  return XXH3_64bits(key.data(), key.size());
}
bool SeriesIndex::PostingEq::operator()(PostingId a, std::string_view b) const {
  return index->postings_[a].key() == b;
}

SeriesIndex::SeriesIndex(HashFn hash)
    : hash_(hash),
      arena_(std::make_unique<Arena>()),
      by_id_(0, IdHash{this}, IdEq{this}),
      by_canonical_(0, CanonicalHash{this}, CanonicalEq{this}),
      posting_ids_(0, PostingHash{this}, PostingEq{this}) {}

SeriesIndex::~SeriesIndex() = default;

std::optional<SeriesRef> SeriesIndex::FindRefLocked(std::string_view canonical) const {
  if (base_) {
    if (auto ref = base_->FindKey(canonical)) return ref;
  }
  auto it = by_canonical_.find(canonical);
  if (it == by_canonical_.end()) return std::nullopt;
  return *it;
}

std::optional<SeriesRef> SeriesIndex::RefOfIdLocked(SeriesId id) const {
  if (base_) {
    if (auto ref = base_->FindId(id)) return ref;
  }
  auto it = by_id_.find(IdKey{id});
  if (it == by_id_.end()) return std::nullopt;
  return *it;
}

std::optional<SeriesId> SeriesIndex::Find(std::string_view canonical) const {
  std::shared_lock lock(mu_);
  auto ref = FindRefLocked(canonical);
  if (!ref) return std::nullopt;
  return IdOf(*ref);
}

SeriesId SeriesIndex::GetOrAssign(const SeriesKey& /*key*/, const std::string& canonical,
                                  bool* created) {
  {
    std::shared_lock lock(mu_);
    if (auto ref = FindRefLocked(canonical)) {
      *created = false;
      return IdOf(*ref);
    }
  }
  std::unique_lock lock(mu_);
  if (auto ref = FindRefLocked(canonical)) {
    *created = false;
    return IdOf(*ref);
  }
  SeriesId id = hash_(canonical);
  while (RefOfIdLocked(id)) ++id;  // collision: probe to the next free id
  AddLocked(id, canonical);
  *created = true;
  return id;
}

SeriesId SeriesIndex::ProposeId(std::string_view canonical,
                                const std::function<bool(SeriesId)>& taken) const {
  std::shared_lock lock(mu_);
  SeriesId id = hash_(canonical);
  while (RefOfIdLocked(id) || taken(id)) ++id;  // collision: probe to the next free id
  return id;
}

void SeriesIndex::Reserve(size_t n) {
  std::unique_lock lock(mu_);
  ids_.reserve(n);
  keys_.reserve(n);
  by_id_.reserve(n);
  by_canonical_.reserve(n);
}

Status SeriesIndex::Register(SeriesId id, std::string_view canonical) {
  std::unique_lock lock(mu_);
  bool id_taken = false;
  const std::optional<SeriesRef> bound = TryAddLocked(id, canonical, &id_taken);
  if (!bound) return Status::Ok();  // added
  if (id_taken) {
    if (KeyOf(*bound) == canonical) return Status::Ok();  // the same pair again
    auto key = SeriesKey::FromCanonical(KeyOf(*bound));
    return Status::Corruption("series id " + std::to_string(id) + " is bound to two keys: " +
                              (key.ok() ? key->ToString() : std::string("?")) + " and another");
  }
  if (*bound == kMalformed) return Status::Corruption("malformed series key");
  return Status::Corruption("a series key is bound to two ids (" + std::to_string(IdOf(*bound)) +
                            " and " + std::to_string(id) + ")");
}

void SeriesIndex::AddLocked(SeriesId id, std::string_view canonical) {
  bool id_taken;
  TryAddLocked(id, canonical, &id_taken);  // the caller checked both are free
}

std::optional<SeriesRef> SeriesIndex::TryAddLocked(SeriesId id, std::string_view canonical,
                                                   bool* id_taken) {
  // One probe of each set, inserting: the new ref is pushed first (the
  // sets hash a ref by what ids_ and keys_ hold for it) and popped again if
  // the id or the key is bound already.
  if (base_) {
    if (auto bound = base_->FindId(id)) {
      *id_taken = true;
      return bound;
    }
    if (auto bound = base_->FindKey(canonical)) {
      *id_taken = false;
      return bound;
    }
  }
  const auto ref = static_cast<SeriesRef>(base_n_ + ids_.size());
  // Room first, so that a failed allocation changes nothing: the vectors'
  // and the sets' (hash_table_growth.h: the inserts below then allocate
  // nothing).
  if (ids_.size() == ids_.capacity()) ids_.reserve(2 * ids_.size() + 16);
  if (keys_.size() == keys_.capacity()) keys_.reserve(2 * keys_.size() + 16);
  GrowForInsert(by_id_);
  GrowForInsert(by_canonical_);
  ids_.push_back(id);
  keys_.push_back(canonical);  // the caller's bytes until the key is kept below
  *id_taken = false;
  auto undo = [&](bool in_by_id) {
    if (in_by_id) by_id_.erase(ref);
    ids_.pop_back();
    keys_.pop_back();
  };
  auto [by_id, id_added] = by_id_.insert(ref);
  if (!id_added) {
    const SeriesRef bound = *by_id;
    undo(false);
    *id_taken = true;
    return bound;
  }
  auto [by_key, key_added] = by_canonical_.insert(ref);
  if (!key_added) {
    const SeriesRef bound = *by_key;
    undo(true);
    return bound;
  }
  if (!WellFormedCanonical(canonical)) {
    by_canonical_.erase(ref);
    undo(true);
    return kMalformed;
  }
  const std::string_view stored = arena_->Copy(canonical);  // same bytes: same hash
  keys_.back() = stored;
  auto add_posting = [&](std::string_view name, std::string_view value) {
    PostingKeyInto(&posting_scratch_, name, value);
    const std::string_view lookup = posting_scratch_;
    auto it = posting_ids_.find(lookup);
    if (it == posting_ids_.end()) {
      GrowForInsert(posting_ids_);
      const std::string_view key = arena_->Copy(lookup);
      const auto pid = static_cast<PostingId>(postings_.size());
      postings_.emplace_back(key);
      it = posting_ids_.insert(pid).first;
      values_by_name_[key.substr(0, name.size())].push_back(pid);
    }
    postings_[*it].Append(ref);  // refs grow: the list stays sorted
  };
  ByteReader r(stored);
  std::string_view metric;
  r.GetLengthPrefixed(&metric);  // validated by the caller (FromCanonical or Canonical())
  add_posting("__name__", metric);
  while (!r.empty()) {
    std::string_view name, value;
    if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) break;
    add_posting(name, value);
  }
  return std::nullopt;
}

bool SeriesIndex::Contains(SeriesId id) const {
  std::shared_lock lock(mu_);
  return RefOfIdLocked(id).has_value();
}

std::optional<SeriesKey> SeriesIndex::Key(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto ref = RefOfIdLocked(id);
  if (!ref) return std::nullopt;
  auto key = SeriesKey::FromCanonical(KeyOf(*ref));
  if (!key.ok()) return std::nullopt;
  return std::move(key).value();
}

std::optional<std::string> SeriesIndex::Canonical(SeriesId id) const {
  auto view = CanonicalView(id);
  if (!view) return std::nullopt;
  return std::string(*view);
}

std::optional<std::string_view> SeriesIndex::CanonicalView(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto ref = RefOfIdLocked(id);
  if (!ref) return std::nullopt;
  return KeyOf(*ref);
}

std::vector<SeriesId> SeriesIndex::SelectEqual(std::string_view metric,
                                               const Labels& equal_labels) const {
  std::vector<std::pair<std::string_view, std::string_view>> equal;
  if (!metric.empty()) equal.emplace_back("__name__", metric);
  for (const Label& l : equal_labels) equal.emplace_back(l.name, l.value);
  std::vector<SeriesRef> refs;
  if (equal.empty()) {
    refs = AllRefs();
  } else {
    std::sort(equal.begin(), equal.end(), [&](const auto& a, const auto& b) {
      return PostingsSize(a.first, a.second) < PostingsSize(b.first, b.second);
    });
    refs = Postings(equal[0].first, equal[0].second);
    for (size_t i = 1; i < equal.size() && !refs.empty(); ++i) {
      KeepInPostings(&refs, equal[i].first, equal[i].second);
    }
  }
  return IdsOf(refs);
}

SeriesIndex::PostingRefs SeriesIndex::PostingsOfKeyLocked(std::string_view key) const {
  PostingRefs refs;
  if (base_) {
    if (auto p = base_->FindPosting(key)) refs.base = base_->PostingRefs(*p);
  }
  if (auto it = posting_ids_.find(key); it != posting_ids_.end()) {
    refs.delta = postings_[*it].refs();
  }
  return refs;
}

SeriesIndex::PostingRefs SeriesIndex::FindPostingsLocked(std::string_view name,
                                                         std::string_view value) const {
  return PostingsOfKeyLocked(PostingKey(name, value));
}

std::vector<SeriesRef> SeriesIndex::Postings(std::string_view name, std::string_view value) const {
  std::shared_lock lock(mu_);
  const PostingRefs refs = FindPostingsLocked(name, value);
  std::vector<SeriesRef> out;
  out.reserve(refs.size());
  out.insert(out.end(), refs.base.begin(), refs.base.end());
  out.insert(out.end(), refs.delta.begin(), refs.delta.end());
  return out;
}

size_t SeriesIndex::PostingsSize(std::string_view name, std::string_view value) const {
  std::shared_lock lock(mu_);
  return FindPostingsLocked(name, value).size();
}

// Moves to `kept` the refs of [first, last) (sorted) that `postings` holds;
// returns the end of what it kept.
template <typename It>
static It KeepIn(It first, It last, std::span<const SeriesRef> postings, It kept) {
  // A few refs against a long list: binary searches; else one merge.
  const bool search = static_cast<size_t>(last - first) * 16 < postings.size();
  auto from = postings.begin();
  for (It it = first; it != last; ++it) {
    const SeriesRef ref = *it;
    if (search) {
      from = std::lower_bound(from, postings.end(), ref);
    } else {
      while (from != postings.end() && *from < ref) ++from;
    }
    if (from == postings.end()) break;
    if (*from == ref) *kept++ = ref;
  }
  return kept;
}

void SeriesIndex::KeepInPostings(std::vector<SeriesRef>* refs, std::string_view name,
                                 std::string_view value) const {
  std::shared_lock lock(mu_);
  const PostingRefs postings = FindPostingsLocked(name, value);
  // The snapshot's refs are all below base_n_, this process's all above.
  const auto mid = std::lower_bound(refs->begin(), refs->end(), base_n_);
  auto kept = KeepIn(refs->begin(), mid, postings.base, refs->begin());
  kept = KeepIn(mid, refs->end(), postings.delta, kept);
  refs->erase(kept, refs->end());
}

void SeriesIndex::ForEachLabelValue(
    std::string_view name,
    const std::function<void(std::string_view, std::span<const SeriesRef>)>& fn) const {
  std::shared_lock lock(mu_);
  std::vector<SeriesRef> joined;
  if (base_) {
    const auto [begin, end] = base_->NameRange(name);
    for (uint32_t p = begin; p < end; ++p) {
      const std::string_view key = base_->PostingKey(p);
      const PostingRefs refs = PostingsOfKeyLocked(key);
      if (refs.delta.empty()) {
        fn(key.substr(name.size() + 1), refs.base);
        continue;
      }
      joined.assign(refs.base.begin(), refs.base.end());
      joined.insert(joined.end(), refs.delta.begin(), refs.delta.end());
      fn(key.substr(name.size() + 1), joined);
    }
  }
  auto it = values_by_name_.find(name);
  if (it == values_by_name_.end()) return;
  for (PostingId pid : it->second) {
    const Posting& p = postings_[pid];
    if (base_ && base_->FindPosting(p.key())) continue;  // given with the snapshot's above
    fn(p.key().substr(name.size() + 1), p.refs());
  }
}

void SeriesIndex::FilterByCanonical(std::vector<SeriesRef>* refs,
                                    const std::function<bool(std::string_view)>& keep) const {
  std::shared_lock lock(mu_);
  auto kept = refs->begin();
  for (SeriesRef ref : *refs) {
    if (keep(KeyOf(ref))) *kept++ = ref;
  }
  refs->erase(kept, refs->end());
}

std::vector<SeriesId> SeriesIndex::IdsOf(std::span<const SeriesRef> refs) const {
  std::vector<SeriesId> ids;
  ids.reserve(refs.size());
  {
    std::shared_lock lock(mu_);
    for (SeriesRef ref : refs) ids.push_back(IdOf(ref));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<SeriesId> SeriesIndex::IdsInOrder(std::span<const SeriesRef> refs) const {
  std::vector<SeriesId> ids;
  ids.reserve(refs.size());
  std::shared_lock lock(mu_);
  for (SeriesRef ref : refs) ids.push_back(IdOf(ref));
  return ids;
}

std::vector<SeriesRef> SeriesIndex::AllRefs() const {
  std::shared_lock lock(mu_);
  std::vector<SeriesRef> refs(base_n_ + ids_.size());
  for (size_t i = 0; i < refs.size(); ++i) refs[i] = static_cast<SeriesRef>(i);
  return refs;
}

std::vector<std::string> SeriesIndex::LabelNames() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> names;
  if (base_) {
    for (std::string_view name : base_->names()) {
      if (name != "__name__") names.emplace_back(name);
    }
  }
  for (const auto& [name, values] : values_by_name_) {
    if (name != "__name__") names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> SeriesIndex::LabelValues(std::string_view name) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> values;
  if (base_) {
    const auto [begin, end] = base_->NameRange(name);
    values.reserve(end - begin);
    for (uint32_t p = begin; p < end; ++p) {
      values.emplace_back(base_->PostingKey(p).substr(name.size() + 1));
    }
  }
  if (auto it = values_by_name_.find(name); it != values_by_name_.end()) {
    for (PostingId pid : it->second) values.emplace_back(postings_[pid].key().substr(name.size() + 1));
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

size_t SeriesIndex::size() const {
  std::shared_lock lock(mu_);
  return base_n_ + ids_.size();
}

std::vector<SeriesId> SeriesIndex::AllIds() const {
  std::vector<SeriesId> ids;
  {
    std::shared_lock lock(mu_);
    ids.reserve(base_n_ + ids_.size());
    for (SeriesRef r = 0; r < base_n_; ++r) ids.push_back(base_->Id(r));
    ids.insert(ids.end(), ids_.begin(), ids_.end());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status SeriesIndex::Adopt(std::unique_ptr<const IndexSnapshot> snapshot) {
  std::unique_lock lock(mu_);
  if (base_ || !ids_.empty()) {
    return Status::FailedPrecondition("an index snapshot is adopted by an empty index only");
  }
  base_n_ = snapshot->series();
  base_ = std::move(snapshot);
  return Status::Ok();
}

Status SeriesIndex::WriteSnapshot(const std::string& tmp_path, SeriesRef series,
                                  const SnapshotCoverage& cover) const {
  std::shared_lock lock(mu_);
  series = std::clamp<SeriesRef>(series, base_n_, static_cast<SeriesRef>(base_n_ + ids_.size()));
  // This process's postings with refs in the snapshot, by key.
  std::vector<PostingId> delta;
  for (PostingId pid = 0; pid < postings_.size(); ++pid) {
    const std::span<const SeriesRef> refs = postings_[pid].refs();
    if (!refs.empty() && refs.front() < series) delta.push_back(pid);
  }
  std::sort(delta.begin(), delta.end(),
            [&](PostingId a, PostingId b) { return postings_[a].key() < postings_[b].key(); });
  // Refs 0 .. series - 1, and the postings: the adopted snapshot's (sorted)
  // merged with delta's, each list cut at `series`.
  class Source : public SnapshotSource {
   public:
    Source(const SeriesIndex& index, SeriesRef series, std::span<const PostingId> delta)
        : index_(index), series_(series), delta_(delta) {}
    SeriesRef series() const override { return series_; }
    SeriesId Id(SeriesRef ref) const override { return index_.IdOf(ref); }
    std::string_view Key(SeriesRef ref) const override { return index_.KeyOf(ref); }
    Status ForEachPosting(const std::function<Status(const SnapshotPosting&)>& fn) const override {
      const IndexSnapshot* base = index_.base_.get();
      const uint32_t base_postings = base ? base->postings() : 0;
      size_t d = 0;
      for (uint32_t b = 0; b < base_postings || d < delta_.size();) {
        const bool take_base =
            b < base_postings && (d == delta_.size() || base->PostingKey(b) <= DeltaKey(d));
        if (!take_base) {
          KPIDB_RETURN_IF_ERROR(fn({DeltaKey(d), DeltaRefs(d), {}}));
          ++d;
          continue;
        }
        SnapshotPosting p{base->PostingKey(b), base->PostingRefs(b), {}};
        if (d < delta_.size() && DeltaKey(d) == p.key) p.second = DeltaRefs(d++);
        KPIDB_RETURN_IF_ERROR(fn(p));
        ++b;
      }
      return Status::Ok();
    }

   private:
    std::string_view DeltaKey(size_t d) const { return index_.postings_[delta_[d]].key(); }
    std::span<const SeriesRef> DeltaRefs(size_t d) const {
      const std::span<const SeriesRef> refs = index_.postings_[delta_[d]].refs();
      const auto end = std::lower_bound(refs.begin(), refs.end(), series_);
      return refs.first(static_cast<size_t>(end - refs.begin()));
    }
    const SeriesIndex& index_;
    const SeriesRef series_;
    const std::span<const PostingId> delta_;
  };
  return WriteIndexSnapshot(tmp_path, Source(*this, series, delta), cover);
}

size_t SeriesIndex::MemoryBytes() const {
  std::shared_lock lock(mu_);
  size_t bytes = arena_->bytes() + ids_.capacity() * sizeof(SeriesId) +
                 keys_.capacity() * sizeof(std::string_view) +
                 by_id_.capacity() * (sizeof(SeriesRef) + 1) +
                 by_canonical_.capacity() * (sizeof(SeriesRef) + 1) +
                 postings_.size() * sizeof(Posting) +
                 posting_ids_.capacity() * (sizeof(PostingId) + 1);
  for (const Posting& p : postings_) {
    bytes += p.allocated_bytes();
  }
  for (const auto& [name, values] : values_by_name_) bytes += values.capacity() * sizeof(PostingId);
  return bytes;
}

}  // namespace kpidb
