#include "engine/query/task_pool.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/common/worker_pool.h"

namespace kpidb::query {
namespace {

WorkerPool& Pool() {
  static WorkerPool pool(std::max(2u, std::thread::hardware_concurrency()) - 1);
  return pool;
}

}  // namespace

size_t PoolThreads() { return Pool().size(); }

void RunInParallel(size_t helpers, const std::function<void()>& work) {
  helpers = std::min(helpers, Pool().size());
  // Helpers that start only after the caller is done (the pool was busy with
  // another query) return at once: the caller waits only for started ones.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t running = 0;
    bool closed = false;
  };
  auto shared = std::make_shared<Shared>();
  for (size_t i = 0; i < helpers; ++i) {
    Pool().Submit([shared, &work] {
      {
        std::lock_guard lock(shared->mu);
        if (shared->closed) return;
        ++shared->running;
      }
      work();
      std::lock_guard lock(shared->mu);
      if (--shared->running == 0) shared->cv.notify_all();
    });
  }
  work();
  std::unique_lock lock(shared->mu);
  shared->closed = true;
  shared->cv.wait(lock, [&] { return shared->running == 0; });
}

}  // namespace kpidb::query
