#include "localbench/collector/migrations.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/collector/log.h"
#include "localbench/common/crypto.h"

namespace localbench::collector {
namespace {

// Arbitrary constant naming "localbench schema migrations" among advisory locks.
constexpr long long kMigrationLockKey = 0x6c6f63616c62656e;  // "localben"

// Releases the session advisory lock however ApplyMigrations leaves.
class AdvisoryLock {
 public:
  explicit AdvisoryLock(pqxx::connection& conn) : conn_(conn) {
    pqxx::nontransaction tx(conn_);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (const std::exception&) {
      // The connection is gone, and the session lock went with it.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& conn_;
};

}  // namespace

absl::StatusOr<int> ApplyMigrations(pqxx::connection& conn, std::span<const Migration> migrations) {
  try {
    AdvisoryLock lock(conn);
    {
      pqxx::work tx(conn);
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY,"
          " name text NOT NULL,"
          " sql_sha256 text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    std::map<int, std::pair<std::string, std::string>> applied;  // version -> (name, sha)
    {
      pqxx::read_transaction tx(conn);
      for (const auto& row : tx.exec("SELECT version, name, sql_sha256 FROM schema_migrations")) {
        applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
      }
    }
    for (const auto& [version, entry] : applied) {
      if (migrations.empty() || version > migrations.back().version) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the database has migration ", entry.first,
            " which this collector does not know: it is older than the database"));
      }
    }
    int count = 0;
    int previous = 0;
    for (const Migration& m : migrations) {
      if (m.version <= previous) {
        return absl::InternalError(absl::StrCat("migration ", std::string(std::string(m.name)), " is out of order"));
      }
      previous = m.version;
      const std::string sha = Sha256Hex(m.sql);
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second.second != sha) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", std::string(std::string(m.name)), " was applied with different text (applied as ", it->second.first,
              "); migrations are append-only: add a new one instead of editing"));
        }
        continue;
      }
      pqxx::work tx(conn);
      tx.exec(std::string(m.sql));
      tx.exec_params("INSERT INTO schema_migrations (version, name, sql_sha256) VALUES ($1, $2, $3)",
                     m.version, std::string(m.name), sha);
      tx.commit();
      LogLine(absl::StrCat("applied migration ", std::string(m.name)));
      ++count;
    }
    return count;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("applying migrations failed: ", e.what()));
  }
}

}  // namespace localbench::collector
