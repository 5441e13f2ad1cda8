// Group commit on its own (engine/core/write_queue.h): writers queued while
// a leader commits form the next group, each writer gets its own verdict or
// the group's, a poisoned queue refuses every later write, and a closed one
// refuses new writers while those queued still complete.
#include "engine/core/write_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace kpidb {
namespace {

using namespace std::chrono_literals;

TEST(WriteQueue, WritersQueuedWhileALeaderCommitsFormTheNextGroupOfOne) {
  WriteQueue q("test", 0);
  std::promise<void> first_leads;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mu;
  std::vector<size_t> group_sizes;
  auto commit = [&](std::vector<PendingWrite*>& group) {
    {
      std::lock_guard lock(mu);
      group_sizes.push_back(group.size());
    }
    if (group_sizes.size() == 1) {
      first_leads.set_value();
      released.wait();  // hold the first group until the others queue
    }
    return Status::Ok();
  };
  PendingWrite w0;
  std::thread leader([&] { EXPECT_TRUE(q.Submit(&w0, commit).ok()); });
  first_leads.get_future().wait();
  constexpr int kOthers = 5;
  std::vector<PendingWrite> others(kOthers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOthers; ++i) {
    threads.emplace_back([&, i] { EXPECT_TRUE(q.Submit(&others[i], commit).ok()); });
  }
  // Let them all queue behind the busy leader, then let it finish.
  std::this_thread::sleep_for(200ms);
  release.set_value();
  leader.join();
  for (auto& t : threads) t.join();
  ASSERT_GE(group_sizes.size(), 2u);
  EXPECT_EQ(group_sizes[0], 1u);
  // The five queued while the first group was committed: one group.
  EXPECT_EQ(group_sizes[1], static_cast<size_t>(kOthers));
}

TEST(WriteQueue, AWritersOwnStatusWinsOverTheGroupsAndTheGroupsReachesTheRest) {
  WriteQueue q("test", 0);
  PendingWrite refused, fine;
  Status s = q.Submit(&refused, [&](std::vector<PendingWrite*>& group) {
    group[0]->status = Status::ResourceExhausted("max_series");
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  s = q.Submit(&fine, [&](std::vector<PendingWrite*>&) { return Status::Internal("disk"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

TEST(WriteQueue, APoisonedQueueRefusesEveryLaterWriteWithTheFirstError) {
  WriteQueue q("test", 0);
  q.Poison(Status::Internal("WAL write failed"));
  q.Poison(Status::Internal("a later one"));
  PendingWrite w;
  bool committed = false;
  Status s = q.Submit(&w, [&](std::vector<PendingWrite*>&) {
    committed = true;
    return Status::Ok();
  });
  EXPECT_FALSE(committed);
  EXPECT_NE(s.ToString().find("WAL write failed"), std::string::npos) << s.ToString();
}

TEST(WriteQueue, WritersQueuedBehindAGroupThatPoisonsTheQueueNeverCommit) {
  WriteQueue q("test", 0);
  std::promise<void> leads;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> commits{0};
  PendingWrite w0;
  std::thread leader([&] {
    Status s = q.Submit(&w0, [&](std::vector<PendingWrite*>&) {
      ++commits;
      leads.set_value();
      released.wait();
      q.Poison(Status::Internal("WAL write failed"));
      return Status::Internal("WAL write failed");
    });
    EXPECT_EQ(s.code(), StatusCode::kInternal);
  });
  leads.get_future().wait();
  std::vector<PendingWrite> queued(3);
  std::vector<std::thread> threads;
  for (auto& w : queued) {
    threads.emplace_back([&] {
      Status s = q.Submit(&w, [&](std::vector<PendingWrite*>&) {
        ++commits;
        return Status::Ok();
      });
      EXPECT_NE(s.ToString().find("WAL write failed"), std::string::npos) << s.ToString();
    });
  }
  std::this_thread::sleep_for(100ms);  // they queue behind the failing group
  release.set_value();
  leader.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(commits.load(), 1);  // none of them led a group to the log
}

TEST(WriteQueue, AClosedQueueRefusesNewWritersAndDrainsThoseQueued) {
  WriteQueue q("/data", 0);
  std::promise<void> leads;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  PendingWrite w0;
  std::thread leader([&] {
    EXPECT_TRUE(q.Submit(&w0, [&](std::vector<PendingWrite*>&) {
                   leads.set_value();
                   released.wait();
                   return Status::Ok();
                 }).ok());
  });
  leads.get_future().wait();
  EXPECT_TRUE(q.Close());
  EXPECT_FALSE(q.Close());  // once
  PendingWrite late;
  Status s = q.Submit(&late, [](std::vector<PendingWrite*>&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.ToString().find("/data"), std::string::npos);
  EXPECT_EQ(q.CheckOpen().code(), StatusCode::kUnavailable);
  std::atomic<bool> drained{false};
  std::thread drain([&] {
    q.Drain();
    drained = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(drained.load());  // the queued writer is still committing
  release.set_value();
  leader.join();
  drain.join();
  EXPECT_TRUE(drained.load());
}

TEST(WriteQueue, ALeaderWaitsForWritersThatEnteredButHaveNotQueuedYet) {
  WriteQueue q("test", 2'000'000);  // up to 2 s
  std::vector<size_t> group_sizes;
  std::mutex mu;
  auto commit = [&](std::vector<PendingWrite*>& group) {
    std::lock_guard lock(mu);
    group_sizes.push_back(group.size());
    return Status::Ok();
  };
  std::promise<void> entered;
  std::promise<void> go;
  std::shared_future<void> gone = go.get_future().share();
  PendingWrite w1;
  std::thread second([&] {
    WriteQueue::InFlight in(q);
    entered.set_value();
    gone.wait();  // "encoding" while the leader waits for it
    EXPECT_TRUE(q.Submit(&w1, commit).ok());
  });
  entered.get_future().wait();
  PendingWrite w0;
  std::thread first([&] {
    WriteQueue::InFlight in(q);
    EXPECT_TRUE(q.Submit(&w0, commit).ok());
  });
  std::this_thread::sleep_for(100ms);
  go.set_value();
  first.join();
  second.join();
  ASSERT_EQ(group_sizes.size(), 1u);  // one group: the leader waited
  EXPECT_EQ(group_sizes[0], 2u);
}

}  // namespace
}  // namespace kpidb
