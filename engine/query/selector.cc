#include "engine/query/selector.h"

#include <re2/re2.h>

#include <algorithm>
#include <iterator>

namespace kpidb::query {
namespace {

std::vector<SeriesId> Intersect(const std::vector<SeriesId>& a, const std::vector<SeriesId>& b) {
  std::vector<SeriesId> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string_view LabelValue(const SeriesKey& key, std::string_view name) {
  for (const Label& l : key.labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

}  // namespace

Result<CompiledMatcher> CompiledMatcher::Compile(const LabelMatcher& matcher,
                                                 std::string_view field) {
  const std::string f(field);
  if (!IsValidLabelName(matcher.name)) {
    return Status::InvalidArgument(f + ".name: invalid label name \"" + matcher.name + "\"");
  }
  CompiledMatcher m;
  m.matcher_ = matcher;
  if (matcher.op == MatchOp::kRegex || matcher.op == MatchOp::kNotRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const RE2>("^(?:" + matcher.value + ")$", options);
    if (!re->ok()) {
      return Status::InvalidArgument(f + ".value: invalid regular expression \"" + matcher.value +
                                     "\": " + re->error());
    }
    m.regex_ = std::move(re);
  }
  m.matches_empty_ = m.Matches("");
  return m;
}

bool CompiledMatcher::Matches(std::string_view value) const {
  switch (matcher_.op) {
    case MatchOp::kEqual: return value == matcher_.value;
    case MatchOp::kNotEqual: return value != matcher_.value;
    case MatchOp::kRegex: return RE2::FullMatch(value, *regex_);
    case MatchOp::kNotRegex: return !RE2::FullMatch(value, *regex_);
  }
  return false;
}

Result<std::vector<CompiledMatcher>> CompileSelector(const Selector& selector,
                                                     std::string_view field) {
  const std::string f(field);
  if (!selector.metric.empty() && !IsValidMetricName(selector.metric)) {
    return Status::InvalidArgument(f + ".metric: invalid metric name \"" + selector.metric + "\"");
  }
  std::vector<CompiledMatcher> out;
  for (size_t i = 0; i < selector.matchers.size(); ++i) {
    KPIDB_ASSIGN_OR_RETURN(
        CompiledMatcher m,
        CompiledMatcher::Compile(selector.matchers[i], f + ".matchers[" + std::to_string(i) + "]"));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<SeriesId>> SelectSeries(const SeriesIndex& index, const Selector& selector,
                                           const std::vector<CompiledMatcher>& matchers,
                                           size_t max_series) {
  std::vector<SeriesId> candidates;
  bool constrained = false;
  if (!selector.metric.empty()) {
    candidates = index.Postings("__name__", selector.metric);
    constrained = true;
  }
  // Matchers requiring the label: intersect postings.
  for (const CompiledMatcher& m : matchers) {
    if (m.matches_empty()) continue;
    std::vector<SeriesId> matching;
    if (m.matcher().op == MatchOp::kEqual) {
      matching = index.Postings(m.name(), m.matcher().value);
    } else {
      for (const std::string& value : index.LabelValues(m.name())) {
        if (!m.Matches(value)) continue;
        std::vector<SeriesId> ids = index.Postings(m.name(), value);
        std::vector<SeriesId> merged;
        std::set_union(matching.begin(), matching.end(), ids.begin(), ids.end(),
                       std::back_inserter(merged));
        matching.swap(merged);
      }
    }
    candidates = constrained ? Intersect(candidates, matching) : std::move(matching);
    constrained = true;
    if (candidates.empty()) return candidates;
  }
  if (!constrained) candidates = index.AllIds();
  // Matchers that also accept a missing label: check each candidate.
  bool filter = std::any_of(matchers.begin(), matchers.end(),
                            [](const CompiledMatcher& m) { return m.matches_empty(); });
  if (filter) {
    std::vector<SeriesId> kept;
    for (SeriesId id : candidates) {
      auto key = index.Key(id);
      if (!key) continue;
      bool all = std::all_of(matchers.begin(), matchers.end(), [&](const CompiledMatcher& m) {
        return !m.matches_empty() || m.Matches(LabelValue(*key, m.name()));
      });
      if (all) kept.push_back(id);
    }
    candidates.swap(kept);
  }
  if (candidates.size() > max_series) {
    return Status::ResourceExhausted("selector matches " + std::to_string(candidates.size()) +
                                     " series, over max_series=" + std::to_string(max_series));
  }
  return candidates;
}

}  // namespace kpidb::query
