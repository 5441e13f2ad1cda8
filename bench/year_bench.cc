// One year of the reference workload (200 series at 10 s, ~630 M points),
// generated a day at a time straight into the engine (bench/kpi_workload.h),
// twice side by side:
//   1. with the background compactor off: ingest time, then Compact (its
//      throughput), bytes/point and files after;
//   2. with it on (the default policy): ingest time, and how long the
//      compactor takes to catch up after the last write;
// then, on the first store: Q5 (every series, 1 d max, the whole year) and a
// 90-day hourly sum of kpi_visits by channel, with rollup rows on and off
// (medians of --runs, in process); and, when --server BIN is given, the
// hourly sum of one series over 90 days through gRPC (kpidb-server on the
// store, the C++ client), p50/p99 of 50 runs.
//
// Usage: year_bench [--days N] [--runs N] [--server BUILD/server/kpidb-server]
//                   [--only-compacted] [--store DIR] [--rows-only]
// --store DIR keeps the compacted store in DIR, and when DIR already holds
// one (from an earlier --store run), skips the ingest and only queries it;
// --rows-only runs the queries with rows on only (for profiling that path).
// The WAL is not fsynced (the engine's own cost is measured, not the disk's).
// Not part of CI: bench/README.md has the figures.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/kpi_workload.h"
#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#ifdef KPIDB_YEAR_BENCH_CLIENT
#include "client/client.h"
#endif

namespace kpidb {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kDay = 86'400'000;
// The data ends yesterday (set in main): every day has ended, as it would
// have for a store that ran for the year.
int64_t kStart = 0;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

EngineOptions Options(bool compactor) {
  EngineOptions o;
  o.logger = [](std::string_view) {};
  o.wal_sync = WalSyncPolicy::kNone;
  o.auto_compaction = compactor;
  return o;
}

std::unique_ptr<EngineCore> OpenOrDie(const std::string& dir, const EngineOptions& o) {
  auto e = EngineCore::Open(dir, o);
  if (!e.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), e.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(e).value();
}

void Check(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// Writes `days` days, a day (200 series) at a time; returns the points.
uint64_t Ingest(EngineCore& engine, int days) {
  uint64_t points = 0;
  for (int d = 0; d < days; ++d) {
    auto day = bench::GenerateKpiWorkload(
        {.days = 1, .start_ms = kStart + d * kDay, .seed = 2026 + static_cast<uint64_t>(d)});
    for (auto& s : day) {
      WriteBatch b;
      Labels labels;
      for (auto& [n, v] : s.labels) labels.push_back({n, v});
      points += s.timestamps_ms.size();
      b.series.push_back({s.metric, std::move(labels), std::move(s.timestamps_ms), std::move(s.values)});
      Check(engine.Write(b), "write");
    }
  }
  return points;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median ms of `runs` executions (after one to warm up), and what served it.
double TimeQuery(const EngineCore& engine, const query::Query& q, int runs, query::QueryStats* stats) {
  std::vector<double> ms;
  for (int r = 0; r <= runs; ++r) {
    size_t n = 0;
    const auto t = Clock::now();
    Check(query::Execute(engine, q, [&](query::ResultSeries&& s) {
      n += s.values.size();
      return Status::Ok();
    }, stats), "query");
    if (r > 0) ms.push_back(Seconds(t) * 1000);
  }
  return Median(ms);
}

void Queries(const EngineCore& engine, int days, int runs, bool rows_only) {
  const int64_t end = kStart + days * kDay;
  query::Query q5;
  q5.selector = {"", {{"__name__", query::MatchOp::kRegex, "kpi_.+"}}};
  q5.start_ms = kStart;
  q5.end_ms = end;
  q5.step.step_ms = kDay;
  q5.aggregation = query::Aggregation::kMax;
  query::Query hourly;
  hourly.selector = {"kpi_visits", {}};
  hourly.start_ms = std::max(kStart, end - 90 * kDay);
  hourly.end_ms = end;
  hourly.step.step_ms = 3'600'000;
  hourly.aggregation = query::Aggregation::kSum;
  hourly.group = true;
  hourly.group_by = {"channel"};
  for (auto& [name, q] : {std::pair<const char*, query::Query>{"Q5 every series, 1 d max, whole range", q5},
                          {"90-day 1 h sum of kpi_visits by channel", hourly}}) {
    query::QueryStats on_stats, off_stats;
    const double on = TimeQuery(engine, q, runs, &on_stats);
    if (rows_only) {
      std::printf("%-42s rows on %9.2f ms (%llu rows, %llu points)\n", name, on,
                  static_cast<unsigned long long>(on_stats.rollup_rows),
                  static_cast<unsigned long long>(on_stats.points));
      continue;
    }
    query::Query off = q;
    off.use_precomputed = false;
    const double off_ms = TimeQuery(engine, off, std::max(1, runs / 3), &off_stats);
    std::printf("%-42s rows on %9.2f ms (%llu rows, %llu points)  off %9.1f ms (%llu points)  %.0fx\n",
                name, on, static_cast<unsigned long long>(on_stats.rollup_rows),
                static_cast<unsigned long long>(on_stats.points), off_ms,
                static_cast<unsigned long long>(off_stats.points), off_ms / on);
  }
}

void PrintStore(const char* what, const EngineCore& engine) {
  const EngineStats st = engine.GetStats();
  std::printf("%-28s %6llu files  %12llu points  %.4f bytes/point\n", what,
              static_cast<unsigned long long>(st.segments),
              static_cast<unsigned long long>(st.segment_distinct_points),
              st.segment_distinct_points == 0 ? 0.0
                                              : static_cast<double>(st.segment_bytes) /
                                                    static_cast<double>(st.segment_distinct_points));
}

#ifdef KPIDB_YEAR_BENCH_CLIENT
// kpidb-server on `dir`; the hourly sum of one series over 90 days.
void ThroughGrpc(const std::string& server, const std::string& dir, int days) {
  int out[2];
  if (::pipe(out) != 0) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::execl(server.c_str(), server.c_str(), "--listen", "127.0.0.1:0", "--data-dir", dir.c_str(),
            "--wal-sync", "none", "--no-auto-compaction", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  const std::string address = line.substr(line.rfind(' ') + 1);
  auto client = Client::Connect(address);
  if (line.rfind("listening on ", 0) == 0 && client.ok()) {
    const int64_t end = kStart + days * kDay;
    query::Query q;
    q.selector = {"kpi_revenue",
                  {{"channel", query::MatchOp::kEqual, "email"},
                   {"region", query::MatchOp::kEqual, "eu"},
                   {"campaign", query::MatchOp::kEqual, "spring"}}};
    q.start_ms = std::max(kStart, end - 90 * kDay);
    q.end_ms = end;
    q.step.step_ms = 3'600'000;
    q.aggregation = query::Aggregation::kSum;
    std::vector<double> ms;
    size_t points = 0;
    query::QueryStats stats;
    for (int r = 0; r < 55; ++r) {
      const auto t = Clock::now();
      auto result = (*client)->QueryRange(q, &stats);
      if (!result.ok()) {
        std::fprintf(stderr, "grpc query: %s\n", result.status().ToString().c_str());
        break;
      }
      if (r >= 5) ms.push_back(Seconds(t) * 1000);
      points = result->empty() ? 0 : result->front().values.size();
    }
    std::sort(ms.begin(), ms.end());
    if (!ms.empty()) {
      std::printf("90-day 1 h sum of one series, gRPC         p50 %.3f ms  p99 %.3f ms  (%zu buckets, %llu rows, %llu points, %zu runs)\n",
                  ms[ms.size() / 2], ms[ms.size() * 99 / 100], points,
                  static_cast<unsigned long long>(stats.rollup_rows),
                  static_cast<unsigned long long>(stats.points), ms.size());
    }
  } else {
    std::fprintf(stderr, "server did not start: %s\n", line.c_str());
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}
#endif

}  // namespace
}  // namespace kpidb

int main(int argc, char** argv) {
  using namespace kpidb;
  int days = 365, runs = 5;
  std::string server;
  bool only_compacted = false, rows_only = false;
  std::string store;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--days" && i + 1 < argc) {
      days = std::atoi(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--server" && i + 1 < argc) {
      server = argv[++i];
    } else if (a == "--only-compacted") {
      only_compacted = true;
    } else if (a == "--rows-only") {
      rows_only = true;
    } else if (a == "--store" && i + 1 < argc) {
      store = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: year_bench [--days N] [--runs N] [--server BIN] [--only-compacted] "
                   "[--store DIR] [--rows-only]\n");
      return 2;
    }
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  kStart = (std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() /
            kDay - days) *
           kDay;
  const std::string root = std::filesystem::temp_directory_path() / ("kpidb-year-" + std::to_string(::getpid()));
  const std::string plain = store.empty() ? root + "/plain" : store;
  const std::string compacting = root + "/compacting";
  const std::string start_file = plain + "/year_bench.start";
  std::filesystem::create_directories(root);
  if (!store.empty()) {
    if (FILE* f = std::fopen(start_file.c_str(), "r")) {
      long long start = 0;
      const bool read = std::fscanf(f, "%lld %d", &start, &days) == 2;
      std::fclose(f);
      if (!read) {
        std::fprintf(stderr, "%s: unreadable\n", start_file.c_str());
        return 1;
      }
      kStart = start;
      std::printf("year_bench: the store in %s (%d days)\n", plain.c_str(), days);
      {
        auto engine = OpenOrDie(plain, Options(false));
        Queries(*engine, days, runs, rows_only);
      }
#ifdef KPIDB_YEAR_BENCH_CLIENT
      if (!server.empty()) ThroughGrpc(server, plain, days);
#endif
      std::filesystem::remove_all(root);
      return 0;
    }
    only_compacted = true;
  }
  std::printf("year_bench: %d days of 200 series at 10 s, a day at a time, WAL not fsynced\n", days);
  std::fflush(stdout);

  double plain_s = 0;
  uint64_t points = 0;
  {
    auto engine = OpenOrDie(plain, Options(false));
    const auto t = Clock::now();
    points = Ingest(*engine, days);
    Check(engine->Flush(), "flush");
    plain_s = Seconds(t);
    std::printf("ingest, compactor off: %.1f s, %.2f M points/s (%llu points)\n", plain_s,
                static_cast<double>(points) / plain_s / 1e6, static_cast<unsigned long long>(points));
    PrintStore("  after the flushes", *engine);
    const auto c = Clock::now();
    Check(engine->Compact(), "compact");
    const double compact_s = Seconds(c);
    if (!store.empty()) {
      FILE* f = std::fopen(start_file.c_str(), "w");
      if (f == nullptr) {
        std::fprintf(stderr, "%s: %s\n", start_file.c_str(), std::strerror(errno));
        return 1;
      }
      std::fprintf(f, "%lld %d\n", static_cast<long long>(kStart), days);
      std::fclose(f);
    }
    const EngineStats st = engine->GetStats();
    std::printf("Compact: %.1f s, %.2f M points/s, %.1f MB/s written\n", compact_s,
                static_cast<double>(st.compaction.points_written) / compact_s / 1e6,
                static_cast<double>(st.compaction.bytes_written) / compact_s / 1e6);
    PrintStore("  after Compact", *engine);
  }
  if (!only_compacted) {
    auto engine = OpenOrDie(compacting, Options(true));
    const auto t = Clock::now();
    Ingest(*engine, days);
    Check(engine->Flush(), "flush");
    const double s = Seconds(t);
    const EngineStats during = engine->GetStats();
    std::printf("ingest, compactor on: %.1f s, %.2f M points/s (%.2fx the time with it off; %llu merges meanwhile)\n",
                s, static_cast<double>(points) / s / 1e6, s / plain_s,
                static_cast<unsigned long long>(during.compaction.merges));
    const auto c = Clock::now();
    while (true) {
      const EngineStats st = engine->GetStats();
      if (!st.compaction.running && st.compaction.backlog == 0 && st.compaction.waiting == 0) break;
      if (Seconds(c) > 600) {
        std::printf("  (still %llu due, %llu waiting after 600 s)\n",
                    static_cast<unsigned long long>(st.compaction.backlog),
                    static_cast<unsigned long long>(st.compaction.waiting));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::printf("  the compactor caught up %.1f s after the last write (the policy waits for quiet files)\n",
                Seconds(c));
    PrintStore("  then", *engine);
  }
  {
    auto engine = OpenOrDie(plain, Options(false));
    Queries(*engine, days, runs, rows_only);
  }
#ifdef KPIDB_YEAR_BENCH_CLIENT
  if (!server.empty()) ThroughGrpc(server, plain, days);
#else
  if (!server.empty()) std::fprintf(stderr, "built without the client: no gRPC query\n");
#endif
  std::filesystem::remove_all(root);
  return 0;
}
