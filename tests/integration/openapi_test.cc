// docs/openapi.yaml against the running HTTP server: every documented path is
// requested, and every answer must be documented (status, content type,
// headers), with JSON bodies carrying exactly the documented properties of
// the documented types. Data-driven: it reads the description and the route
// table, not a list of its own.
//
// Two servers: one whose routes answer "full" responses (every field of the
// documented message set), so the check covers every property of every
// schema; and the real collector (its own TableService) over a database
// holding a submission, so the real tables are checked too
// (RealTablesAnswerAsDocumented).
#include <httplib.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/http/render.h"
#include "localbench/collector/http/routes.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/query.pb.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

namespace http = collector::http;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Value;

// Sets every field of `m` to a non-default value (two elements for repeated
// fields), so its JSON shows every property.
void Fill(Message* m, int depth) {
  const auto* d = m->GetDescriptor();
  const auto* r = m->GetReflection();
  if (d->full_name() == "google.protobuf.Timestamp") {
    static_cast<google::protobuf::Timestamp*>(m)->set_seconds(1764460800);
    return;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int n = f->is_repeated() ? 2 : 1;
    for (int k = 0; k < n; ++k) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          rep ? r->AddString(m, f, "text, \"quoted\"") : r->SetString(m, f, "text, \"quoted\"");
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          rep ? r->AddBool(m, f, true) : r->SetBool(m, f, true);
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          rep ? r->AddInt32(m, f, -7) : r->SetInt32(m, f, -7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          rep ? r->AddInt64(m, f, -9007199254740993) : r->SetInt64(m, f, -9007199254740993);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->AddUInt32(m, f, 4000000000u) : r->SetUInt32(m, f, 4000000000u);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          rep ? r->AddUInt64(m, f, 18000000000000000000u) : r->SetUInt64(m, f, 18000000000000000000u);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          rep ? r->AddDouble(m, f, 1.5) : r->SetDouble(m, f, 1.5);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          rep ? r->AddFloat(m, f, 2.5f) : r->SetFloat(m, f, 2.5f);
          break;
        case FieldDescriptor::CPPTYPE_ENUM: {
          const auto* e = f->enum_type();
          const auto* v = e->value(e->value_count() > 1 ? 1 : 0);
          rep ? r->AddEnum(m, f, v) : r->SetEnum(m, f, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 6) Fill(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
          break;
      }
    }
  }
}

// The routes under test; see the file comment.
std::vector<http::Route> TestRoutes() {
  auto bind = [](const google::protobuf::MethodDescriptor& method) -> http::Handler {
    const google::protobuf::Descriptor* out = method.output_type();
    return [out](const Message&) -> absl::StatusOr<std::unique_ptr<Message>> {
      std::unique_ptr<Message> m(google::protobuf::MessageFactory::generated_factory()->GetPrototype(out)->New());
      Fill(m.get(), 0);
      return m;
    };
  };
  std::vector<http::Route> routes = http::BindQueryRoutes(bind);
  for (http::Route& chart : http::BindChartRoutes(bind)) routes.push_back(std::move(chart));
  return routes;
}

class OpenApiTest : public ::testing::Test {
 protected:
  // The routes the server under test answers with; the real tables when empty.
  virtual std::vector<http::Route> Routes() { return TestRoutes(); }

  void SetUp() override {
    std::ifstream in(LOCALBENCH_OPENAPI_PATH);
    ASSERT_TRUE(in) << "cannot read " << LOCALBENCH_OPENAPI_PATH;
    std::stringstream text;
    text << in.rdbuf();
    auto st = google::protobuf::util::JsonStringToMessage(text.str(), &doc_);
    ASSERT_TRUE(st.ok()) << "docs/openapi.yaml is not JSON-syntax YAML: " << st.message();

    collector::CollectorOptions options;
    options.http_listen = "127.0.0.1:0";
    options.http_routes = Routes();
    auto c = InProcessCollector::Start(PostgresEnvironment::FreshDatabase(), std::move(options));
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    const std::string address = collector_->server().http_address();
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  }

  const Value& At(const Value& v, const std::string& key) {
    static const Value kNull;
    if (v.kind_case() != Value::kStructValue) return kNull;
    auto it = v.struct_value().fields().find(key);
    return it == v.struct_value().fields().end() ? kNull : it->second;
  }
  bool Has(const Value& v, const std::string& key) {
    return v.kind_case() == Value::kStructValue && v.struct_value().fields().contains(key);
  }
  const Value& Resolve(const Value& schema) {
    if (!Has(schema, "$ref")) return schema;
    const std::string ref = At(schema, "$ref").string_value();
    const std::string prefix = "#/components/";
    EXPECT_EQ(ref.rfind(prefix, 0), 0u) << ref;
    const Value* v = &doc_.struct_value().fields().at("components");
    for (absl::string_view part : absl::StrSplit(ref.substr(prefix.size()), '/')) v = &At(*v, std::string(part));
    EXPECT_NE(v->kind_case(), Value::KIND_NOT_SET) << "dangling " << ref;
    return Resolve(*v);
  }

  // Checks `v` against `schema`; failures name the JSON path.
  void Validate(const Value& v, const Value& raw_schema, const std::string& path) {
    const Value& schema = Resolve(raw_schema);
    if (Has(schema, "allOf")) {
      for (const Value& s : At(schema, "allOf").list_value().values()) Validate(v, s, path);
      return;
    }
    const std::string type = At(schema, "type").string_value();
    if (type == "object") {
      ASSERT_EQ(v.kind_case(), Value::kStructValue) << path << " is not an object";
      const Value& props = At(schema, "properties");
      // additionalProperties: true (a Vega-Lite spec) documents some keys only.
      const bool open = At(schema, "additionalProperties").bool_value();
      for (const auto& [key, value] : v.struct_value().fields()) {
        if (open && !Has(props, key)) continue;
        ASSERT_TRUE(Has(props, key)) << path << "." << key << " is not documented";
        Validate(value, At(props, key), absl::StrCat(path, ".", key));
      }
      for (const Value& req : At(schema, "required").list_value().values()) {
        EXPECT_TRUE(v.struct_value().fields().contains(req.string_value()))
            << path << "." << req.string_value() << " is documented as always present but missing";
      }
    } else if (type == "array") {
      ASSERT_EQ(v.kind_case(), Value::kListValue) << path << " is not an array";
      for (int i = 0; i < v.list_value().values_size(); ++i) {
        Validate(v.list_value().values(i), At(schema, "items"), absl::StrCat(path, "[", i, "]"));
      }
    } else if (type == "string") {
      ASSERT_EQ(v.kind_case(), Value::kStringValue) << path << " is not a string";
      if (Has(schema, "enum")) {
        bool found = false;
        for (const Value& e : At(schema, "enum").list_value().values()) found |= e.string_value() == v.string_value();
        EXPECT_TRUE(found) << path << ": " << v.string_value() << " is not a documented enum value";
      }
      const std::string format = At(schema, "format").string_value();
      if (format == "int64" || format == "uint64") {
        std::int64_t i64 = 0;
        std::uint64_t u64 = 0;
        EXPECT_TRUE(absl::SimpleAtoi(v.string_value(), &i64) || absl::SimpleAtoi(v.string_value(), &u64))
            << path << ": " << v.string_value();
      }
    } else if (type == "integer") {
      ASSERT_EQ(v.kind_case(), Value::kNumberValue) << path << " is not a number";
      EXPECT_EQ(v.number_value(), static_cast<double>(static_cast<std::int64_t>(v.number_value()))) << path;
    } else if (type == "number") {
      EXPECT_EQ(v.kind_case(), Value::kNumberValue) << path << " is not a number";
    } else if (type == "boolean") {
      EXPECT_EQ(v.kind_case(), Value::kBoolValue) << path << " is not a boolean";
    } else {
      ADD_FAILURE() << path << ": schema without a known type";
    }
  }

  // `res` is documented for `operation`: its status, content type, headers,
  // and (for JSON) its body.
  void CheckDocumented(const Value& operation, const httplib::Result& res, const std::string& what) {
    ASSERT_TRUE(res) << what;
    const std::string status = std::to_string(res->status);
    const Value& responses = At(operation, "responses");
    ASSERT_TRUE(Has(responses, status)) << what << " answered undocumented " << status << ": " << res->body;
    const Value& response = Resolve(At(responses, status));
    if (!Has(response, "content")) {
      EXPECT_TRUE(res->body.empty()) << what;
      return;
    }
    std::string type = res->get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    ASSERT_TRUE(Has(At(response, "content"), type)) << what << ": undocumented content type " << type;
    for (const auto& [name, header] : At(response, "headers").struct_value().fields()) {
      EXPECT_TRUE(res->has_header(name.c_str())) << what << ": documented header " << name << " missing";
    }
    if (type == "application/json") {
      Value body;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(res->body, &body).ok()) << what << ": " << res->body;
      Validate(body, At(At(At(response, "content"), type), "schema"), what);
    }
  }

  Value doc_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(OpenApiTest, EveryRouteIsDocumentedAndEveryDocumentedPathIsServed) {
  std::set<std::string> documented;
  for (const auto& [path, item] : At(doc_, "paths").struct_value().fields()) documented.insert(path);
  std::set<std::string> served = {"/healthz", "/metrics"};
  for (const auto& spec : http::QueryRouteSpecs()) served.insert(spec.path);
  for (const auto& spec : http::ChartRouteSpecs()) served.insert(spec.path);
  EXPECT_EQ(documented, served);
}

TEST_F(OpenApiTest, EveryPathAnswersAsDocumented) {
  int checked = 0;
  for (const auto& [path, item] : At(doc_, "paths").struct_value().fields()) {
    const Value& get = At(item, "get");
    ASSERT_TRUE(Has(get, "responses")) << path;
    const std::string url = absl::StrReplaceAll(path, {{"{id}", "7a1c0f8e-1d2b-4c3d-8e9f-0a1b2c3d4e5f"}});
    auto res = client_->Get(url.c_str());
    CheckDocumented(get, res, url);
    ++checked;

    if (!Has(At(At(At(get, "responses"), "200"), "content"), "text/csv")) continue;
    // CSV both ways, and the header line is the flat rendering of the type.
    for (const auto& [csv_url, headers] : std::vector<std::pair<std::string, httplib::Headers>>{
             {url + ".csv", {}}, {url, {{"Accept", "text/csv"}}}}) {
      auto csv = client_->Get(csv_url.c_str(), headers);
      CheckDocumented(get, csv, csv_url + " (csv)");
      ASSERT_TRUE(csv);
      EXPECT_EQ(csv->get_header_value("Content-Type").rfind("text/csv", 0), 0u) << csv_url;
      EXPECT_EQ(csv->body.rfind("data_version,", 0), 0u) << csv_url;
    }
    // Conditional GET.
    auto again = client_->Get(url.c_str(), {{"If-None-Match", res->get_header_value("ETag")}});
    CheckDocumented(get, again, url + " (If-None-Match)");
    EXPECT_EQ(again->status, 304) << url;
    // Every typed parameter refuses a malformed value with a documented 400.
    for (const Value& p : At(get, "parameters").list_value().values()) {
      if (At(p, "in").string_value() != "query") continue;
      const std::string type = At(At(p, "schema"), "type").string_value();
      const bool typed = type == "integer" || type == "number" || type == "boolean" || Has(At(p, "schema"), "enum");
      if (!typed) continue;
      const std::string bad = absl::StrCat(url, "?", At(p, "name").string_value(), "=not-a-value");
      auto r = client_->Get(bad.c_str());
      CheckDocumented(get, r, bad);
      EXPECT_EQ(r->status, 400) << bad;
      EXPECT_NE(r->body.find(absl::StrCat("\"parameter\":\"", At(p, "name").string_value(), "\"")), std::string::npos)
          << r->body;
    }
    const std::string unknown = url + "?no_such_parameter=1";
    auto r = client_->Get(unknown.c_str());
    CheckDocumented(get, r, unknown);
    EXPECT_EQ(r->status, 400) << unknown;
  }
  EXPECT_EQ(checked, static_cast<int>(http::QueryRouteSpecs().size() + http::ChartRouteSpecs().size()) + 2);
}

// The documented parameters are exactly the request's leaves (plus {id}).
TEST_F(OpenApiTest, DocumentedParametersAreAccepted) {
  for (const auto& [path, item] : At(doc_, "paths").struct_value().fields()) {
    const std::string url = absl::StrReplaceAll(path, {{"{id}", "x"}});
    for (const Value& p : At(At(item, "get"), "parameters").list_value().values()) {
      if (At(p, "in").string_value() != "query") continue;
      const Value& schema = At(p, "schema");
      const std::string type = At(schema, "type").string_value();
      std::string value = "1";
      if (Has(schema, "enum")) {
        value = At(schema, "enum").list_value().values(1).string_value();
      } else if (type == "boolean") {
        value = "true";
      } else if (type == "string") {
        value = "abc";
      } else if (type == "array") {
        value = "a,b";
      }
      const std::string good = absl::StrCat(url, "?", At(p, "name").string_value(), "=", value);
      auto r = client_->Get(good.c_str());
      ASSERT_TRUE(r) << good;
      EXPECT_EQ(r->status, 200) << good << ": " << r->body;
    }
  }
}

// The real collector: every route answered by its TableService over a
// database holding one submission, with parameters that find it.
class RealTablesTest : public OpenApiTest {
 protected:
  std::vector<http::Route> Routes() override { return {}; }
};

TEST_F(RealTablesTest, RealTablesAnswerAsDocumented) {
  auto agent = collector_->Enroll();
  ASSERT_TRUE(agent.ok()) << agent.status();
  const v1::Submission s = MakeSubmission(1);
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, agent->agent_token());
    v1::SubmitRequest req;
    *req.mutable_submission() = s;
    v1::SubmitResponse resp;
    grpc::Status st = collector_->NewIngestStub()->Submit(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  auto devices = client_->Get("/v1/devices?measured_only=true");
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->status, 200) << devices->body;
  v1::DeviceModelList list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(devices->body, &list).ok()) << devices->body;
  ASSERT_EQ(list.models_size(), 1) << devices->body;
  const std::string slug = list.models(0).slug();
  const v1::Workload& w = s.sweeps(0).workload();
  const std::string preset = w.model_preset();
  const std::string kind = absl::AsciiStrToLower(
      v1::WorkloadKind_Name(w.kind()).substr(std::string("WORKLOAD_KIND_").size()));
  const std::string workload = absl::StrCat("model_preset=", preset, "&kind=", kind);
  const std::map<std::string, std::string> urls = {
      {"/v1/devices", "/v1/devices"},
      {"/v1/tables/oom", "/v1/tables/oom?" + workload},
      {"/v1/tables/curve", absl::StrCat("/v1/tables/curve?device_model=", slug, "&", workload)},
      {"/v1/tables/compare", "/v1/tables/compare?" + workload},  // every measured model
      {"/v1/tables/stack", absl::StrCat("/v1/tables/stack?device_model=", slug, "&", workload)},
      {"/v1/will-it-run", absl::StrCat("/v1/will-it-run?device_model=", slug, "&", workload)},
      {"/v1/largest-model", absl::StrCat("/v1/largest-model?device_model=", slug, "&kind=", kind)},
      {"/v1/submissions/{id}", "/v1/submissions/" + s.submission_id()},
      {"/v1/submissions/{id}/stack-up", "/v1/submissions/" + s.submission_id() + "/stack-up"},
      {"/v1/charts/memory", absl::StrCat("/v1/charts/memory?device_model=", slug, "&", workload)},
      {"/v1/charts/throughput", absl::StrCat("/v1/charts/throughput?device_model=", slug, "&", workload)},
      {"/v1/charts/compare", "/v1/charts/compare?" + workload},
      {"/v1/charts/stack", absl::StrCat("/v1/charts/stack?device_model=", slug, "&", workload)},

      {"/v1/verdicts", absl::StrCat("/v1/verdicts?device_model=", slug)},
      {"/v1/changes", "/v1/changes"},
      {"/healthz", "/healthz"},
      {"/metrics", "/metrics"},
  };
  int checked = 0;
  for (const auto& [path, item] : At(doc_, "paths").struct_value().fields()) {
    auto it = urls.find(path);
    ASSERT_NE(it, urls.end()) << "no real request for documented path " << path;
    auto res = client_->Get(it->second.c_str());
    ASSERT_TRUE(res) << it->second;
    EXPECT_EQ(res->status, 200) << it->second << ": " << res->body;
    CheckDocumented(At(item, "get"), res, it->second);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(urls.size()));
}

}  // namespace
}  // namespace localbench::test_support
