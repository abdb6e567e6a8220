// Fixed thread pool with static, deterministic partitioning.
#include "cpu/thread_pool.h"

#include <algorithm>

namespace localbench::kernels {
namespace {
thread_local bool tls_in_pool = false;
}

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunPart(const std::function<void(std::int64_t, std::int64_t)>& fn, std::int64_t n, int parts,
                         int part) {
  const std::int64_t begin = n * part / parts;
  const std::int64_t end = n * (part + 1) / parts;
  if (begin < end) fn(begin, end);
}

void ThreadPool::For(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn,
                     std::int64_t min_grain) const {
  if (n <= 0) return;
  const std::int64_t max_parts = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_grain));
  const int parts = static_cast<int>(std::min<std::int64_t>(threads_, max_parts));
  if (parts == 1 || tls_in_pool) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    parts_ = parts;
    next_part_ = 1;  // part 0 is the caller's
    running_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  tls_in_pool = true;
  RunPart(fn, n, parts, 0);
  // Take whatever no worker has started yet.
  for (;;) {
    int part;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_part_ >= parts_) break;
      part = next_part_++;
    }
    RunPart(fn, n, parts, part);
  }
  tls_in_pool = false;
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return running_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop() {
  tls_in_pool = true;
  std::uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    // A worker that wakes late finds every part claimed and goes back to
    // sleep; the job's state is only read under mu_ while parts remain.
    while (next_part_ < parts_) {
      const int part = next_part_++;
      ++running_;
      const auto* fn = fn_;
      const std::int64_t n = n_;
      const int parts = parts_;
      lock.unlock();
      RunPart(*fn, n, parts, part);
      lock.lock();
      if (--running_ == 0) done_.notify_one();
    }
  }
}

}  // namespace localbench::kernels
