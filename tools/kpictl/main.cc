// kpictl: the operators' tool. `kpictl --help`, `kpictl COMMAND --help`;
// README "Operating kpidb" shows the common tasks.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "tools/kpictl/commands.h"
#include "tools/kpictl/offline.h"
#include "tools/kpictl/text.h"

int main(int argc, char** argv) {
  using namespace kpidb::kpictl;
  CLI::App app{"kpictl: look at, load, export and maintain a kpidb server.\n"
               "Exit codes: 0 ok, 1 failure, 2 usage, 3 corruption found."};
  app.require_subcommand(1);
  Context ctx;
  ctx.stdin_is_terminal = ::isatty(STDIN_FILENO) != 0;
  app.add_option("--server", ctx.server, "the server's gRPC address")->capture_default_str();
  app.add_option("--timeout", ctx.timeout_ms, "per call, in milliseconds")->capture_default_str();
  std::string data_dir;
  app.add_option("--data-dir", data_dir, "offline commands: the data directory (no server may hold it)");
  std::string output = "table";
  auto output_option = [&](CLI::App* cmd, const char* choices) {
    cmd->add_option("-o,--output", output, std::string("output format: ") + choices)
        ->capture_default_str();
  };
  auto to_output = [&]() -> Output {
    if (output == "json") return Output::kJson;
    if (output == "csv") return Output::kCsv;
    return Output::kTable;
  };
  int code = kExitOk;

  auto* status = app.add_subcommand("status", "the server's state: sizes, rates, head, compaction, retention");
  output_option(status, "table|json");
  std::string rate_interval = "1s";
  status->add_option("--interval", rate_interval, "rates over this long (0: no rates, at once)")
      ->capture_default_str();
  status->callback([&] {
    int64_t ms = 0;
    if (rate_interval != "0") {
      auto d = ParseDuration(rate_interval, "--interval");
      if (!d.ok()) {
        code = ctx.Usage(d.status().message());
        return;
      }
      ms = *d;
    }
    code = Status_(ctx, to_output(), ms);
  });

  std::string selector;
  uint64_t limit = 0;
  auto* series = app.add_subcommand("series", "the series matching a selector");
  series->add_option("SELECTOR", selector, "e.g. kpi_visits{channel=\"email\",region=~\"eu|us\"} (default: all)");
  series->add_option("--limit", limit, "at most this many (0: the server's limit)");
  output_option(series, "table|csv|json");
  series->callback([&] { code = Series(ctx, selector, limit, to_output()); });

  std::string metric, name;
  auto* labels = app.add_subcommand("labels", "label names in use");
  labels->add_option("--metric", metric, "only those of this metric");
  output_option(labels, "table|csv|json");
  labels->callback([&] { code = Labels_(ctx, metric, to_output()); });

  auto* values = app.add_subcommand("label-values", "the values of one label");
  values->add_option("NAME", name, "the label")->required();
  values->add_option("--metric", metric, "only those of this metric");
  output_option(values, "table|csv|json");
  values->callback([&] { code = LabelValues(ctx, name, metric, to_output()); });

  QueryArgs q;
  auto* query = app.add_subcommand("query", "points or aggregated buckets of the matching series");
  query->add_option("SELECTOR", q.selector, "which series")->required();
  query->add_option("--from", q.from, "start (inclusive): now-7d, -90d, RFC 3339, epoch ms")->capture_default_str();
  query->add_option("--to", q.to, "end (exclusive)")->capture_default_str();
  query->add_option("--step", q.step, "bucket width: 5m, 1h, 1d (none: raw points)");
  query->add_option("--calendar", q.calendar, "calendar buckets: day|week|month|quarter|year");
  query->add_option("--tz", q.tz, "IANA time zone of calendar buckets")->capture_default_str();
  query->add_option("--agg", q.agg, "avg|sum|min|max|count|first|last|stddev|rate|increase")->capture_default_str();
  auto* by = query->add_option("--by", q.by, "group the series by these labels (comma-separated; empty: one group)")
                 ->delimiter(',')->expected(0, -1);
  query->add_option("--cross", q.cross, "how a group combines its series: sum|avg|min|max|count")->capture_default_str();
  query->add_option("--fill", q.fill, "empty buckets: none|null|zero|previous|linear")->capture_default_str();
  query->add_option("--ratio", q.ratio, "divide by this selector's result (a ratio of sums per bucket)");
  output_option(query, "table|csv|json");
  query->add_flag("--chart", q.chart,
                  "draw it: a line chart fitted to the terminal (sparklines past 6 series)");
  query->callback([&] {
    q.group = by->count() > 0;
    q.output = to_output();
    code = Query(ctx, q);
  });

  std::string write_series, write_value, write_time;
  auto* write = app.add_subcommand("write", "write one point (for trying things out)");
  write->add_option("SERIES", write_series, "METRIC{label=\"value\",...}")->required();
  write->add_option("VALUE", write_value, "a number, NaN, +Inf or -Inf")->required();
  write->add_option("TIME", write_time, "default: now");
  write->callback([&] { code = Write(ctx, write_series, write_value, write_time); });

  auto* flush = app.add_subcommand("flush", "write the head to segment files");
  flush->callback([&] { code = Flush(ctx); });

  bool wait = false;
  auto* compact = app.add_subcommand("compact", "run the due merges");
  compact->add_flag("--wait", wait, "wait until they are done (else start them and return)");
  compact->callback([&] { code = Compact(ctx, wait); });

  std::string del_from, del_to;
  bool yes = false;
  auto* del = app.add_subcommand("delete", "delete the points of the matching series");
  del->add_option("SELECTOR", selector, "which series")->required();
  del->add_option("--from", del_from, "start of the range (with --to; neither: all points)");
  del->add_option("--to", del_to, "end of the range (exclusive)");
  del->add_flag("-y,--yes", yes, "do not ask (required on a non-terminal)");
  del->callback([&] { code = Delete(ctx, selector, del_from, del_to, yes); });

  ImportArgs im;
  auto* import = app.add_subcommand("import", "load CSV, JSON-lines, OpenMetrics or Prometheus text files (idempotent: last write wins)");
  import->add_option("FILE", im.files, "files to load")->required();
  import->add_option("--format", im.format, "auto (by extension: .jsonl/.json, .om, .prom, else CSV)|csv|jsonl|openmetrics|prom")->capture_default_str();
  import->add_option("--column", im.columns,
                     "the wide CSV form timestamp,col1,col2...: the series of each column, in order");
  import->add_flag("--strict", im.strict, "stop at the first bad line");
  import->add_option("--batch-points", im.batch_points, "points per write")->capture_default_str();
  import->callback([&] { code = Import(ctx, im); });

  ExportArgs ex;
  std::string window = "7d";
  auto* exp = app.add_subcommand("export", "write the raw points of the matching series (import reads it back)");
  exp->add_option("SELECTOR", ex.selector, "which series")->required();
  exp->add_option("--from", ex.from, "start (default: the epoch)");
  exp->add_option("--to", ex.to, "end (exclusive)")->capture_default_str();
  exp->add_option("--format", ex.format, "csv|jsonl|openmetrics|prom")->capture_default_str();
  exp->add_option("--file", ex.file, "write here instead of standard output");
  exp->add_option("--window", window, "read this much time at a time")->capture_default_str();
  exp->add_option("--max-points", ex.max_points,
                  "points per request at most (a window holding more is read in halves)")
      ->capture_default_str();
  exp->callback([&] {
    auto w = ParseDuration(window, "--window");
    if (!w.ok()) {
      code = ctx.Usage(w.status().message());
      return;
    }
    ex.window_ms = *w;
    code = Export(ctx, ex);
  });

  auto need_dir = [&](const char* command) {
    if (!data_dir.empty()) return true;
    code = ctx.Usage(std::string(command) + " works offline: give --data-dir DIR",
                     "kpictl --data-dir ./kpidb-data " + std::string(command));
    return false;
  };
  auto* verify = app.add_subcommand("verify", "offline: check every checksum of the data dir (exit 3 if damaged)");
  verify->callback([&] {
    if (need_dir("verify")) code = Verify(ctx, data_dir);
  });
  std::string what;
  auto* inspect = app.add_subcommand("inspect", "offline: the live segments, a segment's index, or the WAL");
  inspect->add_option("WHAT", what, "nothing (the segments), a segment file's path, or \"wal\"");
  inspect->callback([&] {
    if (need_dir("inspect")) code = Inspect(ctx, data_dir, what);
  });

  bool repair_yes = false;
  auto* repair = app.add_subcommand("repair", "offline: set aside the damaged part of WAL files a server refuses");
  repair->add_flag("-y,--yes", repair_yes, "do not ask (required on a non-terminal)");
  repair->callback([&] {
    if (need_dir("repair")) code = Repair(ctx, data_dir, repair_yes);
  });
  std::string backup_dest;
  auto* backup = app.add_subcommand("backup", "a consistent copy of the server's data dir while writes go on");
  backup->add_option("DEST", backup_dest, "a new or empty directory on the server's machine")->required();
  backup->callback([&] { code = Backup(ctx, backup_dest); });
  std::string restore_src;
  bool force = false;
  auto* restore = app.add_subcommand("restore", "offline: a backup into --data-dir, verified before and after");
  restore->add_option("SRC", restore_src, "the backup directory")->required();
  restore->add_flag("--force", force, "replace what a non-empty --data-dir holds");
  restore->callback([&] {
    if (need_dir("restore")) code = Restore(ctx, restore_src, data_dir, force);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  } catch (const std::exception& e) {  // an I/O error thrown by std::filesystem
    std::fprintf(stderr, "kpictl: %s\n", e.what());
    return kExitFailure;
  }
  return code;
}
