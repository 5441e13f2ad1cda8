// What resynchronising a damaged log costs (bench/README.md, "WAL
// resynchronisation"). The WAL files hold the reference workload as the
// engine's write leader frames it (4 batches of 1,000 points per group
// record, new series defined in their first record), round after round with
// the timestamps moved on, until the file reaches its size.
//   BM_ParseLog/version:V/MiB:M        ParseLog on an M MiB WAL file of format
//                                      V whose middle MiB is random bytes
//                                      (valid records follow: DATA_LOSS)
//   BM_ParseLogTornTail/version:V/MiB:M  16 MiB of records, then an M MiB
//                                      torn tail of random bytes
//   BM_OpenWithGarbage/version:V/MiB:M EngineCore::Open on a data dir holding
//                                      the first benchmark's file; it must
//                                      fail with DATA_LOSS naming the file and
//                                      offset (the time includes replaying the
//                                      records before the damage)
// Version 1 is the framing files written before version 2 still use: its
// scan is the old code, so its figures are the "before".
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <unordered_set>

#include "bench/engine_fixture.h"
#include "engine/index/series_index.h"
#include "engine/wal/record_log.h"
#include "engine/wal/wal.h"

namespace kpidb::bench {
namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kGroupBatches = 4;

// A WAL file (version 2) of about `bytes` bytes of real group records.
std::string BuildWal(size_t bytes) {
  const std::vector<WriteBatch>& batches = Batches();
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const WriteBatch& b : batches) {
    first = std::min(first, b.series[0].timestamps_ms.front());
    last = std::max(last, b.series[0].timestamps_ms.back());
  }
  const int64_t round_ms = last - first + 10'000;
  std::string file = LogFileHeader(std::string_view(kWalMagic, 8));
  std::unordered_set<std::string> defined;
  std::vector<int64_t> ts;
  for (int64_t round = 0; file.size() < bytes; ++round) {
    for (size_t i = 0; i < batches.size() && file.size() < bytes; i += kGroupBatches) {
      std::string members;
      uint32_t count = 0;
      for (size_t j = i; j < std::min(batches.size(), i + kGroupBatches); ++j, ++count) {
        const SeriesPoints& p = batches[j].series[0];
        const std::string canonical = SeriesKey{p.metric, p.labels}.Canonical();
        ts = p.timestamps_ms;
        for (int64_t& t : ts) t += round * round_ms;
        const size_t member = BeginWalGroupMember(&members);
        StartWalRecord(1, &members);
        const bool created = defined.insert(canonical).second;
        AppendWalSeries(HashCanonicalKey(canonical),
                        created ? std::string_view(canonical) : std::string_view(),
                        static_cast<uint32_t>(ts.size()), EncodeWalPoints(ts, p.values), &members);
        EndWalGroupMember(member, &members);
      }
      AppendLogRecord(kWalGroupRecord, WalGroupCount(count), members, &file);
    }
  }
  return file;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t r = rng();
    for (int b = 0; b < 8; ++b) out[i + static_cast<size_t>(b)] = static_cast<char>(r >> (8 * b));
  }
  return out;
}

// The same records in `version`.
std::string Reframe(const std::string& v2, uint32_t version) {
  if (version == 2) return v2;
  std::string out = LogFileHeader(std::string_view(kWalMagic, 8), version);
  for (const LogRecord& rec : ParseLog(v2, std::string_view(kWalMagic, 8)).records) {
    AppendLogRecordInVersion(version, rec.type, rec.payload, &out);
  }
  return out;
}

// An M MiB file of `version` whose middle MiB is overwritten by random bytes.
// With $KPIDB_WAL_BENCH_SAVE=dir each is also written to dir/v<V>-<M>MiB.log
// (to look at, or to time another build's reader on).
const std::string& GarbageInTheMiddle(uint32_t version, size_t mib) {
  static std::map<std::pair<uint32_t, size_t>, std::string> files;
  std::string& f = files[{version, mib}];
  if (f.empty()) {
    f = Reframe(BuildWal(mib * kMiB), version);
    f.replace(f.size() / 2 - kMiB / 2, kMiB, RandomBytes(kMiB, 2026));
    if (const char* dir = std::getenv("KPIDB_WAL_BENCH_SAVE")) {
      const std::string path =
          std::string(dir) + "/v" + std::to_string(version) + "-" + std::to_string(mib) + "MiB.log";
      if (!AtomicWriteFile(path, f).ok()) std::abort();
    }
  }
  return f;
}

void Report(benchmark::State& state, const std::string& file, const ParsedLog& p) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file.size()));
  state.counters["file_MiB"] = static_cast<double>(file.size()) / kMiB;
  state.counters["records_after_bad"] = static_cast<double>(p.records_after_bad);
  state.counters["resync_hashed_MiB"] = static_cast<double>(p.resync_hashed_bytes) / kMiB;
}

void BM_ParseLog(benchmark::State& state) {
  const auto version = static_cast<uint32_t>(state.range(0));
  const std::string& file = GarbageInTheMiddle(version, static_cast<size_t>(state.range(1)));
  ParsedLog p;
  for (auto _ : state) {
    p = ParseLog(file, std::string_view(kWalMagic, 8));
    benchmark::DoNotOptimize(p);
  }
  if (!p.valid_records_after_bad) state.SkipWithError("the damage was not found");
  Report(state, file, p);
}
BENCHMARK(BM_ParseLog)
    ->ArgNames({"version", "MiB"})
    ->Args({1, 4})
    ->Args({1, 16})
    ->Args({1, 64})
    ->Args({1, 300})
    ->Args({2, 4})
    ->Args({2, 16})
    ->Args({2, 64})
    ->Args({2, 300})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);

void BM_ParseLogTornTail(benchmark::State& state) {
  const auto version = static_cast<uint32_t>(state.range(0));
  const std::string file = Reframe(BuildWal(16 * kMiB), version) +
                           RandomBytes(static_cast<size_t>(state.range(1)) * kMiB, 7);
  ParsedLog p;
  for (auto _ : state) {
    p = ParseLog(file, std::string_view(kWalMagic, 8));
    benchmark::DoNotOptimize(p);
  }
  if (!p.bad_tail || p.valid_records_after_bad) state.SkipWithError("not a torn tail");
  Report(state, file, p);
}
BENCHMARK(BM_ParseLogTornTail)
    ->ArgNames({"version", "MiB"})
    ->ArgsProduct({{1}, {1, 4, 16}})
    ->ArgsProduct({{2}, {1, 16, 64, 256}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2);

void BM_OpenWithGarbage(benchmark::State& state) {
  const auto version = static_cast<uint32_t>(state.range(0));
  const std::string& file = GarbageInTheMiddle(version, static_cast<size_t>(state.range(1)));
  const ParsedLog parsed = ParseLog(file, std::string_view(kWalMagic, 8));
  EngineOptions o;
  o.logger = [](std::string_view) {};
  const std::string dir = FreshDir();
  if (!OpenOrDie(dir, o)->Close().ok()) std::abort();  // the layout: MANIFEST, series.log, wal/
  uint64_t number = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) {
    uint64_t n;
    if (ParseWalFileName(e.path().filename().string(), &n)) number = std::max(number, n + 1);
  }
  if (version == 2) {  // through the WAL writer, which writes the file header
    auto wal = WalWriter::Create(dir + "/wal", number);
    if (!wal.ok() || !(*wal)->Append(std::string_view(file).substr(kLogFileHeaderSize)).ok() ||
        !(*wal)->Sync().ok()) {
      std::abort();
    }
  } else if (!AtomicWriteFile(dir + "/wal/" + WalFileName(number), file).ok()) {
    std::abort();  // a file an older release wrote
  }
  const std::string want =
      WalFileName(number) + " at offset " + std::to_string(parsed.valid_bytes) + ": corrupt record";
  std::string message;
  for (auto _ : state) {
    auto e = EngineCore::Open(dir, o);
    if (e.ok() || e.status().code() != StatusCode::kDataLoss) std::abort();
    message = e.status().message();
  }
  if (message.find(want) == std::string::npos) {
    state.SkipWithError(("unexpected message: " + message).c_str());
  }
  std::fprintf(stderr, "EngineCore::Open: DATA_LOSS: %s\n", message.c_str());
  std::filesystem::remove_all(dir);
  Report(state, file, parsed);
}
BENCHMARK(BM_OpenWithGarbage)
    ->ArgNames({"version", "MiB"})
    ->Args({2, 300})
    ->Args({1, 300})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace
}  // namespace kpidb::bench

BENCHMARK_MAIN();
