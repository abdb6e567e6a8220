// How a database failure reaches the client: one mapping for every store
// component, so the same PostgreSQL condition always gets the same status.
#ifndef LOCALBENCH_COLLECTOR_DB_ERRORS_H_
#define LOCALBENCH_COLLECTOR_DB_ERRORS_H_

#include <exception>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace localbench::collector {

// Maps an exception thrown by libpqxx while `doing` (e.g. "storing the
// submission") to a status: serialization failures and deadlocks are
// ABORTED (the transaction was rolled back; retrying is safe and usually
// succeeds), a lost connection or unknown commit outcome UNAVAILABLE,
// constraint and data errors INVALID_ARGUMENT (the schema's CHECKs are the
// last line behind validation), anything else INTERNAL.
absl::Status StatusFromDbError(const std::exception& e, absl::string_view doing);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_DB_ERRORS_H_
