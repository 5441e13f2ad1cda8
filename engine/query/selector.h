// Selecting series: a metric name and label matchers (=, !=, =~, !~) over
// the series index, Prometheus semantics (a missing label has value "";
// regexes are RE2, fully anchored).
//
// Matchers that cannot match "" (e.g. channel="email", region=~"eu|us")
// require the label, so their postings lists are intersected: the index
// finds the series without scanning them all. Matchers that match ""
// (region!="eu", x=~".*") filter the remaining candidates by value.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/query/query.h"
#include "engine/index/series_index.h"
#include "kpidb/status.h"

namespace re2 {
class RE2;
}

namespace kpidb::query {

// A matcher ready to test values. Thread-safe after Compile.
class CompiledMatcher {
 public:
  // INVALID_ARGUMENT naming `field` (e.g. "selector.matchers[2]") for an
  // invalid label name or regex.
  static Result<CompiledMatcher> Compile(const LabelMatcher& matcher, std::string_view field);
  bool Matches(std::string_view value) const;
  const std::string& name() const { return matcher_.name; }
  const LabelMatcher& matcher() const { return matcher_; }
  bool matches_empty() const { return matches_empty_; }

 private:
  LabelMatcher matcher_;
  std::shared_ptr<const re2::RE2> regex_;
  bool matches_empty_ = false;
};

// Validates and compiles every matcher of the selector.
Result<std::vector<CompiledMatcher>> CompileSelector(const Selector& selector,
                                                     std::string_view field);

// The ids of the matching series, sorted. RESOURCE_EXHAUSTED when more than
// `max_series` match ("selector matches N series, over max_series=M").
Result<std::vector<SeriesId>> SelectSeries(const SeriesIndex& index, const Selector& selector,
                                           const std::vector<CompiledMatcher>& matchers,
                                           size_t max_series);

}  // namespace kpidb::query
