// End to end: the real kpidb-server, on loopback with an ephemeral port and
// a temporary data dir, driven through kpidb::Client. Data written comes
// back as a naive reference computes it, survives a restart and a SIGKILL
// (every acknowledged point), and bad input gets the documented status and
// message and changes nothing.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include "client/client.h"
#include "kpidb/v1/kpidb.grpc.pb.h"
#include "tests/server_process.h"
#include "tests/test_util.h"

namespace kpidb {
namespace {

using query::Aggregation;
using query::Query;
using query::ResultSeries;
using testing::ServerProcess;
using testing::TempDir;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kBase = 1'767'225'600'000;  // 2026-01-01

// series key string -> timestamp -> value, last write wins.
using Reference = std::map<std::string, std::map<int64_t, double>>;

std::unique_ptr<Client> Connect(const ServerProcess& server) {
  EXPECT_FALSE(server.address().empty()) << "the server did not start";
  auto c = Client::Connect(server.address());
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

// Random points for 6 series over 2 days, with out-of-order writes and
// rewrites, in batches; applied to the reference as acknowledged.
std::vector<WriteBatch> RandomBatches(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<WriteBatch> batches;
  for (int b = 0; b < 40; ++b) {
    WriteBatch batch;
    for (const char* channel : {"email", "search", "social"}) {
      for (const char* metric : {"kpi_visits", "kpi_revenue"}) {
        SeriesPoints sp{metric, {{"channel", channel}, {"region", "eu"}}, {}, {}};
        for (int i = 0; i < 50; ++i) {
          sp.timestamps_ms.push_back(kBase + std::uniform_int_distribution<int64_t>(0, 48 * 360)(rng) * 10'000);
          sp.values.push_back(std::round(std::uniform_real_distribution<double>(0, 1000)(rng) * 100) / 100);
        }
        batch.series.push_back(std::move(sp));
      }
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

void Apply(const WriteBatch& batch, Reference* ref) {
  for (const SeriesPoints& sp : batch.series) {
    SeriesKey key{sp.metric, sp.labels};
    std::sort(key.labels.begin(), key.labels.end());
    auto& points = (*ref)[key.ToString()];
    for (size_t i = 0; i < sp.timestamps_ms.size(); ++i) points[sp.timestamps_ms[i]] = sp.values[i];
  }
}

Query RawAll() {
  Query q;
  q.selector.metric = "";
  q.selector.matchers = {{"region", query::MatchOp::kEqual, "eu"}};
  q.start_ms = kBase - kHour;
  q.end_ms = kBase + 72 * kHour;
  return q;
}

// Every raw point the server returns equals the reference, bit for bit.
void ExpectRawEquals(Client& client, const Reference& ref) {
  auto got = client.QueryRange(RawAll());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  Reference back;
  for (const ResultSeries& r : *got) {
    auto& points = back[SeriesKey{r.metric, r.labels}.ToString()];
    for (size_t i = 0; i < r.timestamps_ms.size(); ++i) points[r.timestamps_ms[i]] = r.values[i];
  }
  ASSERT_EQ(back.size(), ref.size());
  for (const auto& [key, points] : ref) {
    ASSERT_EQ(back[key].size(), points.size()) << key;
    for (const auto& [t, v] : points) {
      ASSERT_EQ(std::bit_cast<uint64_t>(back[key][t]), std::bit_cast<uint64_t>(v)) << key << " @" << t;
    }
  }
}

TEST(ServerE2E, WritesQueriesAndPersistsAcrossARestart) {
  TempDir dir;
  Reference ref;
  const std::vector<WriteBatch> batches = RandomBatches(1);
  {
    ServerProcess server(dir.path());
    auto client = Connect(server);
    for (size_t i = 0; i < batches.size(); ++i) {
      if (i == 20) {
        ASSERT_TRUE(client->Flush().ok());  // half in segments, half in the WAL
      }
      auto w = client->Write(batches[i]);
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      EXPECT_EQ(w->points_written, 300u);
      Apply(batches[i], &ref);
    }
    ExpectRawEquals(*client, ref);

    // Hourly sums by channel, against the reference.
    Query q;
    q.selector.metric = "kpi_visits";
    q.start_ms = kBase;
    q.end_ms = kBase + 49 * kHour;
    q.step.step_ms = kHour;
    q.aggregation = Aggregation::kSum;
    q.group = true;
    q.group_by = {"channel"};
    auto got = client->QueryRange(q);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 3u);
    for (const ResultSeries& r : *got) {
      ASSERT_EQ(r.labels.size(), 1u);
      std::map<int64_t, double> want;
      for (const auto& [key, points] : ref) {
        if (key.rfind("kpi_visits{channel=\"" + r.labels[0].value + "\"", 0) != 0) continue;
        for (const auto& [t, v] : points) want[t - (t - kBase) % kHour] += v;
      }
      ASSERT_EQ(r.timestamps_ms.size(), want.size());
      size_t i = 0;
      for (const auto& [t, v] : want) {
        EXPECT_EQ(r.timestamps_ms[i], t);
        EXPECT_NEAR(r.values[i], v, 1e-9 * std::fabs(v));
        ++i;
      }
    }

    auto names = client->LabelNames("kpi_visits");
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, (std::vector<std::string>{"channel", "region"}));
    auto values = client->LabelValues("channel");
    ASSERT_TRUE(values.ok());
    EXPECT_EQ(*values, (std::vector<std::string>{"email", "search", "social"}));
    auto series = client->ListSeries({"kpi_revenue", {{"channel", query::MatchOp::kRegex, "e.*|s.*"}}});
    ASSERT_TRUE(series.ok());
    ASSERT_EQ(series->size(), 3u);
    EXPECT_EQ((*series)[0].ToString(), "kpi_revenue{channel=\"email\",region=\"eu\"}");
    auto stats = client->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->series, 6u);
    EXPECT_GE(stats->segments, 1u);
    EXPECT_GT(stats->bytes_on_disk, 0u);
    ASSERT_TRUE(client->Flush().ok());
    auto merged = client->Compact();  // two flushes: two segments per day merge into one
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    EXPECT_GT(*merged, 0u);
    ExpectRawEquals(*client, ref);
    // Delete kpi_revenue{channel="email"} on the first day.
    auto deleted = client->DeleteSeries({"kpi_revenue", {{"channel", query::MatchOp::kEqual, "email"}}},
                                        kBase, kBase + 24 * kHour);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    auto& email = ref["kpi_revenue{channel=\"email\",region=\"eu\"}"];
    uint64_t expected = 0;
    for (auto it = email.begin(); it != email.end() && it->first < kBase + 24 * kHour;) {
      ++expected;
      it = email.erase(it);
    }
    EXPECT_EQ(*deleted, expected);
    ExpectRawEquals(*client, ref);
    EXPECT_EQ(client->DeleteSeries({"", {}}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(server.Stop(), 0);  // clean shutdown
  }
  ServerProcess again(dir.path());
  auto client = Connect(again);
  ExpectRawEquals(*client, ref);
}

TEST(ServerE2E, WriteStreamAppliesEveryRequestInOrder) {
  TempDir dir;
  ServerProcess server(dir.path());
  auto client = Connect(server);
  const std::vector<WriteBatch> batches = RandomBatches(2);
  auto w = client->WriteStream(batches);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->requests, batches.size());
  EXPECT_EQ(w->points_written, 300u * batches.size());
  Reference ref;
  for (const WriteBatch& b : batches) Apply(b, &ref);
  ExpectRawEquals(*client, ref);
  // A bad request stops the stream; the ones before it stay applied.
  std::vector<WriteBatch> with_bad = {batches[0], batches[1]};
  with_bad[1].series[0].metric = "";
  auto bad = client->WriteStream(with_bad);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("requests[1]"), std::string::npos) << bad.status().message();
}

// A result of many messages, more than the worker path queues ahead of the
// network (4 MiB), streams whole both where a query runs: on gRPC's thread
// (estimated cheap) and on a worker.
TEST(ServerE2E, LargeResultsStreamWholeInlineAndOnWorkers) {
  for (const char* inline_points : {"100000000", "0"}) {
    SCOPED_TRACE(std::string("--inline-query-points ") + inline_points);
    TempDir dir;
    // 1 MiB response messages: 58,252 points of at most 18 bytes each.
    ServerProcess server(dir.path(), {"--inline-query-points", inline_points,
                                      "--max-response-message-bytes", "1048576"});
    auto client = Connect(server);
    Reference ref;
    for (int part = 0; part < 12; ++part) {
      WriteBatch batch;
      SeriesPoints sp{"kpi_big", {{"k", "v"}}, {}, {}};
      for (int i = 0; i < 50'000; ++i) {
        sp.timestamps_ms.push_back(kBase + (part * 50'000 + i) * 1000);
        sp.values.push_back(std::ldexp(static_cast<double>(i * 7919 % 100'003), -(i % 40)));
      }
      batch.series.push_back(std::move(sp));
      ASSERT_TRUE(client->Write(batch).ok());
      Apply(batch, &ref);
    }
    Query q;
    q.selector = {"kpi_big", {}};
    q.start_ms = kBase;
    q.end_ms = kBase + 700'000'000;
    size_t messages = 0;
    Reference back;
    Status s = client->QueryRange(q, [&](ResultSeries&& r) {
      ++messages;
      auto& points = back[SeriesKey{r.metric, r.labels}.ToString()];
      for (size_t i = 0; i < r.timestamps_ms.size(); ++i) points[r.timestamps_ms[i]] = r.values[i];
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(messages, 11u);  // 600,000 points (~8 MB) in messages of 58,252
    ASSERT_EQ(back, ref);
    auto stats = client->Stats();
    ASSERT_TRUE(stats.ok());
    const bool inline_run = std::string(inline_points) != "0";
    EXPECT_EQ(stats->queries_inline, inline_run ? 1u : 0u);
    EXPECT_EQ(stats->queries_on_workers, inline_run ? 0u : 1u);
  }
}

// The estimate that decides where a query runs counts what a fill returns:
// a few points filled into a million buckets go to a worker; the same query
// over a day's buckets, or without the fill, runs inline.
TEST(ServerE2E, AFilledQueryOverFewPointsRunsOnAWorker) {
  TempDir dir;
  ServerProcess server(dir.path());
  auto client = Connect(server);
  WriteBatch batch;
  batch.series.push_back({"kpi_few", {{"k", "v"}}, {kBase, kBase + 1000}, {1, 2}});
  ASSERT_TRUE(client->Write(batch).ok());
  Query q;
  q.selector = {"kpi_few", {}};
  q.start_ms = kBase;
  q.end_ms = kBase + 1'000'000;
  q.step.step_ms = 1;
  q.aggregation = Aggregation::kSum;
  q.fill = query::Fill::kZero;
  auto filled = client->QueryRange(q);
  ASSERT_TRUE(filled.ok()) << filled.status().ToString();
  ASSERT_EQ(filled->size(), 1u);
  EXPECT_EQ((*filled)[0].values.size(), 1'000'000u);
  EXPECT_EQ((*filled)[0].values[1000], 2);
  q.fill = query::Fill::kNone;
  ASSERT_TRUE(client->QueryRange(q).ok());
  q.fill = query::Fill::kZero;
  q.step.step_ms = kHour;
  q.end_ms = kBase + 24 * kHour;
  ASSERT_TRUE(client->QueryRange(q).ok());
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queries_on_workers, 1u);
  EXPECT_EQ(stats->queries_inline, 2u);
}

TEST(ServerE2E, EveryAcknowledgedPointSurvivesSigkillMidIngest) {
  TempDir dir;
  Reference acknowledged;
  for (int round = 0; round < 3; ++round) {
    ServerProcess server(dir.path(), {"--head-max-bytes", "200000"});  // flushes during ingest
    auto client = Connect(server);
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w] {
        const std::vector<WriteBatch> batches = RandomBatches(100 * round + w);
        for (const WriteBatch& b : batches) {
          if (stop) return;
          // Each writer its own series: the order of acknowledgements decides nothing.
          WriteBatch mine = b;
          for (SeriesPoints& sp : mine.series) sp.labels.push_back({"writer", std::to_string(w)});
          if (!client->Write(mine).ok()) return;  // the kill landed
          std::lock_guard lock(mu);
          Apply(mine, &acknowledged);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * round));
    server.Kill();
    stop = true;
    for (auto& t : writers) t.join();
  }
  ServerProcess server(dir.path());
  auto client = Connect(server);
  auto got = client->QueryRange(RawAll());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  Reference back;
  for (const ResultSeries& r : *got) {
    auto& points = back[SeriesKey{r.metric, r.labels}.ToString()];
    for (size_t i = 0; i < r.timestamps_ms.size(); ++i) points[r.timestamps_ms[i]] = r.values[i];
  }
  size_t checked = 0;
  for (const auto& [key, points] : acknowledged) {
    for (const auto& [t, v] : points) {
      // Present; its value may be a later one from the write that was in
      // flight at the kill (durable, just not acknowledged).
      ASSERT_TRUE(back[key].count(t)) << key << " @" << t << " lost";
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

// SIGTERM while writers write: the server stops taking calls, lets the ones
// in flight finish, syncs and exits 0. Every write either succeeds (and is
// there after a restart) or fails with UNAVAILABLE, never another code.
TEST(ServerE2E, SigtermMidIngestFinishesInFlightWritesAndLosesNothing) {
  TempDir dir;
  Reference acknowledged;
  std::map<StatusCode, std::string> failures;  // code -> a message
  int exit_status = -1;
  {
    ServerProcess server(dir.path(), {"--wal-sync", "always"});
    auto client = Connect(server);
    std::mutex mu;
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w] {
        const std::vector<WriteBatch> batches = RandomBatches(700 + w);
        for (int pass = 0; pass < 1000; ++pass) {
          for (const WriteBatch& b : batches) {
            WriteBatch mine = b;
            for (SeriesPoints& sp : mine.series) {
              sp.labels.push_back({"writer", std::to_string(w)});
              for (double& v : sp.values) v += pass;
            }
            auto r = client->Write(mine);
            std::lock_guard lock(mu);
            if (!r.ok()) {
              failures[r.status().code()] = r.status().ToString();
              return;
            }
            Apply(mine, &acknowledged);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    exit_status = server.Stop();
    for (auto& t : writers) t.join();
  }
  EXPECT_EQ(exit_status, 0);
  for (const auto& [code, message] : failures) EXPECT_EQ(code, StatusCode::kUnavailable) << message;
  ASSERT_FALSE(acknowledged.empty());
  ServerProcess again(dir.path());
  auto client = Connect(again);
  ExpectRawEquals(*client, acknowledged);
}

// A write stream whose client sends nothing more does not hold shutdown up:
// the server ends it with UNAVAILABLE at once, and what it applied stays.
TEST(ServerE2E, SigtermEndsAnIdleWriteStreamWithUnavailable) {
  TempDir dir;
  int exit_status = -1;
  {
    ServerProcess server(dir.path());
    ASSERT_FALSE(server.address().empty());
    auto stub = v1::WriteService::NewStub(
        grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::WriteResponse response;
    auto stream = stub->WriteStream(&context, &response);
    v1::WriteRequest request;
    v1::Series* series = request.add_series();
    series->set_metric("kpi_stream");
    series->add_timestamps_ms(kBase);
    series->add_values(42);
    ASSERT_TRUE(stream->Write(request));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // applied by now
    const auto start = std::chrono::steady_clock::now();
    std::thread stopper([&] { exit_status = server.Stop(); });
    const grpc::Status s = stream->Finish();  // the server ends it
    stopper.join();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_NE(s.error_message().find("requests[1] and later were not applied"), std::string::npos)
        << s.error_message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  EXPECT_EQ(exit_status, 0);
  ServerProcess again(dir.path());
  auto client = Connect(again);
  Query q;
  q.selector = {"kpi_stream", {}};
  q.start_ms = kBase;
  q.end_ms = kBase + 1;
  auto got = client->QueryRange(q);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].values, std::vector<double>{42});
}

class ServerErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(dir_.path(), std::vector<std::string>{
                                                               "--max-message-bytes", "1048576"});
    client_ = Connect(*server_);
  }
  Status WriteOne(SeriesPoints sp) {
    WriteBatch batch;
    batch.series.push_back({"kpi_ok", {{"channel", "web"}}, {kBase}, {1}});
    batch.series.push_back(std::move(sp));
    return client_->Write(batch).status();
  }
  void ExpectNothingWritten() {
    auto stats = client_->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->points, 0u);
  }
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ServerErrors, BadWritesGetInvalidArgumentNamingTheFieldAndChangeNothing) {
  struct Case {
    SeriesPoints series;
    std::string expect;  // in the message
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {{"", {}, {kBase}, {1}}, "series[1]"},
      {{"kpi_x", {{"1bad", "v"}}, {kBase}, {1}}, "series[1]"},
      {{"kpi_x", {}, {kBase, kBase + 1}, {1}}, "series[1]"},
      {{"kpi_x", {}, {kBase}, {nan}}, "point[0]"},
  };
  for (const Case& c : cases) {
    Status s = WriteOne(c.series);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
  ExpectNothingWritten();
}

TEST_F(ServerErrors, AnOversizedRequestIsResourceExhausted) {
  SeriesPoints big{"kpi_big", {}, {}, {}};
  for (int i = 0; i < 100'000; ++i) {
    big.timestamps_ms.push_back(kBase + i);
    big.values.push_back(i);
  }
  Status s = WriteOne(big);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  ExpectNothingWritten();
}

TEST_F(ServerErrors, BadQueriesGetInvalidArgumentNamingTheField) {
  // Through the generated stub, to send what the C++ client cannot: unknown
  // and missing enum values.
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::QueryService::NewStub(channel);
  auto run = [&](const v1::QueryRangeRequest& r) {
    grpc::ClientContext context;
    auto reader = stub->QueryRange(&context, r);
    v1::QueryRangeResponse m;
    while (reader->Read(&m)) {
    }
    return reader->Finish();
  };
  v1::QueryRangeRequest r;
  r.mutable_selector()->set_metric("kpi_visits");
  r.set_start_ms(kBase);
  r.set_end_ms(kBase + kHour);
  r.set_step_ms(60'000);
  grpc::Status s = run(r);  // no aggregation with a step
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("aggregation"), std::string::npos) << s.error_message();
  r.set_aggregation(static_cast<v1::Aggregation>(42));
  s = run(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("aggregation: unknown value 42"), std::string::npos) << s.error_message();
  r.set_aggregation(v1::AVG);
  r.set_fill(static_cast<v1::Fill>(9));
  s = run(r);
  EXPECT_NE(s.error_message().find("fill"), std::string::npos) << s.error_message();
  r.set_fill(v1::FILL_NONE);
  r.mutable_selector()->add_matchers()->set_name("channel");  // op missing
  s = run(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("selector.matchers[0].op"), std::string::npos) << s.error_message();

  // Through the client: the engine's own checks.
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = kBase + kHour;
  q.end_ms = kBase;
  auto bad = client_->QueryRange(q);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("end_ms"), std::string::npos) << bad.status().message();
  q.end_ms = kBase + 2 * kHour;
  q.selector.matchers = {{"channel", query::MatchOp::kRegex, "(unclosed"}};
  bad = client_->QueryRange(q);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // A selector matching nothing is no error: no series.
  q.selector.matchers = {{"channel", query::MatchOp::kEqual, "nowhere"}};
  auto none = client_->QueryRange(q);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST_F(ServerErrors, EveryQueryLimitTheClientOffersReachesTheServer) {
  WriteBatch batch;
  SeriesPoints sp{"kpi_visits", {{"channel", "web"}}, {}, {}};
  for (int i = 0; i < 200; ++i) {
    sp.timestamps_ms.push_back(kBase + i * 60'000);
    sp.values.push_back(i);
  }
  batch.series.push_back(sp);
  ASSERT_TRUE(client_->Write(batch).ok());
  Query q;
  q.selector.metric = "kpi_visits";
  q.start_ms = kBase;
  q.end_ms = kBase + 200 * 60'000;
  q.step.step_ms = 60'000;
  q.aggregation = query::Aggregation::kSum;
  q.limits.max_buckets = 10;  // the grid has 200
  auto r = client_->QueryRange(q);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("max_buckets (10)"), std::string::npos) << r.status().message();
  q.limits.max_buckets = 1'000'000;
  q.limits.max_memory_bytes = 100;
  r = client_->QueryRange(q);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("max_memory_bytes"), std::string::npos) << r.status().message();
  // use_precomputed = false reads every point: the same answer.
  q.limits.max_memory_bytes = 1u << 30;
  auto with = client_->QueryRange(q);
  q.use_precomputed = false;
  auto without = client_->QueryRange(q);
  ASSERT_TRUE(with.ok() && without.ok());
  ASSERT_EQ(with->size(), 1u);
  EXPECT_EQ((*with)[0].values, (*without)[0].values);
}

TEST(ServerE2E, AnUnreachableServerIsUnavailable) {
  auto client = Client::Connect("127.0.0.1:1", {.deadline = std::chrono::milliseconds(2000)});
  ASSERT_TRUE(client.ok());
  Status s = (*client)->Stats().status();
  EXPECT_TRUE(s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded)
      << s.ToString();
}

}  // namespace
}  // namespace kpidb
