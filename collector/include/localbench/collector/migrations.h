// Schema migrations: schema/NNNN_name.sql, compiled into the binary and
// applied in order, each in its own transaction, recorded in
// schema_migrations.
#ifndef LOCALBENCH_COLLECTOR_MIGRATIONS_H_
#define LOCALBENCH_COLLECTOR_MIGRATIONS_H_

#include <span>
#include <string_view>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"

namespace localbench::collector {

// One migration file.
struct Migration {
  int version;            // NNNN from the file name; strictly increasing
  std::string_view name;  // file name without ".sql", e.g. "0001_initial"
  std::string_view sql;   // the file's text
};

// The migrations built into this binary, in version order.
std::span<const Migration> EmbeddedMigrations();

// Applies the migrations in `migrations` that `conn`'s database lacks, in
// order, each in its own transaction together with its schema_migrations row.
// Holds a PostgreSQL advisory lock throughout, so collectors starting at once
// never apply a migration twice. Fails (and applies nothing more) when an
// applied migration's text differs from ours: migrations are append-only.
// Returns how many were applied now.
absl::StatusOr<int> ApplyMigrations(pqxx::connection& conn,
                                    std::span<const Migration> migrations = EmbeddedMigrations());

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_MIGRATIONS_H_
