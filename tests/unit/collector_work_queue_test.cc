// The bounded queue in front of the collector's database workers.
#include <atomic>
#include <future>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/collector/work_queue.h"

namespace localbench::collector {
namespace {

TEST(WorkQueueTest, RefusesOnlyWhenFullAndRunsEverythingAccepted) {
  WorkQueue queue(/*workers=*/1, /*max_queued=*/3);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(queue.TryPush([&] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the worker holds the first job
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(queue.TryPush([&] { ++ran; })) << i;
  EXPECT_EQ(queue.queued(), 3u);
  EXPECT_FALSE(queue.TryPush([&] { ran += 100; }));  // full: dropped, never run
  EXPECT_EQ(queue.peak_queued(), 3u);
  release.set_value();
  queue.Stop();  // drains before joining
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(queue.TryPush([] {}));  // stopped
}

TEST(WorkQueueTest, WorkersRunJobsInParallel) {
  // Four jobs that each wait for all four to have started can only finish
  // on four workers at once.
  constexpr int kWorkers = 4;
  WorkQueue queue(kWorkers, 16);
  std::atomic<int> arrived{0};
  std::promise<void> all;
  std::shared_future<void> all_arrived = all.get_future().share();
  std::vector<std::promise<void>> done(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    ASSERT_TRUE(queue.TryPush([&, i] {
      if (++arrived == kWorkers) all.set_value();
      all_arrived.wait();
      done[static_cast<std::size_t>(i)].set_value();
    }));
  }
  for (auto& d : done) d.get_future().wait();
  EXPECT_EQ(arrived.load(), kWorkers);
}

}  // namespace
}  // namespace localbench::collector
