// Durability: every write the engine acknowledged survives SIGKILL of the
// process at any moment, including during background flushes.
//
// A forked child opens the engine and writes batches from two threads; after
// each acknowledged write it sends the batch's number to the parent over a
// pipe. The parent kills it at a random moment, reopens the data dir and
// checks every acknowledged point, bit for bit. 24 rounds on one data dir;
// then 50 more with the background compactor merging after every flush;
// then 50 with a raw retention that expires each round's points in the
// next, so that kills land in the retention's rewrites too: every point
// is then either there, or expired with its rollup rows exact.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using query::Aggregation;

constexpr int kPointsPerBatch = 50;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kSanitizerSlowdown = 4;
#else
constexpr int kSanitizerSlowdown = 1;
#endif
constexpr int kSeries = 12;

std::string SeriesLabel(uint64_t batch) { return std::to_string(batch % kSeries); }
int64_t Timestamp(uint64_t batch, int i) {
  return static_cast<int64_t>(batch) * kPointsPerBatch + i;
}
double Value(uint64_t batch, int i) {
  return static_cast<double>(batch * 100 + static_cast<uint64_t>(i)) / 100.0 + 1e-9;
}

enum class Mode { kPlain, kCompacting, kRetaining };

// Rounds are this far apart in time (first_batch * kPointsPerBatch).
constexpr int64_t kRoundMs = 50'000'000;
// Retaining: raw points live 10,000 s (a round's points stay live through
// it, the previous rounds' have expired), rows of 1 s and 5 s for ever.
constexpr int64_t kRawRetentionMs = 10'000'000;
constexpr int64_t kRowStepMs = 1'000;

// The retaining child's clock: a minute past the newest batch it writes.
std::atomic<int64_t> child_clock_ms{0};

// `compacting`: the background compactor merges after every flush (two
// files make a merge, and every window is old: each flush rewrites the
// windows it wrote to), so that kills land mid-merge too.
EngineOptions ChildOptions(Mode mode) {
  const bool compacting = mode != Mode::kPlain;
  EngineOptions o;
  o.logger = [](std::string_view) {};
  o.head_max_bytes = 128 << 10;  // flush often, so kills land mid-flush too
  o.segment_partition_ms = 3'600'000;
  o.max_points_per_chunk = 128;
  o.auto_compaction = compacting;
  if (compacting) {
    o.compaction_trigger_files = 2;
    o.compaction_quiet_ms = 0;
    o.compaction_interval_ms = 5;
    // Small windows (a batch spans 50 ms), so that merges are many and
    // short: 5 s partitions, 10 s and 40 s windows.
    o.segment_partition_ms = 5'000;
    o.partition_level_factors = {2, 4};
    o.partition_merge_after_ms = 0;
  }
  if (mode == Mode::kRetaining) {
    o.raw_retention_ms = kRawRetentionMs;
    o.rollup_tiers_ms = {kRowStepMs, 5'000};
    o.wall_clock_ms = [] { return child_clock_ms.load(); };
  }
  return o;
}

// Sent on the ack pipe by a compacting child when a merge has written its
// file and is about to install it (the merge hook).
constexpr uint64_t kMergeMarker = UINT64_MAX;

[[noreturn]] void RunChild(const std::string& dir, Mode mode, uint64_t first_batch, int ack_fd) {
  const bool compacting = mode != Mode::kPlain;
  child_clock_ms = Timestamp(first_batch, 0) + 60'000;
  auto engine = EngineCore::Open(dir, ChildOptions(mode));
  if (!engine.ok()) {
    std::fprintf(stderr, "child: open failed: %s\n", engine.status().ToString().c_str());
    _exit(2);
  }
  if (compacting) {
    (*engine)->SetMergeHookForTest([ack_fd] {
      const uint64_t marker = kMergeMarker;
      if (::write(ack_fd, &marker, sizeof marker) != sizeof marker) _exit(4);
    });
  }
  auto writer = [&](uint64_t thread) {
    for (uint64_t k = 0; k < 20000; ++k) {
      const uint64_t batch = first_batch + k * 2 + thread;
      WriteBatch b;
      SeriesPoints p{"kpi_durable", {{"s", SeriesLabel(batch)}}, {}, {}};
      for (int i = 0; i < kPointsPerBatch; ++i) {
        p.timestamps_ms.push_back(Timestamp(batch, i));
        p.values.push_back(Value(batch, i));
      }
      b.series.push_back(std::move(p));
      int64_t clock = child_clock_ms.load();
      while (clock < Timestamp(batch, 0) + 60'000 &&
             !child_clock_ms.compare_exchange_weak(clock, Timestamp(batch, 0) + 60'000)) {
      }
      Status s = (*engine)->Write(b);
      if (!s.ok()) _exit(3);
      if (::write(ack_fd, &batch, sizeof batch) != sizeof batch) _exit(4);
    }
  };
  std::thread t0(writer, 0), t1(writer, 1);
  t0.join();
  t1.join();
  _exit(0);  // the parent normally kills us long before this
}

// Retaining: the points of rounds before `round` have expired; what is left
// of them, their 1 s rows, must count and bound exactly the points `truth`
// recorded while they were live.
void ExpectOnlyRowsOfEarlierRounds(const EngineCore& engine, int round,
                                   const std::map<std::string, std::map<int64_t, double>>& truth) {
  constexpr int64_t kRoundSpanMs = 4'000'000;  // 2 x 20,000 batches of 50 ms at most
  for (int earlier = 0; earlier < round; ++earlier) {
    const int64_t start = earlier * kRoundMs, end = start + kRoundSpanMs;
    for (Aggregation agg : {Aggregation::kCount, Aggregation::kMax, Aggregation::kFirst}) {
      query::Query q;
      q.selector.metric = "kpi_durable";
      q.start_ms = start;
      q.end_ms = end;
      q.step.step_ms = kRowStepMs;
      q.aggregation = agg;
      std::map<std::string, std::map<int64_t, double>> got;
      query::QueryStats stats;
      Status s = query::Execute(engine, q, [&](query::ResultSeries&& r) {
        auto& g = got[r.labels.at(0).value];
        for (size_t i = 0; i < r.timestamps_ms.size(); ++i) g[r.timestamps_ms[i]] = r.values[i];
        return Status::Ok();
      }, &stats);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_FALSE(stats.incomplete) << "round " << earlier;
      EXPECT_EQ(stats.points, 0u) << "raw points of expired round " << earlier << " were read";
      std::map<std::string, std::map<int64_t, double>> want;
      for (const auto& [label, points] : truth) {
        for (auto it = points.lower_bound(start); it != points.end() && it->first < end; ++it) {
          const int64_t b = it->first / kRowStepMs * kRowStepMs;
          auto slot = want[label].try_emplace(b, agg == Aggregation::kCount ? 0 : it->second).first;
          if (agg == Aggregation::kCount) slot->second += 1;
          if (agg == Aggregation::kMax) slot->second = std::max(slot->second, it->second);
        }
      }
      std::erase_if(want, [](const auto& entry) { return entry.second.empty(); });
      ASSERT_EQ(got, want) << "round " << earlier << ", aggregation " << static_cast<int>(agg);
    }
  }
}

// Kills a child writing to one data dir `rounds` times at random moments,
// and checks after each that every acknowledged point is there. Returns the
// acknowledged batches and how many merges of the children reached their
// install.
void KillAndRecover(int rounds, Mode mode, uint64_t seed, std::set<uint64_t>* acked_out,
                    size_t* merges) {
  const bool compacting = mode != Mode::kPlain;
  // Retaining: every point stored when its round was checked (live), by
  // series; later rounds check its rows against these.
  std::map<std::string, std::map<int64_t, double>> truth;
  testing::TempDir dir;
  std::mt19937_64 rng(seed);
  *merges = 0;
  std::set<uint64_t>& acked = *acked_out;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const uint64_t first_batch = static_cast<uint64_t>(round) * 1'000'000;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(dir.path(), mode, first_batch, fds[1]);
    }
    ::close(fds[1]);
    // A kill at a random moment; compacting, every other round instead a
    // kill within 20 ms of a merge reaching its install (the marker), so
    // that kills land around installs however slow the build is (it waits
    // at most 30 s for one).
    const int most_ms = compacting ? 600 * kSanitizerSlowdown : 300;
    const auto start = std::chrono::steady_clock::now();
    const auto kill_at = start + std::chrono::milliseconds(20 + static_cast<int>(rng() % most_ms));
    const bool after_merge = compacting && round % 2 == 1;
    const auto merge_delay = std::chrono::milliseconds(rng() % 20);
    std::optional<std::chrono::steady_clock::time_point> marker_at;
    auto read_acks = [&](int timeout_ms) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
      uint64_t batch;
      ssize_t n = ::read(fds[0], &batch, sizeof batch);
      if (n != sizeof batch) return false;  // EOF: child gone
      if (batch == kMergeMarker) {
        ++*merges;
        if (!marker_at) marker_at = std::chrono::steady_clock::now();
      } else {
        acked.insert(batch);
      }
      return true;
    };
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      if (!after_merge && now >= kill_at) break;
      if (after_merge && ((marker_at && now >= *marker_at + merge_delay) ||
                          now >= start + std::chrono::seconds(30))) {
        break;
      }
      read_acks(2);
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // An exit code would mean the child failed before being killed.
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (read_acks(0)) {
    }  // acks sent before the kill count too
    ::close(fds[0]);

    std::string log;
    EngineOptions o = ChildOptions(mode == Mode::kRetaining ? mode : Mode::kPlain);
    o.auto_compaction = false;
    o.logger = [&](std::string_view line) { log += std::string(line) + "\n"; };
    // Retaining: this round's points are live, the earlier rounds' expired.
    const int64_t check_clock = Timestamp(first_batch, 0) + 1'000'000;
    o.wall_clock_ms = [check_clock] { return check_clock; };
    auto engine = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    if (mode == Mode::kRetaining) {
      // Finish what the retention left (the kill may have cut it), then
      // check the earlier rounds: no raw point, and exact 1 s rows.
      ASSERT_TRUE((*engine)->Flush().ok());  // expired points the WAL still held get their rows
      ASSERT_TRUE((*engine)->Compact().ok());
      ExpectOnlyRowsOfEarlierRounds(**engine, round, truth);
    }
    std::map<std::string, std::map<int64_t, double>> stored;
    for (int s = 0; s < kSeries; ++s) {
      auto id = (*engine)->FindSeries("kpi_durable", {{"s", std::to_string(s)}});
      if (!id) continue;
      auto data = (*engine)->Read(*id, INT64_MIN, INT64_MAX);
      ASSERT_TRUE(data.ok()) << data.status().ToString();
      for (size_t i = 0; i < data->values.size(); ++i) {
        stored[std::to_string(s)][data->timestamps_ms[i]] = data->values[i];
      }
    }
    size_t missing = 0;
    for (uint64_t batch : acked) {
      // Retaining: earlier rounds' points have expired (their rows are checked).
      if (mode == Mode::kRetaining && batch < first_batch) continue;
      const auto& points = stored[SeriesLabel(batch)];
      for (int i = 0; i < kPointsPerBatch; ++i) {
        auto it = points.find(Timestamp(batch, i));
        const double want = Value(batch, i);
        if (it == points.end() || std::memcmp(&it->second, &want, sizeof want) != 0) {
          ++missing;
        }
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged batches; recovery log:\n"
                           << log;
    // Unacknowledged but durable batches may be there too, with exact values.
    for (const auto& [label, points] : stored) {
      for (const auto& [ts, v] : points) {
        const uint64_t batch = static_cast<uint64_t>(ts) / kPointsPerBatch;
        ASSERT_EQ(v, Value(batch, static_cast<int>(ts % kPointsPerBatch)));
        if (mode != Mode::kRetaining) continue;
        ASSERT_GE(ts, Timestamp(first_batch, 0)) << "a point of an earlier round came back";
        truth[label][ts] = v;
      }
    }
  }
}

TEST(Durability, RecoversEveryAcknowledgedBatchAfterSigkill) {
  size_t merges = 0;
  std::set<uint64_t> acked;
  KillAndRecover(24, Mode::kPlain, 20261123, &acked, &merges);
  EXPECT_GT(acked.size(), 100u) << "the child wrote too little for the test to mean much";
  std::printf("durability: %zu acknowledged batches over 24 kills, all recovered\n", acked.size());
}

TEST(Durability, RecoversEveryAcknowledgedBatchAfterSigkillDuringAutomaticCompaction) {
  size_t merges = 0;
  std::set<uint64_t> acked;
  KillAndRecover(50, Mode::kCompacting, 20261204, &acked, &merges);
  EXPECT_GT(acked.size(), 100u) << "the child wrote too little for the test to mean much";
  EXPECT_GE(merges, 25u) << "the compactor merged too little for the test to mean much";
  std::printf("durability: %zu acknowledged batches, %zu merges installing over 50 kills, all recovered\n",
              acked.size(), merges);
}

TEST(Durability, EveryPointIsThereOrExpiredWithExactRowsAfterSigkillDuringRetention) {
  size_t merges = 0;
  std::set<uint64_t> acked;
  KillAndRecover(50, Mode::kRetaining, 20261205, &acked, &merges);
  EXPECT_GT(acked.size(), 100u) << "the child wrote too little for the test to mean much";
  EXPECT_GE(merges, 25u) << "the compactor merged too little for the test to mean much";
  std::printf("durability: %zu acknowledged batches, %zu merges installing over 50 kills with "
              "retention, all recovered or expired with exact rows\n",
              acked.size(), merges);
}

}  // namespace
}  // namespace kpidb
