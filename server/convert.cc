#include "server/convert.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace kpidb::server {

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())),
                      status.message());
}

WriteBatch ToWriteBatch(const v1::WriteRequest& request) {
  WriteBatch batch;
  batch.series.reserve(static_cast<size_t>(request.series_size()));
  for (const v1::Series& s : request.series()) {
    SeriesPoints& out = batch.series.emplace_back();
    out.metric = s.metric();
    out.labels.reserve(static_cast<size_t>(s.labels_size()));
    for (const v1::Label& l : s.labels()) out.labels.push_back({l.name(), l.value()});
    out.timestamps_ms.assign(s.timestamps_ms().begin(), s.timestamps_ms().end());
    out.values.assign(s.values().begin(), s.values().end());
  }
  return batch;
}

namespace {

Status BadEnum(std::string_view field, int value) {
  return Status::InvalidArgument(std::string(field) + ": unknown value " + std::to_string(value));
}

Result<query::Aggregation> ToAggregation(v1::Aggregation a, std::string_view field) {
  switch (a) {
    case v1::AVG: return query::Aggregation::kAvg;
    case v1::SUM: return query::Aggregation::kSum;
    case v1::MIN: return query::Aggregation::kMin;
    case v1::MAX: return query::Aggregation::kMax;
    case v1::COUNT: return query::Aggregation::kCount;
    case v1::FIRST: return query::Aggregation::kFirst;
    case v1::LAST: return query::Aggregation::kLast;
    case v1::STDDEV: return query::Aggregation::kStddev;
    case v1::RATE: return query::Aggregation::kRate;
    case v1::INCREASE: return query::Aggregation::kIncrease;
    case v1::AGGREGATION_UNSPECIFIED:
      return Status::InvalidArgument(std::string(field) + ": required (AVG, SUM, MIN, MAX, COUNT, "
                                     "FIRST, LAST, STDDEV, RATE or INCREASE)");
    default: break;
  }
  return BadEnum(field, a);
}

Result<query::CrossAggregation> ToCross(v1::Aggregation a) {
  switch (a) {
    case v1::AGGREGATION_UNSPECIFIED:  // the default: sum
    case v1::SUM: return query::CrossAggregation::kSum;
    case v1::AVG: return query::CrossAggregation::kAvg;
    case v1::MIN: return query::CrossAggregation::kMin;
    case v1::MAX: return query::CrossAggregation::kMax;
    case v1::COUNT: return query::CrossAggregation::kCount;
    default: break;
  }
  return Status::InvalidArgument("cross_aggregation: " + std::to_string(a) +
                                 " is not one of SUM, AVG, MIN, MAX, COUNT");
}

}  // namespace

Result<query::Selector> ToSelector(const v1::Selector& selector, std::string_view field) {
  query::Selector out;
  out.metric = selector.metric();
  for (int i = 0; i < selector.matchers_size(); ++i) {
    const v1::LabelMatcher& m = selector.matchers(i);
    const std::string name = std::string(field) + ".matchers[" + std::to_string(i) + "].op";
    query::MatchOp op;
    switch (m.op()) {
      case v1::EQ: op = query::MatchOp::kEqual; break;
      case v1::NEQ: op = query::MatchOp::kNotEqual; break;
      case v1::RE: op = query::MatchOp::kRegex; break;
      case v1::NRE: op = query::MatchOp::kNotRegex; break;
      case v1::MATCH_OP_UNSPECIFIED:
        return Status::InvalidArgument(name + ": required (EQ, NEQ, RE or NRE)");
      default:
        return BadEnum(name, m.op());
    }
    out.matchers.push_back({m.name(), op, m.value()});
  }
  return out;
}

Result<query::Query> ToQuery(const v1::QueryRangeRequest& r, const query::QueryLimits& server_max) {
  query::Query q;
  KPIDB_ASSIGN_OR_RETURN(q.selector, ToSelector(r.selector(), "selector"));
  q.start_ms = r.start_ms();
  q.end_ms = r.end_ms();
  q.step.step_ms = r.step_ms();
  switch (r.calendar_step()) {
    case v1::CALENDAR_STEP_NONE: q.step.calendar = query::CalendarUnit::kNone; break;
    case v1::DAY: q.step.calendar = query::CalendarUnit::kDay; break;
    case v1::WEEK: q.step.calendar = query::CalendarUnit::kWeek; break;
    case v1::MONTH: q.step.calendar = query::CalendarUnit::kMonth; break;
    case v1::QUARTER: q.step.calendar = query::CalendarUnit::kQuarter; break;
    case v1::YEAR: q.step.calendar = query::CalendarUnit::kYear; break;
    default: return BadEnum("calendar_step", r.calendar_step());
  }
  if (!r.time_zone().empty()) q.step.time_zone = r.time_zone();
  const bool raw = q.step.step_ms == 0 && q.step.calendar == query::CalendarUnit::kNone;
  if (!raw || r.aggregation() != v1::AGGREGATION_UNSPECIFIED) {
    KPIDB_ASSIGN_OR_RETURN(q.aggregation, ToAggregation(r.aggregation(), "aggregation"));
  }
  q.group = r.group();
  q.group_by.assign(r.group_by().begin(), r.group_by().end());
  KPIDB_ASSIGN_OR_RETURN(q.cross, ToCross(r.cross_aggregation()));
  switch (r.fill()) {
    case v1::FILL_NONE: q.fill = query::Fill::kNone; break;
    case v1::FILL_NULL: q.fill = query::Fill::kNull; break;
    case v1::FILL_ZERO: q.fill = query::Fill::kZero; break;
    case v1::FILL_PREVIOUS: q.fill = query::Fill::kPrevious; break;
    case v1::FILL_LINEAR: q.fill = query::Fill::kLinear; break;
    default: return BadEnum("fill", r.fill());
  }
  if (r.has_denominator()) {
    KPIDB_ASSIGN_OR_RETURN(q.denominator, ToSelector(r.denominator(), "denominator"));
  }
  q.limits = server_max;
  if (r.timeout_ms() > 0) {
    q.limits.timeout = std::min(q.limits.timeout, std::chrono::milliseconds(r.timeout_ms()));
  }
  if (r.max_series() > 0) q.limits.max_series = std::min<size_t>(q.limits.max_series, r.max_series());
  if (r.max_points() > 0) q.limits.max_points = std::min<size_t>(q.limits.max_points, r.max_points());
  if (r.max_buckets() > 0) q.limits.max_buckets = std::min<size_t>(q.limits.max_buckets, r.max_buckets());
  if (r.max_memory_bytes() > 0) {
    q.limits.max_memory_bytes = std::min<size_t>(q.limits.max_memory_bytes, r.max_memory_bytes());
  }
  if (r.has_use_precomputed()) q.use_precomputed = r.use_precomputed();
  return q;
}

void SetLabels(const Labels& labels, google::protobuf::RepeatedPtrField<v1::Label>* out) {
  for (const Label& l : labels) {
    v1::Label* label = out->Add();
    label->set_name(l.name);
    label->set_value(l.value);
  }
}

void ToProto(const query::ResultSeries& series, v1::QueryRangeResponse* out) {
  out->set_metric(series.metric);
  SetLabels(series.labels, out->mutable_labels());
  out->mutable_timestamps_ms()->Add(series.timestamps_ms.begin(), series.timestamps_ms.end());
  out->mutable_values()->Add(series.values.begin(), series.values.end());
}

}  // namespace kpidb::server
