#include "server/write_service.h"

#include "server/convert.h"
#include "server/reactors.h"

namespace kpidb::server {

grpc::ServerUnaryReactor* WriteServiceImpl::Write(grpc::CallbackServerContext* context,
                                                  const v1::WriteRequest* request,
                                                  v1::WriteResponse* response) {
  return RunUnary(context, ctx_,
                  [this, request, response] { return ApplyWrite(ctx_.engine, *request, response); });
}

grpc::ServerReadReactor<v1::WriteRequest>* WriteServiceImpl::WriteStream(
    grpc::CallbackServerContext*, v1::WriteResponse* response) {
  return NewWriteStreamReactor(ctx_, response);
}

}  // namespace kpidb::server
