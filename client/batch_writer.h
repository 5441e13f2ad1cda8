// kpidb::BatchWriter: buffers points from any number of threads and writes
// them through a Client in the background, by size and by time.
//
// - Memory is bounded: at most `max_buffered_points` points are held
//   (buffered and in flight). When full, Add either blocks up to
//   `block_timeout` and then fails with RESOURCE_EXHAUSTED (kBlock, the
//   default), or drops the point at once, counts it and returns
//   RESOURCE_EXHAUSTED (kDrop).
// - UNAVAILABLE and DEADLINE_EXCEEDED are retried with exponential backoff
//   and full jitter for up to `max_retry_time` per batch (rewriting a point
//   is idempotent: last write wins). Other errors fail the batch at once.
//   Failed points are counted; Flush returns the latest failure.
// - Flush() waits until every point added before it was written or failed;
//   the destructor flushes (bounded by max_retry_time) and stops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "client/client.h"

namespace kpidb {

struct BatchWriterOptions {
  size_t max_batch_points = 50'000;                 // a write is sent at this size...
  std::chrono::milliseconds max_delay{200};         // ...or this long after its first point
  size_t max_buffered_points = 1'000'000;           // memory bound (buffered + in flight)
  enum class WhenFull { kBlock, kDrop } when_full = WhenFull::kBlock;
  std::chrono::milliseconds block_timeout{5'000};   // kBlock: longest Add waits for room
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{5'000};
  std::chrono::milliseconds max_retry_time{30'000};  // per batch, then its points fail
};

struct BatchWriterCounters {
  uint64_t points_added = 0;
  uint64_t points_sent = 0;      // acknowledged by the server
  uint64_t points_retried = 0;   // points in batches sent again (once per retry)
  uint64_t points_failed = 0;    // given up on (a rejected batch, or retries exhausted)
  uint64_t points_dropped = 0;   // refused by Add with kDrop
  uint64_t batches_sent = 0;
};

class BatchWriter {
 public:
  // `client` must outlive the writer.
  explicit BatchWriter(Client& client, BatchWriterOptions options = {});
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Thread-safe. Labels in any order. RESOURCE_EXHAUSTED when full (see above).
  Status Add(const std::string& metric, const Labels& labels, int64_t timestamp_ms, double value);
  // Sends everything added before the call and waits for it; OK, or the
  // latest failure since the previous Flush.
  Status Flush();
  BatchWriterCounters counters() const;
  size_t buffered_points() const;  // buffered + in flight

 private:
  void Run();
  Status SendWithRetries(const WriteBatch& batch, size_t points);

  Client& client_;
  const BatchWriterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;   // the sender: work, flush or stop
  std::condition_variable room_;   // Add (kBlock): room; Flush: progress
  std::map<std::string, SeriesPoints> buffer_;  // by series key
  size_t buffered_ = 0;            // points in buffer_
  size_t in_flight_ = 0;           // points being sent
  std::chrono::steady_clock::time_point first_buffered_;
  uint64_t added_seq_ = 0;         // points added, ever
  uint64_t done_seq_ = 0;          // points written or failed, ever
  uint64_t flush_target_ = 0;      // send at once while done_seq_ < this
  bool stop_ = false;
  Status last_error_;
  BatchWriterCounters counters_;
  std::thread sender_;
};

}  // namespace kpidb
