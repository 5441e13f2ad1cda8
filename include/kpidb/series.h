// The data model: a series is a metric name plus a set of labels; a point is
// (timestamp_ms, value). This file holds the canonical series key, the write
// batch, the points a read returns, and the validation of a batch against
// the configured limits. Part of the public API (include/kpidb/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

using SeriesId = uint64_t;

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};
using Labels = std::vector<Label>;

// The points of one series in a write: parallel columns.
struct SeriesPoints {
  std::string metric;
  Labels labels;  // any order; canonicalized (sorted by name) on write
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// One write: applied all or nothing.
struct WriteBatch {
  std::vector<SeriesPoints> series;
};

// Limits on what a write may contain. Each exceeded limit is an
// INVALID_ARGUMENT (shape) or RESOURCE_EXHAUSTED (size) error naming it.
struct WriteLimits {
  size_t max_metric_name_bytes = 256;
  size_t max_label_name_bytes = 128;
  size_t max_label_value_bytes = 1024;
  size_t max_labels_per_series = 32;
  size_t max_series_per_batch = 100'000;
  size_t max_points_per_batch = 10'000'000;
};

// The identity of a series. `canonical` is a binary encoding of the metric
// and the labels sorted by name; the series id is XXH3-64 of it (see
// SeriesIndex for collision handling).
struct SeriesKey {
  std::string metric;
  Labels labels;  // sorted by name, names unique

  // Binary canonical form: length-prefixed metric, then length-prefixed
  // name/value pairs in name order. Injective, so equal keys <=> equal bytes.
  std::string Canonical() const;
  static Result<SeriesKey> FromCanonical(std::string_view canonical);
  // Human form, Prometheus style: kpi_visits{channel="email",region="eu"}.
  std::string ToString() const;
  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

// The points of one series in a time range, sorted by timestamp, one value
// per timestamp (what Engine::Read returns).
struct SeriesData {
  SeriesId id = 0;
  SeriesKey key;
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// Prometheus naming rules. Metric: [a-zA-Z_:][a-zA-Z0-9_:]*. Label name:
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
bool IsValidUtf8(std::string_view s);

// Validates one series' identity (names, lengths, duplicate labels) and
// returns its key with labels sorted. `where` prefixes error messages, e.g.
// "series[3]".
Result<SeriesKey> ValidateSeriesKey(std::string_view metric, const Labels& labels,
                                    const WriteLimits& limits, std::string_view where);

// Validates a whole batch before anything is applied: every series' key,
// matching column lengths, at least one point per series, finite values, and
// the batch limits. The error names the series (index and key), the point
// index and the reason. On success, keys[i] is the canonical key of
// batch.series[i]. Timestamps may be any int64 but INT64_MAX (reserved:
// ranges are half-open [start, end), so it could never be read back).
Status ValidateWriteBatch(const WriteBatch& batch, const WriteLimits& limits,
                          std::vector<SeriesKey>* keys);

}  // namespace kpidb
