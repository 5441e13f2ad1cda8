// kpictl's commands. Each returns its exit code (text.h) and writes results
// to `out`, errors (with a hint of what to do) to `err`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "kpidb/status.h"

namespace kpidb::kpictl {

struct Context {
  std::string server = "127.0.0.1:7411";
  int64_t timeout_ms = 30'000;
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  bool stdin_is_terminal = false;
  std::FILE* in = stdin;  // confirmations

  // Connects (lazily); the error printed and kExitFailure on failure.
  Client* client();
  // Prints "kpictl: <what>: <message>" and a hint; returns kExitFailure
  // (kExitCorruption for DATA_LOSS: damaged data).
  int Fail(const std::string& what, const Status& status) const;
  // Prints "kpictl: <message>" and a hint; returns kExitUsage.
  int Usage(const std::string& message, const std::string& hint = "") const;

 private:
  std::unique_ptr<Client> client_;
};

enum class Output { kTable, kCsv, kJson };

// `interval_ms` > 0: a second sample that long after the first, for the
// ingest and query rates.
int Status_(Context& ctx, Output output, int64_t interval_ms = 1000);
int Series(Context& ctx, const std::string& selector, uint64_t limit, Output output);
int Labels_(Context& ctx, const std::string& metric, Output output);
int LabelValues(Context& ctx, const std::string& name, const std::string& metric, Output output);

struct QueryArgs {
  std::string selector;
  std::string from = "-1d";
  std::string to = "now";
  std::string step;      // a duration; empty with calendar empty: raw points
  std::string calendar;  // day|week|month|quarter|year
  std::string tz = "UTC";
  std::string agg = "avg";
  std::vector<std::string> by;
  bool group = false;    // --by given (possibly empty: one group)
  std::string cross = "sum";
  std::string fill = "none";
  std::string ratio;     // denominator selector
  Output output = Output::kTable;
  bool chart = false;  // draw it (terminal.h) instead of the table
};
int Query(Context& ctx, const QueryArgs& args);

int Write(Context& ctx, const std::string& series, const std::string& value, const std::string& time);
int Flush(Context& ctx);
int Compact(Context& ctx, bool wait);
int Delete(Context& ctx, const std::string& selector, const std::string& from, const std::string& to,
           bool yes);

struct ImportArgs {
  std::vector<std::string> files;
  std::string format = "auto";  // auto (by extension) | csv | jsonl | openmetrics | prom
  std::vector<std::string> columns;  // the wide CSV form: the series of columns 2, 3...
  bool strict = false;
  size_t batch_points = 50'000;
};
int Import(Context& ctx, const ImportArgs& args);

struct ExportArgs {
  std::string selector;
  std::string from;
  std::string to = "now";
  std::string format = "csv";  // csv | jsonl | openmetrics | prom
  std::string file;            // empty or "-": standard output
  int64_t window_ms = 7 * 86'400'000LL;
  size_t max_points = 1'000'000;  // per request; a window holding more is halved
};
int Export(Context& ctx, const ExportArgs& args);

}  // namespace kpidb::kpictl
