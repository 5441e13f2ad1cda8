#include "engine/core/write_queue.h"

#include <chrono>
#include <thread>

namespace kpidb {

WriteQueue::WriteQueue(std::string name, int64_t group_commit_wait_us)
    : name_(std::move(name)), group_commit_wait_us_(group_commit_wait_us) {}

Status WriteQueue::Submit(PendingWrite* w, const CommitFn& commit) {
  std::unique_lock lock(mu_);
  if (closed_) return Status::Unavailable("engine " + name_ + " is closed");
  if (!error_.ok()) return error_;
  writers_.push_back(w);
  // Wake the front writer: if it leads and waits for its group to fill, this
  // arrival may complete it.
  if (writers_.front() != w) writers_.front()->cv.notify_one();
  w->cv.wait(lock, [&] { return w->done || writers_.front() == w; });
  if (w->done) return w->status;
  if (!error_.ok()) {
    // Queued behind a group whose WAL write failed: the log's state is
    // unknown, so this writer (and those behind it) must not append.
    writers_.pop_front();
    if (!writers_.empty()) writers_.front()->cv.notify_one();
    return error_;
  }

  if (group_commit_wait_us_ > 0) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(group_commit_wait_us_);
    while (writers_.size() < static_cast<size_t>(in_flight_.load()) &&
           w->cv.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
  }

  // This writer leads: it commits the group queued behind it.
  std::vector<PendingWrite*> group;
  try {
    group.reserve(writers_.size());
  } catch (const std::bad_alloc&) {
    writers_.pop_front();
    if (!writers_.empty()) writers_.front()->cv.notify_one();
    return Status::ResourceExhausted("out of memory forming a write group; nothing was written");
  }
  uint64_t group_points = 0;
  uint64_t group_bytes = 0;
  for (PendingWrite* g : writers_) {
    if (!group.empty() && (group_points + g->points > kMaxGroupPoints ||
                           group_bytes + g->record_bytes > kMaxGroupBytes)) {
      break;
    }
    group.push_back(g);
    group_points += g->points;
    group_bytes += g->record_bytes;
  }
  lock.unlock();
  const Status s = commit(group);
  lock.lock();
  for (PendingWrite* g : group) {
    writers_.pop_front();
    if (!s.ok()) g->status = s;
    g->done = true;
    if (g != w) g->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return w->status;
}

void WriteQueue::Poison(const Status& error) {
  std::lock_guard lock(mu_);
  if (error_.ok()) error_ = error;
}

bool WriteQueue::Close() {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  closed_ = true;
  return true;
}

void WriteQueue::Drain() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (writers_.empty()) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status WriteQueue::CheckOpen() const {
  std::lock_guard lock(mu_);
  if (closed_) return Status::Unavailable("engine " + name_ + " is closed");
  return Status::Ok();
}

}  // namespace kpidb
