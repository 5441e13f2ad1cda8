// Group commit: concurrent writers share one WAL append and one fdatasync.
//
//   WriteQueue::InFlight in_flight(queue);   // on entry to Write
//   PendingWrite w;  ...validate and encode, in the caller's thread...
//   Status s = queue.Submit(&w, [&](std::vector<PendingWrite*>& group) {
//     return CommitGroup(group);   // only the group's leader runs this
//   });
//
// Writers queue in arrival order; the front one leads: it takes the writers
// queued behind it (bounded in points and bytes), commits them as one group
// without the queue's lock, then wakes them with the group's status. With
// a group-commit wait, the leader first waits (up to that long) for the
// writers that have entered but not yet queued.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

// A write in the queue: prepared by its own thread, committed by the leader.
struct PendingWrite {
  const WriteBatch* batch = nullptr;
  std::vector<SeriesKey> keys;
  std::vector<std::string> canonicals;
  std::vector<std::string> encoded;  // WAL points per series
  std::vector<SeriesId> ids;         // set by the leader
  uint64_t points = 0;
  uint64_t record_bytes = 0;  // estimated size of its WAL record
  Status status;  // the leader's verdict for this writer alone (e.g. a limit)

 private:
  friend class WriteQueue;
  bool done = false;
  std::condition_variable cv;
};

// Thread-safe. Its lock (mu_) is a leaf: nothing is taken under it.
class WriteQueue {
 public:
  // A group holds at most this many points and record bytes (one WAL
  // record stays far below the record limit).
  static constexpr uint64_t kMaxGroupPoints = 4'000'000;
  static constexpr uint64_t kMaxGroupBytes = 256ull << 20;

  // `name`: for messages (the data dir). `group_commit_wait_us`: how long a
  // leader waits for writers that have entered but not yet queued (0: not).
  WriteQueue(std::string name, int64_t group_commit_wait_us);

  // Counts a writer from entry to return, so that a waiting leader knows
  // whom to wait for.
  class InFlight {
   public:
    explicit InFlight(WriteQueue& q) : n_(q.in_flight_) { n_.fetch_add(1); }
    ~InFlight() { n_.fetch_sub(1); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    std::atomic<int>& n_;
  };

  using CommitFn = std::function<Status(std::vector<PendingWrite*>& group)>;
  // Queues `w` and returns its status once its group is committed: its own
  // status if the leader set one, else the group's. UNAVAILABLE once
  // closed; the sticky error once poisoned.
  Status Submit(PendingWrite* w, const CommitFn& commit);

  // Every later Submit, and every writer still queued, fails with `error`
  // (a WAL write failed: the log's state is unknown). The first error sticks.
  void Poison(const Status& error);
  // Refuses new writers (UNAVAILABLE). False if it was closed already.
  bool Close();
  // Returns once the writers queued before Close have completed.
  void Drain();
  // UNAVAILABLE once closed.
  Status CheckOpen() const;

 private:
  const std::string name_;
  const int64_t group_commit_wait_us_;
  std::atomic<int> in_flight_{0};
  mutable std::mutex mu_;
  std::deque<PendingWrite*> writers_;  // under mu_; the front leads
  bool closed_ = false;                // under mu_
  Status error_;                       // under mu_; sticky
};

}  // namespace kpidb
