// The public Engine (include/kpidb/engine.h): the engine core plus the query
// layer behind one interface whose state stays private.
#include "kpidb/engine.h"

#include <algorithm>
#include <functional>
#include <set>
#include <tuple>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "engine/query/selector.h"

namespace kpidb {
namespace {

// The labels of every listed series of `metric` (empty: of every series),
// through its postings and the keys' canonical bytes; series emptied by
// deletes or retention are left out.
void ForEachLabelOfMetric(const EngineCore& core, std::string_view metric,
                          const std::function<void(std::string_view, std::string_view)>& fn) {
  const SeriesIndex& index = core.series_index();
  std::vector<SeriesRef> refs = metric.empty() ? index.AllRefs() : index.Postings("__name__", metric);
  if (core.EmptiedCount() > 0) {
    // (Outside FilterByCanonical, which holds the index's lock.)
    const std::vector<SeriesId> ids = index.IdsInOrder(refs);
    size_t kept = 0;
    for (size_t i = 0; i < refs.size(); ++i) {
      if (!core.IsEmptied(ids[i])) refs[kept++] = refs[i];
    }
    refs.resize(kept);
  }
  index.FilterByCanonical(&refs, [&](std::string_view canonical) {
    auto key = SeriesKey::FromCanonical(canonical);
    if (key.ok()) {
      if (metric.empty()) fn("__name__", key->metric);
      for (const Label& l : key->labels) fn(l.name, l.value);
    }
    return false;
  });
}

}  // namespace

Engine::Engine(std::unique_ptr<EngineCore> core) : core_(std::move(core)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& dir, const EngineOptions& options) {
  KPIDB_ASSIGN_OR_RETURN(std::unique_ptr<EngineCore> core, EngineCore::Open(dir, options));
  return std::unique_ptr<Engine>(new Engine(std::move(core)));
}

Status Engine::Write(const WriteBatch& batch) { return core_->Write(batch); }

Result<SeriesData> Engine::Read(SeriesId id, int64_t start_ms, int64_t end_ms) const {
  return core_->Read(id, start_ms, end_ms);
}

std::optional<SeriesId> Engine::FindSeries(std::string_view metric, const Labels& labels) const {
  return core_->FindSeries(metric, labels);
}

std::optional<SeriesKey> Engine::SeriesKeyOf(SeriesId id) const { return core_->SeriesKeyOf(id); }

Status Engine::Query(const query::Query& q, const query::ResultSink& sink,
                     query::QueryStats* stats) const {
  return query::Execute(*core_, q, sink, stats);
}

std::optional<uint64_t> Engine::EstimateQueryPoints(const query::Query& q, size_t max_series,
                                                    uint64_t enough, size_t max_lookups) const {
  return query::EstimatePoints(*core_, q, max_series, enough, max_lookups);
}

Result<std::vector<SeriesKey>> Engine::ListSeries(const query::Selector& selector,
                                                  size_t max_series, std::string_view field) const {
  KPIDB_ASSIGN_OR_RETURN(auto matchers, query::CompileSelector(selector, field));
  KPIDB_ASSIGN_OR_RETURN(auto ids,
                         query::SelectSeries(core_->series_index(), selector, matchers, max_series));
  std::vector<SeriesKey> keys;
  keys.reserve(ids.size());
  for (SeriesId id : ids) {
    if (core_->IsEmptied(id)) continue;  // deleted (or expired) to the last point
    if (auto key = core_->SeriesKeyOf(id)) keys.push_back(std::move(*key));
  }
  std::sort(keys.begin(), keys.end(), [](const SeriesKey& a, const SeriesKey& b) {
    return std::tie(a.metric, a.labels) < std::tie(b.metric, b.labels);
  });
  return keys;
}

std::vector<std::string> Engine::LabelNames(std::string_view metric) const {
  if (metric.empty() && core_->EmptiedCount() == 0) return core_->series_index().LabelNames();
  std::set<std::string, std::less<>> names;
  ForEachLabelOfMetric(*core_, metric, [&](std::string_view n, std::string_view) {
    if (n != "__name__" && !names.contains(n)) names.emplace(n);
  });
  return {names.begin(), names.end()};
}

std::vector<std::string> Engine::LabelValues(std::string_view name, std::string_view metric) const {
  if (metric.empty() && core_->EmptiedCount() == 0) return core_->series_index().LabelValues(name);
  std::set<std::string, std::less<>> values;
  ForEachLabelOfMetric(*core_, metric, [&](std::string_view n, std::string_view v) {
    if (n == name && !values.contains(v)) values.emplace(v);
  });
  return {values.begin(), values.end()};
}

Status Engine::Flush() { return core_->Flush(); }
Result<SnapshotInfo> Engine::Snapshot(const std::string& dest) { return core_->Snapshot(dest); }
Status Engine::Compact(uint64_t* merged) { return core_->Compact(merged); }
Status Engine::StartCompaction() { return core_->StartCompaction(); }

Result<DeleteResult> Engine::Delete(const query::Selector& selector, int64_t start_ms,
                                    int64_t end_ms, size_t max_series) {
  KPIDB_ASSIGN_OR_RETURN(auto matchers, query::CompileSelector(selector, "selector"));
  KPIDB_ASSIGN_OR_RETURN(auto ids,
                         query::SelectSeries(core_->series_index(), selector, matchers, max_series));
  DeleteResult result;
  result.series_matched = ids.size();
  KPIDB_RETURN_IF_ERROR(core_->Delete(ids, start_ms, end_ms, &result.points_deleted));
  return result;
}

Status Engine::Close() { return core_->Close(); }
EngineStats Engine::GetStats() const { return core_->GetStats(); }
const std::string& Engine::dir() const { return core_->dir(); }
const EngineOptions& Engine::options() const { return core_->options(); }

}  // namespace kpidb
