#include "engine/query/selector.h"

#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <iterator>

namespace kpidb::query {

Result<CompiledMatcher> CompiledMatcher::Compile(const LabelMatcher& matcher,
                                                 std::string_view field) {
  const std::string f(field);
  // "__name__" matches the metric, as in Prometheus ({__name__=~"kpi_.*"}).
  if (matcher.name != "__name__" && !IsValidLabelName(matcher.name)) {
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
  bool narrows = !selector.metric.empty();
  for (size_t i = 0; i < selector.matchers.size(); ++i) {
    KPIDB_ASSIGN_OR_RETURN(
        CompiledMatcher m,
        CompiledMatcher::Compile(selector.matchers[i], f + ".matchers[" + std::to_string(i) + "]"));
    narrows = narrows || !m.matches_empty();
    out.push_back(std::move(m));
  }
  // As Prometheus refuses {} and {x=""}: such a selector would read every
  // series.
  if (!narrows) {
    return Status::InvalidArgument(
        f + ": selects every series; give a metric or a matcher that does not match the empty "
            "string (e.g. {__name__=~\"kpi_.+\"})");
  }
  return out;
}

Result<std::vector<SeriesId>> SelectSeries(const SeriesIndex& index, const Selector& selector,
                                           const std::vector<CompiledMatcher>& matchers,
                                           size_t max_series) {
  // Equalities (the metric, name="value"): copy the shortest postings list
  // and keep its refs that are in the others, which are not copied (a
  // metric's may hold millions of refs).
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
  std::vector<SeriesRef> candidates;
  bool constrained = !equal.empty();
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& [name, value] = equal[order[k]];
    if (k == 0) {
      candidates = index.Postings(name, value);
    } else {
      index.KeepInPostings(&candidates, name, value);
    }
    if (candidates.empty()) return std::vector<SeriesId>{};
  }
  // Other matchers requiring the label (regular expressions, != ""): a few
  // candidates are checked one by one; else every value of the label is
  // matched once and the refs of the matching values marked in a bitmap, so
  // the cost is linear in values plus series, whatever their number.
  constexpr size_t kCheckEachUpTo = 1024;
  for (const CompiledMatcher& m : matchers) {
    if (m.matches_empty() || m.matcher().op == MatchOp::kEqual) continue;
    if (constrained && candidates.size() <= kCheckEachUpTo) {
      index.FilterByCanonical(&candidates, [&](std::string_view canonical) {
        return m.Matches(LabelValueInCanonical(canonical, m.name()));
      });
    } else {
      std::vector<uint64_t> bits((index.size() + 63) / 64);
      size_t marked = 0;
      index.ForEachLabelValue(m.name(), [&](std::string_view value, std::span<const SeriesRef> refs) {
        if (!m.Matches(value)) return;
        for (SeriesRef ref : refs) {
          if (ref / 64 >= bits.size()) bits.resize(ref / 64 + 1);  // a series added meanwhile
          bits[ref / 64] |= uint64_t{1} << (ref % 64);
        }
        marked += refs.size();
      });
      auto marked_ref = [&](SeriesRef ref) {
        return ref / 64 < bits.size() && (bits[ref / 64] >> (ref % 64) & 1) != 0;
      };
      if (constrained) {
        std::erase_if(candidates, [&](SeriesRef ref) { return !marked_ref(ref); });
      } else {
        candidates.clear();
        candidates.reserve(marked);
        for (size_t w = 0; w < bits.size(); ++w) {
          for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
            candidates.push_back(static_cast<SeriesRef>(w * 64 + std::countr_zero(word)));
          }
        }
      }
    }
    constrained = true;
    if (candidates.empty()) return std::vector<SeriesId>{};
  }
  if (!constrained) candidates = index.AllRefs();
  // Matchers that also accept a missing label: check each candidate.
  const bool filter = std::any_of(matchers.begin(), matchers.end(),
                                  [](const CompiledMatcher& m) { return m.matches_empty(); });
  if (filter) {
    index.FilterByCanonical(&candidates, [&](std::string_view canonical) {
      return std::all_of(matchers.begin(), matchers.end(), [&](const CompiledMatcher& m) {
        return !m.matches_empty() || m.Matches(LabelValueInCanonical(canonical, m.name()));
      });
    });
  }
  if (candidates.size() > max_series) {
    return Status::ResourceExhausted("selector matches " + std::to_string(candidates.size()) +
                                     " series, over max_series=" + std::to_string(max_series));
  }
  return index.IdsOf(candidates);
}

}  // namespace kpidb::query
