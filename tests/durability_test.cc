// Durability: every write the engine acknowledged survives SIGKILL of the
// process at any moment, including during background flushes.
//
// A forked child opens the engine and writes batches from two threads; after
// each acknowledged write it sends the batch's number to the parent over a
// pipe. The parent kills it at a random moment, reopens the data dir and
// checks every acknowledged point, bit for bit. 24 rounds on one data dir;
// then 50 more with the background compactor merging after every flush.
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
#include "tests/test_util.h"

namespace kpidb {
namespace {

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

// `compacting`: the background compactor merges after every flush (two
// files make a merge, and every window is old: each flush rewrites the
// windows it wrote to), so that kills land mid-merge too.
EngineOptions ChildOptions(bool compacting) {
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
  return o;
}

// Sent on the ack pipe by a compacting child when a merge has written its
// file and is about to install it (the merge hook).
constexpr uint64_t kMergeMarker = UINT64_MAX;

[[noreturn]] void RunChild(const std::string& dir, bool compacting, uint64_t first_batch, int ack_fd) {
  auto engine = EngineCore::Open(dir, ChildOptions(compacting));
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

// Kills a child writing to one data dir `rounds` times at random moments,
// and checks after each that every acknowledged point is there. Returns the
// acknowledged batches and how many merges of the children reached their
// install.
void KillAndRecover(int rounds, bool compacting, uint64_t seed, std::set<uint64_t>* acked_out,
                    size_t* merges) {
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
      RunChild(dir.path(), compacting, first_batch, fds[1]);
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
    EngineOptions o = ChildOptions(/*compacting=*/false);
    o.logger = [&](std::string_view line) { log += std::string(line) + "\n"; };
    auto engine = EngineCore::Open(dir.path(), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
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
      }
    }
  }
}

TEST(Durability, RecoversEveryAcknowledgedBatchAfterSigkill) {
  size_t merges = 0;
  std::set<uint64_t> acked;
  KillAndRecover(24, /*compacting=*/false, 20261123, &acked, &merges);
  EXPECT_GT(acked.size(), 100u) << "the child wrote too little for the test to mean much";
  std::printf("durability: %zu acknowledged batches over 24 kills, all recovered\n", acked.size());
}

TEST(Durability, RecoversEveryAcknowledgedBatchAfterSigkillDuringAutomaticCompaction) {
  size_t merges = 0;
  std::set<uint64_t> acked;
  KillAndRecover(50, /*compacting=*/true, 20261204, &acked, &merges);
  EXPECT_GT(acked.size(), 100u) << "the child wrote too little for the test to mean much";
  EXPECT_GE(merges, 25u) << "the compactor merged too little for the test to mean much";
  std::printf("durability: %zu acknowledged batches, %zu merges installing over 50 kills, all recovered\n",
              acked.size(), merges);
}

}  // namespace
}  // namespace kpidb
