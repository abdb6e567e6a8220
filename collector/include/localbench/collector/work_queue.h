// A bounded queue in front of a fixed set of worker threads: how the
// collector serves a burst of requests with bounded database concurrency.
#ifndef LOCALBENCH_COLLECTOR_WORK_QUEUE_H_
#define LOCALBENCH_COLLECTOR_WORK_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace localbench::collector {

// Runs jobs on `workers` threads in arrival order. At most `max_queued` jobs
// wait for a worker; TryPush refuses beyond that, so a burst is absorbed up
// to a known bound and overload is answered at once instead of piling up
// memory. gRPC's callback handlers push here and return, so they never block
// gRPC's own threads on the database.
class WorkQueue {
 public:
  // Starts the workers. Both counts must be >= 1.
  WorkQueue(int workers, std::size_t max_queued);

  // Stop()s.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job`; false (job dropped, not run) when max_queued jobs already
  // wait or the queue is stopping.
  bool TryPush(std::function<void()> job);

  // Refuses new jobs, runs every queued one, then joins the workers.
  // Idempotent.
  void Stop();

  // Jobs waiting for a worker now (not counting those running).
  std::size_t queued() const;

  // The most jobs that ever waited at once (for tests and logs).
  std::size_t peak_queued() const;

  // The depth given at construction.
  std::size_t max_queued() const { return max_queued_; }

 private:
  void Work();

  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  std::size_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // touched only by the owner's thread
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_WORK_QUEUE_H_
