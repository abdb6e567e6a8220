#include "localbench/collector/http/table_routes.h"

#include <string>

namespace localbench::collector::http {
namespace {

// A handler calling `method` of `tables` (a pointer to member keeps the
// table below one line per RPC).
template <typename Request, typename Response>
Handler Bind(TableService& tables, absl::StatusOr<Response> (TableService::*method)(const Request&)) {
  return MakeHandler<Request, Response>(
      [&tables, method](const Request& request) { return (tables.*method)(request); });
}

}  // namespace

std::vector<Route> TableRoutes(TableService& tables) {
  auto bind = [&tables](const google::protobuf::MethodDescriptor& m) -> Handler {
    const std::string& rpc = m.name();
    if (rpc == "ListDeviceModels") return Bind(tables, &TableService::ListDeviceModels);
    if (rpc == "GetOomTable") return Bind(tables, &TableService::GetOomTable);
    if (rpc == "GetBatchCurve") return Bind(tables, &TableService::GetBatchCurve);
    if (rpc == "CompareHardware") return Bind(tables, &TableService::CompareHardware);
    if (rpc == "GetStackDeltas") return Bind(tables, &TableService::GetStackDeltas);
    if (rpc == "WillItRun") return Bind(tables, &TableService::WillItRun);
    if (rpc == "LargestModel") return Bind(tables, &TableService::LargestModel);
    if (rpc == "StackUp") return Bind(tables, &TableService::StackUp);
    if (rpc == "GetSubmission") return Bind(tables, &TableService::GetSubmission);
    if (rpc == "ListVerdicts") return Bind(tables, &TableService::ListVerdicts);
    if (rpc == "ListChanges") return Bind(tables, &TableService::ListChanges);
    return Handler();  // BindQueryRoutes crashes: a public route without a binding
  };
  std::vector<Route> routes = BindQueryRoutes(bind);
  for (Route& chart : BindChartRoutes(bind)) routes.push_back(std::move(chart));
  return routes;
}

}  // namespace localbench::collector::http
