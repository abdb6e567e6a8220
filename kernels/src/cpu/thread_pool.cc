// Fixed thread pool with static, deterministic partitioning.
#include "cpu/thread_pool.h"

#include <algorithm>

namespace localbench::kernels {
namespace {
thread_local bool tls_in_pool = false;
}

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
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
    pending_ = parts - 1;
    ++generation_;
  }
  wake_.notify_all();
  tls_in_pool = true;
  fn(0, n / parts);
  tls_in_pool = false;
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  tls_in_pool = true;
  std::uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    if (index >= parts_) continue;
    const auto* fn = fn_;
    const std::int64_t n = n_;
    const int parts = parts_;
    lock.unlock();
    const std::int64_t begin = n * index / parts;
    const std::int64_t end = n * (index + 1) / parts;
    if (begin < end) (*fn)(begin, end);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace localbench::kernels
