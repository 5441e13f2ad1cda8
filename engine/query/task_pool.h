// A process-wide pool of threads for query execution, so that a query does
// not pay for starting threads (tens of microseconds each here): queries
// whose whole cost is a few hundred microseconds would lose the gain of
// running in parallel.
#pragma once

#include <cstddef>
#include <functional>

namespace kpidb::query {

// Runs `work` on the calling thread and on up to `helpers` pool threads at
// once, returning when the caller's run and every helper run that started
// have returned (a helper that would start later, the pool being busy with
// another query, is skipped). `work` must be safe to run concurrently and
// share its work through its own counter, so that whoever runs finishes it.
void RunInParallel(size_t helpers, const std::function<void()>& work);

// The pool's size: hardware threads - 1, at least 1.
size_t PoolThreads();

}  // namespace kpidb::query
