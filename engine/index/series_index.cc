#include "engine/index/series_index.h"

#include <xxhash.h>

#include <algorithm>
#include <mutex>

namespace kpidb {

uint64_t HashCanonicalKey(std::string_view canonical) {
  return XXH3_64bits(canonical.data(), canonical.size());
}
namespace {

std::string MetricPostingKey(std::string_view metric) { return std::string(metric); }

std::string LabelPostingKey(const Label& l) {
  std::string k = "\x01";
  k += l.name;
  k.push_back('\0');
  k += l.value;
  return k;
}

void InsertSorted(std::vector<SeriesId>* ids, SeriesId id) {
  auto it = std::lower_bound(ids->begin(), ids->end(), id);
  if (it == ids->end() || *it != id) ids->insert(it, id);
}

}  // namespace

std::vector<SeriesId> IntersectSorted(const std::vector<SeriesId>& a, const std::vector<SeriesId>& b) {
  std::vector<SeriesId> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::optional<SeriesId> SeriesIndex::Find(std::string_view canonical) const {
  std::shared_lock lock(mu_);
  auto it = by_canonical_.find(canonical);
  if (it == by_canonical_.end()) return std::nullopt;
  return it->second;
}

SeriesId SeriesIndex::GetOrAssign(const SeriesKey& key, const std::string& canonical,
                                  bool* created) {
  {
    std::shared_lock lock(mu_);
    auto it = by_canonical_.find(canonical);
    if (it != by_canonical_.end()) {
      *created = false;
      return it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto it = by_canonical_.find(canonical);
  if (it != by_canonical_.end()) {
    *created = false;
    return it->second;
  }
  SeriesId id = hash_(canonical);
  while (by_id_.count(id)) ++id;  // collision: probe to the next free id
  AddLocked(id, key, canonical);
  *created = true;
  return id;
}

Status SeriesIndex::Register(SeriesId id, const std::string& canonical) {
  std::unique_lock lock(mu_);
  auto by_id = by_id_.find(id);
  if (by_id != by_id_.end()) {
    if (by_id->second.canonical == canonical) return Status::Ok();
    return Status::Corruption("series id " + std::to_string(id) + " is bound to two keys: " +
                              by_id->second.key.ToString() + " and another");
  }
  if (by_canonical_.count(canonical)) {
    return Status::Corruption("a series key is bound to two ids (" +
                              std::to_string(by_canonical_[canonical]) + " and " +
                              std::to_string(id) + ")");
  }
  KPIDB_ASSIGN_OR_RETURN(SeriesKey key, SeriesKey::FromCanonical(canonical));
  AddLocked(id, std::move(key), canonical);
  return Status::Ok();
}

void SeriesIndex::AddLocked(SeriesId id, SeriesKey key, std::string canonical) {
  InsertSorted(&postings_[MetricPostingKey(key.metric)], id);
  label_values_["__name__"].insert(key.metric);
  for (const Label& l : key.labels) {
    InsertSorted(&postings_[LabelPostingKey(l)], id);
    label_values_[l.name].insert(l.value);
  }
  by_canonical_.emplace(canonical, id);
  by_id_.emplace(id, Entry{std::move(key), std::move(canonical)});
}

std::optional<SeriesKey> SeriesIndex::Key(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second.key;
}

std::optional<std::string> SeriesIndex::Canonical(SeriesId id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second.canonical;
}

std::vector<SeriesId> SeriesIndex::SelectEqual(std::string_view metric,
                                               const Labels& equal_labels) const {
  std::shared_lock lock(mu_);
  std::vector<const std::vector<SeriesId>*> lists;
  if (!metric.empty()) {
    auto it = postings_.find(MetricPostingKey(metric));
    if (it == postings_.end()) return {};
    lists.push_back(&it->second);
  }
  for (const Label& l : equal_labels) {
    auto it = postings_.find(LabelPostingKey(l));
    if (it == postings_.end()) return {};
    lists.push_back(&it->second);
  }
  if (lists.empty()) {
    std::vector<SeriesId> all;
    all.reserve(by_id_.size());
    for (const auto& [id, entry] : by_id_) all.push_back(id);
    std::sort(all.begin(), all.end());
    return all;
  }
  // Intersect shortest first, copying only the shortest.
  std::sort(lists.begin(), lists.end(), [](auto* a, auto* b) { return a->size() < b->size(); });
  std::vector<SeriesId> result = *lists[0];
  for (size_t i = 1; i < lists.size() && !result.empty(); ++i) KeepIn(&result, lists[i]);
  return result;
}

void SeriesIndex::KeepIn(std::vector<SeriesId>* ids, const std::vector<SeriesId>* postings) {
  if (postings == nullptr) {
    ids->clear();
    return;
  }
  // A few ids against a long list: binary searches; else one merge.
  const bool search = ids->size() * 16 < postings->size();
  auto from = postings->begin();
  auto kept = ids->begin();
  for (SeriesId id : *ids) {
    if (search) {
      from = std::lower_bound(from, postings->end(), id);
    } else {
      while (from != postings->end() && *from < id) ++from;
    }
    if (from == postings->end()) break;
    if (*from == id) *kept++ = id;
  }
  ids->erase(kept, ids->end());
}

void SeriesIndex::KeepInPostings(std::vector<SeriesId>* ids, std::string_view name,
                                 std::string_view value) const {
  std::shared_lock lock(mu_);
  KeepIn(ids, FindPostingsLocked(name, value));
}

const std::vector<SeriesId>* SeriesIndex::FindPostingsLocked(std::string_view name,
                                                             std::string_view value) const {
  auto it = postings_.find(name == "__name__"
                               ? MetricPostingKey(value)
                               : LabelPostingKey({std::string(name), std::string(value)}));
  return it == postings_.end() ? nullptr : &it->second;
}

std::vector<SeriesId> SeriesIndex::Postings(std::string_view name, std::string_view value) const {
  std::shared_lock lock(mu_);
  const std::vector<SeriesId>* ids = FindPostingsLocked(name, value);
  return ids == nullptr ? std::vector<SeriesId>{} : *ids;
}

size_t SeriesIndex::PostingsSize(std::string_view name, std::string_view value) const {
  std::shared_lock lock(mu_);
  const std::vector<SeriesId>* ids = FindPostingsLocked(name, value);
  return ids == nullptr ? 0 : ids->size();
}

std::vector<std::string> SeriesIndex::LabelNames() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, values] : label_values_) {
    if (name != "__name__") names.push_back(name);
  }
  return names;
}

std::vector<std::string> SeriesIndex::LabelValues(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = label_values_.find(name);
  if (it == label_values_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

size_t SeriesIndex::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

std::vector<SeriesId> SeriesIndex::AllIds() const { return SelectEqual("", {}); }

}  // namespace kpidb
