// The reference model of the query layer; reference_model.h says what it
// promises.
#include "tests/query_reference/reference_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "engine/query/time_buckets.h"

namespace kpidb::query::reference {

// ---------------------------------------------------------------------------
// The reference store and the matchers.

namespace {

std::string LabelValue(const Labels& labels, const std::string& name) {
  for (const Label& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";  // a missing label has the value "" (query.h)
}

// `metric` is the value of "__name__", as in Prometheus.
bool Matches(const LabelMatcher& m, const std::string& metric, const Labels& labels) {
  const std::string v = m.name == "__name__" ? metric : LabelValue(labels, m.name);
  switch (m.op) {
    case MatchOp::kEqual:
      return v == m.value;
    case MatchOp::kNotEqual:
      return v != m.value;
    case MatchOp::kRegex:
      return std::regex_match(v, std::regex(m.value));  // fully anchored
    case MatchOp::kNotRegex:
      return !std::regex_match(v, std::regex(m.value));
  }
  return false;
}

bool Selects(const Selector& s, const Key& key) {
  if (!s.metric.empty() && s.metric != key.first) return false;
  return std::all_of(s.matchers.begin(), s.matchers.end(),
                     [&](const LabelMatcher& m) { return Matches(m, key.first, key.second); });
}

}  // namespace

bool SelectsEverything(const Selector& s) {
  return s.metric.empty() && std::all_of(s.matchers.begin(), s.matchers.end(), [](const LabelMatcher& m) {
           return Matches(m, "", {});
         });
}

// ---------------------------------------------------------------------------
// The bucket grid: fixed steps computed here, calendar steps from BucketGrid.

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

namespace {

struct Grid {
  std::vector<int64_t> starts;
  std::vector<int64_t> ends;
  size_t size() const { return starts.size(); }
  size_t BucketOf(int64_t ts) const {
    return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), ts) -
                               starts.begin()) -
           1;
  }
  double Seconds(size_t i) const { return static_cast<double>(ends[i] - starts[i]) / 1000.0; }
};

Grid MakeGrid(const Query& q) {
  Grid g;
  if (q.step.step_ms > 0) {
    const int64_t step = q.step.step_ms;
    for (int64_t b = FloorDiv(q.start_ms, step) * step; b < q.end_ms; b += step) {
      g.starts.push_back(b);
      g.ends.push_back(b + step);
    }
    return g;
  }
  auto grid = BucketGrid::Make(q.start_ms, q.end_ms, q.step, std::numeric_limits<size_t>::max());
  EXPECT_TRUE(grid.ok()) << grid.status().ToString();
  if (!grid.ok()) return g;
  for (size_t i = 0; i < grid->size(); ++i) {
    g.starts.push_back(grid->bucket_start(i));
    g.ends.push_back(grid->bucket_end(i));
  }
  return g;
}

// ---------------------------------------------------------------------------
// Per series, per group, per ratio, then fill: values with their rounding
// error bounds (Approx).

using Column = std::vector<std::optional<Approx>>;  // one entry per bucket

// Per series, per bucket (query.h "Step").
Column AggregateSeries(const Points& points, const Query& q, const Grid& grid) {
  std::vector<std::pair<int64_t, double>> in;  // points inside [start, end), time order
  for (auto it = points.lower_bound(q.start_ms); it != points.end() && it->first < q.end_ms;
       ++it) {
    in.push_back(*it);
  }
  Column out(grid.size());

  if (q.aggregation == Aggregation::kIncrease || q.aggregation == Aggregation::kRate) {
    std::vector<double> sum(grid.size(), 0), magnitude(grid.size(), 0);
    std::vector<size_t> terms(grid.size(), 0);
    for (size_t i = 1; i < in.size(); ++i) {
      const double prev = in[i - 1].second, cur = in[i].second;
      const double delta = cur < prev ? cur : cur - prev;  // reset: the counter restarted
      const size_t b = grid.BucketOf(in[i].first);       // credited to the later point
      sum[b] += delta;
      magnitude[b] += std::fabs(prev) + std::fabs(cur);
      ++terms[b];
    }
    for (size_t b = 0; b < grid.size(); ++b) {
      if (terms[b] == 0) continue;
      Approx inc{sum[b], 2 * kEps * static_cast<double>(terms[b] + 1) * magnitude[b]};
      if (q.aggregation == Aggregation::kIncrease) {
        out[b] = inc;
      } else {
        const double secs = grid.Seconds(b);
        const double rate = inc.value / secs;
        out[b] = Approx{rate, inc.error / secs + 2 * kEps * std::fabs(rate)};
      }
    }
    return out;
  }

  std::vector<std::vector<double>> per_bucket(grid.size());
  for (const auto& [ts, v] : in) per_bucket[grid.BucketOf(ts)].push_back(v);
  for (size_t b = 0; b < grid.size(); ++b) {
    const std::vector<double>& vs = per_bucket[b];
    if (vs.empty()) continue;
    const double n = static_cast<double>(vs.size());
    double sum = 0, sum_abs = 0, max_abs = 0;
    for (double v : vs) {
      sum += v;
      sum_abs += std::fabs(v);
      max_abs = std::max(max_abs, std::fabs(v));
    }
    const double sum_error = kEps * (n - 1) * sum_abs;  // any summation order
    switch (q.aggregation) {
      case Aggregation::kSum:
        out[b] = Approx{sum, sum_error};
        break;
      case Aggregation::kAvg: {
        const double avg = sum / n;
        out[b] = Approx{avg, sum_error / n + (vs.size() > 1 ? kEps * std::fabs(avg) : 0)};
        break;
      }
      case Aggregation::kMin:
        out[b] = Approx{*std::min_element(vs.begin(), vs.end()), 0};
        break;
      case Aggregation::kMax:
        out[b] = Approx{*std::max_element(vs.begin(), vs.end()), 0};
        break;
      case Aggregation::kCount:
        out[b] = Approx{n, 0};
        break;
      case Aggregation::kFirst:
        out[b] = Approx{vs.front(), 0};
        break;
      case Aggregation::kLast:
        out[b] = Approx{vs.back(), 0};
        break;
      case Aggregation::kStddev: {
        // Population: sqrt(mean of squared deviations), two passes in long double.
        long double mean = 0;
        for (double v : vs) mean += v;
        mean /= vs.size();
        long double squares = 0;
        for (double v : vs) squares += (v - mean) * (v - mean);
        const double sd = static_cast<double>(std::sqrt(squares / vs.size()));
        out[b] = Approx{sd, vs.size() == 1 ? 0 : 4 * kEps * n * (max_abs + sd)};
        break;
      }
      case Aggregation::kRate:
      case Aggregation::kIncrease:
        break;
    }
  }
  return out;
}

// One result before fill: a series, a group, or a ratio of either.
struct Computed {
  std::string metric;
  Labels labels;
  Column column;
};

// The group labels of a series: the group_by labels it has, sorted by name.
// (A missing label has the value "", and stored labels are never empty, so
// "missing" and "empty" are one thing; see NormalizeGroupLabels.)
Labels GroupLabels(const Labels& labels, const std::vector<std::string>& group_by) {
  std::set<std::string> names(group_by.begin(), group_by.end());
  Labels out;
  for (const std::string& name : names) {
    std::string v = LabelValue(labels, name);
    if (!v.empty()) out.push_back({name, v});
  }
  return out;
}

Column Cross(const std::vector<const Column*>& members, CrossAggregation cross, size_t buckets) {
  Column out(buckets);
  for (size_t b = 0; b < buckets; ++b) {
    std::vector<Approx> vs;
    for (const Column* c : members) {
      if ((*c)[b]) vs.push_back(*(*c)[b]);
    }
    if (vs.empty()) continue;
    const double n = static_cast<double>(vs.size());
    double sum = 0, sum_abs = 0, errors = 0, max_error = 0;
    for (const Approx& a : vs) {
      sum += a.value;
      sum_abs += std::fabs(a.value);
      errors += a.error;
      max_error = std::max(max_error, a.error);
    }
    const double sum_error = errors + kEps * (n - 1) * sum_abs;
    switch (cross) {
      case CrossAggregation::kSum:
        out[b] = Approx{sum, sum_error};
        break;
      case CrossAggregation::kAvg: {
        const double avg = sum / n;
        out[b] = Approx{avg, sum_error / n + (vs.size() > 1 ? kEps * std::fabs(avg) : 0)};
        break;
      }
      case CrossAggregation::kMin: {
        auto it = std::min_element(vs.begin(), vs.end(),
                                   [](const Approx& a, const Approx& c) { return a.value < c.value; });
        out[b] = Approx{it->value, max_error};
        break;
      }
      case CrossAggregation::kMax: {
        auto it = std::max_element(vs.begin(), vs.end(),
                                   [](const Approx& a, const Approx& c) { return a.value < c.value; });
        out[b] = Approx{it->value, max_error};
        break;
      }
      case CrossAggregation::kCount:
        out[b] = Approx{n, 0};
        break;
    }
  }
  return out;
}

// One side of a query (the selector, or the denominator): per series, or per
// group when grouped; in result order.
std::vector<Computed> ComputeSide(const Store& store, const Selector& selector, const Query& q,
                                  const Grid& grid) {
  std::vector<Computed> series;
  for (const auto& [key, points] : store) {
    if (Selects(selector, key)) {
      series.push_back({key.first, key.second, AggregateSeries(points, q, grid)});
    }
  }
  if (!q.group) return series;
  std::map<Labels, std::vector<const Column*>> groups;
  for (const Computed& s : series) groups[GroupLabels(s.labels, q.group_by)].push_back(&s.column);
  std::vector<Computed> out;
  for (const auto& [labels, members] : groups) {
    out.push_back({selector.metric, labels, Cross(members, q.cross, grid.size())});
  }
  return out;
}

std::vector<Computed> ComputeRatio(const Store& store, const Query& q, const Grid& grid) {
  std::vector<Computed> num = ComputeSide(store, q.selector, q, grid);
  std::vector<Computed> den = ComputeSide(store, *q.denominator, q, grid);
  std::map<Labels, const Computed*> den_by_labels;  // group labels, or full label sets
  for (const Computed& d : den) den_by_labels[d.labels] = &d;
  std::vector<Computed> out;
  for (const Computed& n : num) {
    auto it = den_by_labels.find(n.labels);
    if (it == den_by_labels.end()) continue;
    const Computed& d = *it->second;
    Computed r{n.metric + "/" + d.metric, n.labels, Column(grid.size())};
    for (size_t b = 0; b < grid.size(); ++b) {
      if (!n.column[b] || !d.column[b] || d.column[b]->value == 0) continue;
      const Approx nv = *n.column[b], dv = *d.column[b];
      const double ratio = nv.value / dv.value;
      const double error = (nv.error + std::fabs(ratio) * dv.error) / std::fabs(dv.value) +
                           kEps * std::fabs(ratio);
      r.column[b] = Approx{ratio, error};
    }
    out.push_back(std::move(r));
  }
  return out;
}

Expected ApplyFill(const Computed& c, const Grid& grid, Fill fill) {
  Expected e{c.metric, c.labels, {}, {}, true};
  const Column& col = c.column;
  std::vector<size_t> present;
  for (size_t b = 0; b < col.size(); ++b) {
    if (col[b]) present.push_back(b);
  }
  e.optional = present.empty();
  for (size_t b = 0; b < col.size(); ++b) {
    std::optional<Approx> v = col[b];
    if (!v) {
      // The neighbours with a value: the last before b and the first after.
      auto after = std::upper_bound(present.begin(), present.end(), b);
      std::optional<size_t> prev, next;
      if (after != present.begin()) prev = *(after - 1);
      if (after != present.end()) next = *after;
      switch (fill) {
        case Fill::kNone:
          break;
        case Fill::kNull:
          v = Approx{std::numeric_limits<double>::quiet_NaN(), 0};
          break;
        case Fill::kZero:
          v = Approx{0.0, 0};
          break;
        case Fill::kPrevious:
          if (prev) v = col[*prev];
          break;
        case Fill::kLinear:
          if (prev && next) {
            const Approx a = *col[*prev], z = *col[*next];
            const double t = static_cast<double>(grid.starts[b] - grid.starts[*prev]) /
                             static_cast<double>(grid.starts[*next] - grid.starts[*prev]);
            const double value = a.value + (z.value - a.value) * t;
            v = Approx{value, std::max(a.error, z.error) +
                                  4 * kEps * (std::fabs(a.value) + std::fabs(z.value))};
          }
          break;
      }
    }
    if (v) {
      e.timestamps.push_back(grid.starts[b]);
      e.values.push_back(*v);
    }
  }
  return e;
}

}  // namespace

std::vector<Expected> Reference(const Store& store, const Query& q) {
  std::vector<Expected> out;
  const bool raw = q.step.step_ms == 0 && q.step.calendar == CalendarUnit::kNone;
  if (raw) {
    for (const auto& [key, points] : store) {
      if (!Selects(q.selector, key)) continue;
      Expected e{key.first, key.second, {}, {}, false};
      for (auto it = points.lower_bound(q.start_ms); it != points.end() && it->first < q.end_ms;
           ++it) {
        e.timestamps.push_back(it->first);
        e.values.push_back({it->second, 0});
      }
      e.optional = e.timestamps.empty();
      out.push_back(std::move(e));
    }
    return out;
  }
  const Grid grid = MakeGrid(q);
  std::vector<Computed> computed =
      q.denominator ? ComputeRatio(store, q, grid) : ComputeSide(store, q.selector, q, grid);
  for (const Computed& c : computed) out.push_back(ApplyFill(c, grid, q.fill));
  return out;
}

// ---------------------------------------------------------------------------
// Printing.

namespace {

const char* OpName(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual: return "=";
    case MatchOp::kNotEqual: return "!=";
    case MatchOp::kRegex: return "=~";
    case MatchOp::kNotRegex: return "!~";
  }
  return "?";
}
const char* AggregationName(Aggregation a) {
  static const char* kNames[] = {"avg",  "sum",  "min",    "max",  "count",
                                 "first", "last", "stddev", "rate", "increase"};
  return kNames[static_cast<int>(a)];
}
const char* CrossName(CrossAggregation a) {
  static const char* kNames[] = {"sum", "avg", "min", "max", "count"};
  return kNames[static_cast<int>(a)];
}
const char* CalendarName(CalendarUnit u) {
  static const char* kNames[] = {"none", "day", "week", "month", "quarter", "year"};
  return kNames[static_cast<int>(u)];
}

std::string Describe(const Selector& s) {
  std::string out = s.metric + "{";
  for (size_t i = 0; i < s.matchers.size(); ++i) {
    if (i) out += ",";
    out += s.matchers[i].name + OpName(s.matchers[i].op) + "\"" + s.matchers[i].value + "\"";
  }
  return out + "}";
}

std::string Describe(const Labels& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].name + "=\"" + labels[i].value + "\"";
  }
  return out + "}";
}

std::string DescribeExpected(const Expected& e) {
  std::ostringstream o;
  o << e.metric << Describe(e.labels) << (e.optional ? " (optional)" : "") << ":";
  for (size_t i = 0; i < e.timestamps.size(); ++i) {
    o << " " << e.timestamps[i] << "=" << Format(e.values[i].value);
  }
  return o.str();
}

std::string DescribeResult(const ResultSeries& r) {
  std::ostringstream o;
  o << r.metric << Describe(r.labels) << ":";
  for (size_t i = 0; i < r.timestamps_ms.size() && i < r.values.size(); ++i) {
    o << " " << r.timestamps_ms[i] << "=" << Format(r.values[i]);
  }
  if (r.timestamps_ms.size() != r.values.size()) {
    o << " [" << r.timestamps_ms.size() << " timestamps, " << r.values.size() << " values]";
  }
  return o.str();
}

}  // namespace

const char* FillName(Fill f) {
  static const char* kNames[] = {"none", "null", "zero", "previous", "linear"};
  return kNames[static_cast<int>(f)];
}

std::string Describe(const Query& q) {
  std::ostringstream o;
  o << "selector " << Describe(q.selector) << " range [" << q.start_ms << ", " << q.end_ms << ")";
  if (q.step.step_ms > 0) o << " step_ms " << q.step.step_ms;
  if (q.step.calendar != CalendarUnit::kNone) {
    o << " calendar " << CalendarName(q.step.calendar) << " tz " << q.step.time_zone;
  }
  if (q.step.step_ms == 0 && q.step.calendar == CalendarUnit::kNone) {
    o << " raw";
  } else {
    o << " aggregation " << AggregationName(q.aggregation) << " fill " << FillName(q.fill);
  }
  if (q.group) {
    o << " group by (";
    for (size_t i = 0; i < q.group_by.size(); ++i) o << (i ? "," : "") << q.group_by[i];
    o << ") cross " << CrossName(q.cross);
  }
  if (q.denominator) o << " denominator " << Describe(*q.denominator);
  return o.str();
}

std::string Format(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  return o.str();
}

std::string DescribeData(const Store& store, const Query& q) {
  std::ostringstream o;
  std::vector<const Selector*> selectors = {&q.selector};
  if (q.denominator) selectors.push_back(&*q.denominator);
  for (const auto& [key, points] : store) {
    if (std::none_of(selectors.begin(), selectors.end(),
                     [&](const Selector* s) { return Selects(*s, key); })) {
      continue;
    }
    o << "  data " << key.first << Describe(key.second) << ":";
    for (auto it = points.lower_bound(q.start_ms); it != points.end() && it->first < q.end_ms;
         ++it) {
      o << " " << it->first << "=" << Format(it->second);
    }
    o << "\n";
  }
  return o.str();
}

// ---------------------------------------------------------------------------
// Comparison.

namespace {

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool ValueMatches(double got, const Approx& want) {
  if (std::isnan(want.value)) return std::isnan(got);
  if (want.error == 0) return SameBits(got, want.value);
  return std::fabs(got - want.value) <= 2 * want.error;
}

// Group labels as a set: sorted by name, missing (empty) values dropped.
Labels NormalizeGroupLabels(Labels labels) {
  std::erase_if(labels, [](const Label& l) { return l.value.empty(); });
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace

std::string Compare(const Query& q, const std::vector<Expected>& want,
                    const std::vector<ResultSeries>& got) {
  std::ostringstream o;
  // Order: series by key (metric, labels); groups by their labels.
  for (size_t i = 1; i < got.size(); ++i) {
    const bool sorted = q.group ? got[i - 1].labels < got[i].labels
                                : std::tie(got[i - 1].metric, got[i - 1].labels) <
                                      std::tie(got[i].metric, got[i].labels);
    if (!sorted) {
      o << "results out of order at " << i << ": " << got[i - 1].metric
        << Describe(got[i - 1].labels) << " then " << got[i].metric << Describe(got[i].labels)
        << "\n";
    }
  }
  auto key_of = [&](const std::string& metric, const Labels& labels) {
    return std::make_pair(metric, q.group ? NormalizeGroupLabels(labels) : labels);
  };
  std::map<std::pair<std::string, Labels>, const Expected*> by_key;
  for (const Expected& e : want) by_key[key_of(e.metric, e.labels)] = &e;
  std::set<const Expected*> seen;
  for (const ResultSeries& r : got) {
    auto it = by_key.find(key_of(r.metric, r.labels));
    if (it == by_key.end()) {
      o << "unexpected result " << DescribeResult(r) << "\n";
      continue;
    }
    const Expected& e = *it->second;
    if (!seen.insert(&e).second) o << "result sent twice: " << DescribeResult(r) << "\n";
    bool same = r.timestamps_ms == e.timestamps && r.values.size() == e.values.size();
    for (size_t i = 0; same && i < e.values.size(); ++i) same = ValueMatches(r.values[i], e.values[i]);
    if (!same) {
      o << "mismatch:\n  want " << DescribeExpected(e) << "\n  got  " << DescribeResult(r)
        << "\n";
      for (size_t i = 0; i < e.values.size() && i < r.values.size(); ++i) {
        if (r.timestamps_ms[i] != e.timestamps[i] || !ValueMatches(r.values[i], e.values[i])) {
          o << "  first difference at " << i << ": want " << e.timestamps[i] << "="
            << Format(e.values[i].value) << " (error bound " << e.values[i].error << "), got "
            << r.timestamps_ms[i] << "=" << Format(r.values[i]) << "\n";
          break;
        }
      }
    }
  }
  for (const Expected& e : want) {
    if (!e.optional && !seen.count(&e)) o << "missing result " << DescribeExpected(e) << "\n";
  }
  return o.str();
}

}  // namespace kpidb::query::reference
