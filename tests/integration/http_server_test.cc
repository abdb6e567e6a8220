// The HTTP API over real loopback HTTP, against a real PostgreSQL: routes
// registered from the test (the table engine lands separately), /healthz,
// /metrics, ETag/304, the response cache, CSV, CORS and bad parameters.
#include <httplib.h>

#include <atomic>
#include <string>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "localbench/collector/http/health.h"
#include "localbench/collector/http/routes.h"
#include "localbench/collector/http/server.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/query.pb.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

namespace http = collector::http;

// Serves /v1/devices from the real database: one device model whose
// submission_count is the submissions visible at the requested version, so
// a response changes exactly when the data version does.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    collector::CollectorOptions options;
    options.http_listen = "127.0.0.1:0";
    options.http_routes = http::BindQueryRoutes([this](const google::protobuf::MethodDescriptor& m) -> http::Handler {
      const std::string name = m.name();
      if (name == "StackUp") {
        return http::MakeHandler<v1::StackUpRequest, v1::StackUpAnswer>(
            [this](const v1::StackUpRequest& r) -> absl::StatusOr<v1::StackUpAnswer> {
              ++calls_;
              if (r.submission_id() == "missing") return absl::NotFoundError("no submission missing");
              v1::StackUpAnswer out;
              out.set_submission_id(r.submission_id());
              out.mutable_version()->set_data_version(r.read().as_of());
              return out;
            });
      }
      return [this, name](const google::protobuf::Message& request) -> absl::StatusOr<std::unique_ptr<google::protobuf::Message>> {
        ++calls_;
        if (name == "ListDeviceModels") return Devices(static_cast<const v1::ListDeviceModelsRequest&>(request));
        if (name == "GetBatchCurve") return absl::InvalidArgumentError("device_model: required");
        return absl::InternalError("not in this test");
      };
    });
    auto c = InProcessCollector::Start(url_, std::move(options));
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    const std::string address = collector_->server().http_address();
    ASSERT_FALSE(address.empty());
    ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port_));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }

  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> Devices(const v1::ListDeviceModelsRequest& r) {
    try {
      pqxx::connection conn(url_);
      pqxx::nontransaction tx(conn);
      const auto count =
          tx.exec_params("SELECT count(*) FROM submissions WHERE data_version <= $1", r.read().as_of())[0][0]
              .as<std::int64_t>();
      auto out = std::make_unique<v1::DeviceModelList>();
      out->mutable_version()->set_data_version(r.read().as_of());
      auto* m = out->add_models();
      m->set_slug("rtx-4090-24gb");
      m->set_vendor(v1::VENDOR_NVIDIA);
      m->set_submission_count(static_cast<std::uint32_t>(count));
      return out;
    } catch (const std::exception& e) {
      return absl::UnavailableError(e.what());
    }
  }

  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    return client_->Get(path.c_str(), headers);
  }

  void SubmitOne(std::uint64_t seed) {
    auto agent = collector_->Enroll(FingerprintFor(seed));
    ASSERT_TRUE(agent.ok()) << agent.status();
    auto stub = collector_->NewIngestStub();
    grpc::ClientContext ctx;
    SetBearer(ctx, agent->agent_token());
    v1::SubmitRequest req;
    *req.mutable_submission() = MakeSubmission(seed, 1, 4);
    v1::SubmitResponse resp;
    grpc::Status st = stub->Submit(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
  std::atomic<int> calls_{0};
};

TEST_F(HttpServerTest, HealthzReportsAMigratedDatabase) {
  auto r = Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(r->body.find("\"status\":\"ok\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"database\":\"reachable\""), std::string::npos) << r->body;
}

TEST(HttpHealth, UnmigratedDatabaseIs503) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  auto probe = http::DatabaseProbe::Create(url, 1);
  ASSERT_TRUE(probe.ok()) << probe.status();
  collector::CollectorMetrics metrics;
  http::HttpBackends b;
  b.latest_version = [&] { return (*probe)->LatestVersion(); };
  b.health = [&] { return (*probe)->Check(); };
  b.metrics = &metrics;
  auto server = http::HttpServer::Start({}, {}, b);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  httplib::Client client("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("\"status\":\"unavailable\""), std::string::npos) << r->body;
}

// Regression: stopping before the accept loop began left it running and the
// join hanging forever (httplib's stop() ignores a server not yet running).
TEST(HttpLifecycle, StopsRightAfterStarting) {
  collector::CollectorMetrics metrics;
  http::HttpBackends b;
  b.latest_version = [] { return absl::StatusOr<std::int64_t>(0); };
  b.health = [] { return http::Health{true, "{}"}; };
  b.metrics = &metrics;
  for (int i = 0; i < 50; ++i) {
    auto server = http::HttpServer::Start({}, {}, b);
    ASSERT_TRUE(server.ok()) << server.status();
  }  // each destroyed at once
}

TEST_F(HttpServerTest, JsonIsTheProtobufMappingWithCachingHeaders) {
  SubmitOne(1);
  auto r = Get("/v1/devices", {{"X-Request-Id", "page-42"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "page-42");
  EXPECT_EQ(r->get_header_value("X-Data-Version"), "1");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "public, max-age=5");
  EXPECT_FALSE(r->get_header_value("ETag").empty());
  v1::DeviceModelList list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &list).ok()) << r->body;
  EXPECT_EQ(list.version().data_version(), 1);  // the handler was pinned to the newest version
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).submission_count(), 1u);
  EXPECT_NE(r->body.find("\"submission_count\""), std::string::npos);  // proto field names
}

TEST_F(HttpServerTest, IfNoneMatchAnswers304WithoutComputingAndANewVersionChangesTheTag) {
  SubmitOne(1);
  auto first = Get("/v1/devices");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  const std::string etag = first->get_header_value("ETag");
  EXPECT_EQ(calls_.load(), 1);

  auto again = Get("/v1/devices", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->get_header_value("ETag"), etag);
  auto cached = Get("/v1/devices");  // same query and version: from the cache
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 200);
  EXPECT_EQ(cached->body, first->body);
  EXPECT_EQ(calls_.load(), 1);  // neither computed the table again

  SubmitOne(2);  // data version 2
  auto stale = Get("/v1/devices", {{"If-None-Match", etag}});
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 200);
  EXPECT_NE(stale->get_header_value("ETag"), etag);
  EXPECT_EQ(stale->get_header_value("X-Data-Version"), "2");
  EXPECT_NE(stale->body.find("\"submission_count\":2"), std::string::npos) << stale->body;
  EXPECT_EQ(calls_.load(), 2);

  // as_of=1 is the first response again, byte for byte, and immutable.
  auto old = Get("/v1/devices?as_of=1");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 200);
  EXPECT_EQ(old->body, first->body);
  EXPECT_EQ(old->get_header_value("ETag"), etag);  // same request, same version: same tag
  EXPECT_EQ(old->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
}

TEST_F(HttpServerTest, EquivalentQueriesShareOneCacheEntry) {
  auto a = Get("/v1/devices?kind=train_lora&vendor=nvidia");
  auto b = Get("/v1/devices?vendor=VENDOR_NVIDIA&kind=WORKLOAD_KIND_TRAIN_LORA");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->get_header_value("ETag"), b->get_header_value("ETag"));
  EXPECT_EQ(calls_.load(), 1);
  auto other = Get("/v1/devices?kind=decode");
  ASSERT_TRUE(other);
  EXPECT_NE(other->get_header_value("ETag"), a->get_header_value("ETag"));
}

TEST_F(HttpServerTest, CsvBySuffixOrAcceptHeader) {
  SubmitOne(1);
  auto bySuffix = Get("/v1/devices.csv");
  auto byAccept = Get("/v1/devices", {{"Accept", "text/csv"}});
  auto json = Get("/v1/devices");
  ASSERT_TRUE(bySuffix);
  ASSERT_TRUE(byAccept);
  ASSERT_TRUE(json);
  EXPECT_EQ(bySuffix->status, 200);
  EXPECT_EQ(bySuffix->get_header_value("Content-Type"), "text/csv; charset=utf-8; header=present");
  EXPECT_EQ(bySuffix->body, byAccept->body);
  EXPECT_EQ(bySuffix->get_header_value("ETag"), byAccept->get_header_value("ETag"));
  EXPECT_NE(bySuffix->get_header_value("ETag"), json->get_header_value("ETag"));
  EXPECT_EQ(bySuffix->get_header_value("X-Data-Version"), "1");
  EXPECT_EQ(bySuffix->body.substr(0, bySuffix->body.find("\r\n")),
            "data_version,slug,vendor,name,backend,memory_bytes,memory_bandwidth_bytes_per_second,bf16_tflops,"
            "fp32_tflops,source,in_catalogue,machine_count,submission_count");
  EXPECT_NE(bySuffix->body.find("\r\n1,rtx-4090-24gb,VENDOR_NVIDIA,"), std::string::npos) << bySuffix->body;
}

TEST_F(HttpServerTest, BadParametersAre400NamingTheParameter) {
  struct Case {
    std::string path;
    std::string parameter;
  };
  for (const Case& c : {Case{"/v1/devices?kind=lora", "kind"}, Case{"/v1/devices?page_size=-3", "page_size"},
                        Case{"/v1/devices?colour=red", "colour"}, Case{"/v1/devices?as_of=x", "as_of"},
                        Case{"/v1/devices?vendor=nvidia&vendor=amd", "vendor"}}) {
    auto r = Get(c.path);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, 400) << c.path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << c.path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store") << c.path;
    EXPECT_NE(r->body.find(absl::StrCat("\"parameter\":\"", c.parameter, "\"")), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("\"status\":\"INVALID_ARGUMENT\""), std::string::npos) << r->body;
  }
  EXPECT_EQ(calls_.load(), 0);  // refused before any table work
}

TEST_F(HttpServerTest, HandlerStatusesMapToHttp) {
  auto bad = Get("/v1/tables/curve");  // handler: INVALID_ARGUMENT
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("device_model: required"), std::string::npos) << bad->body;
  EXPECT_TRUE(bad->get_header_value("ETag").empty());
  auto missing = Get("/v1/submissions/missing/stack-up");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto internal = Get("/v1/tables/oom");
  ASSERT_TRUE(internal);
  EXPECT_EQ(internal->status, 500);
  auto found = Get("/v1/submissions/abc-123/stack-up");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, 200);
  EXPECT_NE(found->body.find("\"submission_id\":\"abc-123\""), std::string::npos) << found->body;
  auto path_as_param = Get("/v1/submissions/abc/stack-up?submission_id=x");
  ASSERT_TRUE(path_as_param);
  EXPECT_EQ(path_as_param->status, 400);
}

TEST_F(HttpServerTest, UnknownRoutesMethodsAndPreflight) {
  auto none = Get("/v1/nothing");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_NE(none->body.find("\"status\":\"NOT_FOUND\""), std::string::npos) << none->body;
  auto post = client_->Post("/v1/devices", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD, OPTIONS");
  httplib::Client fresh("127.0.0.1", port_);  // the 405 closed that connection
  auto preflight = fresh.Options("/v1/devices", {{"Origin", "https://example.org"},
                                                 {"Access-Control-Request-Method", "GET"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
}

TEST_F(HttpServerTest, GeneratesARequestIdWhenTheClientsIsMissingOrUnsafe) {
  auto a = Get("/healthz");
  auto b = Get("/healthz", {{"X-Request-Id", "bad id\"with quotes"}});
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->get_header_value("X-Request-Id").size(), 16u);
  EXPECT_EQ(b->get_header_value("X-Request-Id").size(), 16u);
  EXPECT_NE(a->get_header_value("X-Request-Id"), b->get_header_value("X-Request-Id"));
}

TEST_F(HttpServerTest, MetricsCountRoutesRpcsPoolAndVersion) {
  SubmitOne(1);
  ASSERT_TRUE(Get("/v1/devices"));
  ASSERT_TRUE(Get("/v1/devices"));
  ASSERT_TRUE(Get("/v1/devices?kind=nope"));
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r->body;
  EXPECT_NE(m.find("localbench_http_requests_total{route=\"/v1/devices\",status=\"200\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("localbench_http_requests_total{route=\"/v1/devices\",status=\"400\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("localbench_http_request_duration_seconds_count{route=\"/v1/devices\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("localbench_http_cache_total{result=\"hit\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("localbench_grpc_requests_total{method=\"/localbench.v1.Ingest/Submit\",code=\"0\"} 1\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("localbench_grpc_request_duration_seconds_count{method=\"/localbench.v1.Ingest/Enroll\"} 1\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("localbench_data_version 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("localbench_db_connections_in_use 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE localbench_ingest_submissions_total counter\n"), std::string::npos) << m;
}

}  // namespace
}  // namespace localbench::test_support
