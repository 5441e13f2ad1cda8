// kpidb-loadgen: drives a running kpidb-server through the client library
// and prints what it measured. Not part of CI. See bench/README.md.
//
//   kpidb-loadgen --server HOST:PORT [--mode kpi|synthetic] [--writers N]
//                 [--batch-points N] [--series N] [--points N] [--readers N]
//                 [--query-runs N] [--server-pid PID] [--kpi-bin FILE]
//                 [--days N] [--no-ingest] [--only Qn]
//
// mode kpi (default): loads the reference KPI workload (kpi.bin from
//   --kpi-bin or $KPIDB_KPI_BIN, else the generated imitation), ingests it,
//   flushes, and runs the five reference queries Q1-Q5.
// mode synthetic: --series series of --points points each (10 s apart,
//   random-walk decimals) with --labels labels (2: shard and unit; more add
//   l3.. with few values, as vm_cardinality.py does), with --readers threads
//   querying meanwhile.
// --no-ingest skips the ingest (a server that already holds the workload,
//   from an earlier run on the same data dir): queries only. --only Qn runs
//   one of the reference queries alone (Q0 is an empty result: the round
//   trip), for profiling.
// Prints ingest points/s, bytes/point after flush, the server's peak RSS
// (VmHWM of --server-pid, same machine), and query latency p50/p99.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/kpi_workload.h"
#include "client/client.h"

namespace {

using namespace kpidb;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string server = "127.0.0.1:7411";
  std::string mode = "kpi";
  int writers = 8;
  size_t batch_points = 20'000;
  size_t series = 1000;
  size_t points = 10'000;
  int labels = 2;  // synthetic: shard, unit, then l3..lN
  int readers = 0;
  int query_runs = 30;
  int server_pid = 0;
  std::string kpi_bin;
  int days = 14;
  bool ingest = true;  // --no-ingest: the server already holds the workload
  std::string only;    // --only Q4: run that reference query alone (profiling)
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    if (name == "--help") return false;
    if (name == "--no-ingest") {
      a->ingest = false;
      continue;
    }
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    if (name == "--server")
      a->server = v;
    else if (name == "--mode")
      a->mode = v;
    else if (name == "--writers")
      a->writers = std::stoi(v);
    else if (name == "--batch-points")
      a->batch_points = std::stoul(v);
    else if (name == "--series")
      a->series = std::stoul(v);
    else if (name == "--points")
      a->points = std::stoul(v);
    else if (name == "--labels")
      a->labels = std::stoi(v);
    else if (name == "--readers")
      a->readers = std::stoi(v);
    else if (name == "--query-runs")
      a->query_runs = std::stoi(v);
    else if (name == "--server-pid")
      a->server_pid = std::stoi(v);
    else if (name == "--kpi-bin")
      a->kpi_bin = v;
    else if (name == "--days")
      a->days = std::stoi(v);
    else if (name == "--only")
      a->only = v;
    else
      return false;
  }
  return a->writers > 0 && a->batch_points > 0 && (a->mode == "kpi" || a->mode == "synthetic");
}

std::string PeakRss(int pid) {
  if (pid <= 0) return "n/a (give --server-pid)";
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      const long kb = std::stol(line.substr(6));
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f MiB", kb / 1024.0);
      return buf;
    }
  }
  return "n/a";
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

std::unique_ptr<Client> ConnectOrDie(const std::string& address) {
  auto c = Client::Connect(address, {.deadline = std::chrono::milliseconds(120'000)});
  if (!c.ok()) {
    std::fprintf(stderr, "connect: %s\n", c.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(c).value();
}

// Writes the series with `writers` threads, each owning every writers-th
// series and sending requests of ~batch_points points that cover a time
// slice of all its series. Returns points/s.
double Ingest(const Args& a, const std::vector<bench::KpiSeries>& data) {
  std::atomic<uint64_t> written{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < a.writers; ++w) {
    threads.emplace_back([&, w] {
      auto client = ConnectOrDie(a.server);
      std::vector<const bench::KpiSeries*> mine;
      for (size_t i = static_cast<size_t>(w); i < data.size();
           i += static_cast<size_t>(a.writers)) {
        mine.push_back(&data[i]);
      }
      if (mine.empty()) return;
      size_t longest = 0;
      for (auto* s : mine) longest = std::max(longest, s->timestamps_ms.size());
      // Few series: every batch holds a slice of time of all of them. Many
      // series (more than a batch's points): batches of whole series.
      const size_t series_per_batch =
          mine.size() <= a.batch_points
              ? mine.size()
              : std::max<size_t>(1, a.batch_points / std::max<size_t>(1, longest));
      for (size_t first = 0; first < mine.size() && !failed; first += series_per_batch) {
        const std::span<const bench::KpiSeries* const> chunk(
            mine.data() + first, std::min(series_per_batch, mine.size() - first));
        const size_t per_series = std::max<size_t>(1, a.batch_points / chunk.size());
        for (size_t from = 0; from < longest && !failed; from += per_series) {
          WriteBatch batch;
          for (auto* s : chunk) {
            if (from >= s->timestamps_ms.size()) continue;
            const size_t to = std::min(s->timestamps_ms.size(), from + per_series);
            SeriesPoints sp;
            sp.metric = s->metric;
            for (const auto& [n, v] : s->labels) sp.labels.push_back({n, v});
            sp.timestamps_ms.assign(s->timestamps_ms.begin() + from, s->timestamps_ms.begin() + to);
            sp.values.assign(s->values.begin() + from, s->values.begin() + to);
            batch.series.push_back(std::move(sp));
          }
          auto r = client->Write(batch);
          if (!r.ok()) {
            std::fprintf(stderr, "write: %s\n", r.status().ToString().c_str());
            failed = true;
            return;
          }
          written += r->points_written;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) std::exit(1);
  std::printf("ingest: %llu points in %.2f s = %.2f M points/s (%d writers, ~%zu points/request)\n",
              static_cast<unsigned long long>(written.load()), seconds,
              static_cast<double>(written.load()) / seconds / 1e6, a.writers, a.batch_points);
  return seconds;
}

std::vector<double> TimeQuery(Client& client, const query::Query& q, int runs, size_t* points) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    size_t n = 0;
    Status s = client.QueryRange(q, [&n](query::ResultSeries&& r) {
      n += r.timestamps_ms.size();
      return Status::Ok();
    });
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!s.ok()) {
      std::fprintf(stderr, "query: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    *points = n;
  }
  return ms;
}

void ReferenceQueries(const Args& a, Client& client, int64_t start_ms, int64_t end_ms) {
  query::Selector one{"kpi_revenue",
                      {{"channel", query::MatchOp::kEqual, "email"},
                       {"region", query::MatchOp::kEqual, "eu"},
                       {"campaign", query::MatchOp::kEqual, "spring"}}};
  std::vector<std::pair<std::string, query::Query>> qs;
  query::Query q;
  q.start_ms = start_ms;
  q.end_ms = end_ms;
  query::Query q0 = q;  // what a round trip costs: a selector that matches nothing
  q0.selector = {"kpi_nothing", {}};
  qs.emplace_back("Q0 empty result (round trip)", q0);
  query::Query q1 = q;
  q1.selector = one;
  q1.start_ms = start_ms + 86'400'000;
  q1.end_ms = q1.start_ms + 86'400'000;
  qs.emplace_back("Q1 one series, one day raw", q1);
  query::Query q2 = q;
  q2.selector = one;
  q2.step.step_ms = 3'600'000;
  q2.aggregation = query::Aggregation::kAvg;
  qs.emplace_back("Q2 one series, 1 h avg", q2);
  query::Query q3 = q;
  q3.selector = {"kpi_visits", {}};
  q3.step.step_ms = 3'600'000;
  q3.aggregation = query::Aggregation::kSum;
  q3.group = true;
  q3.group_by = {"channel"};
  qs.emplace_back("Q3 kpi_visits 1 h sum by channel", q3);
  query::Query q4 = q;
  q4.selector = one;
  q4.step.step_ms = (end_ms - start_ms) / 1000;
  q4.aggregation = query::Aggregation::kAvg;
  qs.emplace_back("Q4 one series, ~1000 buckets avg", q4);
  query::Query q5 = q;
  // Every series ({} is refused: it would read a whole database).
  q5.selector = {"", {{"__name__", query::MatchOp::kRegex, "kpi_.+"}}};
  q5.step.step_ms = 86'400'000;
  q5.aggregation = query::Aggregation::kMax;
  qs.emplace_back("Q5 every series, 1 d max", q5);
  for (const auto& [name, query] : qs) {
    if (!a.only.empty() && name.rfind(a.only + " ", 0) != 0) continue;
    size_t points = 0;
    TimeQuery(client, query, 2, &points);  // warm up
    std::vector<double> ms = TimeQuery(client, query, a.query_runs, &points);
    std::printf("%-36s p50 %8.3f ms  p99 %8.3f ms  (%zu points, %d runs)\n", name.c_str(),
                Percentile(ms, 0.5), Percentile(ms, 0.99), points, a.query_runs);
  }
}

std::vector<bench::KpiSeries> Synthetic(const Args& a) {
  std::vector<bench::KpiSeries> out(a.series);
  std::mt19937_64 rng(42);
  const int64_t start = 1'767'225'600'000;
  for (size_t i = 0; i < a.series; ++i) {
    auto& s = out[i];
    s.metric = "kpi_load";
    s.labels = {{"shard", std::to_string(i % 16)}, {"unit", std::to_string(i)}};
    // More labels, as KPI segments (channel, region, campaign...) would be:
    // the shape of ../shared/bench/vm_cardinality.py.
    for (int k = 3; k <= a.labels; ++k) {
      // (appended, not "l" + to_string: GCC 12 warns -Wrestrict on that)
      std::string name = "l", value = "v";
      name += std::to_string(k);
      value += std::to_string(i % static_cast<size_t>(k + 2));
      s.labels.emplace_back(std::move(name), std::move(value));
    }
    std::sort(s.labels.begin(), s.labels.end());
    double v = 1000;
    for (size_t p = 0; p < a.points; ++p) {
      s.timestamps_ms.push_back(start + static_cast<int64_t>(p) * 10'000);
      v += std::round(std::normal_distribution<double>(0, 5)(rng) * 100) / 100;
      s.values.push_back(std::round(v * 100) / 100);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: kpidb-loadgen --server HOST:PORT [--mode kpi|synthetic] "
                 "[--writers N] [--batch-points N] [--series N] [--points N] [--labels N] "
                 "[--readers N] [--query-runs N] [--server-pid PID] [--kpi-bin FILE] "
                 "[--days N] [--no-ingest] [--only Qn]\n");
    return 2;
  }
  std::vector<bench::KpiSeries> data;
  if (a.mode == "kpi") {
    if (!a.kpi_bin.empty()) setenv("KPIDB_KPI_BIN", a.kpi_bin.c_str(), 1);
    data = bench::LoadKpiWorkload({.days = a.days});
  } else {
    data = Synthetic(a);
  }
  int64_t start_ms = INT64_MAX, end_ms = INT64_MIN;
  size_t total = 0;
  for (const auto& s : data) {
    start_ms = std::min(start_ms, s.timestamps_ms.front());
    end_ms = std::max(end_ms, s.timestamps_ms.back() + 1);
    total += s.timestamps_ms.size();
  }
  std::printf("workload: %s, %zu series, %zu points\n", a.mode.c_str(), data.size(), total);
  auto client = ConnectOrDie(a.server);

  // Readers query while the writers write (synthetic mode).
  std::atomic<bool> ingesting{true};
  std::vector<double> reader_ms;
  std::mutex reader_mu;
  std::vector<std::thread> readers;
  for (int r = 0; r < a.readers; ++r) {
    readers.emplace_back([&, r] {
      auto c = ConnectOrDie(a.server);
      std::mt19937_64 rng(r);
      while (ingesting) {
        query::Query q;
        q.selector = {data[0].metric, {}};
        q.start_ms = start_ms;
        q.end_ms = end_ms;
        q.step.step_ms = 3'600'000;
        q.aggregation = query::Aggregation::kAvg;
        const auto t0 = Clock::now();
        Status s = c->QueryRange(q, [](query::ResultSeries&&) { return Status::Ok(); });
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (s.ok()) {
          std::lock_guard lock(reader_mu);
          reader_ms.push_back(ms);
        }
      }
    });
  }
  const double ingest_seconds = a.ingest ? Ingest(a, data) : 0;
  ingesting = false;
  for (auto& t : readers) t.join();
  if (!reader_ms.empty()) {
    std::printf("queries during ingest (1 h avg of %s, %zu runs): p50 %.3f ms p99 %.3f ms\n",
                data[0].metric.c_str(), reader_ms.size(), Percentile(reader_ms, 0.5),
                Percentile(reader_ms, 0.99));
  }
  std::printf("server peak RSS after ingest: %s\n", PeakRss(a.server_pid).c_str());

  const auto flush_start = Clock::now();
  Status flushed = client->Flush();
  if (!flushed.ok()) {
    std::fprintf(stderr, "flush: %s\n", flushed.ToString().c_str());
    return 1;
  }
  const double flush_seconds = std::chrono::duration<double>(Clock::now() - flush_start).count();
  std::printf("flush: %.3f s\n", flush_seconds);
  if (a.ingest) {
    // Every point acknowledged and in segments: the rate a long run sustains
    // (the flushes during ingest are in the first figure, the last here).
    std::printf("sustained (ingest + final flush): %zu points in %.2f s = %.2f M points/s\n", total,
                ingest_seconds + flush_seconds,
                static_cast<double>(total) / (ingest_seconds + flush_seconds) / 1e6);
  }
  auto stats = client->Stats();
  if (stats.ok()) {
    std::printf(
        "after flush: %llu series, %llu points, segments %.4f bytes/point, data dir %.4f "
        "bytes/point (%llu bytes)\n",
        static_cast<unsigned long long>(stats->series),
        static_cast<unsigned long long>(stats->points), stats->bytes_per_point,
        static_cast<double>(stats->bytes_on_disk) / static_cast<double>(total),
        static_cast<unsigned long long>(stats->bytes_on_disk));
  }
  if (a.mode == "kpi") ReferenceQueries(a, *client, start_ms, end_ms);
  std::printf("server peak RSS: %s\n", PeakRss(a.server_pid).c_str());
  return 0;
}
