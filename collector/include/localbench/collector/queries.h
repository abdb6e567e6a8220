// The collector's SQL statements, one per file in collector/queries/,
// embedded at build time (collector/cmake/embed_queries.cmake) the way
// schema/ migrations are. A statement is prepared on each connection under
// its file name, so code and logs name the file a reader opens.
#ifndef LOCALBENCH_COLLECTOR_QUERIES_H_
#define LOCALBENCH_COLLECTOR_QUERIES_H_

#include <initializer_list>
#include <span>
#include <string_view>

#include <pqxx/pqxx>

namespace localbench::collector {

// One collector/queries/<name>.sql file.
struct NamedQuery {
  std::string_view name;  // file name without .sql
  std::string_view sql;   // its text
};

// Every embedded query, sorted by name.
std::span<const NamedQuery> EmbeddedQueries();

// The text of queries/<name>.sql. A missing name is a build defect (the
// file was renamed or never added), so it aborts rather than returning.
std::string_view QuerySql(std::string_view name);

// Prepares each named query on `conn` under its own name.
void PrepareQueries(pqxx::connection& conn, std::initializer_list<std::string_view> names);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_QUERIES_H_
