// kpidb.v1.AdminService: Stats, Flush, Compact, DeleteSeries, Snapshot.
#pragma once

#include "kpidb/v1/kpidb.grpc.pb.h"
#include "server/server_context.h"

namespace kpidb::server {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(ServerContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* context,
                                  const v1::FlushRequest* request,
                                  v1::FlushResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const v1::CompactRequest* request,
                                    v1::CompactResponse* response) override;
  grpc::ServerUnaryReactor* Snapshot(grpc::CallbackServerContext* context,
                                     const v1::SnapshotRequest* request,
                                     v1::SnapshotResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSeries(grpc::CallbackServerContext* context,
                                         const v1::DeleteSeriesRequest* request,
                                         v1::DeleteSeriesResponse* response) override;

 private:
  ServerContext& ctx_;
};

}  // namespace kpidb::server
