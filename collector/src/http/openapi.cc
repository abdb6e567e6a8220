#include "localbench/collector/http/openapi.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.pb.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/http/params.h"
#include "localbench/collector/http/routes.h"

namespace localbench::collector::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;

// A JSON value whose objects keep insertion order, so the document reads in
// a deliberate order and regenerates byte for byte.
struct J {
  enum Kind { kBool, kNumber, kString, kArray, kObject } kind = kObject;
  std::string text;  // bool/number literal or string
  std::vector<J> items;
  std::vector<std::pair<std::string, J>> members;

  static J Str(std::string s) {
    J j;
    j.kind = kString;
    j.text = std::move(s);
    return j;
  }
  static J Num(long long n) {
    J j;
    j.kind = kNumber;
    j.text = std::to_string(n);
    return j;
  }
  static J Bool(bool b) {
    J j;
    j.kind = kBool;
    j.text = b ? "true" : "false";
    return j;
  }
  static J Arr() {
    J j;
    j.kind = kArray;
    return j;
  }
  static J Obj() { return J(); }
  J& Set(const std::string& key, J value) {
    members.emplace_back(key, std::move(value));
    return members.back().second;
  }
  J& Push(J value) {
    items.push_back(std::move(value));
    return items.back();
  }
};

void Quote(const std::string& s, std::string& out) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

void Write(const J& j, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  switch (j.kind) {
    case J::kBool:
    case J::kNumber:
      out += j.text;
      return;
    case J::kString:
      Quote(j.text, out);
      return;
    case J::kArray:
      if (j.items.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (std::size_t i = 0; i < j.items.size(); ++i) {
        out += pad;
        Write(j.items[i], indent + 2, out);
        out += i + 1 < j.items.size() ? ",\n" : "\n";
      }
      out += std::string(static_cast<std::size_t>(indent), ' ') + "]";
      return;
    case J::kObject:
      if (j.members.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      for (std::size_t i = 0; i < j.members.size(); ++i) {
        out += pad;
        Quote(j.members[i].first, out);
        out += ": ";
        Write(j.members[i].second, indent + 2, out);
        out += i + 1 < j.members.size() ? ",\n" : "\n";
      }
      out += std::string(static_cast<std::size_t>(indent), ' ') + "}";
      return;
  }
}

// A comment from the .proto (leading, else trailing), on one line.
template <typename D>
std::string Comment(const D* d) {
  google::protobuf::SourceLocation loc;
  if (!d->GetSourceLocation(&loc)) return "";
  const std::string& raw = loc.leading_comments.empty() ? loc.trailing_comments : loc.leading_comments;
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(raw, '\n')) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (!t.empty()) lines.emplace_back(t);
  }
  return absl::StrJoin(lines, " ");
}

bool IsWellKnown(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

std::string Ref(const Descriptor* d) { return absl::StrCat("#/components/schemas/", d->full_name()); }

// The JSON-mapping schema of one value of `f` (not the repetition).
J ValueSchema(const FieldDescriptor* f, std::set<const Descriptor*>& needed, bool short_enums) {
  J s = J::Obj();
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING:
      s.Set("type", J::Str("string"));
      break;
    case FieldDescriptor::TYPE_BYTES:
      s.Set("type", J::Str("string"));
      s.Set("format", J::Str("byte"));
      break;
    case FieldDescriptor::TYPE_BOOL:
      s.Set("type", J::Str("boolean"));
      break;
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      s.Set("type", J::Str("integer"));
      s.Set("format", J::Str("int32"));
      break;
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      s.Set("type", J::Str("integer"));
      s.Set("format", J::Str("int64"));
      s.Set("minimum", J::Num(0));
      s.Set("maximum", J::Num(4294967295LL));
      break;
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      // The protobuf JSON mapping writes 64-bit integers as decimal strings
      // (JavaScript numbers lose precision beyond 2^53).
      if (short_enums) {  // as a query parameter it is a plain integer
        s.Set("type", J::Str("integer"));
        s.Set("format", J::Str("int64"));
      } else {
        s.Set("type", J::Str("string"));
        s.Set("format", J::Str(f->type() == FieldDescriptor::TYPE_UINT64 || f->type() == FieldDescriptor::TYPE_FIXED64
                                   ? "uint64"
                                   : "int64"));
        s.Set("pattern", J::Str("^-?[0-9]+$"));
      }
      break;
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FLOAT:
      s.Set("type", J::Str("number"));
      s.Set("format", J::Str(f->type() == FieldDescriptor::TYPE_DOUBLE ? "double" : "float"));
      break;
    case FieldDescriptor::TYPE_ENUM: {
      s.Set("type", J::Str("string"));
      J& values = s.Set("enum", J::Arr());
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        const auto* v = f->enum_type()->value(i);
        values.Push(J::Str(short_enums ? ShortEnumName(v) : v->name()));
      }
      break;
    }
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP: {
      const Descriptor* m = f->message_type();
      if (m->full_name() == "google.protobuf.Timestamp") {
        s.Set("type", J::Str("string"));
        s.Set("format", J::Str("date-time"));
      } else if (m->full_name() == "google.protobuf.Duration") {
        s.Set("type", J::Str("string"));
        s.Set("pattern", J::Str("^-?[0-9]+(\\.[0-9]+)?s$"));
      } else {
        if (!IsWellKnown(m)) needed.insert(m);
        s.Set("$ref", J::Str(Ref(m)));
      }
      break;
    }
  }
  return s;
}

J FieldSchema(const FieldDescriptor* f, std::set<const Descriptor*>& needed, bool for_query) {
  J value = ValueSchema(f, needed, for_query);
  const std::string comment = Comment(f);
  if (f->is_repeated()) {
    J a = J::Obj();
    a.Set("type", J::Str("array"));
    if (!comment.empty()) a.Set("description", J::Str(comment));
    a.Set("items", std::move(value));
    return a;
  }
  if (comment.empty()) return value;
  if (!value.members.empty() && value.members[0].first == "$ref") {
    // OpenAPI 3.0 ignores siblings of $ref: wrap it to keep the description.
    J w = J::Obj();
    w.Set("description", J::Str(comment));
    w.Set("allOf", J::Arr()).Push(std::move(value));
    return w;
  }
  J described = J::Obj();
  described.Set("description", J::Str(comment));
  for (auto& member : value.members) described.members.push_back(std::move(member));
  return described;
}

J MessageSchema(const Descriptor* d, std::set<const Descriptor*>& needed) {
  J s = J::Obj();
  s.Set("type", J::Str("object"));
  if (const std::string c = Comment(d); !c.empty()) s.Set("description", J::Str(c));
  J& props = s.Set("properties", J::Obj());
  J required = J::Arr();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    props.Set(f->name(), FieldSchema(f, needed, false));
    // Printed always (RenderJson prints defaults) unless it is a singular
    // message or a proto3 `optional` scalar, which are left out when unset.
    const bool always = f->is_repeated() || (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE && !f->has_presence());
    if (always) required.Push(J::Str(f->name()));
  }
  s.Set("additionalProperties", J::Bool(false));
  if (!required.items.empty()) s.Set("required", std::move(required));
  return s;
}

J Header(const std::string& description) {
  J h = J::Obj();
  h.Set("description", J::Str(description));
  h.Set("schema", J::Obj()).Set("type", J::Str("string"));
  return h;
}

J ErrorRef() {
  J r = J::Obj();
  r.Set("$ref", J::Str("#/components/responses/Error"));
  return r;
}

J Property(const std::string& type, const std::string& description) {
  J p = J::Obj();
  p.Set("type", J::Str(type));
  p.Set("description", J::Str(description));
  return p;
}

// The parameters of a route: the request's leaves (and the {id} segment).
absl::Status AddParameters(const RouteSpec& spec, const Descriptor* input, J& params) {
  RequestSchema schema(input);
  if (!spec.path_field.empty()) {
    J p = J::Obj();
    p.Set("name", J::Str("id"));
    p.Set("in", J::Str("path"));
    p.Set("required", J::Bool(true));
    const LeafField* leaf = schema.Find(spec.path_field);
    if (leaf == nullptr) return absl::NotFoundError(absl::StrCat(spec.path, ": no field ", spec.path_field));
    p.Set("description", J::Str(absl::StrCat(spec.path_field, ": ", Comment(leaf->field()))));
    p.Set("schema", J::Obj()).Set("type", J::Str("string"));
    params.Push(std::move(p));
  }
  for (const LeafField& leaf : schema.leaves()) {
    if (leaf.name == spec.path_field) continue;
    J p = J::Obj();
    p.Set("name", J::Str(leaf.name));
    p.Set("in", J::Str("query"));
    p.Set("required", J::Bool(false));
    std::set<const Descriptor*> ignored;
    J s = ValueSchema(leaf.field(), ignored, true);
    if (leaf.field()->is_repeated()) {
      J a = J::Obj();
      a.Set("type", J::Str("array"));
      a.Set("items", std::move(s));
      s = std::move(a);
    }
    const std::string comment = Comment(leaf.field());
    std::vector<std::string> path;
    for (const auto* f : leaf.path) path.push_back(f->name());
    p.Set("description", J::Str(absl::StrCat(absl::StrJoin(path, "."), comment.empty() ? "" : ": ", comment)));
    if (leaf.field()->is_repeated()) {
      p.Set("style", J::Str("form"));
      p.Set("explode", J::Bool(true));
    }
    p.Set("schema", std::move(s));
    params.Push(std::move(p));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadDescriptorSet(const std::string& path, DescriptorPool* pool) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read descriptor set ", path));
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromIstream(&in)) return absl::InvalidArgumentError(absl::StrCat(path, ": not a FileDescriptorSet"));
  for (const auto& file : set.file()) {
    if (pool->BuildFile(file) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": cannot build ", file.name()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GenerateOpenApi(const DescriptorPool& pool) {
  const auto* service = pool.FindServiceByName("localbench.v1.Query");
  if (service == nullptr) return absl::NotFoundError("localbench.v1.Query is not in the descriptor pool");
  std::set<const Descriptor*> needed;

  J doc = J::Obj();
  doc.Set("openapi", J::Str("3.0.3"));
  J& info = doc.Set("info", J::Obj());
  info.Set("title", J::Str("localbench collector HTTP API"));
  info.Set("version", J::Str("v1"));
  info.Set("description",
           J::Str("Read-only, public benchmark tables. Generated from proto/localbench/v1/*.proto and the route "
                  "table in collector/src/http/routes.cc by localbench-openapi; do not edit by hand. JSON bodies "
                  "are the protobuf JSON mapping of the named messages with the .proto field names, every field "
                  "printed (64-bit integers as decimal strings, enums by full name, unset messages left out). "
                  "Every table route also answers CSV: add the .csv suffix to the path or send Accept: text/csv. "
                  "Query parameters are the leaf field names of the request message; enums take their short "
                  "lower-case name (kind=train_lora) or the full name; repeated parameters repeat or take a "
                  "comma-separated list."));
  J& paths = doc.Set("paths", J::Obj());

  for (const RouteSpec& spec : QueryRouteSpecs()) {
    const auto* method = service->FindMethodByName(spec.rpc);
    if (method == nullptr) return absl::NotFoundError(absl::StrCat("Query.", spec.rpc, " is not in the pool"));
    J& get = paths.Set(spec.path, J::Obj()).Set("get", J::Obj());
    get.Set("operationId", J::Str(spec.rpc));
    get.Set("summary", J::Str(Comment(method)));
    get.Set("description",
            J::Str(absl::StrCat("gRPC: localbench.v1.Query/", spec.rpc, " (", method->input_type()->name(), " -> ",
                                method->output_type()->name(), "). CSV: ", spec.path, ".csv or Accept: text/csv.")));
    J& params = get.Set("parameters", J::Arr());
    if (absl::Status st = AddParameters(spec, method->input_type(), params); !st.ok()) return st;
    J& responses = get.Set("responses", J::Obj());
    J& ok = responses.Set("200", J::Obj());
    ok.Set("description", J::Str(Comment(method->output_type())));
    J& headers = ok.Set("headers", J::Obj());
    headers.Set("ETag", Header("Strong tag of (data version, route, canonical query, representation)"));
    headers.Set("X-Data-Version", Header("Data version the response was read at"));
    headers.Set("Cache-Control",
                Header("public, max-age=5 at the newest version; public, max-age=31536000, immutable with as_of"));
    headers.Set("X-Request-Id", Header("The client's X-Request-Id, or a generated one"));
    J& content = ok.Set("content", J::Obj());
    content.Set("application/json", J::Obj()).Set("schema", J::Obj()).Set("$ref", J::Str(Ref(method->output_type())));
    J& csv = content.Set("text/csv", J::Obj()).Set("schema", J::Obj());
    csv.Set("type", J::Str("string"));
    csv.Set("description",
            J::Str("RFC 4180; a header line of dotted field paths, the first column data_version, one line per "
                   "element of the response's first repeated message field (or one line for the message)"));
    needed.insert(method->output_type());
    responses.Set("304", J::Obj()).Set("description", J::Str("Not modified: If-None-Match named the current ETag"));
    for (const char* code : {"400", "404", "500", "503"}) responses.Set(code, ErrorRef());
  }

  for (const RouteSpec& spec : ChartRouteSpecs()) {
    const auto* method = service->FindMethodByName(spec.rpc);
    if (method == nullptr) return absl::NotFoundError(absl::StrCat("Query.", spec.rpc, " is not in the pool"));
    J& get = paths.Set(spec.path, J::Obj()).Set("get", J::Obj());
    get.Set("operationId", J::Str(absl::StrCat("Chart", spec.path.substr(spec.path.rfind('/') + 1))));
    get.Set("summary", J::Str(absl::StrCat("Vega-Lite v5 chart of ", spec.rpc, " with the data inlined")));
    std::string description = absl::StrCat(
        "The chart of the same table as gRPC localbench.v1.Query/", spec.rpc, " (", method->input_type()->name(),
        "), with the same parameters, ETag and caching. Embed with vega-embed, or render to SVG with vl2svg "
        "(scripts/chart-svg.sh). Named layers: see collector/include/localbench/collector/http/charts.h.");
    if (spec.path == "/v1/charts/throughput") {
      absl::StrAppend(&description, " device_model takes one slug or a comma-separated list (one line each, at most 8).");
    }
    get.Set("description", J::Str(description));
    J& params = get.Set("parameters", J::Arr());
    if (absl::Status st = AddParameters(spec, method->input_type(), params); !st.ok()) return st;
    J& responses = get.Set("responses", J::Obj());
    J& ok = responses.Set("200", J::Obj());
    ok.Set("description", J::Str("A Vega-Lite v5 specification"));
    J& headers = ok.Set("headers", J::Obj());
    headers.Set("ETag", Header("Strong tag of (data version, route, canonical query)"));
    headers.Set("X-Data-Version", Header("Data version the chart's data was read at"));
    headers.Set("Cache-Control",
                Header("public, max-age=5 at the newest version; public, max-age=31536000, immutable with as_of"));
    headers.Set("X-Request-Id", Header("The client's X-Request-Id, or a generated one"));
    ok.Set("content", J::Obj()).Set("application/json", J::Obj()).Set("schema", J::Obj()).Set(
        "$ref", J::Str("#/components/schemas/VegaLiteSpec"));
    responses.Set("304", J::Obj()).Set("description", J::Str("Not modified: If-None-Match named the current ETag"));
    for (const char* code : {"400", "404", "500", "503"}) responses.Set(code, ErrorRef());
  }

  {
    J& get = paths.Set("/healthz", J::Obj()).Set("get", J::Obj());
    get.Set("operationId", J::Str("Health"));
    get.Set("summary", J::Str("Database reachable and every migration of this binary applied"));
    get.Set("parameters", J::Arr());
    J& responses = get.Set("responses", J::Obj());
    for (const char* code : {"200", "503"}) {
      J& r = responses.Set(code, J::Obj());
      r.Set("description", J::Str(std::string(code) == "200" ? "Healthy" : "Unhealthy"));
      r.Set("content", J::Obj()).Set("application/json", J::Obj()).Set("schema", J::Obj()).Set(
          "$ref", J::Str("#/components/schemas/Health"));
    }
  }
  {
    J& get = paths.Set("/metrics", J::Obj()).Set("get", J::Obj());
    get.Set("operationId", J::Str("Metrics"));
    get.Set("summary", J::Str("Prometheus text format 0.0.4: requests and latency per route and RPC, ingest "
                              "outcomes, connection pool, data version"));
    get.Set("parameters", J::Arr());
    J& r = get.Set("responses", J::Obj()).Set("200", J::Obj());
    r.Set("description", J::Str("The metrics"));
    r.Set("content", J::Obj()).Set("text/plain", J::Obj()).Set("schema", J::Obj()).Set("type", J::Str("string"));
  }

  J& components = doc.Set("components", J::Obj());
  J& error_response = components.Set("responses", J::Obj()).Set("Error", J::Obj());
  error_response.Set("description", J::Str("A client mistake (4xx) or a server problem (5xx)"));
  error_response.Set("content", J::Obj()).Set("application/json", J::Obj()).Set("schema", J::Obj()).Set(
      "$ref", J::Str("#/components/schemas/Error"));
  J& schemas = components.Set("schemas", J::Obj());
  {
    J& e = schemas.Set("Error", J::Obj());
    e.Set("type", J::Str("object"));
    J& props = e.Set("properties", J::Obj());
    J& inner = props.Set("error", J::Obj());
    inner.Set("type", J::Str("object"));
    J& ip = inner.Set("properties", J::Obj());
    ip.Set("code", Property("integer", "the HTTP status"));
    ip.Set("status", Property("string", "the canonical status name, e.g. INVALID_ARGUMENT"));
    ip.Set("message", Property("string", "what was wrong, naming the parameter or field"));
    ip.Set("parameter", Property("string", "the query parameter at fault, when one is"));
    inner.Set("additionalProperties", J::Bool(false));
    J& ir = inner.Set("required", J::Arr());
    for (const char* n : {"code", "status", "message"}) ir.Push(J::Str(n));
    e.Set("additionalProperties", J::Bool(false));
    e.Set("required", J::Arr()).Push(J::Str("error"));
  }
  {
    J& v = schemas.Set("VegaLiteSpec", J::Obj());
    v.Set("type", J::Str("object"));
    v.Set("description", J::Str("A Vega-Lite v5 specification (https://vega.github.io/schema/vega-lite/v5.json) "
                                "with its data inlined; usermeta names the chart and the data version"));
    J& props = v.Set("properties", J::Obj());
    props.Set("$schema", Property("string", "the Vega-Lite schema URL (an identifier: nothing is fetched)"));
    J& usermeta = props.Set("usermeta", J::Obj());
    usermeta.Set("type", J::Str("object"));
    J& up = usermeta.Set("properties", J::Obj());
    up.Set("chart", Property("string", "memory, throughput, compare or stack"));
    up.Set("data_version", Property("integer", "the data version the chart's data was read at"));
    up.Set("memory_unit", Property("string", "memory charts: the unit of the memory axis (GiB, MiB or KiB)"));
    usermeta.Set("additionalProperties", J::Bool(false));
    J& ur = usermeta.Set("required", J::Arr());
    ur.Push(J::Str("chart"));
    ur.Push(J::Str("data_version"));
    v.Set("additionalProperties", J::Bool(true));
    J& r = v.Set("required", J::Arr());
    for (const char* n : {"$schema", "usermeta", "data"}) r.Push(J::Str(n));
  }
  {
    J& h = schemas.Set("Health", J::Obj());
    h.Set("type", J::Str("object"));
    J& props = h.Set("properties", J::Obj());
    props.Set("status", Property("string", "ok or unavailable"));
    props.Set("database", Property("string", "reachable, unreachable or error"));
    props.Set("schema_version", Property("integer", "newest migration applied to the database"));
    props.Set("expected_schema_version", Property("integer", "newest migration built into this collector"));
    props.Set("data_version", Property("integer", "newest public data version"));
    props.Set("error", Property("string", "why the check failed"));
    h.Set("additionalProperties", J::Bool(false));
    J& r = h.Set("required", J::Arr());
    r.Push(J::Str("status"));
    r.Push(J::Str("database"));
  }
  // Every message reachable from a response, in name order.
  std::set<std::string> done;
  std::vector<std::pair<std::string, J>> found;
  while (!needed.empty()) {
    const Descriptor* d = *needed.begin();
    needed.erase(needed.begin());
    if (!done.insert(d->full_name()).second) continue;
    found.emplace_back(d->full_name(), MessageSchema(d, needed));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, schema] : found) schemas.Set(name, std::move(schema));

  std::string out;
  Write(doc, 0, out);
  out += "\n";
  return out;
}

}  // namespace localbench::collector::http
