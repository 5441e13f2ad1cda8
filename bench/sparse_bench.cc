// Bytes per point on sparse, real-shaped data (bench/sparse_workload.h):
// writes the 58 series into an engine in a temporary dir, flushes, and
// prints the segment files and their bytes per point split into chunks,
// rollup rows, the series index and file headers and footers; then the
// same after Compact; then checks that every point reads back bit for bit.
//
// Usage: sparse_bench [--no-rollups] [--no-levels] [--dump-jsonl FILE]
//   --no-rollups: rollup_tiers_ms empty; --no-levels: partition_level_factors
//   empty (day files only, as before automatic compaction); --dump-jsonl:
//   only write the data set to FILE in VictoriaMetrics' import format (one
//   JSON object a series, values with 17 significant digits: every bit),
//   for bench/sparse_vm.py.
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "bench/sparse_workload.h"
#include "engine/common/file_util.h"
#include "engine/core/engine_core.h"
#include "engine/segment/segment.h"

namespace kpidb {
namespace {

struct Sizes {
  uint64_t files = 0, bytes = 0, chunks = 0, rollups = 0, index = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> chunks_by_metric;  // bytes, points
};

Sizes Measure(const std::string& segment_dir) {
  Sizes z;
  for (const auto& e : std::filesystem::directory_iterator(segment_dir)) {
    if (e.path().extension() != ".kps") continue;
    auto reader = SegmentReader::Open(e.path().string(), false);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      std::exit(1);
    }
    const SegmentReader& r = **reader;
    ++z.files;
    z.bytes += r.file_size();
    z.index += r.index_bytes();
    SegmentSeries entry;
    Status s = r.ForEachKey([&](SeriesId id, std::string_view canonical) {
      auto found = r.Find(id, &entry);
      if (!found.ok()) return found.status();
      auto key = SeriesKey::FromCanonical(canonical);
      auto& [bytes, points] = z.chunks_by_metric[key.ok() ? key->metric : "?"];
      for (const ChunkMeta& c : entry.chunks) {
        z.chunks += c.length;
        bytes += c.length;
        points += c.stats.count;
      }
      z.rollups += entry.rollup_length;
      return Status::Ok();
    });
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(1);
    }
  }
  return z;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  return bytes;
}

void Print(const char* when, const Sizes& z, uint64_t dir_bytes, uint64_t points) {
  const double p = static_cast<double>(points);
  std::printf("%-14s %5llu files  %.3f bytes/point: chunks %.3f, rollups %.3f, index %.3f, "
              "headers+footers %.3f; data dir %.3f\n",
              when, static_cast<unsigned long long>(z.files), z.bytes / p, z.chunks / p,
              z.rollups / p, z.index / p, (z.bytes - z.chunks - z.rollups - z.index) / p,
              dir_bytes / p);
  std::printf("%14s chunks by metric:", "");
  for (const auto& [metric, bp] : z.chunks_by_metric) {
    std::printf(" %s %.2f", metric.c_str(), static_cast<double>(bp.first) / bp.second);
  }
  std::printf("\n");
}

int DumpJsonLines(const std::vector<bench::KpiSeries>& data, const char* path) {
  FILE* f = std::fopen(path, "w");
  if (f == nullptr) {
    std::perror(path);
    return 1;
  }
  for (const auto& s : data) {
    std::fprintf(f, "{\"metric\":{\"__name__\":\"%s\"", s.metric.c_str());
    for (const auto& [n, v] : s.labels) std::fprintf(f, ",\"%s\":\"%s\"", n.c_str(), v.c_str());
    std::fprintf(f, "},\"values\":[");
    for (size_t i = 0; i < s.values.size(); ++i) std::fprintf(f, "%s%.17g", i ? "," : "", s.values[i]);
    std::fprintf(f, "],\"timestamps\":[");
    for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
      std::fprintf(f, "%s%lld", i ? "," : "", static_cast<long long>(s.timestamps_ms[i]));
    }
    std::fprintf(f, "]}\n");
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

int Run(int argc, char** argv) {
  EngineOptions options;
  options.logger = [](std::string_view) {};
  options.wal_sync = WalSyncPolicy::kNone;
  options.auto_compaction = false;  // measured before and after one Compact
  const char* dump = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dump-jsonl") == 0 && i + 1 < argc) {
      dump = argv[++i];
    } else if (std::strcmp(argv[i], "--no-rollups") == 0) {
      options.rollup_tiers_ms.clear();
    } else if (std::strcmp(argv[i], "--no-levels") == 0) {
      options.partition_level_factors.clear();
    } else {
      std::fprintf(stderr, "usage: sparse_bench [--no-rollups] [--no-levels] [--dump-jsonl FILE]\n");
      return 2;
    }
  }
  const auto data = bench::GenerateSparseWorkload();
  if (dump != nullptr) return DumpJsonLines(data, dump);
  uint64_t points = 0;
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const auto& s : data) {
    points += s.timestamps_ms.size();
    first = std::min(first, s.timestamps_ms.front());
    last = std::max(last, s.timestamps_ms.back());
  }
  std::printf("sparse workload: %zu series, %llu points, %.1f years\n", data.size(),
              static_cast<unsigned long long>(points), (last - first) / 3.15576e10);

  const std::string dir = std::filesystem::temp_directory_path() / "kpidb-sparse-bench-XXXXXX";
  std::string templ = dir;
  if (::mkdtemp(templ.data()) == nullptr) return 1;
  int rc = 0;
  {
    auto opened = EngineCore::Open(templ + "/data", options);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
      return 1;
    }
    auto& engine = **opened;
    for (const auto& s : data) {
      for (size_t from = 0; from < s.timestamps_ms.size(); from += 10'000) {
        const size_t to = std::min(s.timestamps_ms.size(), from + 10'000);
        WriteBatch batch;
        SeriesPoints sp;
        sp.metric = s.metric;
        for (const auto& [n, v] : s.labels) sp.labels.push_back({n, v});
        sp.timestamps_ms.assign(s.timestamps_ms.begin() + from, s.timestamps_ms.begin() + to);
        sp.values.assign(s.values.begin() + from, s.values.begin() + to);
        batch.series.push_back(std::move(sp));
        Status st = engine.Write(batch);
        if (!st.ok()) {
          std::fprintf(stderr, "write: %s\n", st.ToString().c_str());
          return 1;
        }
      }
    }
    if (Status st = engine.Flush(); !st.ok()) return 1;
    Print("after flush", Measure(templ + "/data/segments"), DirBytes(templ + "/data"), points);
    if (Status st = engine.Compact(); !st.ok()) {
      std::fprintf(stderr, "compact: %s\n", st.ToString().c_str());
      return 1;
    }
    Print("after compact", Measure(templ + "/data/segments"), DirBytes(templ + "/data"), points);
    // Lossless: every bit back.
    uint64_t wrong = 0;
    for (const auto& s : data) {
      Labels labels;
      for (const auto& [n, v] : s.labels) labels.push_back({n, v});
      auto id = engine.FindSeries(s.metric, labels);
      auto got = id ? engine.Read(*id, INT64_MIN, INT64_MAX) : Result<SeriesData>(Status::NotFound("x"));
      if (!got.ok() || got->timestamps_ms != s.timestamps_ms) {
        ++wrong;
        continue;
      }
      for (size_t i = 0; i < s.values.size(); ++i) {
        wrong += std::bit_cast<uint64_t>(got->values[i]) != std::bit_cast<uint64_t>(s.values[i]);
      }
    }
    std::printf("read back: %s\n", wrong == 0 ? "every point, bit for bit" : "MISMATCH");
    rc = wrong == 0 ? 0 : 1;
  }
  std::filesystem::remove_all(templ);
  return rc;
}

}  // namespace
}  // namespace kpidb

int main(int argc, char** argv) { return kpidb::Run(argc, argv); }
