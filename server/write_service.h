// kpidb.v1.WriteService: Write (one request) and WriteStream (many, applied in
// order), both all or nothing per request and durable when acknowledged.
#pragma once

#include "kpidb/v1/kpidb.grpc.pb.h"
#include "server/server_context.h"

namespace kpidb::server {

class WriteServiceImpl final : public v1::WriteService::CallbackService {
 public:
  explicit WriteServiceImpl(ServerContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const v1::WriteRequest* request,
                                  v1::WriteResponse* response) override;
  grpc::ServerReadReactor<v1::WriteRequest>* WriteStream(grpc::CallbackServerContext* context,
                                                         v1::WriteResponse* response) override;

 private:
  ServerContext& ctx_;
};

}  // namespace kpidb::server
