// A small fixed thread pool with static partitioning. The index ranges are
// the same for the same (n, threads), and kernels never reduce across
// ranges, so results are bit-identical run to run whichever thread runs a
// range. Parts are claimed, not assigned: the caller takes any part no
// worker has started, so a worker the OS has descheduled (other processes
// on the same cores) delays nothing; it only costs that part's parallelism.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace localbench::kernels {

// Runs fn(begin, end) over a contiguous static split of [0, n).
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Worker count including the calling thread.
  int size() const { return threads_; }

  // Splits [0, n) into at most size() contiguous parts of at least
  // `min_grain` indices; the caller runs the first part and then every part
  // no worker has claimed yet. Returns when all parts are done. Calls from
  // inside a part run serially (no nesting).
  void For(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn,
           std::int64_t min_grain = 1) const;

 private:
  void WorkerLoop();
  // Runs part `part` of the current job (mu_ not held).
  static void RunPart(const std::function<void(std::int64_t, std::int64_t)>& fn, std::int64_t n, int parts,
                      int part);

  int threads_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;
  mutable std::condition_variable wake_;
  mutable std::condition_variable done_;
  mutable std::uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int next_part_ ABSL_GUARDED_BY(mu_) = 0;  // the next unclaimed part
  mutable int running_ ABSL_GUARDED_BY(mu_) = 0;    // parts claimed by workers, not yet done
  mutable int parts_ ABSL_GUARDED_BY(mu_) = 0;
  mutable std::int64_t n_ ABSL_GUARDED_BY(mu_) = 0;
  mutable const std::function<void(std::int64_t, std::int64_t)>* fn_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

namespace cpu {

// Runs everything on the calling thread (tests, tiny sizes): the serial
// counterpart of ThreadPool::For.
struct Serial {
  template <typename Fn>
  void For(std::int64_t n, Fn&& fn, std::int64_t /*grain*/ = 1) const {
    if (n > 0) fn(std::int64_t{0}, n);
  }
};

}  // namespace cpu

}  // namespace localbench::kernels
