// A naive reference of the query layer, for the tests in this folder. It is
// written for obviousness, not speed: it keeps every written point in a map
// (last write wins, in write order), selects series by evaluating each matcher
// on each series' labels, and computes every aggregation, group, ratio and
// fill with plain loops over the raw points, following the contract in
// engine/query/query.h line by line.
//
// Comparison (Compare): timestamps, labels and result order exactly; count,
// min, max, first, last (and anything else computed without rounding) bit for
// bit; sums and what derives from them within a rounding bound propagated
// through the computation (a few ulps per contributing point, query.h
// "Floating point"); NaN (null fill) as NaN.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/query/query.h"

namespace kpidb::query::reference {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// ---------------------------------------------------------------------------
// The reference store: every series' points, last write wins.

using Key = std::pair<std::string, Labels>;  // (metric, labels sorted by name)
using Points = std::map<int64_t, double>;
using Store = std::map<Key, Points>;  // ordered by series key: the result order

// A selector that no metric and no matcher needing a value narrows would read
// every series: it is refused (INVALID_ARGUMENT), as Prometheus refuses {}.
bool SelectsEverything(const Selector& s);

// a / b rounded toward negative infinity (b > 0): the start of a bucket.
int64_t FloorDiv(int64_t a, int64_t b);

// ---------------------------------------------------------------------------
// Values with a bound on their rounding error. error == 0 means the value is
// computed without rounding (count, min, max, first, last, zero fill...) and
// must come back bit for bit.

struct Approx {
  double value = 0;
  double error = 0;
};

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

// The results `q` must return on the points in `store`, in result order. A
// calendar grid that BucketGrid::Make refuses fails the current test.
std::vector<Expected> Reference(const Store& store, const Query& q);

// Returns "" if `got` is what `want` says, else what differs.
std::string Compare(const Query& q, const std::vector<Expected>& want,
                    const std::vector<ResultSeries>& got);

// ---------------------------------------------------------------------------
// Printing, for a developer reproducing a failure.

const char* FillName(Fill f);
std::string Describe(const Query& q);
// All 17 significant digits, so that two different doubles never print alike.
std::string Format(double v);
// The raw data a query reads: the selected series' points in range.
std::string DescribeData(const Store& store, const Query& q);

}  // namespace kpidb::query::reference
