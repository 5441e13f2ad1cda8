// kpidb.v1.QueryService: range queries (streamed) and the listings of series,
// label names and label values.
#pragma once

#include "kpidb/v1/kpidb.grpc.pb.h"
#include "server/server_context.h"

namespace kpidb::server {

class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  explicit QueryServiceImpl(ServerContext& ctx) : ctx_(ctx) {}
  grpc::ServerWriteReactor<v1::QueryRangeResponse>* QueryRange(
      grpc::CallbackServerContext* context, const v1::QueryRangeRequest* request) override;
  grpc::ServerUnaryReactor* ListSeries(grpc::CallbackServerContext* context,
                                       const v1::ListSeriesRequest* request,
                                       v1::ListSeriesResponse* response) override;
  grpc::ServerUnaryReactor* LabelNames(grpc::CallbackServerContext* context,
                                       const v1::LabelNamesRequest* request,
                                       v1::LabelNamesResponse* response) override;
  grpc::ServerUnaryReactor* LabelValues(grpc::CallbackServerContext* context,
                                        const v1::LabelValuesRequest* request,
                                        v1::LabelValuesResponse* response) override;

 private:
  ServerContext& ctx_;
};

}  // namespace kpidb::server
