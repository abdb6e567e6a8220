// Token-bucket rate limits keyed by a string (an agent token, a client
// address). Each key refills at `per_second` up to `burst`; a call takes
// one token or learns how long until one is there, which the collector
// sends as the `retry-after-ms` hint agents honour (ingest.proto).
#ifndef LOCALBENCH_COLLECTOR_RATE_LIMITER_H_
#define LOCALBENCH_COLLECTOR_RATE_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"

namespace localbench::collector {

// One limit: a sustained rate and the burst allowed on top of it.
struct RateRule {
  double per_second = 0;  // refill rate; 0 turns the limit off
  double burst = 1;       // bucket size (>= 1): calls allowed at once
};

// Thread-safe token buckets, one per key. Memory is bounded: beyond
// `max_keys` keys, buckets that have refilled (indistinguishable from new
// ones) are dropped first, then all (a flood of fresh keys cannot grow it).
class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` defaults to steady_clock::now; tests inject their own.
  explicit RateLimiter(RateRule rule, Clock clock = nullptr, std::size_t max_keys = 100000);

  // Takes a token for `key`: zero when the call may proceed, otherwise how
  // long until a token is there (at least 1 ms); nothing is taken then.
  std::chrono::milliseconds Take(std::string_view key);

  // False when the rule is off (every Take returns zero).
  bool enabled() const { return rule_.per_second > 0; }

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;  // when `tokens` was computed
  };
  void Prune(std::chrono::steady_clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateRule rule_;
  const Clock clock_;
  const std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_RATE_LIMITER_H_
