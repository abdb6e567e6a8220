#include "localbench/collector/work_queue.h"

#include <cstdio>
#include <cstdlib>

namespace localbench::collector {

WorkQueue::WorkQueue(int workers, std::size_t max_queued) : max_queued_(max_queued) {
  // Callers validate their options; zero here is a programming error.
  if (workers < 1 || max_queued < 1) {
    std::fprintf(stderr, "WorkQueue: needs >= 1 worker and >= 1 queue slot (got %d, %zu)\n", workers,
                 max_queued);
    std::abort();
  }
  threads_.reserve(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

WorkQueue::~WorkQueue() { Stop(); }

bool WorkQueue::TryPush(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
    if (jobs_.size() > peak_) peak_ = jobs_.size();
  }
  cv_.notify_one();
  return true;
}

void WorkQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::size_t WorkQueue::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

std::size_t WorkQueue::peak_queued() const {
  std::lock_guard lock(mu_);
  return peak_;
}

void WorkQueue::Work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      // Stopping still drains: every accepted job is run (each one finishes
      // a gRPC call, which the server waits for).
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace localbench::collector
