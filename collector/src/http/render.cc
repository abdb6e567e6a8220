#include "localbench/collector/http/render.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace localbench::collector::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxDepth = 8;

bool IsWellKnown(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

google::protobuf::util::JsonPrintOptions JsonOptions() {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  o.always_print_enums_as_ints = false;
  return o;
}

// A message as JSON; the messages here always serialise (no Any, no maps of
// unknown types), so a failure is a broken invariant.
std::string Json(const Message& m) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, JsonOptions()).ok()) std::abort();
  return out;
}

// Shortest text that reads back as the same double.
std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) std::abort();
  return std::string(buf, end);
}

std::string Quote(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void Columns(const Descriptor* d, const std::string& prefix, int depth, std::vector<std::string>& out) {
  if (depth > kMaxDepth) std::abort();  // recursive types never reach CSV
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() && !IsWellKnown(f->message_type())) {
      Columns(f->message_type(), name, depth + 1, out);
    } else {
      out.push_back(name);
    }
  }
}

// One singular or repeated element's text.
std::string Scalar(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Number(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Number(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // Well-known types: their JSON form without the surrounding quotes
      // (a timestamp reads "2026-11-30T10:00:00Z").
      std::string j = Json(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      if (j.size() >= 2 && j.front() == '"' && j.back() == '"') j = j.substr(1, j.size() - 2);
      return j;
    }
  }
  return "";
}

// Appends the cells of `m` (or of an absent message: empty cells).
void Cells(const Descriptor* d, const Message* m, int depth, std::vector<std::string>& out) {
  if (depth > kMaxDepth) std::abort();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const bool nested =
        f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() && !IsWellKnown(f->message_type());
    if (nested) {
      const Message* sub = nullptr;
      if (m != nullptr && m->GetReflection()->HasField(*m, f)) sub = &m->GetReflection()->GetMessage(*m, f);
      Cells(f->message_type(), sub, depth + 1, out);
      continue;
    }
    if (m == nullptr) {
      out.emplace_back();
      continue;
    }
    const Reflection* r = m->GetReflection();
    if (!f->is_repeated()) {
      // Absent optional scalars and unset timestamps stay empty: unknown, not zero.
      const bool tracks_presence = f->has_presence();
      out.push_back(tracks_presence && !r->HasField(*m, f) ? std::string() : Scalar(*m, f, -1));
      continue;
    }
    const int n = r->FieldSize(*m, f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      std::string cell = "[";
      for (int k = 0; k < n; ++k) absl::StrAppend(&cell, k ? "," : "", Json(r->GetRepeatedMessage(*m, f, k)));
      out.push_back(cell + "]");
    } else {
      std::string cell;
      for (int k = 0; k < n; ++k) absl::StrAppend(&cell, k ? ";" : "", Scalar(*m, f, k));
      out.push_back(cell);
    }
  }
}

void Line(const std::vector<std::string>& cells, std::string& out) {
  for (std::size_t i = 0; i < cells.size(); ++i) absl::StrAppend(&out, i ? "," : "", Quote(cells[i]));
  out += "\r\n";
}

}  // namespace

std::string RenderJson(const Message& message) { return Json(message); }

const FieldDescriptor* CsvRowField(const Descriptor* type) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return f;
  }
  return nullptr;
}

std::vector<std::string> CsvColumns(const Descriptor* response) {
  std::vector<std::string> out = {"data_version"};
  const FieldDescriptor* rows = CsvRowField(response);
  Columns(rows != nullptr ? rows->message_type() : response, "", 0, out);
  return out;
}

std::string RenderCsv(const Message& message, std::int64_t data_version) {
  std::string out;
  const Descriptor* d = message.GetDescriptor();
  Line(CsvColumns(d), out);
  const FieldDescriptor* rows = CsvRowField(d);
  const std::string version = absl::StrCat(data_version);
  auto row = [&](const Message& m) {
    std::vector<std::string> cells = {version};
    Cells(m.GetDescriptor(), &m, 0, cells);
    Line(cells, out);
  };
  if (rows == nullptr) {
    row(message);
  } else {
    const Reflection* r = message.GetReflection();
    for (int i = 0; i < r->FieldSize(message, rows); ++i) row(r->GetRepeatedMessage(message, rows, i));
  }
  return out;
}

std::optional<std::int64_t> ResponseDataVersion(const Message& message) {
  const FieldDescriptor* f = message.GetDescriptor()->FindFieldByName("version");
  if (f == nullptr || f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
  const Reflection* r = message.GetReflection();
  if (!r->HasField(message, f)) return std::nullopt;
  const Message& v = r->GetMessage(message, f);
  const FieldDescriptor* dv = v.GetDescriptor()->FindFieldByName("data_version");
  if (dv == nullptr || dv->cpp_type() != FieldDescriptor::CPPTYPE_INT64 || dv->is_repeated()) return std::nullopt;
  return v.GetReflection()->GetInt64(v, dv);
}

}  // namespace localbench::collector::http
