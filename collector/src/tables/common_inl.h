// Template definitions for common.h (included from it only).
#ifndef LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_INL_H_
#define LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_INL_H_

#include <algorithm>
#include <exception>
#include <string>

#include "absl/strings/str_cat.h"

namespace localbench::collector::tables {

template <typename T>
absl::StatusOr<T> Read(ConnectionPool* pool, const VerifyRule& verify,
                       const std::function<absl::StatusOr<T>(Reader&)>& body) {
  auto lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    Reader rd(**lease, verify);
    return body(rd);
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(absl::StrCat("database connection lost: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("table query failed: ", e.what()));
  }
}

template <typename Row>
absl::Status SortRows(std::vector<Row>* rows, const std::string& sort, const std::string& field,
                      const std::map<std::string, std::function<double(const Row&)>, std::less<>>& keys) {
  if (sort.empty()) return absl::OkStatus();
  const bool descending = sort.front() == '-';
  const std::string name = descending ? sort.substr(1) : sort;
  auto it = keys.find(name);
  if (it == keys.end()) {
    std::string known;
    for (const auto& [k, unused] : keys) absl::StrAppend(&known, known.empty() ? "" : ", ", k);
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown sort column '", name, "' (expected one of: ", known, ")"));
  }
  const auto& key = it->second;
  std::stable_sort(rows->begin(), rows->end(), [&](const Row& a, const Row& b) {
    return descending ? key(b) < key(a) : key(a) < key(b);
  });
  return absl::OkStatus();
}

}  // namespace localbench::collector::tables

#endif  // LOCALBENCH_COLLECTOR_SRC_TABLES_COMMON_INL_H_
