// Chunk codec throughput and size on the reference KPI workload
// (bench/kpi_workload.h; set KPIDB_KPI_BIN to use gen_kpi.py's kpi.bin).
// Series are cut into 2048-point chunks; each benchmark encodes or decodes
// every chunk of one metric (or of all metrics) once per iteration.
//
// Counters: points/s  points encoded/decoded per second, one core
//           bytes/pt  whole chunk bytes (header, both columns, checksum)
//                     per point; the segment index adds its stats on top
//           ts_bytes/pt  the timestamp column's share
// Suffix /entropy: the default encoder; /no_entropy: without the
// entropy-coded decimal int modes, i.e. the encoder before them.
#include <benchmark/benchmark.h>

#include <map>
#include <span>
#include <string>
#include <vector>

#include "bench/kpi_workload.h"
#include "engine/codec/chunk.h"
#include "engine/codec/timestamp_codec.h"

namespace kpidb::bench {
namespace {

constexpr size_t kChunkPoints = 2048;

struct ChunkInput {
  std::span<const int64_t> timestamps;
  std::span<const double> values;
};

struct Corpus {
  std::vector<KpiSeries> series;
  std::map<std::string, std::vector<ChunkInput>> chunks_by_metric;  // "all" = every metric
};

Corpus* MakeCorpus(bool jittered) {
  auto* corpus = new Corpus;
  corpus->series = LoadKpiWorkload();
  if (jittered) JitterTimestamps(&corpus->series);
  for (const KpiSeries& s : corpus->series) {
    for (size_t start = 0; start < s.values.size(); start += kChunkPoints) {
      size_t n = std::min(kChunkPoints, s.values.size() - start);
      ChunkInput chunk{std::span(s.timestamps_ms).subspan(start, n),
                       std::span(s.values).subspan(start, n)};
      corpus->chunks_by_metric[s.metric].push_back(chunk);
      corpus->chunks_by_metric["all"].push_back(chunk);
    }
  }
  return corpus;
}

const Corpus& GetCorpus(bool jittered) {
  static const Corpus* regular = MakeCorpus(false);
  static const Corpus* jitter = MakeCorpus(true);
  return jittered ? *jitter : *regular;
}

void SetSizeCounters(benchmark::State& state, const std::vector<ChunkInput>& chunks,
                     const ChunkEncodeOptions& options) {
  size_t points = 0, bytes = 0, timestamp_bytes = 0;
  std::string out, ts;
  for (const ChunkInput& c : chunks) {
    out.clear();
    ts.clear();
    EncodeChunkWithOptions(c.timestamps, c.values, options, &out);
    codec::EncodeTimestamps(c.timestamps, &ts);
    points += c.values.size();
    bytes += out.size();
    timestamp_bytes += ts.size();
  }
  state.counters["bytes/pt"] = static_cast<double>(bytes) / static_cast<double>(points);
  state.counters["ts_bytes/pt"] = static_cast<double>(timestamp_bytes) / static_cast<double>(points);
  state.counters["chunks"] = static_cast<double>(chunks.size());
}

void BM_Encode(benchmark::State& state, std::string metric, bool jittered,
               ChunkEncodeOptions options) {
  const auto& chunks = GetCorpus(jittered).chunks_by_metric.at(metric);
  std::string out;
  size_t points = 0;
  for (auto _ : state) {
    for (const ChunkInput& c : chunks) {
      out.clear();
      EncodeChunkWithOptions(c.timestamps, c.values, options, &out);
      benchmark::DoNotOptimize(out.data());
      points += c.values.size();
    }
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  SetSizeCounters(state, chunks, options);
}

void BM_Decode(benchmark::State& state, std::string metric, bool jittered,
               ChunkEncodeOptions options) {
  const auto& chunks = GetCorpus(jittered).chunks_by_metric.at(metric);
  std::vector<std::string> encoded;
  for (const ChunkInput& c : chunks) {
    encoded.emplace_back();
    EncodeChunkWithOptions(c.timestamps, c.values, options, &encoded.back());
  }
  std::vector<int64_t> timestamps;
  std::vector<double> values;
  timestamps.reserve(65536);
  values.reserve(65536);
  size_t points = 0;
  for (auto _ : state) {
    for (const std::string& chunk : encoded) {
      timestamps.clear();
      values.clear();
      Status s = DecodeChunk(chunk, &timestamps, &values);
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(values.data());
      points += values.size();
    }
  }
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  SetSizeCounters(state, chunks, options);
}

// Each benchmark runs twice: "/entropy" with the default encoder and
// "/no_entropy" without the entropy-coded decimal int modes (the encoder as
// it was before them), so one run compares both.
void RegisterAll() {
  for (bool jittered : {false, true}) {
    for (const char* metric : {"all", "kpi_visits", "kpi_purchases", "kpi_revenue",
                               "kpi_conversion_rate", "kpi_cac"}) {
      for (bool entropy : {true, false}) {
        std::string suffix = std::string("/") + metric + (jittered ? "/jittered_ts" : "/regular_ts") +
                             (entropy ? "/entropy" : "/no_entropy");
        ChunkEncodeOptions options{.entropy_coding = entropy};
        benchmark::RegisterBenchmark(("BM_Encode" + suffix).c_str(), BM_Encode, metric, jittered,
                                     options)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("BM_Decode" + suffix).c_str(), BM_Decode, metric, jittered,
                                     options)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace kpidb::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  kpidb::bench::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
