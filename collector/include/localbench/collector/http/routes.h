// The HTTP API's route table: which URL serves which RPC of `service Query`.
// The table is data; request and response types come from the RPC's
// descriptor, so the server, the OpenAPI generator and the OpenAPI test all
// read the same list.
#ifndef LOCALBENCH_COLLECTOR_HTTP_ROUTES_H_
#define LOCALBENCH_COLLECTOR_HTTP_ROUTES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "absl/status/statusor.h"

namespace localbench::collector::http {

// One public route as data.
struct RouteSpec {
  std::string path;        // e.g. "/v1/tables/oom"; one "{id}" segment at most
  std::string rpc;         // method of localbench.v1.Query, e.g. "GetOomTable"
  std::string path_field;  // request field "{id}" fills, e.g. "submission_id"; "" without
};

// The public table routes (GET only) in the order documented.
const std::vector<RouteSpec>& QueryRouteSpecs();

// The public chart routes (/v1/charts/...): Vega-Lite v5 specifications with
// the data inlined, built from the answers of the RPC they name, so their
// parameters are exactly that RPC's request leaves (see charts.h).
const std::vector<RouteSpec>& ChartRouteSpecs();

// The localbench.v1.Query method a spec names; crashes when it does not
// exist (the table and the proto disagree: a programming error).
const google::protobuf::MethodDescriptor* QueryMethod(const RouteSpec& spec);

// Computes a response from a request whose fields are set from the query.
// Must be thread-safe: the server calls it from many threads.
using Handler = std::function<absl::StatusOr<std::unique_ptr<google::protobuf::Message>>(
    const google::protobuf::Message& request)>;

// A finished JSON document and the data version it was computed at.
struct JsonBody {
  std::string json;
  std::int64_t data_version = 0;
};

// Builds a route's body from its request, calling `table` (the route's
// Handler) as often as it needs; a chart route's body is a Vega-Lite spec.
using BodyBuilder =
    std::function<absl::StatusOr<JsonBody>(const google::protobuf::Message& request, const Handler& table)>;

// A route the server serves: a spec, its types and its handler.
struct Route {
  RouteSpec spec;
  const google::protobuf::Descriptor* request = nullptr;
  const google::protobuf::Descriptor* response = nullptr;
  Handler handler;
  // Set on chart routes: the body is body(request, handler), always JSON (no
  // CSV); `response` is then the handler's type, not the body's.
  BodyBuilder body;
};

// A Handler over a typed function (typically a TableService method):
//   MakeHandler<v1::OomTableRequest, v1::OomTable>(
//       [&](const v1::OomTableRequest& r) { return tables.GetOomTable(r); })
template <typename Request, typename Response>
Handler MakeHandler(std::function<absl::StatusOr<Response>(const Request&)> fn) {
  return [fn = std::move(fn)](const google::protobuf::Message& request)
             -> absl::StatusOr<std::unique_ptr<google::protobuf::Message>> {
    absl::StatusOr<Response> out = fn(static_cast<const Request&>(request));
    if (!out.ok()) return out.status();
    return std::unique_ptr<google::protobuf::Message>(new Response(*std::move(out)));
  };
}

// A route for `spec` whose handler is `fn`.
template <typename Request, typename Response>
Route MakeRoute(RouteSpec spec, std::function<absl::StatusOr<Response>(const Request&)> fn) {
  Route r;
  r.spec = std::move(spec);
  r.request = Request::descriptor();
  r.response = Response::descriptor();
  r.handler = MakeHandler<Request, Response>(std::move(fn));
  return r;
}

// Binds every QueryRouteSpecs() entry to a handler: `bind(method)` returns
// the handler for that Query method (an empty one crashes: every public
// route must be served). Types come from the method descriptor; the server
// crashes if a handler answers with another type.
std::vector<Route> BindQueryRoutes(
    const std::function<Handler(const google::protobuf::MethodDescriptor&)>& bind);

// Binds every ChartRouteSpecs() entry the same way: `bind(method)` gives the
// table handler, the chart builder comes from charts.h.
std::vector<Route> BindChartRoutes(
    const std::function<Handler(const google::protobuf::MethodDescriptor&)>& bind);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_ROUTES_H_
