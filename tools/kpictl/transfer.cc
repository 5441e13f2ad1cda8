// import and export: CSV (metric,labels,timestamp,value; and the wide form
// timestamp,col1,col2... with the series of the columns given on the
// command line) and JSON lines (VictoriaMetrics's import form:
// {"metric":{"__name__":...,labels},"values":[...],"timestamps":[...]}).
// Both stream: import through a BatchWriter, export a time window at a time.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "client/batch_writer.h"
#include "kpidb/query.h"
#include "tools/kpictl/commands.h"
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
    if (format == "auto") {
      format = path.size() >= 6 && (path.ends_with(".jsonl") || path.ends_with(".json")) ? "jsonl" : "csv";
    }
    std::string line;
    size_t number = 0;
    std::vector<std::string> fields;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty() || line == "\r") continue;
      Status s = format == "jsonl" ? JsonLine(line) : CsvLine(line, number, &fields);
      if (!s.ok()) {
        ++bad_;
        std::fprintf(ctx_.err, "%s:%zu: %s\n", path.c_str(), number, s.message().c_str());
        if (args_.strict) return false;
      }
      if (!writer_failure_.ok()) return false;
    }
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
    Status s = writer_.Add(metric, labels, t, v);
    if (!s.ok() && writer_failure_.ok()) writer_failure_ = s;
    return Status::Ok();
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
  Status writer_failure_;
  size_t bad_ = 0;
};


}  // namespace

int Import(Context& ctx, const ImportArgs& args) {
  if (args.format != "auto" && args.format != "csv" && args.format != "jsonl") {
    return ctx.Usage("--format: \"" + args.format + "\" is not auto, csv or jsonl");
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
  if (args.format != "csv" && args.format != "jsonl") {
    return ctx.Usage("--format: \"" + args.format + "\" is not csv or jsonl");
  }
  auto sel = query::ParseSelector(args.selector);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a selector: kpi_visits{channel=\"email\"}");
  const int64_t now = NowMs();
  auto from = args.from.empty() ? Result<int64_t>(0) : ParseTime(args.from, now, "--from");
  if (!from.ok()) return ctx.Usage(from.status().message());
  auto to = ParseTime(args.to, now, "--to");
  if (!to.ok()) return ctx.Usage(to.status().message());
  if (*from >= *to) return ctx.Usage("export: --from must be before --to");
  std::FILE* out = ctx.out;
  if (!args.file.empty() && args.file != "-") {
    out = std::fopen(args.file.c_str(), "w");
    if (out == nullptr) {
      return ctx.Fail("export", Status::IOError("cannot create " + args.file + ": " + std::strerror(errno)));
    }
  }
  Client* client = ctx.client();
  if (client == nullptr) return kExitFailure;
  if (args.format == "csv") std::fprintf(out, "metric,labels,timestamp,value\n");
  uint64_t points = 0;
  int64_t window = args.window_ms;
  int code = kExitOk;
  for (int64_t start = *from; start < *to;) {
    const int64_t end = *to - start > window ? start + window : *to;
    query::Query q;
    q.selector = *sel;
    q.start_ms = start;
    q.end_ms = end;  // raw points
    q.limits.max_points = args.max_points;
    std::string chunk;
    uint64_t chunk_points = 0;
    Status s = client->QueryRange(q, [&](query::ResultSeries&& r) -> Status {
      chunk_points += r.values.size();
      if (args.format == "csv") {
        const std::string labels = CsvField(SeriesKey{"", r.labels}.ToString());
        const std::string metric = CsvField(r.metric);
        for (size_t i = 0; i < r.values.size(); ++i) {
          chunk += metric + "," + labels + "," + std::to_string(r.timestamps_ms[i]) + "," +
                   FormatValue(r.values[i]) + "\n";
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
    if (s.code() == StatusCode::kResourceExhausted && end - start > 1) {
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
    start = end;
  }
  if (out != ctx.out) std::fclose(out);
  if (code == kExitOk) {
    std::fprintf(ctx.err, "exported %llu points\n", static_cast<unsigned long long>(points));
  }
  return code;
}

}  // namespace kpidb::kpictl
