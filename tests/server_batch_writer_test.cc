// BatchWriter against the real kpidb-server: points added from several
// threads all arrive; writes are retried across a server restart; memory
// stays bounded while the server is down, blocking or dropping as chosen.
#include "client/batch_writer.h"

#include <thread>

#include "tests/server_process.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using testing::ServerProcess;
using testing::TempDir;

constexpr int64_t kBase = 1'767'225'600'000;

uint64_t PointsOnServer(Client& client) {
  query::Query q;
  q.selector.metric = "kpi_bw";
  q.start_ms = kBase;
  q.end_ms = kBase + 100'000'000;
  auto got = client.QueryRange(q);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  uint64_t n = 0;
  if (got.ok()) {
    for (const auto& r : *got) n += r.timestamps_ms.size();
  }
  return n;
}

TEST(BatchWriter, PointsFromManyThreadsAllArrive) {
  TempDir dir;
  ServerProcess server(dir.path());
  auto client = Client::Connect(server.address()).value();
  {
    BatchWriter writer(*client, {.max_batch_points = 1000, .max_delay = std::chrono::milliseconds(20)});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          ASSERT_TRUE(writer.Add("kpi_bw", {{"thread", std::to_string(t)}}, kBase + i * 1000, i).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(writer.Flush().ok());
    const BatchWriterCounters c = writer.counters();
    EXPECT_EQ(c.points_added, 20'000u);
    EXPECT_EQ(c.points_sent, 20'000u);
    EXPECT_EQ(c.points_failed, 0u);
    EXPECT_GE(c.batches_sent, 20u);
  }
  EXPECT_EQ(PointsOnServer(*client), 20'000u);
}

TEST(BatchWriter, RetriesAcrossAServerRestart) {
  TempDir dir;
  auto server = std::make_unique<ServerProcess>(dir.path());
  const std::string address = server->address();
  auto client = Client::Connect(address, {.deadline = std::chrono::milliseconds(1000)}).value();
  BatchWriter writer(*client, {.max_batch_points = 500,
                               .max_delay = std::chrono::milliseconds(10),
                               .max_retry_time = std::chrono::milliseconds(60'000)});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(writer.Add("kpi_bw", {}, kBase + i, i).ok());
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(server->Stop(), 0);
  // The server is down: these are retried until it is back.
  for (int i = 1000; i < 3000; ++i) ASSERT_TRUE(writer.Add("kpi_bw", {}, kBase + i, i).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_GT(writer.counters().points_retried, 0u);
  // Back on the same address (port).
  server = std::make_unique<ServerProcess>(
      dir.path(), std::vector<std::string>{"--listen", address});
  ASSERT_EQ(server->address(), address);
  ASSERT_TRUE(writer.Flush().ok());
  const BatchWriterCounters c = writer.counters();
  EXPECT_EQ(c.points_sent, 3000u);
  EXPECT_EQ(c.points_failed, 0u);
  EXPECT_EQ(PointsOnServer(*client), 3000u);
}

TEST(BatchWriter, MemoryStaysBoundedWhileTheServerIsDown) {
  TempDir dir;
  std::string address;
  {
    ServerProcess server(dir.path());
    address = server.address();
  }  // killed: nothing listens there now
  auto client = Client::Connect(address, {.deadline = std::chrono::milliseconds(200)}).value();
  {
    BatchWriter dropping(*client, {.max_batch_points = 100,
                                   .max_delay = std::chrono::milliseconds(5),
                                   .max_buffered_points = 1000,
                                   .when_full = BatchWriterOptions::WhenFull::kDrop,
                                   .max_retry_time = std::chrono::milliseconds(300)});
    size_t refused = 0;
    for (int i = 0; i < 5000; ++i) {
      Status s = dropping.Add("kpi_bw", {}, kBase + i, i);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
        ++refused;
      }
      ASSERT_LE(dropping.buffered_points(), 1000u);
    }
    EXPECT_GE(refused, 4000u);
    EXPECT_EQ(dropping.counters().points_dropped, refused);
    Status flushed = dropping.Flush();  // retries run out: the points fail, counted
    EXPECT_EQ(flushed.code(), StatusCode::kUnavailable) << flushed.ToString();
    const BatchWriterCounters c = dropping.counters();
    EXPECT_EQ(c.points_failed + c.points_sent, 5000u - refused);
    EXPECT_EQ(c.points_sent, 0u);
  }
  BatchWriter blocking(*client, {.max_batch_points = 100,
                                 .max_buffered_points = 100,
                                 .block_timeout = std::chrono::milliseconds(100),
                                 .max_retry_time = std::chrono::milliseconds(1'000)});
  Status s;
  for (int i = 0; i < 200 && s.ok(); ++i) s = blocking.Add("kpi_bw", {}, kBase + i, i);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_LE(blocking.buffered_points(), 100u);
}

}  // namespace
}  // namespace kpidb
