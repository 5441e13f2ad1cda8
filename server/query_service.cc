#include "server/query_service.h"

#include "server/convert.h"
#include "server/reactors.h"

namespace kpidb::server {

grpc::ServerWriteReactor<v1::QueryRangeResponse>* QueryServiceImpl::QueryRange(
    grpc::CallbackServerContext* context, const v1::QueryRangeRequest* request) {
  return NewQueryRangeReactor(ctx_, context, request);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListSeries(grpc::CallbackServerContext* context,
                                                       const v1::ListSeriesRequest* request,
                                                       v1::ListSeriesResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    KPIDB_ASSIGN_OR_RETURN(query::Selector selector, ToSelector(request->selector(), "selector"));
    size_t limit = ctx_.config.query_limits.max_series;
    if (request->limit() > 0) limit = std::min<size_t>(limit, request->limit());
    KPIDB_ASSIGN_OR_RETURN(std::vector<SeriesKey> keys, ctx_.engine.ListSeries(selector, limit));
    for (const SeriesKey& key : keys) {
      v1::SeriesKey* out = response->add_series();
      out->set_metric(key.metric);
      SetLabels(key.labels, out->mutable_labels());
    }
    return CheckResponseSize(*response, ctx_.config.max_response_message_bytes,
                             "narrow the selector or set limit");
  });
}

grpc::ServerUnaryReactor* QueryServiceImpl::LabelNames(grpc::CallbackServerContext* context,
                                                       const v1::LabelNamesRequest* request,
                                                       v1::LabelNamesResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    for (const std::string& name : ctx_.engine.LabelNames(request->metric())) {
      response->add_names(name);
    }
    return CheckResponseSize(*response, ctx_.config.max_response_message_bytes, "give a metric");
  });
}

grpc::ServerUnaryReactor* QueryServiceImpl::LabelValues(grpc::CallbackServerContext* context,
                                                        const v1::LabelValuesRequest* request,
                                                        v1::LabelValuesResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    if (request->name().empty()) return Status::InvalidArgument("name: required");
    for (const std::string& v : ctx_.engine.LabelValues(request->name(), request->metric())) {
      response->add_values(v);
    }
    return CheckResponseSize(*response, ctx_.config.max_response_message_bytes, "give a metric");
  });
}

}  // namespace kpidb::server
