#include "server/reactors.h"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "server/convert.h"

namespace kpidb::server {

Status ShuttingDown() {
  return Status::Unavailable("the server is shutting down; retry later or elsewhere");
}

namespace {

// A unary call counted in flight until gRPC is done with it (its status
// sent), so that shutdown waits for exactly that.
class UnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryReactor(ServerContext& ctx) : ctx_(ctx) {}
  void OnDone() override {
    ctx_.Leave();
    delete this;
  }

 private:
  ServerContext& ctx_;
};

}  // namespace

grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, ServerContext& ctx,
                                   std::function<Status()> work) {
  if (!ctx.Enter()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpc(ShuttingDown()));
    return reactor;
  }
  auto* reactor = new UnaryReactor(ctx);
  ctx.pool.Submit([reactor, work = std::move(work)] { reactor->Finish(ToGrpc(work())); });
  return reactor;
}

// A unary response must fit in one message a default client can read.
Status CheckResponseSize(const google::protobuf::Message& response, size_t limit,
                         std::string_view narrow) {
  const size_t bytes = response.ByteSizeLong();
  if (bytes <= limit) return Status::Ok();
  return Status::ResourceExhausted("the response would be " + std::to_string(bytes) +
                                   " bytes, over max_response_message_bytes=" + std::to_string(limit) +
                                   "; " + std::string(narrow));
}

Status ApplyWrite(Engine& engine, const v1::WriteRequest& request, v1::WriteResponse* response) {
  const WriteBatch batch = ToWriteBatch(request);
  KPIDB_RETURN_IF_ERROR(engine.Write(batch));
  uint64_t points = 0;
  for (const SeriesPoints& s : batch.series) points += s.timestamps_ms.size();
  response->set_points_written(response->points_written() + points);
  response->set_series_written(response->series_written() + batch.series.size());
  response->set_requests(response->requests() + 1);
  return Status::Ok();
}

namespace {

// What served a query, for its kpidb-served-by trailer: "points" (points
// and chunk stats only), or "rollup:" and the steps of the tiers whose rows
// served, in ms ("rollup:3600000,86400000"), with "+points" when points were
// read too.
std::string ServedBy(const query::QueryStats& stats) {
  if (stats.rollup_steps_ms.empty()) return "points";
  std::string out = "rollup:";
  for (size_t i = 0; i < stats.rollup_steps_ms.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(stats.rollup_steps_ms[i]);
  }
  if (stats.points > 0) out += "+points";
  return out;
}

// How many points of `series` fit in one response message of at most
// `limit` bytes, at worst: a packed int64 takes at most 10 bytes, a double 8,
// and each packed field a tag and a length of at most 6 bytes.
size_t PointsPerMessage(const query::ResultSeries& series, size_t limit) {
  v1::QueryRangeResponse header;
  header.set_metric(series.metric);
  SetLabels(series.labels, header.mutable_labels());
  const size_t fixed = header.ByteSizeLong() + 2 * 6;
  return fixed + 18 < limit ? (limit - fixed) / 18 : 1;
}

// One client stream of write requests, applied in order on the workers.
// Who may finish it is settled by an atomic state, not a lock held across
// gRPC calls (those may run reactions in the calling thread):
//   kWaiting    a read is pending; OnReadDone or shutdown takes it over
//   kReadIssued the worker has started the next read but not yet said so
//               (only OnReadDone or that worker move it on)
//   kApplying   a worker applies a request
//   kFinished   Finish was called or is about to be, by whoever set it
// A worker between its StartRead and its last look at the state holds a
// reference, so that OnDone (which may come in between) does not free the
// reactor under it.
class WriteStreamReactor final : public grpc::ServerReadReactor<v1::WriteRequest>,
                                 public DrainableStream {
 public:
  WriteStreamReactor(ServerContext& ctx, v1::WriteResponse* response)
      : ctx_(ctx), response_(response) {
    if (!ctx_.Enter()) {
      state_ = kFinished;
      Finish(ToGrpc(ShuttingDown()));
      return;
    }
    entered_ = true;
    ctx_.AddStream(this);
    state_ = kWaiting;  // no read completes before the constructor returns
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    State cur = state_.load();
    const State next = ok && !ctx_.draining ? kApplying : kFinished;
    do {
      if (cur == kFinished) return;  // shutdown claimed it and finishes it
    } while (!state_.compare_exchange_weak(cur, next));
    if (!ok) {  // the client finished sending (or went away)
      Finish(grpc::Status::OK);
      return;
    }
    if (next == kFinished) {  // draining
      FinishDraining();
      return;
    }
    ctx_.pool.Submit([this] { Apply(); });
  }
  bool ClaimIfWaiting() override {
    State waiting = kWaiting;
    return state_.compare_exchange_strong(waiting, kFinished);
  }
  void FinishDraining() override {
    const Status s = ShuttingDown();
    Finish(ToGrpc(Status(s.code(), "requests[" + std::to_string(response_->requests()) +
                                       "] and later were not applied: " + s.message())));
  }
  void OnDone() override {
    if (entered_) {
      ctx_.RemoveStream(this);
      ctx_.Leave();
    }
    Unref();
  }

 private:
  enum State { kWaiting, kReadIssued, kApplying, kFinished };

  void Apply() {  // on a worker; state kApplying
    const uint64_t index = response_->requests();
    Status s = ApplyWrite(ctx_.engine, request_, response_);
    if (!s.ok()) {
      state_ = kFinished;
      Finish(ToGrpc(Status(s.code(), "requests[" + std::to_string(index) + "]: " + s.message())));
      return;
    }
    if (ctx_.draining) {
      state_ = kFinished;
      FinishDraining();
      return;
    }
    refs_.fetch_add(1);
    state_ = kReadIssued;
    StartRead(&request_);
    // Unless OnReadDone already took over, the read is now pending. If
    // shutdown began meanwhile it may have missed this stream: end it here.
    State issued = kReadIssued;
    if (state_.compare_exchange_strong(issued, kWaiting) && ctx_.draining && ClaimIfWaiting()) {
      FinishDraining();
    }
    Unref();
  }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  ServerContext& ctx_;
  bool entered_ = false;  // counted in flight, registered
  std::atomic<State> state_{kFinished};
  std::atomic<int> refs_{1};  // gRPC's (until OnDone), and a worker's around StartRead
  v1::WriteResponse* response_;
  v1::WriteRequest request_;
};

// Streams the results of one query. Execute runs on a worker and queues
// messages (at most kQueueBytes ahead of the network); each write's
// completion starts the next one from the queue on gRPC's thread, so a
// result of many series costs no thread hand-off per message. The last
// message goes out with the status (StartWriteAndFinish).
//
// A cheap query (ServerConfig::inline_query_points) runs right here on
// gRPC's thread instead: waking a worker and then gRPC's thread again costs
// more than such a query. Its messages are queued without a bound (the
// estimate bounds them), because the writes cannot start before the
// constructor returns.
class QueryRangeReactor final : public grpc::ServerWriteReactor<v1::QueryRangeResponse> {
 public:
  QueryRangeReactor(ServerContext& ctx, grpc::CallbackServerContext* call,
                    const v1::QueryRangeRequest* request)
      : ctx_(ctx), call_(call) {
    if (!ctx_.Enter()) {
      Produced(ShuttingDown());
      return;
    }
    entered_ = true;
    Result<query::Query> q = ToQuery(*request, ctx_.config.query_limits);
    if (!q.ok()) {
      Produced(q.status());
      return;
    }
    const uint64_t most = ctx_.config.inline_query_points;
    std::optional<uint64_t> points;
    if (most > 0) points = ctx_.engine.EstimateQueryPoints(*q, kInlineSeries, most, kInlineLookups);
    if (points && *points <= most) {
      inline_ = true;
      ++ctx_.queries_inline;
      Run(*q);
      return;
    }
    ++ctx_.queries_on_workers;
    ctx_.pool.Submit([this, q = std::move(q).value()] { Run(q); });
  }
  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) broken_ = true;
    cv_.notify_all();
    const Action next = NextLocked();
    lock.unlock();
    Perform(next);  // `this` may be deleted from here on
  }
  void OnCancel() override {
    std::unique_lock lock(mu_);
    broken_ = true;
    cv_.notify_all();
    const Action next = NextLocked();
    lock.unlock();
    Perform(next);  // `this` may be deleted from here on
  }
  void OnDone() override {
    if (entered_) ctx_.Leave();
    delete this;
  }

 private:
  static constexpr size_t kQueueBytes = 4u << 20;
  // What the estimate itself may cost on gRPC's thread.
  static constexpr size_t kInlineSeries = 64;
  static constexpr size_t kInlineLookups = 1024;  // (series, segment) pairs
  enum class Action { kNone, kWrite, kWriteAndFinish, kFinish };

  // REQUIRES mu_. What to start next, if anything; at most one write is in
  // flight, and Finish is issued once, only after Run produced everything
  // (so no thread touches the reactor after it).
  Action NextLocked() {
    if (writing_ || finished_) return Action::kNone;
    if (!broken_ && !queue_.empty()) {
      response_ = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= sizes_.front();
      sizes_.pop_front();
      writing_ = true;
      if (queue_.empty() && produced_all_ && final_.ok()) {
        finished_ = true;
        return Action::kWriteAndFinish;
      }
      return Action::kWrite;
    }
    if (produced_all_) {
      finished_ = true;
      return Action::kFinish;
    }
    return Action::kNone;
  }
  void Perform(Action action) {
    switch (action) {
      case Action::kNone: break;
      case Action::kWrite: StartWrite(&response_); break;
      case Action::kWriteAndFinish:
        StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
        break;
      case Action::kFinish:
        Finish(broken_ && final_.ok() ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")
                                      : ToGrpc(final_));
        break;
    }
  }

  Status Enqueue(v1::QueryRangeResponse&& message) {
    const size_t bytes = message.ByteSizeLong();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      return inline_ || broken_ || queued_bytes_ == 0 || queued_bytes_ + bytes <= kQueueBytes;
    });
    if (broken_) return Status::Unavailable("the client went away");
    queue_.push_back(std::move(message));
    sizes_.push_back(bytes);
    queued_bytes_ += bytes;
    const Action next = NextLocked();  // a write at most: Run has not finished
    lock.unlock();
    Perform(next);
    return Status::Ok();
  }

  void Run(const query::Query& q) {
    // A series larger than a message continues in the next messages, with
    // the same metric and labels: every message stays within
    // max_response_message_bytes, which a default gRPC client can read.
    query::QueryStats stats;
    Status s = ctx_.engine.Query(q, [&](query::ResultSeries&& r) -> Status {
      const size_t per_message = PointsPerMessage(r, ctx_.config.max_response_message_bytes);
      for (size_t from = 0; from == 0 || from < r.timestamps_ms.size(); from += per_message) {
        const size_t n = std::min(per_message, r.timestamps_ms.size() - from);
        v1::QueryRangeResponse message;
        if (n == r.timestamps_ms.size()) {
          ToProto(r, &message);
        } else {
          query::ResultSeries part{r.metric, r.labels, {}, {}};
          part.timestamps_ms.assign(r.timestamps_ms.begin() + from, r.timestamps_ms.begin() + from + n);
          part.values.assign(r.values.begin() + from, r.values.begin() + from + n);
          ToProto(part, &message);
        }
        KPIDB_RETURN_IF_ERROR(Enqueue(std::move(message)));
        if (n == r.timestamps_ms.size()) break;
      }
      return Status::Ok();
    }, &stats);
    // What served the query, in the trailers (before Finish, which
    // Produced allows): how many points were read one by one, and how many
    // chunks' stats and rollup rows stood in for points.
    if (s.ok()) {
      call_->AddTrailingMetadata("kpidb-series", std::to_string(stats.series));
      call_->AddTrailingMetadata("kpidb-points-read", std::to_string(stats.points));
      call_->AddTrailingMetadata("kpidb-chunk-stats", std::to_string(stats.chunk_stats));
      call_->AddTrailingMetadata("kpidb-rollup-rows", std::to_string(stats.rollup_rows));
      call_->AddTrailingMetadata("kpidb-served-by", ServedBy(stats));
      call_->AddTrailingMetadata("kpidb-raw-expired-before-ms",
                                 std::to_string(stats.raw_expired_before_ms));
      call_->AddTrailingMetadata("kpidb-incomplete", stats.incomplete ? "true" : "false");
    }
    Produced(s);  // `this` may be deleted from here on
  }

  // Everything is queued; `s` is the call's status.
  void Produced(const Status& s) {
    std::unique_lock lock(mu_);
    produced_all_ = true;
    final_ = s;
    const Action next = NextLocked();
    lock.unlock();
    Perform(next);  // `this` may be deleted from here on
  }

  ServerContext& ctx_;
  grpc::CallbackServerContext* const call_;
  bool entered_ = false;  // counted in flight
  bool inline_ = false;   // running on gRPC's thread, in the constructor
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::QueryRangeResponse> queue_;  // produced, not yet written
  std::deque<size_t> sizes_;
  size_t queued_bytes_ = 0;
  v1::QueryRangeResponse response_;  // being written
  bool writing_ = false;
  bool broken_ = false;
  bool produced_all_ = false;
  bool finished_ = false;
  Status final_;
};

}  // namespace

grpc::ServerReadReactor<v1::WriteRequest>* NewWriteStreamReactor(ServerContext& ctx,
                                                                 v1::WriteResponse* response) {
  return new WriteStreamReactor(ctx, response);
}

grpc::ServerWriteReactor<v1::QueryRangeResponse>* NewQueryRangeReactor(
    ServerContext& ctx, grpc::CallbackServerContext* call, const v1::QueryRangeRequest* request) {
  return new QueryRangeReactor(ctx, call, request);
}

}  // namespace kpidb::server
