// The reactors of kpidb-server's calls, over gRPC's callback API: gRPC's
// threads never block on the engine. A unary call runs on a worker
// (RunUnary); a write stream applies its requests in order on the workers;
// a range query streams its result messages from a worker, or from gRPC's
// thread for a cheap query. Every call is counted in flight (ServerContext)
// until gRPC is done with it, so that shutdown waits for exactly those.
#pragma once

#include <functional>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "kpidb/status.h"
#include "kpidb/v1/kpidb.grpc.pb.h"
#include "server/server_context.h"

namespace kpidb::server {

// UNAVAILABLE, for a call that arrives while the server shuts down.
Status ShuttingDown();

// Runs `work` on the pool and finishes the unary call with its status.
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, ServerContext& ctx,
                                   std::function<Status()> work);

// RESOURCE_EXHAUSTED (saying to `narrow`) when a unary response would pass
// `limit` bytes: it must fit in one message a default client can read.
Status CheckResponseSize(const google::protobuf::Message& response, size_t limit,
                         std::string_view narrow);

// Applies one write request, adding its counts to *response.
Status ApplyWrite(Engine& engine, const v1::WriteRequest& request, v1::WriteResponse* response);

// A WriteStream call: its requests applied in order on the workers.
grpc::ServerReadReactor<v1::WriteRequest>* NewWriteStreamReactor(ServerContext& ctx,
                                                                 v1::WriteResponse* response);
// A QueryRange call: the result series streamed in messages of at most
// max_response_message_bytes; what served it in the trailers (kpidb-series,
// kpidb-points-read, kpidb-chunk-stats, kpidb-rollup-rows, kpidb-served-by,
// kpidb-raw-expired-before-ms, kpidb-incomplete).
grpc::ServerWriteReactor<v1::QueryRangeResponse>* NewQueryRangeReactor(
    ServerContext& ctx, grpc::CallbackServerContext* call, const v1::QueryRangeRequest* request);

}  // namespace kpidb::server
