#include "localbench/collector/http/cache.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "localbench/common/crypto.h"

namespace localbench::collector::http {

std::string CacheKey(const std::string& route, const std::string& canonical_request,
                     const std::string& representation, std::int64_t data_version) {
  // Length-prefixed parts: no two different tuples share a key.
  return absl::StrCat(route.size(), ":", route, "|", representation, "|", data_version, "|",
                      canonical_request.size(), ":", canonical_request);
}

std::string ETagFor(const std::string& cache_key) {
  return absl::StrCat("\"", Sha256Hex(cache_key).substr(0, 32), "\"");
}

bool IfNoneMatchMatches(const std::string& header, const std::string& etag) {
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    absl::string_view tag = absl::StripAsciiWhitespace(part);
    if (tag == "*") return true;
    if (absl::StartsWith(tag, "W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

std::shared_ptr<const CachedResponse> ResponseCache::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void ResponseCache::Put(const std::string& key, std::shared_ptr<const CachedResponse> value) {
  const std::size_t bytes = key.size() + value->body.size() + value->content_type.size();
  if (bytes > max_bytes_) return;
  absl::MutexLock lock(&mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (bytes_ + bytes > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::move(value), bytes});
  index_[key] = lru_.begin();
  bytes_ += bytes;
}

std::size_t ResponseCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

std::size_t ResponseCache::size() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace localbench::collector::http
