#include "client/batch_writer.h"

#include <algorithm>
#include <random>

namespace kpidb {

BatchWriter::BatchWriter(Client& client, BatchWriterOptions options)
    : client_(client), options_(options), sender_([this] { Run(); }) {}

BatchWriter::~BatchWriter() {
  const Status flushed = Flush();  // failures are in the counters
  (void)flushed;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  sender_.join();
}

Status BatchWriter::Add(const std::string& metric, const Labels& labels, int64_t timestamp_ms,
                        double value) {
  std::unique_lock lock(mu_);
  if (buffered_ + in_flight_ >= options_.max_buffered_points) {
    if (options_.when_full == BatchWriterOptions::WhenFull::kDrop) {
      ++counters_.points_dropped;
      return Status::ResourceExhausted("batch writer full (" +
                                       std::to_string(options_.max_buffered_points) +
                                       " points): point dropped");
    }
    if (!room_.wait_for(lock, options_.block_timeout, [this] {
          return buffered_ + in_flight_ < options_.max_buffered_points;
        })) {
      return Status::ResourceExhausted("batch writer full (" +
                                       std::to_string(options_.max_buffered_points) +
                                       " points) for " + std::to_string(options_.block_timeout.count()) +
                                       " ms");
    }
  }
  SeriesKey key{metric, labels};
  std::sort(key.labels.begin(), key.labels.end());
  SeriesPoints& sp = buffer_[key.Canonical()];
  if (sp.metric.empty()) {
    sp.metric = metric;
    sp.labels = std::move(key.labels);
  }
  sp.timestamps_ms.push_back(timestamp_ms);
  sp.values.push_back(value);
  if (buffered_ == 0) first_buffered_ = std::chrono::steady_clock::now();
  ++buffered_;
  ++added_seq_;
  ++counters_.points_added;
  if (buffered_ >= options_.max_batch_points) wake_.notify_one();
  return Status::Ok();
}

Status BatchWriter::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = added_seq_;
  flush_target_ = std::max(flush_target_, target);
  wake_.notify_one();
  room_.wait(lock, [&] { return done_seq_ >= target; });
  Status s = last_error_;
  last_error_ = Status::Ok();
  return s;
}

BatchWriterCounters BatchWriter::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

size_t BatchWriter::buffered_points() const {
  std::lock_guard lock(mu_);
  return buffered_ + in_flight_;
}

void BatchWriter::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    const auto due = [this] {
      return buffered_ > 0 && (buffered_ >= options_.max_batch_points || done_seq_ < flush_target_ ||
                               std::chrono::steady_clock::now() - first_buffered_ >= options_.max_delay);
    };
    if (buffered_ == 0) {
      if (stop_) return;
      wake_.wait(lock, [&] { return stop_ || buffered_ > 0; });
      continue;
    }
    if (!due()) {
      wake_.wait_until(lock, first_buffered_ + options_.max_delay,
                       [&] { return stop_ || due(); });
      if (!due() && !stop_) continue;
    }
    // Take up to max_batch_points (a series may be split across batches).
    WriteBatch batch;
    size_t points = 0;
    for (auto it = buffer_.begin(); it != buffer_.end() && points < options_.max_batch_points;) {
      const size_t room = options_.max_batch_points - points;
      SeriesPoints& sp = it->second;
      if (sp.timestamps_ms.size() <= room) {
        points += sp.timestamps_ms.size();
        batch.series.push_back(std::move(sp));
        it = buffer_.erase(it);
        continue;
      }
      SeriesPoints& part = batch.series.emplace_back();
      part.metric = sp.metric;
      part.labels = sp.labels;
      part.timestamps_ms.assign(sp.timestamps_ms.begin(), sp.timestamps_ms.begin() + room);
      part.values.assign(sp.values.begin(), sp.values.begin() + room);
      sp.timestamps_ms.erase(sp.timestamps_ms.begin(), sp.timestamps_ms.begin() + room);
      sp.values.erase(sp.values.begin(), sp.values.begin() + room);
      points += room;
    }
    buffered_ -= points;
    in_flight_ = points;
    lock.unlock();
    Status s = SendWithRetries(batch, points);
    lock.lock();
    in_flight_ = 0;
    done_seq_ += points;
    if (s.ok()) {
      counters_.points_sent += points;
      ++counters_.batches_sent;
    } else {
      counters_.points_failed += points;
      last_error_ = s;
    }
    if (buffered_ > 0 && done_seq_ >= flush_target_) first_buffered_ = std::chrono::steady_clock::now();
    room_.notify_all();
  }
}

Status BatchWriter::SendWithRetries(const WriteBatch& batch, size_t points) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const auto give_up = std::chrono::steady_clock::now() + options_.max_retry_time;
  auto backoff = options_.initial_backoff;
  while (true) {
    Status s = client_.Write(batch).status();
    const bool retryable =
        s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
    if (s.ok() || !retryable) return s;
    // Full jitter: sleep uniformly in [0, backoff].
    const auto sleep = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, backoff.count())(rng));
    if (std::chrono::steady_clock::now() + sleep >= give_up) {
      return Status(s.code(), "gave up after retrying for " +
                                  std::to_string(options_.max_retry_time.count()) + " ms: " +
                                  s.message());
    }
    std::this_thread::sleep_for(sleep);
    {
      std::lock_guard lock(mu_);
      counters_.points_retried += points;
    }
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
}

}  // namespace kpidb
