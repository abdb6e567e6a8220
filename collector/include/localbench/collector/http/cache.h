// Response caching for the HTTP API. A table response is a pure function of
// (route, canonical request, representation, data version), so it is cached
// under that key and never invalidated: a new data version is a new key, and
// old keys age out of the LRU.
#ifndef LOCALBENCH_COLLECTOR_HTTP_CACHE_H_
#define LOCALBENCH_COLLECTOR_HTTP_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace localbench::collector::http {

// The key of one response: route pattern, the request's canonical form (its
// deterministic protobuf serialization, so `kind=bf16` and
// `kind=PRECISION_BF16`, or reordered parameters, are the same request), the
// representation ("json" or "csv") and the resolved data version.
std::string CacheKey(const std::string& route, const std::string& canonical_request,
                     const std::string& representation, std::int64_t data_version);

// A strong ETag for a cache key: a quoted hex SHA-256 prefix, stable across
// processes and collectors (a load balancer may send the next request to
// another one).
std::string ETagFor(const std::string& cache_key);

// True when an If-None-Match header value (a list of tags, or "*") matches
// `etag`; weak tags (W/"...") compare by their opaque part.
bool IfNoneMatchMatches(const std::string& header, const std::string& etag);

// One cached response.
struct CachedResponse {
  std::string body;
  std::string content_type;
  std::int64_t data_version = 0;  // for X-Data-Version
};

// A byte-bounded LRU of serialized responses. Thread-safe.
class ResponseCache {
 public:
  // Holds at most `max_bytes` of keys and bodies (0 disables caching).
  explicit ResponseCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The response under `key`, marked most recently used.
  std::shared_ptr<const CachedResponse> Get(const std::string& key);
  // Stores `value` under `key`, evicting the least recently used entries to
  // stay within the bound. A value bigger than the bound is not stored.
  void Put(const std::string& key, std::shared_ptr<const CachedResponse> value);

  // Bytes held now; entries held now.
  std::size_t bytes() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedResponse> value;
    std::size_t bytes;
  };
  const std::size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // front: most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  std::size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_CACHE_H_
