// import and export: CSV (metric,labels,timestamp,value; and the wide form
// timestamp,col1,col2... with the series of the columns given on the
// command line), JSON lines (VictoriaMetrics's import form:
// {"metric":{"__name__":...,labels},"values":[...],"timestamps":[...]}),
// OpenMetrics text (`metric{labels} value seconds`, # EOF) and the
// Prometheus text format with timestamps (`metric{labels} value ms`).
// Both stream: import through a BatchWriter, export a time window at a time.
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "client/batch_writer.h"
#include "kpidb/query.h"
#include "tools/kpictl/commands.h"
#include "tools/kpictl/terminal.h"
#include "tools/kpictl/text.h"

namespace kpidb::kpictl {
namespace {

using Clock = std::chrono::steady_clock;

struct SeriesName {
  std::string metric;
  Labels labels;
};

// `metric{a="b"}` (or just the braces, for a labels column) as a series.
Result<SeriesName> ParseSeries(std::string_view text, std::string_view what) {
  KPIDB_ASSIGN_OR_RETURN(query::Selector sel, query::ParseSelector(text));
  SeriesName out{sel.metric, {}};
  for (const query::LabelMatcher& m : sel.matchers) {
    if (m.op != query::MatchOp::kEqual) {
      return Status::InvalidArgument(std::string(what) + ": label " + m.name + " must be given with =");
    }
    out.labels.push_back({m.name, m.value});
  }
  return out;
}

// The import format of a file by its name: .jsonl/.json, .om (OpenMetrics),
// .prom (Prometheus text), else CSV.
std::string FormatOfPath(const std::string& path) {
  if (path.ends_with(".jsonl") || path.ends_with(".json")) return "jsonl";
  if (path.ends_with(".om")) return "openmetrics";
  if (path.ends_with(".prom")) return "prom";
  return "csv";
}

// OpenMetrics timestamps: seconds with a fraction, read exactly to the
// millisecond (finer digits must be zero: kpidb keeps milliseconds).
Result<int64_t> ParseSecondsTimestamp(std::string_view text) {
  const Status bad = Status::InvalidArgument("timestamp: cannot read \"" + std::string(text) +
                                             "\" (expected seconds, at most millisecond precision)");
  std::string_view t = text;
  const bool negative = !t.empty() && t[0] == '-';
  if (negative) t.remove_prefix(1);
  const size_t dot = t.find('.');
  const std::string_view whole = t.substr(0, dot);
  if (whole.empty() || whole[0] < '0' || whole[0] > '9') return bad;
  int64_t s = 0;
  const auto [e, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), s);
  if (whole.empty() || ec != std::errc() || e != whole.data() + whole.size() || s > INT64_MAX / 1000 - 1) {
    return bad;
  }
  int64_t ms = 0;
  if (dot != std::string_view::npos) {
    const std::string_view frac = t.substr(dot + 1);
    if (frac.empty()) return bad;
    for (size_t i = 0; i < frac.size(); ++i) {
      if (frac[i] < '0' || frac[i] > '9') return bad;
      if (i < 3) ms += (frac[i] - '0') * (i == 0 ? 100 : i == 1 ? 10 : 1);
      else if (frac[i] != '0') return bad;
    }
  }
  const int64_t total = s * 1000 + ms;
  return negative ? -total : total;
}

// Milliseconds as OpenMetrics seconds: 1764547200.123, 1764547200.
std::string SecondsTimestamp(int64_t ms) {
  const uint64_t a = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  std::string out = ms < 0 ? "-" : "";
  out += std::to_string(a / 1000);
  if (a % 1000 != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03u", static_cast<unsigned>(a % 1000));
    out += frac;
  }
  return out;
}

class Importer {
 public:
  Importer(Context& ctx, Client& client, const ImportArgs& args)
      : ctx_(ctx), args_(args), writer_(client, Options(args)) {}

  // false: stop (--strict and a bad line, or the writer failed).
  bool File(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
      std::fprintf(ctx_.err, "kpictl: import: cannot open %s\n", path.c_str());
      ++bad_;
      return !args_.strict;
    }
    std::string format = args_.format;
    if (format == "auto") format = FormatOfPath(path);
    std::error_code size_ec;
    const uint64_t size = std::filesystem::file_size(path, size_ec);
    Progress progress(ctx_.err, path, size_ec ? 0 : size);
    uint64_t read = 0;
    std::string line;
    size_t number = 0;
    std::vector<std::string> fields;
    while (std::getline(in, line)) {
      ++number;
      read += line.size() + 1;
      if ((number & 1023) == 0) progress.Update(read, points_);
      if (line.empty() || line == "\r") continue;
      line_.clear();
      line_series_.clear();
      Status s = format == "jsonl"         ? JsonLine(line)
                 : format == "openmetrics" ? ExpositionLine(line, /*seconds=*/true)
                 : format == "prom"        ? ExpositionLine(line, /*seconds=*/false)
                                           : CsvLine(line, number, &fields);
      if (!s.ok()) {
        ++bad_;
        line_.clear();
        line_series_.clear();
        std::fprintf(ctx_.err, "%s:%zu: %s\n", path.c_str(), number, s.message().c_str());
        if (args_.strict) return false;
      }
      Commit();
      if (!writer_failure_.ok()) return false;
    }
    progress.Finish(points_);
    return true;
  }

  int Finish(Clock::time_point start) {
    Status s = writer_.Flush();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const BatchWriterCounters c = writer_.counters();
    if (!s.ok()) return ctx_.Fail("import (writing)", s);
    if (!writer_failure_.ok()) return ctx_.Fail("import (writing)", writer_failure_);
    std::fprintf(ctx_.out, "imported %llu points from %zu file(s) in %.2f s (%.0f points/s), %zu bad line(s)\n",
                 static_cast<unsigned long long>(c.points_sent), args_.files.size(), seconds,
                 seconds > 0 ? static_cast<double>(c.points_sent) / seconds : 0.0, bad_);
    return bad_ > 0 ? kExitFailure : kExitOk;
  }

 private:
  static BatchWriterOptions Options(const ImportArgs& args) {
    BatchWriterOptions o;
    o.max_batch_points = args.batch_points;
    o.max_buffered_points = std::max<size_t>(args.batch_points * 4, 100'000);
    o.block_timeout = std::chrono::milliseconds(60'000);
    return o;
  }

  // The server refuses a whole write for one bad point: what it would
  // refuse is a bad line here.
  Status Add(const std::string& metric, const Labels& labels, int64_t t, double v) {
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("value " + FormatValue(v) + " is not finite (kpidb stores finite values)");
    }
    if (t == INT64_MAX) return Status::InvalidArgument("timestamp: INT64_MAX is reserved");
    if (line_series_.empty() || line_series_.back().first != metric ||
        line_series_.back().second != labels) {
      line_series_.emplace_back(metric, labels);
    }
    line_.push_back({line_series_.size() - 1, t, v});
    return Status::Ok();
  }

  // The points of a line reach the writer only once the whole line is good.
  void Commit() {
    for (const Pending& p : line_) {
      const auto& [metric, labels] = line_series_[p.series];
      Status s = writer_.Add(metric, labels, p.t, p.v);
      if (!s.ok() && writer_failure_.ok()) writer_failure_ = s;
    }
    points_ += line_.size();
    line_.clear();
    line_series_.clear();
  }

  Status CsvLine(const std::string& line, size_t number, std::vector<std::string>* fields) {
    if (!SplitCsv(line, fields)) return Status::InvalidArgument("a quoted field is not closed");
    const bool wide = !args_.columns.empty();
    if (number == 1 && !fields->empty() && ((*fields)[0] == "metric" || (*fields)[0] == "timestamp")) {
      return Status::Ok();  // the header
    }
    const int64_t now = NowMs();
    if (wide) {
      if (fields->size() != args_.columns.size() + 1) {
        return Status::InvalidArgument(std::to_string(fields->size()) + " fields, expected " +
                                       std::to_string(args_.columns.size() + 1) +
                                       " (timestamp and one per --column)");
      }
      KPIDB_ASSIGN_OR_RETURN(int64_t t, ParseTime((*fields)[0], now, "timestamp"));
      for (size_t c = 0; c < args_.columns.size(); ++c) {
        if ((*fields)[c + 1].empty()) continue;  // no point there
        KPIDB_ASSIGN_OR_RETURN(double v, ParseValue((*fields)[c + 1], "column " + std::to_string(c + 2)));
        KPIDB_RETURN_IF_ERROR(Add(columns_[c].metric, columns_[c].labels, t, v));
      }
      return Status::Ok();
    }
    if (fields->size() != 4) {
      return Status::InvalidArgument(std::to_string(fields->size()) +
                                     " fields, expected 4 (metric,labels,timestamp,value)");
    }
    KPIDB_ASSIGN_OR_RETURN(SeriesName labels, ParseSeries((*fields)[1], "labels"));
    if (!labels.metric.empty()) return Status::InvalidArgument("labels: expected {name=\"value\",...}");
    KPIDB_ASSIGN_OR_RETURN(int64_t t, ParseTime((*fields)[2], now, "timestamp"));
    KPIDB_ASSIGN_OR_RETURN(double v, ParseValue((*fields)[3], "value"));
    if ((*fields)[0].empty()) return Status::InvalidArgument("metric: empty");
    return Add((*fields)[0], labels.labels, t, v);
  }

  // One line of the Prometheus text format (timestamps in ms) or of
  // OpenMetrics (in seconds): `metric{a="b"} VALUE TIMESTAMP`; comments
  // (# TYPE, # HELP, # EOF) are skipped.
  Status ExpositionLine(const std::string& line, bool seconds) {
    size_t p = 0;
    while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
    if (p == line.size() || line[p] == '#') return Status::Ok();
    // The series: up to the first blank outside the braces' quotes.
    size_t end = p;
    bool braces = false, quoted = false;
    for (; end < line.size(); ++end) {
      const char c = line[end];
      if (quoted) {
        if (c == '\\') ++end;
        else if (c == '"') quoted = false;
      } else if (c == '"' && braces) {
        quoted = true;
      } else if (c == '{') {
        braces = true;
      } else if (c == '}') {
        braces = false;
      } else if ((c == ' ' || c == '\t') && !braces) {
        break;
      }
    }
    KPIDB_ASSIGN_OR_RETURN(SeriesName series, ParseSeries(std::string_view(line).substr(p, end - p), "series"));
    if (series.metric.empty()) return Status::InvalidArgument("series: no metric name");
    std::vector<std::string_view> tokens;
    std::string_view rest = std::string_view(line).substr(end);
    while (!rest.empty()) {
      const size_t b = rest.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) break;
      rest.remove_prefix(b);
      const size_t e = rest.find_first_of(" \t\r");
      tokens.push_back(rest.substr(0, e));
      rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
    }
    if (tokens.empty()) return Status::InvalidArgument("no value after the series");
    if (tokens.size() == 1) {
      return Status::InvalidArgument("no timestamp (import needs the time of each point)");
    }
    if (tokens.size() > 2) return Status::InvalidArgument("unexpected \"" + std::string(tokens[2]) + "\" after the timestamp");
    KPIDB_ASSIGN_OR_RETURN(double v, ParseValue(tokens[0], "value"));
    int64_t t;
    if (seconds) {
      KPIDB_ASSIGN_OR_RETURN(t, ParseSecondsTimestamp(tokens[1]));
    } else {
      const auto [q, ec] = std::from_chars(tokens[1].data(), tokens[1].data() + tokens[1].size(), t);
      if (ec != std::errc() || q != tokens[1].data() + tokens[1].size()) {
        return Status::InvalidArgument("timestamp: cannot read \"" + std::string(tokens[1]) +
                                       "\" (expected integer milliseconds)");
      }
    }
    return Add(series.metric, series.labels, t, v);
  }

  Status JsonLine(const std::string& line) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not a JSON object");
    auto metric = j.find("metric");
    auto values = j.find("values");
    auto times = j.find("timestamps");
    if (metric == j.end() || !metric->is_object()) return Status::InvalidArgument("\"metric\": expected an object");
    if (values == j.end() || !values->is_array()) return Status::InvalidArgument("\"values\": expected an array");
    if (times == j.end() || !times->is_array()) return Status::InvalidArgument("\"timestamps\": expected an array");
    if (values->size() != times->size()) {
      return Status::InvalidArgument(std::to_string(times->size()) + " timestamps but " +
                                     std::to_string(values->size()) + " values");
    }
    std::string name;
    Labels labels;
    for (auto& [k, v] : metric->items()) {
      if (!v.is_string()) return Status::InvalidArgument("\"metric\"." + k + ": expected a string");
      if (k == "__name__") {
        name = v.get<std::string>();
      } else {
        labels.push_back({k, v.get<std::string>()});
      }
    }
    if (name.empty()) return Status::InvalidArgument("\"metric\".__name__: missing");
    for (size_t i = 0; i < values->size(); ++i) {
      const auto& t = (*times)[i];
      if (!t.is_number_integer()) {
        return Status::InvalidArgument("timestamps[" + std::to_string(i) + "]: expected integer milliseconds");
      }
      const auto& v = (*values)[i];
      double value;
      if (v.is_number()) {
        value = v.get<double>();
      } else if (v.is_string()) {
        KPIDB_ASSIGN_OR_RETURN(value, ParseValue(v.get<std::string>(), "values[" + std::to_string(i) + "]"));
      } else {
        return Status::InvalidArgument("values[" + std::to_string(i) + "]: expected a number");
      }
      KPIDB_RETURN_IF_ERROR(Add(name, labels, t.get<int64_t>(), value));
    }
    return Status::Ok();
  }

 public:
  Status SetColumns() {
    for (size_t c = 0; c < args_.columns.size(); ++c) {
      KPIDB_ASSIGN_OR_RETURN(SeriesName s, ParseSeries(args_.columns[c], "--column"));
      if (s.metric.empty()) return Status::InvalidArgument("--column " + args_.columns[c] + ": no metric name");
      columns_.push_back(std::move(s));
    }
    return Status::Ok();
  }

 private:
  Context& ctx_;
  const ImportArgs& args_;
  BatchWriter writer_;
  std::vector<SeriesName> columns_;
  // The points of the line being read, and their series.
  struct Pending {
    size_t series;  // in line_series_
    int64_t t;
    double v;
  };
  std::vector<Pending> line_;
  std::vector<std::pair<std::string, Labels>> line_series_;
  uint64_t points_ = 0;  // added to the writer
  Status writer_failure_;
  size_t bad_ = 0;
};


}  // namespace

int Import(Context& ctx, const ImportArgs& args) {
  if (args.format != "auto" && args.format != "csv" && args.format != "jsonl" &&
      args.format != "openmetrics" && args.format != "prom") {
    return ctx.Usage("--format: \"" + args.format + "\" is not auto, csv, jsonl, openmetrics or prom");
  }
  Client* client = ctx.client();
  if (client == nullptr) return kExitFailure;
  const auto start = Clock::now();
  Importer importer(ctx, *client, args);
  Status cols = importer.SetColumns();
  if (!cols.ok()) return ctx.Usage(cols.message());
  for (const std::string& f : args.files) {
    if (!importer.File(f)) break;
  }
  return importer.Finish(start);
}

int Export(Context& ctx, const ExportArgs& args) {
  const std::string& format = args.format;
  const bool exposition = format == "openmetrics" || format == "prom";
  if (format != "csv" && format != "jsonl" && !exposition) {
    return ctx.Usage("--format: \"" + format + "\" is not csv, jsonl, openmetrics or prom");
  }
  auto sel = query::ParseSelector(args.selector);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a selector: kpi_visits{channel=\"email\"}");
  const int64_t now = NowMs();
  auto from = args.from.empty() ? Result<int64_t>(0) : ParseTime(args.from, now, "--from");
  if (!from.ok()) return ctx.Usage(from.status().message());
  auto to = ParseTime(args.to, now, "--to");
  if (!to.ok()) return ctx.Usage(to.status().message());
  if (*from >= *to) return ctx.Usage("export: --from must be before --to");
  Client* client = ctx.client();
  if (client == nullptr) return kExitFailure;
  // The text formats keep each metric's samples together (OpenMetrics
  // requires it): a pass per metric; the others, one pass.
  std::vector<query::Selector> passes;
  if (exposition && sel->metric.empty()) {
    // The metric names (not every series: a listing that large would not fit
    // one response); a pass per name selects what the matchers keep of it.
    auto metrics = client->LabelValues("__name__");
    if (!metrics.ok()) return ctx.Fail("export (listing the metrics)", metrics.status());
    for (const std::string& m : *metrics) {
      query::Selector one = *sel;
      one.metric = m;
      passes.push_back(std::move(one));
    }
  } else {
    passes.push_back(*sel);
  }
  std::FILE* out = ctx.out;
  if (!args.file.empty() && args.file != "-") {
    out = std::fopen(args.file.c_str(), "w");
    if (out == nullptr) {
      return ctx.Fail("export", Status::IOError("cannot create " + args.file + ": " + std::strerror(errno)));
    }
  }
  if (format == "csv") std::fprintf(out, "metric,labels,timestamp,value\n");
  uint64_t points = 0;
  int code = kExitOk;
  for (const query::Selector& pass : passes) {
    // The family's TYPE line before its first sample (none for a metric the
    // matchers leave nothing of).
    bool typed = !exposition;
    int64_t window = args.window_ms;
    for (int64_t start = *from; start < *to && code == kExitOk;) {
      // (*to - start fits in uint64: start < *to.)
      const int64_t end = static_cast<uint64_t>(*to) - static_cast<uint64_t>(start) >
                                  static_cast<uint64_t>(window)
                              ? start + window
                              : *to;
      query::Query q;
      q.selector = pass;
      q.start_ms = start;
      q.end_ms = end;  // raw points
      q.limits.max_points = args.max_points;
      std::string chunk;
      uint64_t chunk_points = 0;
      bool chunk_typed = typed;  // kept only if this window's chunk is written
      Status s = client->QueryRange(q, [&](query::ResultSeries&& r) -> Status {
        chunk_points += r.values.size();
        if (format == "csv") {
          const std::string labels = CsvField(SeriesKey{"", r.labels}.ToString());
          const std::string metric = CsvField(r.metric);
          for (size_t i = 0; i < r.values.size(); ++i) {
            chunk += metric + "," + labels + "," + std::to_string(r.timestamps_ms[i]) + "," +
                     FormatValue(r.values[i]) + "\n";
          }
        } else if (exposition) {
          if (!chunk_typed && !r.values.empty()) {
            chunk += "# TYPE " + pass.metric + (format == "prom" ? " untyped\n" : " unknown\n");
            chunk_typed = true;
          }
          const std::string name = r.labels.empty() ? r.metric : SeriesKey{r.metric, r.labels}.ToString();
          for (size_t i = 0; i < r.values.size(); ++i) {
            chunk += name + " " + FormatValue(r.values[i]) + " " +
                     (format == "prom" ? std::to_string(r.timestamps_ms[i])
                                       : SecondsTimestamp(r.timestamps_ms[i])) +
                     "\n";
          }
        } else {
          chunk += "{\"metric\":{\"__name__\":" + JsonString(r.metric);
          for (const Label& l : r.labels) chunk += "," + JsonString(l.name) + ":" + JsonString(l.value);
          chunk += "},\"values\":[";
          for (size_t i = 0; i < r.values.size(); ++i) chunk += (i ? "," : "") + JsonValue(r.values[i]);
          chunk += "],\"timestamps\":[";
          for (size_t i = 0; i < r.timestamps_ms.size(); ++i) {
            chunk += (i ? "," : "") + std::to_string(r.timestamps_ms[i]);
          }
          chunk += "]}\n";
        }
        return Status::Ok();
      });
      // Too many points (or bytes) at once: a smaller window. Other limits
      // (max_series) are not about the window.
      const bool too_many = s.code() == StatusCode::kResourceExhausted &&
                            (s.message().find("point") != std::string::npos ||
                             s.message().find("message") != std::string::npos ||
                             s.message().find("bytes") != std::string::npos);
      if (too_many && end - start > 1) {
        window = std::max<int64_t>(1, (end - start) / 2);  // too many points at once: a smaller window
        continue;
      }
      if (!s.ok()) {
        code = ctx.Fail("export [" + FormatTime(start) + ", " + FormatTime(end) + ")", s);
        break;
      }
      if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) {
        code = ctx.Fail("export", Status::IOError("write failed: " + std::string(std::strerror(errno))));
        break;
      }
      points += chunk_points;
      typed = chunk_typed;
      start = end;
      window = window > args.window_ms / 2 ? args.window_ms : window * 2;  // grow back after a dense stretch
    }
    if (code != kExitOk) break;
  }
  if (code == kExitOk && format == "openmetrics") std::fprintf(out, "# EOF\n");
  if (code == kExitOk && out == ctx.out && (std::fflush(out) != 0 || std::ferror(out))) {
    code = ctx.Fail("export", Status::IOError(std::string("writing the output: ") + std::strerror(errno)));
  }
  if (out != ctx.out && std::fclose(out) != 0 && code == kExitOk) {
    code = ctx.Fail("export", Status::IOError("closing " + args.file + ": " + std::strerror(errno)));
  }
  if (code == kExitOk) {
    std::fprintf(ctx.err, "exported %llu points\n", static_cast<unsigned long long>(points));
  }
  return code;
}

}  // namespace kpidb::kpictl
