// The query layer against a naive reference, on random data and random
// queries. The reference below is written for obviousness, not speed: it
// keeps every written point in a map (last write wins, in write order),
// selects series by evaluating each matcher on each series' labels, and
// computes every aggregation, group, ratio and fill with plain loops over the
// raw points, following the contract in engine/query/query.h line by line.
//
// The engine is opened with tiny chunks (7 points) and small segment
// partitions, flushed at random moments, and fed out-of-order writes,
// rewrites of flushed points and series that only live in the head, so that
// every read path (head, segments, overlapping segments, chunk-stats
// pushdown) is exercised.
//
// Comparison: timestamps, labels and result order exactly; count, min, max,
// first, last (and anything else computed without rounding) bit for bit;
// sums and what derives from them within a rounding bound propagated through
// the computation (a few ulps per contributing point, query.h
// "Floating point"); NaN (null fill) as NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "engine/query/time_buckets.h"
#include "tests/engine_fixture.h"
#include "tests/test_util.h"

namespace kpidb::query {
namespace {

using kpidb::testing::TempDir;

constexpr double kEps = std::numeric_limits<double>::epsilon();

// ---------------------------------------------------------------------------
// The reference store: every series' points, last write wins.

using Key = std::pair<std::string, Labels>;  // (metric, labels sorted by name)
using Points = std::map<int64_t, double>;
using Store = std::map<Key, Points>;  // ordered by series key: the result order

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

// A selector that no metric and no matcher needing a value narrows would read
// every series: it is refused (INVALID_ARGUMENT), as Prometheus refuses {}.
bool SelectsEverything(const Selector& s) {
  return s.metric.empty() && std::all_of(s.matchers.begin(), s.matchers.end(), [](const LabelMatcher& m) {
           return Matches(m, "", {});
         });
}

bool Selects(const Selector& s, const Key& key) {
  if (!s.metric.empty() && s.metric != key.first) return false;
  return std::all_of(s.matchers.begin(), s.matchers.end(),
                     [&](const LabelMatcher& m) { return Matches(m, key.first, key.second); });
}

// ---------------------------------------------------------------------------
// The bucket grid: fixed steps computed here, calendar steps from BucketGrid.

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

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
// Values with a bound on their rounding error. error == 0 means the value is
// computed without rounding (count, min, max, first, last, zero fill...) and
// must come back bit for bit.

struct Approx {
  double value = 0;
  double error = 0;
};
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

// What a result must look like after fill.
struct Expected {
  std::string metric;
  Labels labels;
  std::vector<int64_t> timestamps;
  std::vector<Approx> values;
  // No bucket had a value before fill: the contract does not say whether
  // such a result is sent (with the fill's buckets) or left out; both pass.
  bool optional = false;
};

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
// Printing, for a developer reproducing a failure.

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
const char* FillName(Fill f) {
  static const char* kNames[] = {"none", "null", "zero", "previous", "linear"};
  return kNames[static_cast<int>(f)];
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

// The raw data a query reads: the selected series' points in range.
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

// Returns "" if `got` is what `want` says, else what differs.
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

// ---------------------------------------------------------------------------
// Random data.

enum class Kind { kVisits, kOrders, kIncome, kCounter };

struct SeriesDef {
  Key key;
  Kind kind;
};

struct Write {
  size_t series;
  int64_t ts;
  double value;
};

const char* const kChannels[] = {"ads", "app", "seo", "web"};
const char* const kRegions[] = {"as", "eu", "us"};

class World {
 public:
  explicit World(uint32_t seed) : rng_(seed) {
    const int64_t kDay = 86'400'000;
    const int64_t bases[] = {0, 1'711'843'200'000 /* 2024-03-31, Paris DST starts */,
                             1'729'987'200'000 /* 2024-10-27, Paris DST ends */,
                             1'704'067'200'000 /* 2024-01-01 */, -400 * kDay};
    const int64_t spans[] = {2'000, 600'000, 3 * kDay, 200 * kDay};
    base_ = bases[Uniform(0, 4)];
    span_ = spans[Uniform(0, 3)];
    options_.logger = [](std::string_view) {};
    options_.wal_sync = WalSyncPolicy::kNone;
    options_.max_points_per_chunk = 7;
    options_.segment_partition_ms = std::max<int64_t>(1000, 2 * span_ / Uniform(2, 8));
    // Rollup tiers: none, or steps the queries' steps are often unions of,
    // with the partition a multiple of the coarsest so that rows can serve.
    options_.rollup_tiers_ms.clear();
    options_.rollup_stddev = Chance(0.5);
    if (Chance(0.8)) {
      for (int64_t step : {10, 1000, 60'000, 3'600'000, 86'400'000}) {
        if (Chance(0.5)) options_.rollup_tiers_ms.push_back(step);
      }
      if (!options_.rollup_tiers_ms.empty()) {
        const int64_t top = options_.rollup_tiers_ms.back();
        options_.segment_partition_ms = (options_.segment_partition_ms + top - 1) / top * top;
      }
    }
  }

  int64_t Uniform(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Uniform(0, N - 1)];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Uniform(0, static_cast<int64_t>(items.size()) - 1)];
  }

  const EngineOptions& options() const { return options_; }
  const Store& store() const { return store_; }
  int64_t base() const { return base_; }
  int64_t span() const { return span_; }

  // Writes random data into `engine` and the reference, flushing at random.
  void Populate(EngineCore& engine) {
    const char* const metrics[] = {"kpi_visits", "kpi_orders", "kpi_income", "kpi_counts"};
    std::set<Key> keys;
    const int n_series = static_cast<int>(Uniform(8, 16));
    while (static_cast<int>(defs_.size()) < n_series) {
      const int kind = static_cast<int>(Uniform(0, 3));
      Labels labels = {{"channel", Pick(kChannels)}};
      if (Chance(0.8)) labels.push_back({"region", Pick(kRegions)});
      if (Chance(0.3)) labels.push_back({"tier", "gold"});
      std::sort(labels.begin(), labels.end());
      Key key{metrics[kind], labels};
      if (keys.insert(key).second) defs_.push_back({key, static_cast<Kind>(kind)});
    }
    // The last few series are written after the last flush: head only.
    const size_t head_only = static_cast<size_t>(Uniform(1, 3));

    std::vector<Write> first, rewrites, late;
    for (size_t s = 0; s < defs_.size(); ++s) {
      std::vector<Write>& into = s + head_only >= defs_.size() ? late : first;
      const int n = static_cast<int>(Uniform(1, 60));
      std::set<int64_t> stamps;
      for (int i = 0; i < n; ++i) stamps.insert(RandomTimestamp());
      double counter = static_cast<double>(Uniform(0, 100));
      for (int64_t ts : stamps) {
        double v;
        if (defs_[s].kind == Kind::kCounter) {
          counter = Chance(0.07) ? static_cast<double>(Uniform(0, 5))
                                 : counter + static_cast<double>(Uniform(0, 20));
          v = counter;
        } else {
          v = RandomValue(defs_[s].kind);
        }
        into.push_back({s, ts, v});
      }
    }
    // Rewrites (corrections) of existing points, many of them already
    // flushed by then, and a few brand-new points among them.
    for (size_t k = 0, n = first.size() / 4; k < n; ++k) {
      const Write& w = Pick(first);
      const double v = defs_[w.series].kind == Kind::kCounter
                           ? w.value + static_cast<double>(Uniform(-2, 3))
                           : RandomValue(defs_[w.series].kind);
      rewrites.push_back({w.series, Chance(0.9) ? w.ts : RandomTimestamp(), std::max(v, 0.0)});
    }
    std::shuffle(first.begin(), first.end(), rng_);
    std::shuffle(late.begin(), late.end(), rng_);
    WriteAll(engine, first, 0.12);
    WriteAll(engine, rewrites, 0.2);
    ASSERT_TRUE(engine.Flush().ok());
    WriteAll(engine, late, 0.0);
    for (const auto& [key, points] : store_) {
      for (const auto& [ts, v] : points) timestamps_.push_back(ts);
    }
  }

  int64_t RandomTimestamp() {
    int64_t ts = base_ + Uniform(-span_, span_);
    // Points on round instants land on bucket boundaries.
    const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
    const int64_t unit = Pick(units);
    if (unit < span_ && Chance(0.3)) ts = FloorDiv(ts, unit) * unit;
    return ts;
  }

  double RandomValue(Kind kind) {
    switch (kind) {
      case Kind::kVisits:
        return static_cast<double>(Uniform(0, 50));
      case Kind::kOrders:
        return Chance(0.3) ? 0.0 : static_cast<double>(Uniform(0, 10));
      case Kind::kIncome:
        return static_cast<double>(Uniform(-2000, 100'000)) / 100.0;  // refunds are negative
      case Kind::kCounter:
        break;
    }
    return static_cast<double>(Uniform(0, 1000));
  }

  // Writes in batches of random size (a (series, timestamp) at most once per
  // batch), flushing before a batch with probability `flush_chance`.
  void WriteAll(EngineCore& engine, const std::vector<Write>& writes, double flush_chance) {
    size_t i = 0;
    while (i < writes.size()) {
      if (Chance(flush_chance)) {
        ASSERT_TRUE(engine.Flush().ok());
      }
      const size_t batch_size = static_cast<size_t>(Uniform(1, 25));
      std::map<size_t, SeriesPoints> by_series;
      std::set<std::pair<size_t, int64_t>> in_batch;
      size_t taken = 0;
      while (i < writes.size() && taken < batch_size) {
        const Write& w = writes[i];
        if (!in_batch.insert({w.series, w.ts}).second) break;
        SeriesPoints& sp = by_series[w.series];
        sp.metric = defs_[w.series].key.first;
        sp.labels = defs_[w.series].key.second;
        sp.timestamps_ms.push_back(w.ts);
        sp.values.push_back(w.value);
        store_[defs_[w.series].key][w.ts] = w.value;
        ++i;
        ++taken;
      }
      WriteBatch batch;
      for (auto& [s, sp] : by_series) batch.series.push_back(std::move(sp));
      Status st = engine.Write(batch);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  }

  // ---- random queries ----

  Selector RandomSelector(bool need_metric) {
    Selector s;
    const char* const metrics[] = {"kpi_visits", "kpi_orders", "kpi_income", "kpi_counts"};
    if (need_metric || Chance(0.8)) s.metric = Pick(metrics);
    const int n = static_cast<int>(Uniform(0, 3));
    for (int i = 0; i < n; ++i) s.matchers.push_back(RandomMatcher());
    return s;
  }

  LabelMatcher RandomMatcher() {
    if (Chance(0.08)) {
      const std::vector<std::string> res = {"kpi_(visits|orders)", "kpi_.*s", "kpi_income"};
      return {"__name__", Chance(0.8) ? MatchOp::kRegex : MatchOp::kNotRegex, Pick(res)};
    }
    switch (Uniform(0, 9)) {
      case 0:
        return {"channel", MatchOp::kEqual, Chance(0.9) ? Pick(kChannels) : "nope"};
      case 1:
        return {"channel", MatchOp::kNotEqual, Pick(kChannels)};
      case 2: {
        const std::vector<std::string> res = {"ads|web", "a.*", "(app|seo)", ".*e.*", "[a-m]+",
                                              "ap", "web|", "s.o"};
        return {"channel", MatchOp::kRegex, Pick(res)};
      }
      case 3: {
        const std::vector<std::string> res = {"ads|web", "a.*", "seo", ".*p.*"};
        return {"channel", MatchOp::kNotRegex, Pick(res)};
      }
      case 4:
        return {"region", Chance(0.5) ? MatchOp::kEqual : MatchOp::kNotEqual,
                Chance(0.5) ? "" : Pick(kRegions)};
      case 5: {
        const std::vector<std::string> res = {".*", ".+", "eu|us", "", "e.", "as|"};
        return {"region", Chance(0.5) ? MatchOp::kRegex : MatchOp::kNotRegex, Pick(res)};
      }
      case 6:
        return {"tier", Chance(0.5) ? MatchOp::kEqual : MatchOp::kNotEqual,
                Chance(0.5) ? "" : "gold"};
      case 7:
        return {"tier", MatchOp::kRegex, Chance(0.5) ? "gold|" : "g.*"};
      case 8:  // a label no series has: "" matches everything, anything else nothing
        return {"nolabel", Chance(0.5) ? MatchOp::kEqual : MatchOp::kRegex,
                Chance(0.7) ? "" : "x"};
      default:
        return {"nolabel", MatchOp::kNotRegex, Chance(0.5) ? ".+" : ""};
    }
  }

  Query RandomQuery() {
    Query q;
    const int64_t reach = span_ + span_ / 5;
    q.start_ms = base_ + Uniform(-reach, reach);
    int64_t length = Chance(0.1) ? Uniform(1, 10) : Uniform(1, 2 * reach);
    q.end_ms = q.start_ms + length;
    const int64_t edges = Uniform(0, 9);
    if (edges < 3) {
      // Range edges on written points: the first point in range, the last
      // one, chunks cut by the range.
      int64_t a = Pick(timestamps_) + Uniform(0, 1), z = Pick(timestamps_) + Uniform(0, 1);
      if (a > z) std::swap(a, z);
      q.start_ms = a;
      q.end_ms = std::max(z, a + 1);
    } else if (edges < 5) {
      // Range edges on round instants (bucket boundaries of round steps).
      const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
      const int64_t unit = Pick(units);
      q.start_ms = FloorDiv(q.start_ms, unit) * unit;
      q.end_ms = std::max(FloorDiv(q.end_ms, unit) * unit, q.start_ms + unit);
    }
    length = q.end_ms - q.start_ms;

    const int64_t shape = Uniform(0, 99);
    const bool raw = shape < 10;
    const bool ratio = shape >= 80;
    q.selector = RandomSelector(ratio);
    if (raw) return q;

    RandomStep(q, length);
    const Aggregation aggregations[] = {
        Aggregation::kAvg,   Aggregation::kSum,  Aggregation::kMin,    Aggregation::kMax,
        Aggregation::kCount, Aggregation::kFirst, Aggregation::kLast, Aggregation::kStddev,
        Aggregation::kRate,  Aggregation::kIncrease};
    q.aggregation = aggregations[Uniform(0, ratio ? 7 : 9)];
    const Fill fills[] = {Fill::kNone, Fill::kNull, Fill::kZero, Fill::kPrevious, Fill::kLinear};
    q.fill = Pick(fills);
    if ((shape >= 60 && shape < 80) || (ratio && Chance(0.5))) {
      q.group = true;
      for (const char* name : {"channel", "region", "tier"}) {
        if (Chance(0.4)) q.group_by.push_back(name);
      }
      const CrossAggregation crosses[] = {CrossAggregation::kSum, CrossAggregation::kAvg,
                                          CrossAggregation::kMin, CrossAggregation::kMax,
                                          CrossAggregation::kCount};
      q.cross = Pick(crosses);
    }
    if (ratio) {
      // Half the time the denominator keeps the numerator's matchers (the
      // usual "orders / visits of the same slice"), so that many series match.
      Selector den = Chance(0.5) ? q.selector : RandomSelector(true);
      // Denominators count things (never negative), so a zero denominator is
      // exactly zero, never a rounding residue.
      den.metric = Chance(0.5) ? "kpi_visits" : "kpi_orders";
      q.denominator = den;
    }
    return q;
  }

  void RandomStep(Query& q, int64_t length) {
    const int64_t choice = Uniform(0, 9);
    if (choice == 0) {
      const CalendarUnit units[] = {CalendarUnit::kDay,   CalendarUnit::kDay,
                                    CalendarUnit::kWeek,  CalendarUnit::kMonth,
                                    CalendarUnit::kQuarter, CalendarUnit::kYear};
      q.step.calendar = Pick(units);
      q.step.time_zone = Chance(0.5) ? "UTC" : "Europe/Paris";
      // Keep the grid small: at most a few hundred days of day buckets.
      if (q.step.calendar == CalendarUnit::kDay && length > 400 * 86'400'000LL) {
        q.step.calendar = CalendarUnit::kMonth;
      }
      return;
    }
    int64_t step;
    switch (choice) {
      case 1:
        step = 1;
        break;
      case 2:
        step = length + Uniform(1, 2 * length);  // larger than the range
        break;
      case 3: {
        const int64_t units[] = {1000, 60'000, 3'600'000, 86'400'000};
        step = Pick(units);
        break;
      }
      case 4:
        step = Uniform(1, 50);
        break;
      default:
        step = std::max<int64_t>(1, length / Uniform(1, 60) + Uniform(-3, 3));  // rarely divides
        break;
    }
    constexpr int64_t kMaxBuckets = 3000;
    if (length / step > kMaxBuckets) step = length / kMaxBuckets + 1 + Uniform(0, 7);
    q.step.step_ms = step;
  }

 private:
  std::mt19937_64 rng_;
  int64_t base_ = 0;
  int64_t span_ = 0;
  EngineOptions options_;
  std::vector<SeriesDef> defs_;
  Store store_;
  std::vector<int64_t> timestamps_;  // of every written point
};

// Runs 200 random queries on the world of `seed`, each checked against the
// reference; returns what the executions read, summed.
QueryStats CheckRandomQueries(uint32_t seed) {
  QueryStats total;
  World world(seed);
  TempDir dir;
  auto opened = EngineCore::Open(dir.path(), world.options());
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return total;
  std::unique_ptr<EngineCore> engine = std::move(opened).value();
  world.Populate(*engine);
  if (::testing::Test::HasFatalFailure()) return total;

  constexpr int kQueries = 200;
  int failures = 0;
  for (int i = 0; i < kQueries && failures < 3; ++i) {
    const Query q = world.RandomQuery();
    const std::vector<Expected> want = Reference(world.store(), q);
    std::vector<ResultSeries> got;
    QueryStats read;
    Status s = Execute(
        *engine, q,
        [&](ResultSeries&& r) {
          got.push_back(std::move(r));
          return Status::Ok();
        },
        &read);
    total.series += read.series;
    total.points += read.points;
    total.chunk_stats += read.chunk_stats;
    total.rollup_rows += read.rollup_rows;
    std::string diff;
    const bool refused = SelectsEverything(q.selector) ||
                         (q.denominator && SelectsEverything(*q.denominator));
    if (refused) {
      if (s.code() != StatusCode::kInvalidArgument ||
          s.message().find("selects every series") == std::string::npos) {
        diff = "expected INVALID_ARGUMENT for a selector of every series, got " + s.ToString() + "\n";
      }
    } else if (!s.ok()) {
      diff = "Execute failed: " + s.ToString() + "\n";
    } else {
      diff = Compare(q, want, got);
    }
    if (!diff.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " query " << i << " (data base " << world.base()
                    << " span " << world.span() << ", rollup tiers "
                    << ::testing::PrintToString(world.options().rollup_tiers_ms) << ")\n  "
                    << Describe(q) << "\n"
                    << diff << DescribeData(world.store(), q);
    }
  }
  return total;
}

class QueryReference : public ::testing::TestWithParam<uint32_t> {};

// For many random data sets and queries, Execute returns exactly what the
// reference computes from the raw points.
TEST_P(QueryReference, EveryQueryMatchesTheNaiveReference) { CheckRandomQueries(GetParam()); }

// The comparison above means something for the precomputed paths only if
// they serve some of the queries: rollup rows and chunk stats both do.
TEST(QueryReferenceCoverage, RollupRowsAndChunkStatsServeSomeQueries) {
  QueryStats total;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    const QueryStats read = CheckRandomQueries(seed);
    total.rollup_rows += read.rollup_rows;
    total.chunk_stats += read.chunk_stats;
    total.points += read.points;
  }
  EXPECT_GT(total.rollup_rows, 100u);
  EXPECT_GT(total.chunk_stats, 20u);
  EXPECT_GT(total.points, 1000u);
  std::printf("rollup rows %llu, chunk stats %llu, points %llu\n",
              static_cast<unsigned long long>(total.rollup_rows),
              static_cast<unsigned long long>(total.chunk_stats),
              static_cast<unsigned long long>(total.points));
}

INSTANTIATE_TEST_SUITE_P(Seeds, QueryReference, ::testing::Range<uint32_t>(1, 33));

// ---------------------------------------------------------------------------
// A few hand-computed cases: the contract in examples a reader can check.

class QueryExamples : public testing::EngineTest {
 protected:
  void SetUp() override {
    options_.max_points_per_chunk = 7;
    EngineTest::SetUp();
  }
  void Put(std::string metric, Labels labels, std::vector<int64_t> ts, std::vector<double> vs) {
    WriteBatch b;
    b.series.push_back({std::move(metric), std::move(labels), std::move(ts), std::move(vs)});
    Status s = engine_->Write(b);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<ResultSeries> Run(const Query& q) {
    std::vector<ResultSeries> got;
    Status s = Execute(*engine_, q, [&](ResultSeries&& r) {
      got.push_back(std::move(r));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return got;
  }
};

// One bucket of 16 head points (one run, folded in 8 lanes): min and max keep
// the zero a time-ordered scan keeps where 0 and -0 tie, even when a later
// zero of the other sign sits in a lower lane; a sum whose lanes would
// overflow is the left-to-right one.
TEST_F(QueryExamples, MinMaxKeepTheFirstZeroAndSumsDoNotOverflowInLanes) {
  std::vector<int64_t> ts;
  for (int64_t t = 0; t < 16; ++t) ts.push_back(t);
  std::vector<double> low(16, 5.0), high(16, -5.0), big(16);
  low[2] = -0.0;  // first zero in time, lane 2
  low[8] = 0.0;   // a later +0, lane 0
  high[2] = 0.0;
  high[8] = -0.0;
  for (size_t i = 0; i < 16; ++i) big[i] = i % 2 ? -1e308 : 1e308;
  Put("kpi_low", {}, ts, low);
  Put("kpi_high", {}, ts, high);
  Put("kpi_big", {}, ts, big);
  Query q;
  q.start_ms = 0;
  q.end_ms = 16;
  q.step.step_ms = 16;
  q.selector.metric = "kpi_low";
  q.aggregation = Aggregation::kMin;
  auto got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::signbit(got[0].values[0]) && got[0].values[0] == 0) << got[0].values[0];
  q.selector.metric = "kpi_high";
  q.aggregation = Aggregation::kMax;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(!std::signbit(got[0].values[0]) && got[0].values[0] == 0) << got[0].values[0];
  q.selector.metric = "kpi_big";
  q.aggregation = Aggregation::kSum;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values[0], 0.0);
}

TEST_F(QueryExamples, IncreaseCreditsTheLaterPointRestartsAfterAResetAndIgnoresPointsBeforeStart) {
  // Counter: 5 (before start), 10, 14, 3 (reset), 7; buckets of 10 ms.
  Put("kpi_counts", {{"channel", "web"}}, {-5, 1, 12, 15, 25}, {5, 10, 14, 3, 7});
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_counts";
  q.start_ms = 0;
  q.end_ms = 30;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kIncrease;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  // Bucket [0,10): point 1 has no predecessor in range: no value.
  // Bucket [10,20): (14-10) + 3 (reset) = 7. Bucket [20,30): 7-3 = 4.
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(got[0].values, (std::vector<double>{7, 4}));
  q.aggregation = Aggregation::kRate;  // per second of a 10 ms bucket
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{10, 20}));
  ASSERT_EQ(got[0].values.size(), 2u);
  EXPECT_DOUBLE_EQ(got[0].values[0], 700);
  EXPECT_DOUBLE_EQ(got[0].values[1], 400);
}

TEST_F(QueryExamples, BucketsAreEpochAlignedAlsoBeforeTheEpochAndLabelledByTheirStart) {
  Put("kpi_visits", {{"channel", "web"}}, {-7, -6, -1, 0, 4}, {1, 2, 3, 4, 5});
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = -6;  // the first bucket [-10,-5) begins before start; -7 is outside the range
  q.end_ms = 5;
  q.step.step_ms = 5;
  q.aggregation = Aggregation::kSum;
  q.fill = Fill::kNull;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{-10, -5, 0}));
  ASSERT_EQ(got[0].values.size(), 3u);
  EXPECT_EQ(got[0].values[0], 2);
  EXPECT_EQ(got[0].values[1], 3);
  EXPECT_EQ(got[0].values[2], 9);
}

TEST_F(QueryExamples, FillsApplyToEmptyBucketsAfterGrouping) {
  Put("kpi_visits", {{"channel", "web"}, {"region", "eu"}}, {0, 30}, {2, 8});
  Put("kpi_visits", {{"channel", "web"}, {"region", "us"}}, {1}, {1});
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = -10;
  q.end_ms = 50;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  q.cross = CrossAggregation::kSum;
  const std::vector<int64_t> all = {-10, 0, 10, 20, 30, 40};
  struct Case {
    Fill fill;
    std::vector<int64_t> ts;
    std::vector<double> values;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Case& c : {Case{Fill::kNone, {0, 30}, {3, 8}},
                        Case{Fill::kNull, all, {nan, 3, nan, nan, 8, nan}},
                        Case{Fill::kZero, all, {0, 3, 0, 0, 8, 0}},
                        Case{Fill::kPrevious, {0, 10, 20, 30, 40}, {3, 3, 3, 8, 8}},
                        Case{Fill::kLinear, {0, 10, 20, 30}, {3, 3 + 5.0 / 3, 3 + 10.0 / 3, 8}}}) {
    SCOPED_TRACE(FillName(c.fill));
    q.fill = c.fill;
    std::vector<ResultSeries> got = Run(q);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].metric, "kpi_visits");
    EXPECT_EQ(got[0].labels, (Labels{{"channel", "web"}}));
    EXPECT_EQ(got[0].timestamps_ms, c.ts);
    ASSERT_EQ(got[0].values.size(), c.values.size());
    for (size_t i = 0; i < c.values.size(); ++i) {
      if (std::isnan(c.values[i])) {
        EXPECT_TRUE(std::isnan(got[0].values[i])) << i;
      } else {
        EXPECT_NEAR(got[0].values[i], c.values[i], 1e-12) << i;
      }
    }
  }
}

TEST_F(QueryExamples, RatioMatchesOnGroupLabelsAndADivisionByZeroGivesNoPoint) {
  Put("kpi_orders", {{"channel", "web"}, {"region", "eu"}}, {0, 10, 20}, {1, 2, 3});
  Put("kpi_orders", {{"channel", "ads"}, {"region", "eu"}}, {0}, {5});
  Put("kpi_visits", {{"channel", "web"}, {"region", "eu"}}, {0, 10, 20}, {4, 0, 6});
  Put("kpi_visits", {{"channel", "web"}, {"region", "us"}}, {0}, {4});
  Query q;
  q.selector.metric = "kpi_orders";
  q.denominator = Selector{"kpi_visits", {}};
  q.start_ms = 0;
  q.end_ms = 30;
  q.step.step_ms = 10;
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  std::vector<ResultSeries> got = Run(q);
  // ads has no denominator; web: 1/(4+4), 2/0 (no point), 3/6.
  std::erase_if(got, [](const ResultSeries& r) { return r.values.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].metric, "kpi_orders/kpi_visits");
  EXPECT_EQ(got[0].labels, (Labels{{"channel", "web"}}));
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{0, 20}));
  EXPECT_EQ(got[0].values, (std::vector<double>{0.125, 0.5}));
}

TEST_F(QueryExamples, RateDividesByTheBucketsRealLengthOnDstDays) {
  // Europe/Paris: 2024-03-31 lasts 23 h, 2024-10-27 lasts 25 h. A counter
  // growing by one per second has a rate of exactly 1 on every day.
  constexpr int64_t kMar31 = 1'711'839'600'000, kApr1 = 1'711'922'400'000,
                    kApr2 = 1'712'008'800'000;
  constexpr int64_t kOct27 = 1'729'980'000'000, kOct28 = 1'730'070'000'000;
  constexpr int64_t kHour = 3'600'000;
  Put("kpi_counts", {{"channel", "web"}},
      {kMar31, kApr1 - kHour, kApr2 - kHour, kOct27, kOct28 - 1000},
      {0, 82'800 - 3'600, 82'800 + 86'400 - 3'600, 1e6, 1e6 + 90'000 - 1});
  Query q;
  q.selector.metric = "kpi_counts";
  q.start_ms = kMar31;
  q.end_ms = kOct28;
  q.step = {.step_ms = 0, .calendar = CalendarUnit::kDay, .time_zone = "Europe/Paris"};
  q.aggregation = Aggregation::kRate;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  // The Oct 27 bucket holds the point after a jump from 171 000 to 1e6
  // (credited to Oct 27) and the one a second before its end.
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMar31, kApr1, kOct27}));
  ASSERT_EQ(got[0].values.size(), 3u);
  EXPECT_DOUBLE_EQ(got[0].values[0], (82'800.0 - 3'600) / 82'800);
  EXPECT_DOUBLE_EQ(got[0].values[1], 86'400.0 / 86'400);
  EXPECT_DOUBLE_EQ(got[0].values[2], (1e6 + 90'000 - 1 - (82'800 + 86'400 - 3'600)) / 90'000);
}

TEST_F(QueryExamples, TimestampsAtTheEdgesOfInt64AreBucketedWithoutOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Put("kpi_visits", {{"channel", "web"}}, {kMin, kMin + 2, -1, 0, kMax - 1}, {1, 2, 3, 4, 5});
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = kMin;
  q.end_ms = kMax;
  std::vector<ResultSeries> got = Run(q);  // raw, everything
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMin, kMin + 2, -1, 0, kMax - 1}));

  q.step.step_ms = int64_t{1} << 62;  // 4 buckets cover the whole int64 range
  q.aggregation = Aggregation::kSum;
  q.fill = Fill::kNull;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms,
            (std::vector<int64_t>{kMin, kMin / 2, 0, int64_t{1} << 62}));
  EXPECT_EQ(got[0].values, (std::vector<double>{3, 3, 4, 5}));

  // Step 3: the first bucket would start at kMin - 1; its label is clamped
  // to kMin (time_buckets.h), the next starts at kMin + 2.
  q.end_ms = kMin + 5;
  q.step.step_ms = 3;
  q.fill = Fill::kNone;
  got = Run(q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].timestamps_ms, (std::vector<int64_t>{kMin, kMin + 2}));
  EXPECT_EQ(got[0].values, (std::vector<double>{1, 2}));
}

TEST_F(QueryExamples, StddevHasNoCancellationErrorOnLargeNearlyConstantValues) {
  // Values around 1e6 with a spread of 0.1: a sum-of-squares formula loses
  // most digits (E[x^2] - E[x]^2 ~ 1e12 - 1e12); two passes (or Welford)
  // keep them. A constant series has a standard deviation of 0, never NaN.
  std::vector<int64_t> ts;
  std::vector<double> spread, constant;
  for (int i = 0; i < 60; ++i) {
    ts.push_back(i);
    spread.push_back(1e6 + 0.1 * (i % 3));
    constant.push_back(1234.56);
  }
  Put("kpi_income", {{"channel", "web"}}, ts, spread);
  Put("kpi_income", {{"channel", "ads"}}, ts, constant);
  ASSERT_TRUE(engine_->Flush().ok());
  Query q;
  q.selector.metric = "kpi_income";
  q.start_ms = 0;
  q.end_ms = 60;
  q.step.step_ms = 60;
  q.aggregation = Aggregation::kStddev;
  std::vector<ResultSeries> got = Run(q);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].labels, (Labels{{"channel", "ads"}}));
  ASSERT_EQ(got[0].values.size(), 1u);
  ASSERT_EQ(got[1].values.size(), 1u);
  // A few ulps of the values per point.
  EXPECT_LE(std::fabs(got[0].values[0]), 60 * 4 * kEps * 1234.56) << Format(got[0].values[0]);
  const double want = 0.1 * std::sqrt(2.0 / 3.0);  // deviations -0.1, 0, +0.1
  EXPECT_NEAR(got[1].values[0], want, 60 * 4 * kEps * 1e6) << Format(got[1].values[0]);
}

}  // namespace
}  // namespace kpidb::query
