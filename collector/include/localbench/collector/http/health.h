// Database look-ups the HTTP layer needs itself: the newest data version
// (one indexed single-row read per request, the only database work of a
// cached response) and the health check behind /healthz.
#ifndef LOCALBENCH_COLLECTOR_HTTP_HEALTH_H_
#define LOCALBENCH_COLLECTOR_HTTP_HEALTH_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"

namespace localbench::collector::http {

// What /healthz reports.
struct Health {
  bool ok = false;               // database reachable and schema current
  std::string json;              // the response body
};

// Reads through a small pool of its own, so a busy ingest pool never
// delays a health probe or a cached response.
class DatabaseProbe {
 public:
  // Opens `connections` connections to `db_url`.
  static absl::StatusOr<std::unique_ptr<DatabaseProbe>> Create(const std::string& db_url,
                                                               std::size_t connections);

  // The newest data version (0 before any public data); UNAVAILABLE when
  // the database cannot be reached.
  absl::StatusOr<std::int64_t> LatestVersion();

  // Database reachable and every migration built into this binary applied.
  Health Check();

 private:
  explicit DatabaseProbe(std::unique_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}
  std::unique_ptr<ConnectionPool> pool_;
};

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_HEALTH_H_
