#include "client/client.h"

#include <cstdlib>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "kpidb/v1/kpidb.grpc.pb.h"

namespace kpidb {
namespace {

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<StatusCode>(static_cast<int>(s.error_code())), s.error_message());
}

void ToProto(const query::Selector& in, v1::Selector* out) {
  out->set_metric(in.metric);
  for (const query::LabelMatcher& m : in.matchers) {
    v1::LabelMatcher* pm = out->add_matchers();
    pm->set_name(m.name);
    pm->set_value(m.value);
    switch (m.op) {
      case query::MatchOp::kEqual: pm->set_op(v1::EQ); break;
      case query::MatchOp::kNotEqual: pm->set_op(v1::NEQ); break;
      case query::MatchOp::kRegex: pm->set_op(v1::RE); break;
      case query::MatchOp::kNotRegex: pm->set_op(v1::NRE); break;
    }
  }
}

v1::Aggregation ToProto(query::Aggregation a) {
  switch (a) {
    case query::Aggregation::kAvg: return v1::AVG;
    case query::Aggregation::kSum: return v1::SUM;
    case query::Aggregation::kMin: return v1::MIN;
    case query::Aggregation::kMax: return v1::MAX;
    case query::Aggregation::kCount: return v1::COUNT;
    case query::Aggregation::kFirst: return v1::FIRST;
    case query::Aggregation::kLast: return v1::LAST;
    case query::Aggregation::kStddev: return v1::STDDEV;
    case query::Aggregation::kRate: return v1::RATE;
    case query::Aggregation::kIncrease: return v1::INCREASE;
  }
  return v1::AGGREGATION_UNSPECIFIED;
}

v1::Aggregation ToProto(query::CrossAggregation a) {
  switch (a) {
    case query::CrossAggregation::kSum: return v1::SUM;
    case query::CrossAggregation::kAvg: return v1::AVG;
    case query::CrossAggregation::kMin: return v1::MIN;
    case query::CrossAggregation::kMax: return v1::MAX;
    case query::CrossAggregation::kCount: return v1::COUNT;
  }
  return v1::AGGREGATION_UNSPECIFIED;
}

v1::QueryRangeRequest ToProto(const query::Query& q) {
  v1::QueryRangeRequest r;
  ToProto(q.selector, r.mutable_selector());
  r.set_start_ms(q.start_ms);
  r.set_end_ms(q.end_ms);
  r.set_step_ms(q.step.step_ms);
  switch (q.step.calendar) {
    case query::CalendarUnit::kNone: r.set_calendar_step(v1::CALENDAR_STEP_NONE); break;
    case query::CalendarUnit::kDay: r.set_calendar_step(v1::DAY); break;
    case query::CalendarUnit::kWeek: r.set_calendar_step(v1::WEEK); break;
    case query::CalendarUnit::kMonth: r.set_calendar_step(v1::MONTH); break;
    case query::CalendarUnit::kQuarter: r.set_calendar_step(v1::QUARTER); break;
    case query::CalendarUnit::kYear: r.set_calendar_step(v1::YEAR); break;
  }
  r.set_time_zone(q.step.time_zone);
  r.set_aggregation(ToProto(q.aggregation));
  r.set_group(q.group);
  for (const std::string& name : q.group_by) r.add_group_by(name);
  r.set_cross_aggregation(ToProto(q.cross));
  switch (q.fill) {
    case query::Fill::kNone: r.set_fill(v1::FILL_NONE); break;
    case query::Fill::kNull: r.set_fill(v1::FILL_NULL); break;
    case query::Fill::kZero: r.set_fill(v1::FILL_ZERO); break;
    case query::Fill::kPrevious: r.set_fill(v1::FILL_PREVIOUS); break;
    case query::Fill::kLinear: r.set_fill(v1::FILL_LINEAR); break;
  }
  if (q.denominator) ToProto(*q.denominator, r.mutable_denominator());
  r.set_timeout_ms(static_cast<uint32_t>(std::min<int64_t>(q.limits.timeout.count(), UINT32_MAX)));
  r.set_max_series(q.limits.max_series);
  r.set_max_points(q.limits.max_points);
  r.set_max_buckets(q.limits.max_buckets);
  r.set_max_memory_bytes(q.limits.max_memory_bytes);
  if (!q.use_precomputed) r.set_use_precomputed(false);
  return r;
}

v1::WriteRequest ToProto(const WriteBatch& batch) {
  v1::WriteRequest r;
  for (const SeriesPoints& s : batch.series) {
    v1::Series* out = r.add_series();
    out->set_metric(s.metric);
    for (const Label& l : s.labels) {
      v1::Label* label = out->add_labels();
      label->set_name(l.name);
      label->set_value(l.value);
    }
    out->mutable_timestamps_ms()->Add(s.timestamps_ms.begin(), s.timestamps_ms.end());
    out->mutable_values()->Add(s.values.begin(), s.values.end());
  }
  return r;
}

Labels FromProto(const google::protobuf::RepeatedPtrField<v1::Label>& labels) {
  Labels out;
  out.reserve(static_cast<size_t>(labels.size()));
  for (const v1::Label& l : labels) out.push_back({l.name(), l.value()});
  return out;
}

WriteResult FromProto(const v1::WriteResponse& r) {
  return {r.points_written(), r.series_written(), r.requests()};
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::WriteService::Stub> write;
  std::unique_ptr<v1::QueryService::Stub> query;
  std::unique_ptr<v1::AdminService::Stub> admin;

  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + options.deadline);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(const std::string& address,
                                                const ClientOptions& options) {
  if (address.empty()) return Status::InvalidArgument("address: empty");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(std::min<size_t>(options.max_message_bytes, INT32_MAX)));
  args.SetMaxSendMessageSize(static_cast<int>(std::min<size_t>(options.max_message_bytes, INT32_MAX)));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  impl->write = v1::WriteService::NewStub(impl->channel);
  impl->query = v1::QueryService::NewStub(impl->channel);
  impl->admin = v1::AdminService::NewStub(impl->channel);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<WriteResult> Client::Write(const WriteBatch& batch) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::WriteResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->write->Write(&context, ToProto(batch), &response)));
  return FromProto(response);
}

Result<WriteResult> Client::WriteStream(const std::vector<WriteBatch>& batches) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::WriteResponse response;
  auto writer = impl_->write->WriteStream(&context, &response);
  for (const WriteBatch& batch : batches) {
    if (!writer->Write(ToProto(batch))) break;  // the server ended the call: Finish says why
  }
  writer->WritesDone();
  KPIDB_RETURN_IF_ERROR(FromGrpc(writer->Finish()));
  return FromProto(response);
}

namespace {

// The query stats the server sends in a QueryRange's trailers.
void StatsFromTrailers(const grpc::ClientContext& context, query::QueryStats* stats) {
  *stats = query::QueryStats{};
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    const std::string k(key.data(), key.size());
    const std::string v(value.data(), value.size());
    auto number = [&] { return std::strtoull(v.c_str(), nullptr, 10); };
    if (k == "kpidb-series") stats->series = number();
    if (k == "kpidb-points-read") stats->points = number();
    if (k == "kpidb-chunk-stats") stats->chunk_stats = number();
    if (k == "kpidb-rollup-rows") stats->rollup_rows = number();
    if (k == "kpidb-raw-expired-before-ms") stats->raw_expired_before_ms = std::strtoll(v.c_str(), nullptr, 10);
    if (k == "kpidb-incomplete") stats->incomplete = v == "true";
    if (k == "kpidb-served-by" && v.rfind("rollup:", 0) == 0) {
      std::stringstream in(v.substr(7, v.find('+') == std::string::npos ? std::string::npos : v.find('+') - 7));
      std::string step;
      while (std::getline(in, step, ',')) stats->rollup_steps_ms.push_back(std::strtoll(step.c_str(), nullptr, 10));
    }
  }
}

}  // namespace

Status Client::QueryRange(const query::Query& q,
                          const std::function<Status(query::ResultSeries&&)>& sink,
                          query::QueryStats* stats) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  auto reader = impl_->query->QueryRange(&context, ToProto(q));
  v1::QueryRangeResponse message;
  Status sink_status;
  while (reader->Read(&message)) {
    query::ResultSeries r;
    r.metric = message.metric();
    r.labels = FromProto(message.labels());
    r.timestamps_ms.assign(message.timestamps_ms().begin(), message.timestamps_ms().end());
    r.values.assign(message.values().begin(), message.values().end());
    sink_status = sink(std::move(r));
    if (!sink_status.ok()) {
      context.TryCancel();
      break;
    }
  }
  Status s = FromGrpc(reader->Finish());
  if (stats != nullptr && s.ok() && sink_status.ok()) StatsFromTrailers(context, stats);
  return sink_status.ok() ? s : sink_status;
}

Result<std::vector<query::ResultSeries>> Client::QueryRange(const query::Query& q,
                                                           query::QueryStats* stats) {
  std::vector<query::ResultSeries> out;
  KPIDB_RETURN_IF_ERROR(QueryRange(q, [&out](query::ResultSeries&& r) {
    // A series larger than one message continues in the next ones.
    if (!out.empty() && out.back().metric == r.metric && out.back().labels == r.labels) {
      auto& last = out.back();
      last.timestamps_ms.insert(last.timestamps_ms.end(), r.timestamps_ms.begin(), r.timestamps_ms.end());
      last.values.insert(last.values.end(), r.values.begin(), r.values.end());
    } else {
      out.push_back(std::move(r));
    }
    return Status::Ok();
  }, stats));
  return out;
}

Result<std::vector<SeriesKey>> Client::ListSeries(const query::Selector& selector, uint64_t limit) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::ListSeriesRequest request;
  ToProto(selector, request.mutable_selector());
  request.set_limit(limit);
  v1::ListSeriesResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->query->ListSeries(&context, request, &response)));
  std::vector<SeriesKey> out;
  for (const v1::SeriesKey& k : response.series()) out.push_back({k.metric(), FromProto(k.labels())});
  return out;
}

Result<std::vector<std::string>> Client::LabelNames(std::string_view metric) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::LabelNamesRequest request;
  request.set_metric(std::string(metric));
  v1::LabelNamesResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->query->LabelNames(&context, request, &response)));
  return std::vector<std::string>(response.names().begin(), response.names().end());
}

Result<std::vector<std::string>> Client::LabelValues(std::string_view name, std::string_view metric) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::LabelValuesRequest request;
  request.set_name(std::string(name));
  request.set_metric(std::string(metric));
  v1::LabelValuesResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->query->LabelValues(&context, request, &response)));
  return std::vector<std::string>(response.values().begin(), response.values().end());
}

Result<ServerStats> Client::Stats() {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::StatsResponse r;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->admin->Stats(&context, v1::StatsRequest(), &r)));
  ServerStats s{r.series(),      r.points(),         r.segments(),      r.segment_bytes(),
                r.bytes_on_disk(), r.bytes_per_point(), r.wal_files(),    r.wal_bytes(),
                r.head_points(), r.head_bytes(),     r.flushes(),       r.uptime_seconds(),
                r.version(),     r.head_reserved_bytes(), r.queries_inline(),
                r.queries_on_workers(), {}, {}};
  const auto& c = r.compaction();
  s.compaction = {c.running(),       c.backlog(),          c.waiting(),
                  c.merges(),        c.files_merged(),     c.bytes_written(),
                  c.points_written(), c.last_merge_unix_ms(), c.last_merge_seconds(),
                  c.last_error(),    c.automatic()};
  s.points_written = r.points_written();
  const auto& rt = r.retention();
  s.retention.raw_retention_ms = rt.raw_retention_ms();
  s.retention.tier_steps_ms.assign(rt.tier_steps_ms().begin(), rt.tier_steps_ms().end());
  s.retention.tier_retention_ms.assign(rt.tier_retention_ms().begin(), rt.tier_retention_ms().end());
  s.retention.raw_expired_before_ms = rt.raw_expired_before_ms();
  s.retention.points_expired = rt.points_expired();
  s.retention.rewrites = rt.rewrites();
  return s;
}

Status Client::Flush() {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::FlushResponse response;
  return FromGrpc(impl_->admin->Flush(&context, v1::FlushRequest(), &response));
}

Result<uint64_t> Client::Compact() {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::CompactResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->admin->Compact(&context, v1::CompactRequest(), &response)));
  return response.segments_merged();
}

Status Client::StartCompaction() {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::CompactRequest request;
  request.set_background(true);
  v1::CompactResponse response;
  return FromGrpc(impl_->admin->Compact(&context, request, &response));
}

Result<SnapshotResult> Client::Snapshot(const std::string& dest_dir) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::SnapshotRequest request;
  request.set_dest_dir(dest_dir);
  v1::SnapshotResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->admin->Snapshot(&context, request, &response)));
  SnapshotResult out;
  out.segments = response.segments();
  out.segments_linked = response.segments_linked();
  out.wal_files = response.wal_files();
  out.bytes_copied = response.bytes_copied();
  return out;
}

Result<uint64_t> Client::DeleteSeries(const query::Selector& selector, int64_t start_ms,
                                      int64_t end_ms) {
  grpc::ClientContext context;
  impl_->Prepare(&context);
  v1::DeleteSeriesRequest request;
  ToProto(selector, request.mutable_selector());
  request.set_start_ms(start_ms);
  request.set_end_ms(end_ms);
  v1::DeleteSeriesResponse response;
  KPIDB_RETURN_IF_ERROR(FromGrpc(impl_->admin->DeleteSeries(&context, request, &response)));
  return response.points_deleted();
}

}  // namespace kpidb
