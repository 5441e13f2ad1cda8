// Conversions between the kpidb.v1 messages and the engine's types, and the
// one mapping of engine Status codes to gRPC status codes (they are numbered
// alike; see engine/status.h).
#pragma once

#include <grpcpp/support/status.h>

#include "kpidb/query.h"
#include "kpidb/series.h"
#include "kpidb/status.h"
#include "kpidb/v1/kpidb.pb.h"

namespace kpidb::server {

grpc::Status ToGrpc(const Status& status);

// The engine batch of a request (validated by the engine on write).
WriteBatch ToWriteBatch(const v1::WriteRequest& request);

// INVALID_ARGUMENT naming the field for an unknown or missing enum value or
// a malformed selector; the limits are clamped to `server_max`.
Result<query::Query> ToQuery(const v1::QueryRangeRequest& request,
                             const query::QueryLimits& server_max);
Result<query::Selector> ToSelector(const v1::Selector& selector, std::string_view field);

void ToProto(const query::ResultSeries& series, v1::QueryRangeResponse* out);
void SetLabels(const Labels& labels, google::protobuf::RepeatedPtrField<v1::Label>* out);

}  // namespace kpidb::server
