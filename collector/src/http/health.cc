#include "localbench/collector/http/health.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/migrations.h"

namespace localbench::collector::http {
namespace {

// A JSON string literal (messages from libpq may hold quotes and newlines).
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<std::unique_ptr<DatabaseProbe>> DatabaseProbe::Create(const std::string& db_url,
                                                                     std::size_t connections) {
  auto pool = ConnectionPool::Create(db_url, connections);
  if (!pool.ok()) return pool.status();
  return std::unique_ptr<DatabaseProbe>(new DatabaseProbe(*std::move(pool)));
}

absl::StatusOr<std::int64_t> DatabaseProbe::LatestVersion() {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::nontransaction tx(**lease);
    pqxx::result r = tx.exec("SELECT version FROM data_version_counter");
    return r.empty() ? std::int64_t{0} : r[0][0].as<std::int64_t>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("reading the data version: ", e.what()));
  }
}

Health DatabaseProbe::Check() {
  const int expected = EmbeddedMigrations().empty() ? 0 : EmbeddedMigrations().back().version;
  auto lease = pool_->Acquire();
  if (!lease.ok()) {
    return {false, absl::StrCat("{\"status\":\"unavailable\",\"database\":\"unreachable\",\"error\":",
                                JsonString(std::string(lease.status().message())), "}")};
  }
  try {
    pqxx::nontransaction tx(**lease);
    const int applied = tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
    pqxx::result v = tx.exec("SELECT version FROM data_version_counter");
    const std::int64_t version = v.empty() ? 0 : v[0][0].as<std::int64_t>();
    const bool ok = applied >= expected;
    return {ok, absl::StrCat("{\"status\":\"", ok ? "ok" : "unavailable", "\",\"database\":\"reachable\"",
                             ",\"schema_version\":", applied, ",\"expected_schema_version\":", expected,
                             ",\"data_version\":", version, "}")};
  } catch (const std::exception& e) {
    // E.g. schema_migrations missing: reachable, but not migrated.
    return {false, absl::StrCat("{\"status\":\"unavailable\",\"database\":\"error\",\"error\":",
                                JsonString(e.what()), "}")};
  }
}

}  // namespace localbench::collector::http
