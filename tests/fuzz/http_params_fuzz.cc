// libFuzzer target: the HTTP API's query-parameter parser
// (collector/src/http/params.cc) on every public route. The first byte picks
// the route; the rest is "path-id?query" split and percent-decoded the way an
// HTTP server hands the pairs over, then SetLeaf fills the path field and
// ApplyParams the query, exactly as HttpServer::ServeRoute does. Any input
// must end in OK or INVALID_ARGUMENT naming a parameter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "localbench/collector/http/params.h"
#include "localbench/collector/http/routes.h"

namespace {

using localbench::collector::http::RequestSchema;
using localbench::collector::http::RouteSpec;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding with '+' as space (form encoding); a broken escape stays
// as it is, as lenient servers do.
std::string Decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Route {
  RouteSpec spec;
  std::unique_ptr<RequestSchema> schema;
};

const std::vector<Route>& Routes() {
  static const auto* routes = [] {
    auto* r = new std::vector<Route>;
    for (const RouteSpec& spec : localbench::collector::http::QueryRouteSpecs()) {
      r->push_back({spec, std::make_unique<RequestSchema>(localbench::collector::http::QueryMethod(spec)->input_type())});
    }
    return r;
  }();
  return *routes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& routes = Routes();
  const Route& route = routes[data[0] % routes.size()];
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t q = rest.find('?');
  const std::string id = Decode(rest.substr(0, q));
  const std::string query = q == std::string::npos ? "" : rest.substr(q + 1);

  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    std::size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    params.emplace_back(Decode(pair.substr(0, eq)), eq == std::string::npos ? "" : Decode(pair.substr(eq + 1)));
    start = end + 1;
  }

  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(route.schema->descriptor());
  std::unique_ptr<google::protobuf::Message> request(prototype->New());
  std::vector<std::string> reserved;
  absl::Status st;
  if (!route.spec.path_field.empty()) {
    reserved.push_back(route.spec.path_field);
    st = localbench::collector::http::SetLeaf(*route.schema->Find(route.spec.path_field), id, request.get());
  }
  if (st.ok()) st = localbench::collector::http::ApplyParams(*route.schema, params, request.get(), reserved);
  if (!st.ok() && (st.code() != absl::StatusCode::kInvalidArgument || st.message().empty())) std::abort();
  return 0;
}
