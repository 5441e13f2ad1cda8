// What kpidb-server's services share: the engine, the configuration, the
// worker pool, and the accounting of calls in flight that shutdown drains.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <vector>

#include "engine/common/worker_pool.h"
#include "kpidb/engine.h"
#include "server/config.h"

namespace kpidb::server {

// A client stream the server can end at shutdown when it waits for the
// client's next request (WriteStream).
class DrainableStream {
 public:
  virtual ~DrainableStream() = default;
  // Claims the stream if it waits for a request (no request being applied,
  // not finished): true means the caller must call FinishDraining().
  virtual bool ClaimIfWaiting() = 0;
  virtual void FinishDraining() = 0;
};

// What the services share.
struct ServerContext {
  Engine& engine;
  const ServerConfig& config;
  WorkerPool& pool;
  std::chrono::steady_clock::time_point started;
  // Set at SIGTERM/SIGINT: new calls (and the next request of a write
  // stream) get UNAVAILABLE while the calls in flight finish.
  std::atomic<bool> draining{false};
  // Calls accepted and not done; main waits for 0 before stopping gRPC.
  std::atomic<int> in_flight{0};
  // Range queries run on gRPC's thread and on the workers (Stats).
  std::atomic<uint64_t> queries_inline{0};
  std::atomic<uint64_t> queries_on_workers{0};

  // Counts a new call in flight, or returns false (draining: reject it).
  bool Enter() {
    if (draining) return false;
    ++in_flight;
    if (!draining) return true;  // main sets draining, then waits for 0
    --in_flight;
    return false;
  }
  void Leave() { --in_flight; }

  // Write streams alive, so that shutdown ends those waiting for a request
  // (UNAVAILABLE) instead of waiting for their clients.
  void AddStream(DrainableStream* s) {
    std::lock_guard lock(streams_mu);
    streams.insert(s);
  }
  void RemoveStream(DrainableStream* s) {
    std::lock_guard lock(streams_mu);
    streams.erase(s);
  }
  // REQUIRES draining. Ends the streams that wait for a request; one that
  // is applying one ends when it is applied.
  void FinishWaitingStreams() {
    std::vector<DrainableStream*> claimed;
    {
      std::lock_guard lock(streams_mu);
      for (DrainableStream* s : streams) {
        if (s->ClaimIfWaiting()) claimed.push_back(s);
      }
    }
    // Outside the lock: Finish may run reactions (OnDone, which removes the
    // stream) in this thread. A claimed stream is not deleted before it is
    // finished.
    for (DrainableStream* s : claimed) s->FinishDraining();
  }
  std::mutex streams_mu;
  std::set<DrainableStream*> streams;
};

}  // namespace kpidb::server
