#include "localbench/collector/db_errors.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace localbench::collector {

absl::Status StatusFromDbError(const std::exception& e, absl::string_view doing) {
  // Order matters: in_doubt_error and the rollback classes are not sql_error
  // subclasses, but too_many_connections is a broken_connection.
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat(doing, ": commit outcome unknown, safe to retry: ", e.what()));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    // serialization_failure (40001), deadlock_detected (40P01) and the rest
    // of SQLSTATE class 40: PostgreSQL rolled the transaction back.
    return absl::AbortedError(absl::StrCat(doing, ": transaction rolled back by a conflict, retry: ", e.what()));
  }
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(doing, ": rejected by the database: ", e.what()));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat(doing, ": database connection lost: ", e.what()));
  }
  return absl::InternalError(absl::StrCat(doing, " failed: ", e.what()));
}

}  // namespace localbench::collector
