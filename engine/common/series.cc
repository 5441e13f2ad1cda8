#include "kpidb/series.h"

#include <algorithm>
#include <cmath>

#include "engine/common/coding.h"

namespace kpidb {

std::string SeriesKey::Canonical() const {
  std::string out;
  PutLengthPrefixed(&out, metric);
  for (const Label& l : labels) {
    PutLengthPrefixed(&out, l.name);
    PutLengthPrefixed(&out, l.value);
  }
  return out;
}

Result<SeriesKey> SeriesKey::FromCanonical(std::string_view canonical) {
  ByteReader r(canonical);
  SeriesKey key;
  std::string_view metric;
  if (!r.GetLengthPrefixed(&metric)) return Status::Corruption("malformed series key");
  key.metric = std::string(metric);
  while (!r.empty()) {
    std::string_view name, value;
    if (!r.GetLengthPrefixed(&name) || !r.GetLengthPrefixed(&value)) {
      return Status::Corruption("malformed series key labels");
    }
    key.labels.push_back({std::string(name), std::string(value)});
  }
  return key;
}

static void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

std::string SeriesKey::ToString() const {
  std::string out = metric;
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out.push_back(',');
    out.append(labels[i].name);
    out.append("=\"");
    AppendEscaped(&out, labels[i].value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

static bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

Result<SeriesKey> ValidateSeriesKey(std::string_view metric, const Labels& labels,
                                    const WriteLimits& limits, std::string_view where) {
  const std::string w(where);
  if (metric.empty()) return Status::InvalidArgument(w + ": metric name is empty");
  if (metric.size() > limits.max_metric_name_bytes) {
    return Status::InvalidArgument(w + ": metric name is " + std::to_string(metric.size()) +
                                   " bytes, over max_metric_name_bytes=" +
                                   std::to_string(limits.max_metric_name_bytes));
  }
  if (!IsValidMetricName(metric)) {
    return Status::InvalidArgument(w + ": invalid metric name \"" + std::string(metric) +
                                   "\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  if (labels.size() > limits.max_labels_per_series) {
    return Status::InvalidArgument(w + ": " + std::to_string(labels.size()) +
                                   " labels, over max_labels_per_series=" +
                                   std::to_string(limits.max_labels_per_series));
  }
  SeriesKey key{std::string(metric), labels};
  std::sort(key.labels.begin(), key.labels.end());
  for (size_t i = 0; i < key.labels.size(); ++i) {
    const Label& l = key.labels[i];
    const std::string lw = w + " label \"" + l.name + "\"";
    if (l.name.size() > limits.max_label_name_bytes) {
      return Status::InvalidArgument(w + ": label name is " + std::to_string(l.name.size()) +
                                     " bytes, over max_label_name_bytes=" +
                                     std::to_string(limits.max_label_name_bytes));
    }
    if (!IsValidLabelName(l.name)) {
      return Status::InvalidArgument(
          lw + ": invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
    }
    if (i > 0 && key.labels[i - 1].name == l.name) {
      return Status::InvalidArgument(lw + ": duplicate label name");
    }
    if (l.value.empty()) return Status::InvalidArgument(lw + ": label value is empty");
    if (l.value.size() > limits.max_label_value_bytes) {
      return Status::InvalidArgument(lw + ": value is " + std::to_string(l.value.size()) +
                                     " bytes, over max_label_value_bytes=" +
                                     std::to_string(limits.max_label_value_bytes));
    }
    if (!IsValidUtf8(l.value)) return Status::InvalidArgument(lw + ": value is not valid UTF-8");
  }
  return key;
}

Status ValidateWriteBatch(const WriteBatch& batch, const WriteLimits& limits,
                          std::vector<SeriesKey>* keys) {
  if (batch.series.empty()) return Status::InvalidArgument("series: the write has no series");
  if (batch.series.size() > limits.max_series_per_batch) {
    return Status::ResourceExhausted("series: " + std::to_string(batch.series.size()) +
                                     " series in one write, over max_series_per_batch=" +
                                     std::to_string(limits.max_series_per_batch));
  }
  size_t points = 0;
  for (const SeriesPoints& s : batch.series) points += s.timestamps_ms.size();
  if (points > limits.max_points_per_batch) {
    return Status::ResourceExhausted(std::to_string(points) +
                                     " points in one write, over max_points_per_batch=" +
                                     std::to_string(limits.max_points_per_batch));
  }
  keys->clear();
  keys->reserve(batch.series.size());
  for (size_t i = 0; i < batch.series.size(); ++i) {
    const SeriesPoints& s = batch.series[i];
    const std::string where = "series[" + std::to_string(i) + "]";
    KPIDB_ASSIGN_OR_RETURN(SeriesKey key, ValidateSeriesKey(s.metric, s.labels, limits, where));
    const std::string named = where + " " + key.ToString();
    if (s.timestamps_ms.size() != s.values.size()) {
      return Status::InvalidArgument(named + ": " + std::to_string(s.timestamps_ms.size()) +
                                     " timestamps but " + std::to_string(s.values.size()) +
                                     " values");
    }
    if (s.timestamps_ms.empty()) return Status::InvalidArgument(named + ": no points");
    for (size_t p = 0; p < s.values.size(); ++p) {
      if (s.timestamps_ms[p] == INT64_MAX) {
        return Status::InvalidArgument(named + " point[" + std::to_string(p) +
                                       "]: timestamp INT64_MAX is reserved (ranges are "
                                       "half-open, so it could never be read)");
      }
      if (!std::isfinite(s.values[p])) {
        return Status::InvalidArgument(named + " point[" + std::to_string(p) + "]: value " +
                                       std::to_string(s.values[p]) + " is not finite");
      }
    }
    keys->push_back(std::move(key));
  }
  return Status::Ok();
}

}  // namespace kpidb
