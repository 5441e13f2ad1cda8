// Errors as values. A Status is either OK or carries a code and a message;
// Result<T> is a value or a non-OK Status. No exceptions cross module
// boundaries. Codes follow the canonical gRPC/Abseil numbering so the server
// maps them one to one, in one place.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace kpidb {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,  // not produced by the engine; a client may receive it
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,  // corruption: the message names the file and offset
  kUnauthenticated = 16,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  // A checksum mismatch or malformed file content. Name the file and offset.
  static Status Corruption(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  // An operating-system I/O failure (open, write, fsync...).
  static Status IOError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool IsCorruption() const { return code_ == StatusCode::kDataLoss; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value of type T, or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

const char* StatusCodeName(StatusCode code);

}  // namespace kpidb

#define KPIDB_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::kpidb::Status _kpidb_status = (expr);    \
    if (!_kpidb_status.ok()) return _kpidb_status; \
  } while (0)

#define KPIDB_CONCAT_INNER(a, b) a##b
#define KPIDB_CONCAT(a, b) KPIDB_CONCAT_INNER(a, b)
#define KPIDB_ASSIGN_OR_RETURN(lhs, expr) \
  KPIDB_ASSIGN_OR_RETURN_IMPL(KPIDB_CONCAT(_kpidb_result_, __LINE__), lhs, expr)
#define KPIDB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
