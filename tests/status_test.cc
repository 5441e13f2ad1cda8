#include "kpidb/status.h"

#include <gtest/gtest.h>

#include "engine/common/coding.h"

namespace kpidb {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("x is odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  KPIDB_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

TEST(Status, ErrorsCarryCodeAndMessage) {
  Status s = Status::Corruption("/data/x.seg@12: bad checksum");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.ToString(), "DATA_LOSS: /data/x.seg@12: bad checksum");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Result, PropagatesTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "x is odd: 3");
}

TEST(Coding, VarintsRoundTripAndRejectTruncation) {
  std::string buf;
  const uint64_t values[] = {0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX};
  for (uint64_t v : values) PutVarint64(&buf, v);
  PutVarsint64(&buf, INT64_MIN);
  PutVarsint64(&buf, -1);
  ByteReader r(buf);
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(r.GetVarint64(&got));
    EXPECT_EQ(got, v);
  }
  int64_t s;
  ASSERT_TRUE(r.GetVarsint64(&s));
  EXPECT_EQ(s, INT64_MIN);
  ASSERT_TRUE(r.GetVarsint64(&s));
  EXPECT_EQ(s, -1);
  EXPECT_TRUE(r.empty());

  std::string cut;
  PutVarint64(&cut, UINT64_MAX);
  cut.pop_back();
  ByteReader truncated(cut);
  uint64_t got;
  EXPECT_FALSE(truncated.GetVarint64(&got));
  std::string overlong(11, '\xff');
  ByteReader bad(overlong);
  EXPECT_FALSE(bad.GetVarint64(&got));
}

// Codes are numbered as gRPC's, so a client turns any gRPC status into one:
// each of gRPC's 17 codes has its own name.
TEST(Status, EveryGrpcCodeHasItsName) {
  const char* names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                         "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                         "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                         "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  for (int code = 0; code <= 16; ++code) {
    EXPECT_STREQ(StatusCodeName(static_cast<StatusCode>(code)), names[code]) << code;
  }
  EXPECT_EQ(Status(StatusCode::kCancelled, "x").ToString(), "CANCELLED: x");
}

}  // namespace
}  // namespace kpidb
