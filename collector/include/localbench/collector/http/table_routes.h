// The HTTP API's public table routes bound to a TableService: the one place
// that says which TableService method serves which Query RPC over HTTP.
#ifndef LOCALBENCH_COLLECTOR_HTTP_TABLE_ROUTES_H_
#define LOCALBENCH_COLLECTOR_HTTP_TABLE_ROUTES_H_

#include <vector>

#include "localbench/collector/http/routes.h"
#include "localbench/collector/tables.h"

namespace localbench::collector::http {

// Every QueryRouteSpecs() and ChartRouteSpecs() route served by `tables`,
// which must outlive the routes. Crashes if a public route names an RPC without a binding here.
std::vector<Route> TableRoutes(TableService& tables);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_TABLE_ROUTES_H_
