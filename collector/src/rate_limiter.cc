#include "localbench/collector/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace localbench::collector {

RateLimiter::RateLimiter(RateRule rule, Clock clock, std::size_t max_keys)
    : rule_(rule),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      max_keys_(std::max<std::size_t>(max_keys, 1)) {
  // Options are validated where they are read (flags, CollectorServer::Start).
  if (!(rule_.per_second >= 0) || !(rule_.burst >= 1) || !std::isfinite(rule_.per_second) ||
      !std::isfinite(rule_.burst)) {
    std::fprintf(stderr, "RateLimiter: invalid rule (%g/s, burst %g)\n", rule_.per_second, rule_.burst);
    std::abort();
  }
}

std::chrono::milliseconds RateLimiter::Take(std::string_view key) {
  if (!enabled()) return std::chrono::milliseconds(0);
  const auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) Prune(now);
    it = buckets_.emplace(std::string(key), Bucket{rule_.burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  if (elapsed > 0) b.tokens = std::min(rule_.burst, b.tokens + elapsed * rule_.per_second);
  b.at = std::max(b.at, now);
  // A hair of slack so float rounding of the refill never costs a token.
  constexpr double kSlack = 1e-9;
  if (b.tokens >= 1 - kSlack) {
    b.tokens = std::max(0.0, b.tokens - 1);
    return std::chrono::milliseconds(0);
  }
  const double wait_ms = std::ceil((1 - b.tokens) / rule_.per_second * 1000 - 1e-6);
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(std::min(wait_ms, 1e12))));
}

void RateLimiter::Prune(std::chrono::steady_clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.at).count();
    if (it->second.tokens + elapsed * rule_.per_second >= rule_.burst) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= max_keys_) buckets_.clear();
}

}  // namespace localbench::collector
