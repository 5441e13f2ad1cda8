#include "tools/kpictl/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <map>
#include <thread>

#include "kpidb/query.h"
#include "tools/kpictl/terminal.h"
#include "tools/kpictl/text.h"

namespace kpidb::kpictl {
namespace {

std::string LabelsJson(const Labels& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += JsonString(labels[i].name) + ":" + JsonString(labels[i].value);
  }
  return out + "}";
}

std::string SeriesText(const std::string& metric, const Labels& labels) {
  SeriesKey key{metric, labels};
  return key.ToString();
}

void PrintList(Context& ctx, const std::vector<std::string>& items, Output output) {
  if (output == Output::kJson) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + JsonString(items[i]);
    std::fprintf(ctx.out, "%s]\n", out.c_str());
    return;
  }
  for (const std::string& s : items) {
    std::fprintf(ctx.out, "%s\n", output == Output::kCsv ? CsvField(s).c_str() : s.c_str());
  }
}

Result<query::Aggregation> ParseAggregation(const std::string& s) {
  static const std::map<std::string, query::Aggregation> names = {
      {"avg", query::Aggregation::kAvg},       {"sum", query::Aggregation::kSum},
      {"min", query::Aggregation::kMin},       {"max", query::Aggregation::kMax},
      {"count", query::Aggregation::kCount},   {"first", query::Aggregation::kFirst},
      {"last", query::Aggregation::kLast},     {"stddev", query::Aggregation::kStddev},
      {"rate", query::Aggregation::kRate},     {"increase", query::Aggregation::kIncrease}};
  auto it = names.find(s);
  if (it == names.end()) {
    return Status::InvalidArgument("--agg: unknown aggregation \"" + s +
                                   "\" (avg, sum, min, max, count, first, last, stddev, rate, increase)");
  }
  return it->second;
}

}  // namespace

Client* Context::client() {
  if (client_ == nullptr) {
    ClientOptions options;
    options.deadline = std::chrono::milliseconds(timeout_ms);
    auto c = Client::Connect(server, options);
    if (!c.ok()) {
      Fail("connect to " + server, c.status());
      return nullptr;
    }
    client_ = std::move(c).value();
  }
  return client_.get();
}

int Context::Fail(const std::string& what, const Status& status) const {
  std::fprintf(err, "kpictl: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::string hint;
  switch (status.code()) {
    case StatusCode::kUnavailable:
      hint = "is kpidb-server running at " + server + "? (--server HOST:PORT picks another)";
      break;
    case StatusCode::kDeadlineExceeded:
      hint = "the server did not answer in time: --timeout raises the limit";
      break;
    case StatusCode::kInvalidArgument:
      hint = "fix the value the message names (kpictl COMMAND --help shows the forms)";
      break;
    case StatusCode::kDataLoss:
      hint = "stop the server and run kpictl --data-dir DIR verify: it names every damaged file";
      break;
    case StatusCode::kResourceExhausted:
      hint = "narrow the selector or the time range, or raise the server's limits";
      break;
    default:
      break;
  }
  if (!hint.empty()) std::fprintf(err, "hint: %s\n", hint.c_str());
  // Damaged data found on the way (a chunk, a segment, a WAL record).
  return status.code() == StatusCode::kDataLoss ? kExitCorruption : kExitFailure;
}

int Context::Usage(const std::string& message, const std::string& hint) const {
  std::fprintf(err, "kpictl: %s\n", message.c_str());
  if (!hint.empty()) std::fprintf(err, "hint: %s\n", hint.c_str());
  return kExitUsage;
}

int Status_(Context& ctx, Output output, int64_t interval_ms) {
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto st = c->Stats();
  if (!st.ok()) return ctx.Fail("status", st.status());
  // Rates: a second sample.
  double points_per_s = -1, queries_per_s = -1;
  if (interval_ms > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto later = c->Stats();
    if (!later.ok()) return ctx.Fail("status", later.status());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    points_per_s = static_cast<double>(later->points_written - st->points_written) / seconds;
    queries_per_s = static_cast<double>((later->queries_inline + later->queries_on_workers) -
                                        (st->queries_inline + st->queries_on_workers)) /
                    seconds;
    st = std::move(later);
  }
  const ServerStats& s = *st;
  if (output == Output::kJson) {
    std::fprintf(
        ctx.out,
        "{\"version\":%s,\"uptime_seconds\":%s,\"series\":%llu,\"points\":%llu,\"segments\":%llu,"
        "\"segment_bytes\":%llu,\"bytes_on_disk\":%llu,\"bytes_per_point\":%s,\"wal_files\":%llu,"
        "\"wal_bytes\":%llu,\"head_points\":%llu,\"head_bytes\":%llu,\"flushes\":%llu,"
        "\"compaction\":{\"automatic\":%s,\"running\":%s,\"backlog\":%llu,\"waiting\":%llu,"
        "\"merges\":%llu,\"bytes_written\":%llu,\"last_merge_unix_ms\":%lld,\"last_error\":%s},"
        "\"retention\":{\"raw_retention_ms\":%lld,\"raw_expired_before_ms\":%lld,"
        "\"points_expired\":%llu},\"points_written\":%llu,\"queries\":%llu%s}\n",
        JsonString(s.version).c_str(), FormatValue(s.uptime_seconds).c_str(),
        static_cast<unsigned long long>(s.series), static_cast<unsigned long long>(s.points),
        static_cast<unsigned long long>(s.segments), static_cast<unsigned long long>(s.segment_bytes),
        static_cast<unsigned long long>(s.bytes_on_disk), FormatValue(s.bytes_per_point).c_str(),
        static_cast<unsigned long long>(s.wal_files), static_cast<unsigned long long>(s.wal_bytes),
        static_cast<unsigned long long>(s.head_points), static_cast<unsigned long long>(s.head_bytes),
        static_cast<unsigned long long>(s.flushes), s.compaction.automatic ? "true" : "false",
        s.compaction.running ? "true" : "false",
        static_cast<unsigned long long>(s.compaction.backlog),
        static_cast<unsigned long long>(s.compaction.waiting),
        static_cast<unsigned long long>(s.compaction.merges),
        static_cast<unsigned long long>(s.compaction.bytes_written),
        static_cast<long long>(s.compaction.last_merge_unix_ms),
        JsonString(s.compaction.last_error).c_str(),
        static_cast<long long>(s.retention.raw_retention_ms),
        static_cast<long long>(s.retention.raw_expired_before_ms),
        static_cast<unsigned long long>(s.retention.points_expired),
        static_cast<unsigned long long>(s.points_written),
        static_cast<unsigned long long>(s.queries_inline + s.queries_on_workers),
        points_per_s < 0 ? ""
                         : (",\"points_per_second\":" + FormatValue(points_per_s) +
                            ",\"queries_per_second\":" + FormatValue(queries_per_s))
                               .c_str());
    return kExitOk;
  }
  char bpp[32];
  std::snprintf(bpp, sizeof bpp, "%.3f", s.bytes_per_point);
  std::vector<std::vector<std::string>> rows = {
      {"server", ctx.server},
      {"version", s.version},
      {"uptime", FormatSeconds(s.uptime_seconds)},
      {"series", std::to_string(s.series)},
      {"points", std::to_string(s.points)},
      {"on disk", FormatBytes(s.bytes_on_disk)},
      {"segments", std::to_string(s.segments) + " files, " + FormatBytes(s.segment_bytes) + ", " +
                       bpp + " bytes/point"},
      {"wal", std::to_string(s.wal_files) + " files, " + FormatBytes(s.wal_bytes)},
      {"head", std::to_string(s.head_points) + " points, " + FormatBytes(s.head_bytes)},
      {"flushes", std::to_string(s.flushes)},
      {"written", std::to_string(s.points_written) + " points since start"},
      {"compaction",
       std::string(s.compaction.automatic ? "automatic" : "manual") +
           (s.compaction.running ? ", running" : ", idle") + ", " +
           std::to_string(s.compaction.backlog) + " due, " + std::to_string(s.compaction.waiting) +
           " waiting, " + std::to_string(s.compaction.merges) + " merges, " +
           FormatBytes(s.compaction.bytes_written) + " written"},
  };
  if (points_per_s >= 0) {
    char rate[96];
    std::snprintf(rate, sizeof rate, "%.0f points/s, %.1f queries/s (over %s)", points_per_s, queries_per_s,
                  FormatSeconds(interval_ms / 1000.0).c_str());
    rows.insert(rows.begin() + 11, {"rates", rate});
  }
  if (s.compaction.last_merge_unix_ms > 0) {
    rows.push_back({"last merge", FormatTime(s.compaction.last_merge_unix_ms)});
  }
  if (!s.compaction.last_error.empty()) rows.push_back({"last error", s.compaction.last_error});
  rows.push_back({"raw retention", s.retention.raw_retention_ms == 0
                                       ? std::string("forever")
                                       : FormatSeconds(s.retention.raw_retention_ms / 1000.0)});
  std::fputs(AlignedTable(rows).c_str(), ctx.out);
  return kExitOk;
}

int Series(Context& ctx, const std::string& selector, uint64_t limit, Output output) {
  // No selector: every series (the server refuses a selector that says nothing).
  auto sel = query::ParseSelector(selector.empty() ? std::string("{__name__=~\".+\"}") : selector);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a selector: kpi_visits{channel=\"email\"}");
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto keys = c->ListSeries(*sel, limit);
  if (!keys.ok()) return ctx.Fail("series", keys.status());
  if (output == Output::kJson) {
    std::string out = "[";
    for (size_t i = 0; i < keys->size(); ++i) {
      out += (i ? "," : "") + std::string("{\"metric\":") + JsonString((*keys)[i].metric) +
             ",\"labels\":" + LabelsJson((*keys)[i].labels) + "}";
    }
    std::fprintf(ctx.out, "%s]\n", out.c_str());
    return kExitOk;
  }
  std::vector<std::string> items;
  for (const SeriesKey& k : *keys) items.push_back(k.ToString());
  PrintList(ctx, items, output);
  return kExitOk;
}

int Labels_(Context& ctx, const std::string& metric, Output output) {
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto names = c->LabelNames(metric);
  if (!names.ok()) return ctx.Fail("labels", names.status());
  PrintList(ctx, *names, output);
  return kExitOk;
}

int LabelValues(Context& ctx, const std::string& name, const std::string& metric, Output output) {
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto values = c->LabelValues(name, metric);
  if (!values.ok()) return ctx.Fail("label-values", values.status());
  PrintList(ctx, *values, output);
  return kExitOk;
}

int Query(Context& ctx, const QueryArgs& a) {
  query::Query q;
  auto sel = query::ParseSelector(a.selector);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a selector: kpi_visits{channel=\"email\"}");
  q.selector = *sel;
  const int64_t now = NowMs();
  auto from = ParseTime(a.from, now, "--from");
  if (!from.ok()) return ctx.Usage(from.status().message());
  auto to = ParseTime(a.to, now, "--to");
  if (!to.ok()) return ctx.Usage(to.status().message());
  q.start_ms = *from;
  q.end_ms = *to;
  if (!a.step.empty() && !a.calendar.empty()) return ctx.Usage("--step and --calendar exclude each other");
  if (!a.step.empty()) {
    auto step = ParseDuration(a.step, "--step");
    if (!step.ok()) return ctx.Usage(step.status().message());
    q.step.step_ms = *step;
  }
  if (!a.calendar.empty()) {
    static const std::map<std::string, query::CalendarUnit> units = {
        {"day", query::CalendarUnit::kDay},         {"week", query::CalendarUnit::kWeek},
        {"month", query::CalendarUnit::kMonth},     {"quarter", query::CalendarUnit::kQuarter},
        {"year", query::CalendarUnit::kYear}};
    auto it = units.find(a.calendar);
    if (it == units.end()) return ctx.Usage("--calendar: \"" + a.calendar + "\" is not day, week, month, quarter or year");
    q.step.calendar = it->second;
  }
  q.step.time_zone = a.tz;
  auto agg = ParseAggregation(a.agg);
  if (!agg.ok()) return ctx.Usage(agg.status().message());
  q.aggregation = *agg;
  q.group = a.group;
  for (const std::string& label : a.by) {
    if (!label.empty()) q.group_by.push_back(label);
  }
  static const std::map<std::string, query::CrossAggregation> crosses = {
      {"sum", query::CrossAggregation::kSum}, {"avg", query::CrossAggregation::kAvg},
      {"min", query::CrossAggregation::kMin}, {"max", query::CrossAggregation::kMax},
      {"count", query::CrossAggregation::kCount}};
  auto cross = crosses.find(a.cross);
  if (cross == crosses.end()) return ctx.Usage("--cross: \"" + a.cross + "\" is not sum, avg, min, max or count");
  q.cross = cross->second;
  static const std::map<std::string, query::Fill> fills = {
      {"none", query::Fill::kNone},         {"null", query::Fill::kNull},
      {"zero", query::Fill::kZero},         {"previous", query::Fill::kPrevious},
      {"linear", query::Fill::kLinear}};
  auto fill = fills.find(a.fill);
  if (fill == fills.end()) return ctx.Usage("--fill: \"" + a.fill + "\" is not none, null, zero, previous or linear");
  q.fill = fill->second;
  if (!a.ratio.empty()) {
    auto den = query::ParseSelector(a.ratio);
    if (!den.ok()) return ctx.Usage("--ratio: " + den.status().message());
    q.denominator = *den;
  }
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto results = c->QueryRange(q);
  if (!results.ok()) return ctx.Fail("query", results.status());
  if (a.output == Output::kCsv) {
    std::fprintf(ctx.out, "metric,labels,timestamp,value\n");
    for (const query::ResultSeries& s : *results) {
      const std::string labels = CsvField(SeriesText("", s.labels));
      for (size_t i = 0; i < s.values.size(); ++i) {
        std::fprintf(ctx.out, "%s,%s,%lld,%s\n", CsvField(s.metric).c_str(), labels.c_str(),
                     static_cast<long long>(s.timestamps_ms[i]), FormatValue(s.values[i]).c_str());
      }
    }
    return kExitOk;
  }
  if (a.output == Output::kJson) {
    std::string out = "[";
    for (size_t r = 0; r < results->size(); ++r) {
      const query::ResultSeries& s = (*results)[r];
      out += (r ? "," : "") + std::string("{\"metric\":") + JsonString(s.metric) +
             ",\"labels\":" + LabelsJson(s.labels) + ",\"timestamps\":[";
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        out += (i ? "," : "") + std::to_string(s.timestamps_ms[i]);
      }
      out += "],\"values\":[";
      for (size_t i = 0; i < s.values.size(); ++i) out += (i ? "," : "") + JsonValue(s.values[i]);
      out += "]}";
    }
    std::fprintf(ctx.out, "%s]\n", out.c_str());
    return kExitOk;
  }
  if (a.chart && !results->empty()) {
    std::fputs(RenderChart(*results, TerminalWidth(ctx.out), IsTerminal(ctx.out)).c_str(), ctx.out);
    return kExitOk;
  }
  if (results->empty()) {
    std::fprintf(ctx.err, "kpictl: no series matched %s in [%s, %s)\n", a.selector.c_str(),
                 FormatTime(q.start_ms).c_str(), FormatTime(q.end_ms).c_str());
    return kExitOk;
  }
  // One row per timestamp, one column per series.
  std::vector<int64_t> times;
  for (const auto& s : *results) times.insert(times.end(), s.timestamps_ms.begin(), s.timestamps_ms.end());
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  std::vector<std::vector<std::string>> rows(times.size() + 1);
  rows[0].push_back("time");
  for (const auto& s : *results) rows[0].push_back(SeriesText(s.metric, s.labels));
  for (size_t t = 0; t < times.size(); ++t) {
    rows[t + 1].push_back(FormatTime(times[t]));
    rows[t + 1].resize(results->size() + 1);
  }
  for (size_t r = 0; r < results->size(); ++r) {
    const auto& s = (*results)[r];
    size_t t = 0;
    for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
      while (times[t] < s.timestamps_ms[i]) ++t;
      rows[t + 1][r + 1] = FormatValue(s.values[i]);
    }
  }
  std::fputs(AlignedTable(rows).c_str(), ctx.out);
  return kExitOk;
}

int Write(Context& ctx, const std::string& series, const std::string& value, const std::string& time) {
  auto sel = query::ParseSelector(series);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a series: kpi_visits{channel=\"email\"}");
  if (sel->metric.empty()) return ctx.Usage("write: the series needs a metric name: METRIC{labels}");
  Labels labels;
  for (const query::LabelMatcher& m : sel->matchers) {
    if (m.op != query::MatchOp::kEqual) {
      return ctx.Usage("write: label " + m.name + " must be given with =, a series has no matchers");
    }
    labels.push_back({m.name, m.value});
  }
  auto v = ParseValue(value, "VALUE");
  if (!v.ok()) return ctx.Usage(v.status().message());
  const int64_t now = NowMs();
  auto t = time.empty() ? Result<int64_t>(now) : ParseTime(time, now, "TIME");
  if (!t.ok()) return ctx.Usage(t.status().message());
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  WriteBatch batch;
  batch.series.push_back({sel->metric, labels, {*t}, {*v}});
  auto r = c->Write(batch);
  if (!r.ok()) return ctx.Fail("write", r.status());
  std::fprintf(ctx.out, "wrote %s %s at %s\n", SeriesText(sel->metric, labels).c_str(),
               FormatValue(*v).c_str(), FormatTime(*t).c_str());
  return kExitOk;
}

int Flush(Context& ctx) {
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  Status s = c->Flush();
  if (!s.ok()) return ctx.Fail("flush", s);
  std::fprintf(ctx.out, "flushed: every acknowledged point is in segment files\n");
  return kExitOk;
}

int Compact(Context& ctx, bool wait) {
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  if (!wait) {
    Status s = c->StartCompaction();
    if (!s.ok()) return ctx.Fail("compact", s);
    std::fprintf(ctx.out, "compaction started (kpictl status shows its progress; --wait waits)\n");
    return kExitOk;
  }
  auto files = c->Compact();
  if (!files.ok()) return ctx.Fail("compact", files.status());
  std::fprintf(ctx.out, "compacted: %llu files replaced\n", static_cast<unsigned long long>(*files));
  return kExitOk;
}

int Delete(Context& ctx, const std::string& selector, const std::string& from, const std::string& to,
           bool yes) {
  auto sel = query::ParseSelector(selector);
  if (!sel.ok()) return ctx.Usage(sel.status().message(), "a selector: kpi_visits{channel=\"email\"}");
  if (sel->metric.empty() && sel->matchers.empty()) {
    return ctx.Usage("delete: an empty selector would delete every series",
                     "name the series: delete 'kpi_visits{channel=\"test\"}'");
  }
  if (from.empty() != to.empty()) return ctx.Usage("delete: give both --from and --to, or neither");
  const int64_t now = NowMs();
  int64_t start = 0, end = 0;
  if (!from.empty()) {
    auto f = ParseTime(from, now, "--from");
    if (!f.ok()) return ctx.Usage(f.status().message());
    auto t = ParseTime(to, now, "--to");
    if (!t.ok()) return ctx.Usage(t.status().message());
    if (*f >= *t) return ctx.Usage("delete: --from must be before --to");
    start = *f;
    end = *t;
  }
  if (!yes && !ctx.stdin_is_terminal) {
    return ctx.Usage("delete: refusing to delete without confirmation on a non-terminal",
                     "add --yes to delete without asking");
  }
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto keys = c->ListSeries(*sel);
  if (!keys.ok()) return ctx.Fail("delete", keys.status());
  // What will go: a count over the range, one bucket per series.
  query::Query q;
  q.selector = *sel;
  q.start_ms = from.empty() ? INT64_MIN / 4 : start;
  q.end_ms = from.empty() ? INT64_MAX / 4 : end;
  q.step.step_ms = q.end_ms - q.start_ms;
  q.aggregation = query::Aggregation::kCount;
  q.group = true;
  uint64_t points = 0;
  auto counted = c->QueryRange(q);
  if (!counted.ok()) return ctx.Fail("delete (counting the points)", counted.status());
  for (const auto& s : *counted) {
    for (double v : s.values) points += static_cast<uint64_t>(v);
  }
  const std::string range = from.empty() ? std::string("all their points")
                                         : "[" + FormatTime(start) + ", " + FormatTime(end) + ")";
  std::fprintf(ctx.out, "%llu points of %zu series matching %s, %s, will be deleted\n",
               static_cast<unsigned long long>(points), keys->size(), selector.c_str(), range.c_str());
  if (!yes) {
    std::fprintf(ctx.out, "delete them? [y/N] ");
    std::fflush(ctx.out);
    char answer[16] = {};
    if (std::fgets(answer, sizeof answer, ctx.in) == nullptr || (answer[0] != 'y' && answer[0] != 'Y')) {
      std::fprintf(ctx.out, "nothing deleted\n");
      return kExitFailure;
    }
  }
  auto deleted = c->DeleteSeries(*sel, start, end);
  if (!deleted.ok()) return ctx.Fail("delete", deleted.status());
  std::fprintf(ctx.out, "deleted %llu points\n", static_cast<unsigned long long>(*deleted));
  return kExitOk;
}

}  // namespace kpidb::kpictl
