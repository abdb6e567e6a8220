// The CPU backend's thread pool: every index exactly once, static split,
// nested calls run inline.
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/thread_pool.h"

namespace localbench::kernels {
namespace {

TEST(ThreadPool, CoversEveryIndexOnceWithContiguousParts) {
  ThreadPool pool(3);
  for (std::int64_t n : {1, 2, 3, 7, 100, 1001}) {
    for (std::int64_t grain : {1, 8, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::atomic<int> parts{0};
      pool.For(n, [&](std::int64_t b, std::int64_t e) {
        ASSERT_LT(b, e);
        ++parts;
        for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      }, grain);
      for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << n << " " << i;
      EXPECT_LE(parts.load(), 3);
      EXPECT_LE(parts.load(), std::max<std::int64_t>(1, n / grain));
    }
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<std::int64_t> sum{0};
  pool.For(10, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      pool.For(5, [&](std::int64_t b2, std::int64_t e2) { sum += (e2 - b2) * i; });
    }
  });
  EXPECT_EQ(sum.load(), 5 * 45);
}

// Many short jobs back to back: parts are claimed by whichever thread gets
// there first (the caller takes what no worker has started), and a worker
// waking late for a finished job must not touch the next one. Every index
// is still covered exactly once, and each part keeps its static range.
TEST(ThreadPool, ClaimedPartsKeepTheirRangesOverManyShortJobs) {
  ThreadPool pool(3);
  for (int job = 0; job < 3000; ++job) {
    const std::int64_t n = 3 + job % 7;
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    std::vector<std::atomic<std::int64_t>> starts(3);
    for (auto& s : starts) s = -1;
    pool.For(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      // The part whose range starts at b is part b * 3 / n (ranges n*p/3).
      for (int p = 0; p < 3; ++p) {
        if (n * p / 3 == b) starts[static_cast<std::size_t>(p)] = e;
      }
    });
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << job << " " << i;
    for (int p = 0; p < 3; ++p) ASSERT_EQ(starts[static_cast<std::size_t>(p)].load(), n * (p + 1) / 3) << job;
  }
}

}  // namespace
}  // namespace localbench::kernels
