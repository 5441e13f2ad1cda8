#include "engine/query/selector.h"

#include <re2/re2.h>

#include <algorithm>
#include <iterator>

namespace kpidb::query {
namespace {

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
  // Equalities (the metric, name="value"): copy the shortest postings list
  // and keep its ids that are in the others, which are not copied (a
  // metric's may hold millions of ids).
  std::vector<std::pair<std::string_view, std::string_view>> equal;
  if (!selector.metric.empty()) equal.emplace_back("__name__", selector.metric);
  for (const CompiledMatcher& m : matchers) {
    if (m.matcher().op == MatchOp::kEqual && !m.matches_empty()) {
      equal.emplace_back(m.name(), m.matcher().value);
    }
  }
  std::vector<size_t> sizes;
  for (const auto& [name, value] : equal) sizes.push_back(index.PostingsSize(name, value));
  std::vector<size_t> order(equal.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] < sizes[b]; });
  std::vector<SeriesId> candidates;
  bool constrained = !equal.empty();
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& [name, value] = equal[order[k]];
    if (k == 0) {
      candidates = index.Postings(name, value);
    } else {
      index.KeepInPostings(&candidates, name, value);
    }
    if (candidates.empty()) return candidates;
  }
  // Other matchers requiring the label (regular expressions, != ""): a few
  // candidates are checked one by one; else the postings of every matching
  // value are united and intersected.
  constexpr size_t kCheckEachUpTo = 1024;
  for (const CompiledMatcher& m : matchers) {
    if (m.matches_empty() || m.matcher().op == MatchOp::kEqual) continue;
    if (constrained && candidates.size() <= kCheckEachUpTo) {
      std::vector<SeriesId> kept;
      for (SeriesId id : candidates) {
        auto key = index.Key(id);
        if (key && m.Matches(LabelValue(*key, m.name()))) kept.push_back(id);
      }
      candidates.swap(kept);
    } else {
      std::vector<SeriesId> matching;
      for (const std::string& value : index.LabelValues(m.name())) {
        if (!m.Matches(value)) continue;
        std::vector<SeriesId> ids = index.Postings(m.name(), value);
        std::vector<SeriesId> merged;
        std::set_union(matching.begin(), matching.end(), ids.begin(), ids.end(),
                       std::back_inserter(merged));
        matching.swap(merged);
      }
      candidates = constrained ? IntersectSorted(candidates, matching) : std::move(matching);
    }
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
