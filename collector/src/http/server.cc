#include "localbench/collector/http/server.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/http/render.h"
#include "localbench/collector/http/static_files.h"
#include "localbench/collector/log.h"
#include "localbench/common/crypto.h"

namespace localbench::collector::http {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kCsv[] = "text/csv; charset=utf-8; header=present";

// HTTP status for a handler's status code: client mistakes are 4xx, never 500.
int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:  // INTERNAL, UNKNOWN, DATA_LOSS: our fault
      return 500;
  }
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// {"error":{"code":400,"status":"INVALID_ARGUMENT","message":"...","parameter":"kind"}}
void SetError(httplib::Response& res, const absl::Status& status, int http_status = 0) {
  res.status = http_status != 0 ? http_status : HttpStatus(status.code());
  std::string body = absl::StrCat("{\"error\":{\"code\":", res.status, ",\"status\":",
                                  JsonString(absl::StatusCodeToString(status.code())),
                                  ",\"message\":", JsonString(status.message()));
  // Our parameter errors read "parameter NAME: ..."; name it as a field too.
  constexpr absl::string_view kPrefix = "parameter ";
  if (absl::StartsWith(status.message(), kPrefix)) {
    absl::string_view rest = status.message().substr(kPrefix.size());
    absl::StrAppend(&body, ",\"parameter\":", JsonString(rest.substr(0, rest.find(':'))));
  }
  body += "}}";
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, kJson);
}

// A client's X-Request-Id when it is short and plain (it goes into our
// logs), otherwise a fresh random one.
std::string RequestId(const httplib::Request& req) {
  std::string id = req.get_header_value("X-Request-Id");
  bool plain = !id.empty() && id.size() <= 128;
  for (char c : id) {
    plain &= absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
  }
  return plain ? id : RandomHex(8);
}

std::vector<std::string> Segments(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

bool WantsCsv(const httplib::Request& req) {
  return absl::StrContains(absl::AsciiStrToLower(req.get_header_value("Accept")), "text/csv");
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpOptions options, std::vector<Route> routes,
                                                              HttpBackends backends) {
  if (options.threads < 1) return absl::InvalidArgumentError("http threads must be >= 1");
  if (!backends.latest_version || !backends.health || backends.metrics == nullptr) {
    std::fprintf(stderr, "localbench-collector: HttpServer needs every backend\n");
    std::abort();
  }
  std::unique_ptr<HttpServer> s(new HttpServer(options, std::move(backends)));
  for (Route& r : routes) {
    BoundRoute b;
    b.schema = std::make_unique<RequestSchema>(r.request);
    if (!r.spec.path_field.empty() && b.schema->Find(r.spec.path_field) == nullptr) {
      std::fprintf(stderr, "localbench-collector: route %s: %s has no field %s\n", r.spec.path.c_str(),
                   r.request->full_name().c_str(), r.spec.path_field.c_str());
      std::abort();
    }
    b.segments = Segments(r.spec.path);
    b.route = std::move(r);
    s->routes_.push_back(std::move(b));
  }

  // Split host:port (brackets allowed around an IPv6 host).
  const auto colon = options.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http listen address \"", options.listen,
                                                   "\" is not HOST:PORT"));
  }
  std::string host = options.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& srv = *s->server_;
  const int threads = options.threads;
  // Bounded threads: a burst of connections queues instead of spawning.
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // Keep-alive: httplib's default closes a connection after 5 requests; a
  // page or proxy fetching several tables should keep its connection. Each
  // open connection holds a worker, so idle ones are dropped after 2 s.
  srv.set_keep_alive_max_count(100);
  // Headers and body go out in separate writes; without TCP_NODELAY the body
  // waits for the client's delayed ACK (40 ms) on a reused connection.
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_timeout(2);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_payload_max_length(64 * 1024);  // GET only: bodies are never needed
  HttpServer* self = s.get();
  srv.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    self->Handle(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  const int bound = port == 0 ? srv.bind_to_any_port(host) : (srv.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", options.listen,
                                               " (address in use or invalid?)"));
  }
  const bool v6 = host.find(':') != std::string::npos;
  s->address_ = v6 ? absl::StrCat("[", host, "]:", bound) : absl::StrCat(host, ":", bound);
  // The socket listens already (connections queue in its backlog), so the
  // address is usable as soon as Start returns.
  s->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->listen_returned_.store(true);
  });
  // httplib's stop() does nothing until the accept loop has begun, so a
  // Shutdown right after Start would leave the loop running and the join
  // hanging: wait for it to begin (microseconds) or to have failed.
  while (!srv.is_running() && !s->listen_returned_.load()) std::this_thread::yield();
  return s;
}

HttpServer::HttpServer(HttpOptions options, HttpBackends backends)
    : options_(std::move(options)), backends_(std::move(backends)), cache_(options_.cache_bytes) {}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

const HttpServer::BoundRoute* HttpServer::Match(const std::string& path, std::string* id) const {
  const std::vector<std::string> parts = Segments(path);
  for (const BoundRoute& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    bool ok = true;
    std::string found;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      if (r.segments[i] == "{id}") {
        found = parts[i];
      } else {
        ok = r.segments[i] == parts[i];
      }
    }
    if (ok) {
      *id = found;
      return &r;
    }
  }
  return nullptr;
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = RequestId(req);
  res.set_header("X-Request-Id", request_id);
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_header("Access-Control-Expose-Headers", "ETag, X-Data-Version, X-Request-Id");
  std::string route_label = "unmatched";
  std::string cache_outcome = "-";

  std::string path = req.path;
  const bool csv_suffix = absl::EndsWith(path, ".csv");
  if (csv_suffix) path.resize(path.size() - 4);
  std::string id;
  const BoundRoute* route = Match(path, &id);
  if (route != nullptr && csv_suffix && route->route.body) route = nullptr;  // charts are JSON only
  if (route != nullptr) {
    route_label = route->route.spec.path;
  } else if ((path == "/healthz" || path == "/metrics") && !csv_suffix) {
    route_label = path;
  } else if (req.path == "/site" || absl::StartsWith(req.path, "/site/")) {
    route_label = "/site/";
  }

  if (req.method == "OPTIONS") {
    // CORS preflight: GET from any origin, with the headers pages send.
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Accept, If-None-Match, X-Request-Id");
    res.set_header("Access-Control-Max-Age", "86400");
  } else if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD, OPTIONS");
    res.set_header("Connection", "close");  // any request body stays unread
    SetError(res, absl::InvalidArgumentError(absl::StrCat("method ", req.method, " not allowed: the API is read-only")),
             405);
  } else if (route_label == "/healthz") {
    Health h = backends_.health();
    res.status = h.ok ? 200 : 503;
    res.set_header("Cache-Control", "no-store");
    res.set_content(h.json, kJson);
  } else if (route_label == "/metrics") {
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(backends_.metrics->registry().Render(), "text/plain; version=0.0.4; charset=utf-8");
  } else if (route_label == "/site/") {
    ServeSite(req, res);
  } else if (route != nullptr) {
    cache_outcome = ServeRoute(*route, id, csv_suffix || WantsCsv(req), req, res);
  } else {
    SetError(res, absl::NotFoundError(absl::StrCat("no route ", req.path)));
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  backends_.metrics->ObserveHttp(route_label, res.status, seconds);
  LogLine(absl::StrCat("http request_id=", request_id, " method=", absl::CEscape(req.method), " route=", route_label,
                       " target=\"", absl::CEscape(req.target.substr(0, 512)), "\" status=", res.status,
                       " bytes=", res.body.size(), " cache=", cache_outcome, " data_version=",
                       res.has_header("X-Data-Version") ? res.get_header_value("X-Data-Version") : "-",
                       " duration_ms=", absl::StrFormat("%.3f", seconds * 1e3)));
}

std::string HttpServer::ServeRoute(const BoundRoute& route, const std::string& id, bool csv,
                                   const httplib::Request& req, httplib::Response& res) {
  res.set_header("Vary", "Accept");
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(route.route.request);
  std::unique_ptr<google::protobuf::Message> request(prototype->New());
  std::vector<std::pair<std::string, std::string>> params(req.params.begin(), req.params.end());
  std::vector<std::string> reserved;
  if (!route.route.spec.path_field.empty()) {
    reserved.push_back(route.route.spec.path_field);
    const LeafField* leaf = route.schema->Find(route.route.spec.path_field);
    if (absl::Status st = SetLeaf(*leaf, id, request.get()); !st.ok()) {
      SetError(res, st);
      return "-";
    }
  }
  if (absl::Status st = ApplyParams(*route.schema, params, request.get(), reserved); !st.ok()) {
    SetError(res, st);
    return "-";
  }

  // Resolve the data version: the request's as_of, or the newest.
  absl::StatusOr<std::int64_t> latest = backends_.latest_version();
  if (!latest.ok()) {
    SetError(res, absl::UnavailableError(absl::StrCat("database unavailable: ", latest.status().message())));
    return "-";
  }
  backends_.metrics->SetDataVersion(*latest);
  const LeafField* as_of_leaf = route.schema->Find("as_of");
  const std::int64_t as_of = GetIntLeaf(*route.schema, "as_of", *request);
  const bool pinned = as_of > 0;
  const bool cacheable = as_of <= *latest;  // a future version is the handler's to refuse
  const std::int64_t version = pinned ? as_of : *latest;
  if (!pinned && as_of_leaf != nullptr) {
    // Pin the handler to the version the key names, so a submission landing
    // meanwhile cannot put newer rows under this version's key.
    if (absl::Status st = SetLeaf(*as_of_leaf, absl::StrCat(version), request.get()); !st.ok()) std::abort();
  }
  if (route.route.body) csv = false;  // a chart is a JSON document whatever the Accept header says
  const std::string representation = csv ? "csv" : "json";
  const std::string key = CacheKey(route.route.spec.path, Deterministic(*request), representation, version);
  const std::string etag = ETagFor(key);
  const std::string cache_control =
      absl::StrCat("public, max-age=", pinned ? options_.as_of_max_age_seconds : options_.latest_max_age_seconds,
                   pinned ? ", immutable" : "");
  if (cacheable) {
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", cache_control);
    if (IfNoneMatchMatches(req.get_header_value("If-None-Match"), etag)) {
      res.status = 304;
      res.set_header("X-Data-Version", absl::StrCat(version));
      return "not_modified";
    }
    if (auto hit = cache_.Get(key); hit != nullptr) {
      backends_.metrics->CountCache(true);
      res.status = 200;
      res.set_header("X-Data-Version", absl::StrCat(hit->data_version));
      res.set_content(hit->body, hit->content_type);
      return "hit";
    }
  }

  if (route.route.body) return ServeBody(route, *request, key, cacheable, version, res);
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> response = route.route.handler(*request);
  if (!response.ok()) {
    res.headers.erase("ETag");
    res.headers.erase("Cache-Control");
    SetError(res, response.status());
    return "-";
  }
  if ((*response)->GetDescriptor() != route.route.response) {
    std::fprintf(stderr, "localbench-collector: route %s answered %s, not %s\n", route.route.spec.path.c_str(),
                 (*response)->GetDescriptor()->full_name().c_str(), route.route.response->full_name().c_str());
    std::abort();
  }
  const std::int64_t served = ResponseDataVersion(**response).value_or(version);
  auto entry = std::make_shared<CachedResponse>();
  entry->data_version = served;
  entry->content_type = csv ? kCsv : kJson;
  entry->body = csv ? RenderCsv(**response, served) : RenderJson(**response);
  res.status = 200;
  res.set_header("X-Data-Version", absl::StrCat(served));
  res.set_content(entry->body, entry->content_type);
  backends_.metrics->CountCache(false);
  // A handler that answered at another version than the key's is not cached.
  if (cacheable && served == version) cache_.Put(key, std::move(entry));
  return "miss";
}

void HttpServer::ServeSite(const httplib::Request& req, httplib::Response& res) {
  if (options_.site_dir.empty()) {
    SetError(res, absl::NotFoundError("this collector serves no site pages (no --site-dir)"));
    return;
  }
  if (req.path == "/site") {
    res.status = 301;
    res.set_header("Location", "/site/");
    return;
  }
  absl::StatusOr<StaticFile> file = ReadStaticFile(options_.site_dir, req.path.substr(std::string("/site/").size()));
  if (!file.ok()) {
    SetError(res, file.status());
    return;
  }
  res.status = 200;
  // Pages and bundles change with a build, not with the data: revalidate.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::move(file->body), file->content_type);
}

std::string HttpServer::ServeBody(const BoundRoute& route, const google::protobuf::Message& request,
                                  const std::string& key, bool cacheable, std::int64_t version,
                                  httplib::Response& res) {
  absl::StatusOr<JsonBody> body = route.route.body(request, route.route.handler);
  if (!body.ok()) {
    res.headers.erase("ETag");
    res.headers.erase("Cache-Control");
    SetError(res, body.status());
    return "-";
  }
  auto entry = std::make_shared<CachedResponse>();
  entry->data_version = body->data_version != 0 ? body->data_version : version;
  entry->content_type = kJson;
  entry->body = std::move(body->json);
  res.status = 200;
  res.set_header("X-Data-Version", absl::StrCat(entry->data_version));
  res.set_content(entry->body, entry->content_type);
  backends_.metrics->CountCache(false);
  if (cacheable && entry->data_version == version) cache_.Put(key, std::move(entry));
  return "miss";
}

}  // namespace localbench::collector::http
