#include "localbench/collector/queries.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace localbench::collector {

std::string_view QuerySql(std::string_view name) {
  for (const NamedQuery& q : EmbeddedQueries()) {
    if (q.name == name) return q.sql;
  }
  std::fprintf(stderr, "localbench-collector: no embedded query %.*s.sql\n", static_cast<int>(name.size()),
               name.data());
  std::abort();
}

void PrepareQueries(pqxx::connection& conn, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) conn.prepare(std::string(name), std::string(QuerySql(name)));
}

}  // namespace localbench::collector
