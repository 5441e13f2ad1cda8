#include "engine/query/task_pool.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kpidb::query {
namespace {

class TaskPool {
 public:
  explicit TaskPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        std::unique_lock lock(mu_);
        while (true) {
          cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
          if (tasks_.empty()) return;
          std::function<void()> task = std::move(tasks_.front());
          tasks_.pop_front();
          lock.unlock();
          task();
          lock.lock();
        }
      });
    }
  }
  ~TaskPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  size_t size() const { return threads_.size(); }
  void Submit(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

TaskPool& Pool() {
  static TaskPool pool(std::max(2u, std::thread::hardware_concurrency()) - 1);
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
