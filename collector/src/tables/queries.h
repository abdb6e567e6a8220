// The table SQL, embedded at build time from collector/queries/tables/*.sql
// (see collector/cmake/embed_table_queries.cmake).
#ifndef LOCALBENCH_COLLECTOR_SRC_TABLES_QUERIES_H_
#define LOCALBENCH_COLLECTOR_SRC_TABLES_QUERIES_H_

#include <span>

namespace localbench::collector::tables {

// One query file: its name without ".sql", and its text.
struct NamedQuery {
  const char* name;
  const char* sql;
};

// Every embedded query, in name order.
std::span<const NamedQuery> EmbeddedQueries();

}  // namespace localbench::collector::tables

#endif  // LOCALBENCH_COLLECTOR_SRC_TABLES_QUERIES_H_
