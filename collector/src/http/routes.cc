#include "localbench/collector/http/routes.h"

#include <cstdio>
#include <cstdlib>

#include "localbench/collector/http/charts.h"
#include "localbench/v1/query.pb.h"

namespace localbench::collector::http {

const std::vector<RouteSpec>& QueryRouteSpecs() {
  static const auto* specs = new std::vector<RouteSpec>{
      {"/v1/devices", "ListDeviceModels", ""},
      {"/v1/tables/oom", "GetOomTable", ""},
      {"/v1/tables/curve", "GetBatchCurve", ""},
      {"/v1/tables/compare", "CompareHardware", ""},
      {"/v1/tables/stack", "GetStackDeltas", ""},
      {"/v1/will-it-run", "WillItRun", ""},
      {"/v1/largest-model", "LargestModel", ""},
      {"/v1/submissions/{id}", "GetSubmission", "submission_id"},
      {"/v1/submissions/{id}/stack-up", "StackUp", "submission_id"},
      {"/v1/verdicts", "ListVerdicts", ""},
      {"/v1/changes", "ListChanges", ""},
  };
  return *specs;
}

const std::vector<RouteSpec>& ChartRouteSpecs() {
  static const auto* specs = new std::vector<RouteSpec>{
      {"/v1/charts/memory", "GetBatchCurve", ""},
      {"/v1/charts/throughput", "GetBatchCurve", ""},
      {"/v1/charts/compare", "CompareHardware", ""},
      {"/v1/charts/stack", "GetStackDeltas", ""},
  };
  return *specs;
}

const google::protobuf::MethodDescriptor* QueryMethod(const RouteSpec& spec) {
  // Any message of query.proto leads to its file, and so to the service.
  static const google::protobuf::ServiceDescriptor* const query =
      v1::OomTableRequest::descriptor()->file()->FindServiceByName("Query");
  const google::protobuf::MethodDescriptor* m = query == nullptr ? nullptr : query->FindMethodByName(spec.rpc);
  if (m == nullptr) {
    std::fprintf(stderr, "localbench-collector: route %s names unknown RPC Query.%s\n", spec.path.c_str(),
                 spec.rpc.c_str());
    std::abort();
  }
  return m;
}

namespace {

std::vector<Route> Bind(const std::vector<RouteSpec>& specs,
                        const std::function<Handler(const google::protobuf::MethodDescriptor&)>& bind, bool charts) {
  std::vector<Route> routes;
  for (const RouteSpec& spec : specs) {
    const google::protobuf::MethodDescriptor* m = QueryMethod(spec);
    Route r;
    r.spec = spec;
    r.request = m->input_type();
    r.response = m->output_type();
    r.handler = bind(*m);
    if (!r.handler) {
      std::fprintf(stderr, "localbench-collector: no handler bound for %s (Query.%s)\n", spec.path.c_str(),
                   spec.rpc.c_str());
      std::abort();
    }
    if (charts) r.body = ChartBuilderFor(spec.path);
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace

std::vector<Route> BindQueryRoutes(const std::function<Handler(const google::protobuf::MethodDescriptor&)>& bind) {
  return Bind(QueryRouteSpecs(), bind, false);
}

std::vector<Route> BindChartRoutes(const std::function<Handler(const google::protobuf::MethodDescriptor&)>& bind) {
  return Bind(ChartRouteSpecs(), bind, true);
}

}  // namespace localbench::collector::http
