// The five reference queries (../shared/bench/README.md), embedded (no RPC),
// on the reference workload written and flushed to segments:
//   Q1 one series, one day of raw points
//   Q2 one series, whole range, 1-hour step, avg
//   Q3 kpi_visits, 1-hour step, sum by (channel)
//   Q4 one series, whole range in ~1,000 buckets, avg
//   Q5 every series, 1-day step, max
//   BM_RawSumScan: points/s summing every point on one core, decoding every
//   chunk (chunk stats refused), i.e. the scan rate without pushdown.
// Data: $KPIDB_KPI_BIN or the generated workload ($KPIDB_DAYS days).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "bench/engine_fixture.h"
#include "engine/query/query.h"

namespace kpidb::bench {
namespace {

using query::Aggregation;
using query::Query;

struct Loaded {
  std::unique_ptr<EngineCore> engine;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

Loaded& Data() {
  static Loaded loaded = [] {
    Loaded l;
    EngineOptions o;
    o.wal_sync = WalSyncPolicy::kNone;
    o.head_max_bytes = 1ull << 30;
    o.logger = [](std::string_view) {};
    l.engine = OpenOrDie(FreshDir(), o);
    WriteAll(*l.engine, 2);
    if (!l.engine->Flush().ok()) std::abort();
    l.start_ms = Workload().front().timestamps_ms.front();
    l.end_ms = Workload().front().timestamps_ms.back() + 1;
    return l;
  }();
  return loaded;
}

query::Selector OneSeries() {
  return {"kpi_revenue",
          {{"channel", query::MatchOp::kEqual, "email"},
           {"region", query::MatchOp::kEqual, "eu"},
           {"campaign", query::MatchOp::kEqual, "spring"}}};
}

void RunQuery(benchmark::State& state, const Query& q) {
  Loaded& d = Data();
  size_t points = 0, results = 0;
  for (auto _ : state) {
    points = results = 0;
    Status s = query::Execute(*d.engine, q, [&](query::ResultSeries&& r) {
      points += r.values.size();
      ++results;
      return Status::Ok();
    });
    if (!s.ok()) {
      std::fprintf(stderr, "query: %s\n", s.ToString().c_str());
      std::abort();
    }
  }
  state.counters["results"] = static_cast<double>(results);
  state.counters["points"] = static_cast<double>(points);
}

Query Base() {
  Query q;
  q.start_ms = Data().start_ms;
  q.end_ms = Data().end_ms;
  return q;
}

void BM_Q1_RawOneSeriesOneDay(benchmark::State& state) {
  Query q = Base();
  q.selector = OneSeries();
  q.start_ms = Data().start_ms + 86'400'000;  // the second day
  q.end_ms = q.start_ms + 86'400'000;
  RunQuery(state, q);
}

void BM_Q2_OneSeriesHourlyAvg(benchmark::State& state) {
  Query q = Base();
  q.selector = OneSeries();
  q.step.step_ms = 3'600'000;
  q.aggregation = Aggregation::kAvg;
  RunQuery(state, q);
}

void BM_Q3_VisitsHourlySumByChannel(benchmark::State& state) {
  Query q = Base();
  q.selector = {"kpi_visits", {}};
  q.step.step_ms = 3'600'000;
  q.aggregation = Aggregation::kSum;
  q.group = true;
  q.group_by = {"channel"};
  q.cross = query::CrossAggregation::kSum;
  RunQuery(state, q);
}

void BM_Q4_OneSeriesThousandBucketsAvg(benchmark::State& state) {
  Query q = Base();
  q.selector = OneSeries();
  q.step.step_ms = (q.end_ms - q.start_ms) / 1000;
  q.aggregation = Aggregation::kAvg;
  RunQuery(state, q);
}

void BM_Q5_EverySeriesDailyMax(benchmark::State& state) {
  Query q = Base();
  // Every series: {} is refused (it would read a whole database), so name
  // the metrics as a Prometheus user does.
  q.selector = {"", {{"__name__", query::MatchOp::kRegex, "kpi_.+"}}};
  q.step.step_ms = 86'400'000;
  q.aggregation = Aggregation::kMax;
  RunQuery(state, q);
}

// Sums every point, decoding every chunk (stats refused).
class SumVisitor : public ScanVisitor {
 public:
  bool OnChunkStats(const ChunkStats&) override { return false; }
  Status OnPoints(std::span<const int64_t> ts, std::span<const double> vs) override {
    for (double v : vs) sum += v;
    points += ts.size();
    return Status::Ok();
  }
  double sum = 0;
  uint64_t points = 0;
};

void BM_RawSumScan(benchmark::State& state) {
  Loaded& d = Data();
  const std::vector<SeriesId> ids = d.engine->SelectSeries("", {});
  uint64_t points = 0;
  for (auto _ : state) {
    SumVisitor v;
    for (SeriesId id : ids) {
      if (!d.engine->Scan(id, d.start_ms, d.end_ms, &v).ok()) std::abort();
    }
    benchmark::DoNotOptimize(v.sum);
    points += v.points;
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Q1_RawOneSeriesOneDay)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Q2_OneSeriesHourlyAvg)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Q3_VisitsHourlySumByChannel)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Q4_OneSeriesThousandBucketsAvg)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Q5_EverySeriesDailyMax)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RawSumScan)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kpidb::bench

BENCHMARK_MAIN();
