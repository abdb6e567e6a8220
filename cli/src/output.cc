#include "output.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace localbench::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Json(const Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  o.add_whitespace = pretty;
  std::string s;
  (void)google::protobuf::util::MessageToJsonString(m, &s, o);
  if (!pretty) return s;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool IsTimestamp(const Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }

std::string Number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.2f", v);
}

// One singular or repeated element of `f` in `m` as text.
std::string Scalar(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32: return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64: return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: return Number(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT: return Number(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL: return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM: return ShortEnumName(*(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f)));
    case FieldDescriptor::CPPTYPE_STRING: return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      if (IsTimestamp(f->message_type())) {
        return google::protobuf::util::TimeUtil::ToString(static_cast<const google::protobuf::Timestamp&>(sub));
      }
      return Json(sub, false);
    }
  }
  return "";
}

// The value at dotted `path` of `m`; "" when a message on the way is absent.
std::string ValueAt(const Message& m, const std::string& path) {
  const Message* cur = &m;
  std::vector<std::string> steps = absl::StrSplit(path, '.');
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const FieldDescriptor* f = cur->GetDescriptor()->FindFieldByName(steps[i]);
    if (f == nullptr) return "";
    const Reflection* r = cur->GetReflection();
    if (f->is_repeated()) {
      std::vector<std::string> parts;
      for (int j = 0; j < r->FieldSize(*cur, f); ++j) parts.push_back(Scalar(*cur, f, j));
      return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? absl::StrCat("[", absl::StrJoin(parts, ","), "]")
                                                               : absl::StrJoin(parts, "; ");
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && (i + 1 < steps.size() || !IsTimestamp(f->message_type()))) {
      if (!r->HasField(*cur, f)) return "";
      if (i + 1 == steps.size()) return Json(r->GetMessage(*cur, f), false);
      cur = &r->GetMessage(*cur, f);
      continue;
    }
    // An absent message or optional scalar (a training dimension of an
    // inference row) prints empty, not as a default value.
    if (f->has_presence() && !r->HasField(*cur, f)) return "";
    return Scalar(*cur, f, 0);
  }
  return "";
}

// Every leaf path of `d` (singular messages flattened with dots).
void LeafPaths(const Descriptor* d, const std::string& prefix, std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = prefix + f->name();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() && !IsTimestamp(f->message_type())) {
      LeafPaths(f->message_type(), name + ".", out);
    } else {
      out->push_back(name);
    }
  }
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// The rows to print: the messages of `rows_field`, or the message itself.
std::vector<const Message*> Rows(const Message& response, const std::string& rows_field) {
  std::vector<const Message*> rows;
  if (rows_field.empty()) {
    rows.push_back(&response);
    return rows;
  }
  const FieldDescriptor* f = response.GetDescriptor()->FindFieldByName(rows_field);
  for (int i = 0; f != nullptr && i < response.GetReflection()->FieldSize(response, f); ++i) {
    rows.push_back(&response.GetReflection()->GetRepeatedMessage(response, f, i));
  }
  return rows;
}

// The data version a response names ("" when it names none).
std::string DataVersionOf(const Message& response) {
  for (const char* path : {"version.data_version", "data_version"}) {
    const std::string v = ValueAt(response, path);
    if (!v.empty()) return v;
  }
  return "";
}

std::size_t Width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // code points, not bytes
  return n;
}

std::string Clip(const std::string& s, std::size_t max) {
  if (Width(s) <= max) return s;
  std::string out;
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80 && ++n > max - 1) break;
    out += static_cast<char>(c);
  }
  return out + "…";
}

}  // namespace

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value) {
  std::string prefix;
  for (char c : value.type()->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !prefix.empty()) prefix += '_';
    prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  prefix += '_';
  std::string name = value.name();
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

const google::protobuf::EnumValueDescriptor* ParseEnum(const google::protobuf::EnumDescriptor& type,
                                                       const std::string& text) {
  for (int i = 0; i < type.value_count(); ++i) {
    const auto* v = type.value(i);
    if (v->number() == 0) continue;
    if (ShortEnumName(*v) == absl::AsciiStrToLower(text) || v->name() == text) return v;
  }
  return nullptr;
}

std::string EnumChoices(const google::protobuf::EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    if (type.value(i)->number() != 0) names.push_back(ShortEnumName(*type.value(i)));
  }
  return absl::StrJoin(names, "|");
}

void Print(const Message& response, const View& view, Format format, bool colour, std::ostream& out) {
  if (format == Format::kJson) {
    out << Json(response, true) << "\n";
    return;
  }
  const std::vector<const Message*> rows = Rows(response, view.rows_field);
  const std::string version = DataVersionOf(response);
  if (format == Format::kCsv) {
    std::vector<std::string> paths;
    const Descriptor* row_type = rows.empty() ? nullptr : rows.front()->GetDescriptor();
    if (row_type == nullptr && !view.rows_field.empty()) {
      const FieldDescriptor* f = response.GetDescriptor()->FindFieldByName(view.rows_field);
      if (f != nullptr) row_type = f->message_type();
    }
    if (row_type != nullptr) LeafPaths(row_type, "", &paths);
    const bool versioned = !version.empty() && !view.rows_field.empty();
    std::vector<std::string> header;
    if (versioned) header.push_back("data_version");
    for (const auto& p : paths) header.push_back(CsvField(p));
    out << absl::StrJoin(header, ",") << "\r\n";
    for (const Message* row : rows) {
      std::vector<std::string> cells;
      if (versioned) cells.push_back(version);
      for (const auto& p : paths) cells.push_back(CsvField(ValueAt(*row, p)));
      out << absl::StrJoin(cells, ",") << "\r\n";
    }
    return;
  }
  // The aligned table.
  const char* bold = colour ? "\x1b[1m" : "";
  const char* red = colour ? "\x1b[31m" : "";
  const char* reset = colour ? "\x1b[0m" : "";
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> widths;
  for (const Column& c : view.columns) widths.push_back(Width(c.header));
  for (const Message* row : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < view.columns.size(); ++i) {
      line.push_back(Clip(ValueAt(*row, view.columns[i].path), 60));
      widths[i] = std::max(widths[i], Width(line.back()));
    }
    cells.push_back(std::move(line));
  }
  auto pad = [](const std::string& s, std::size_t w) { return s + std::string(w - std::min(w, Width(s)), ' '); };
  std::string head;
  for (std::size_t i = 0; i < view.columns.size(); ++i) {
    absl::StrAppend(&head, i ? "  " : "", pad(view.columns[i].header, i + 1 < view.columns.size() ? widths[i] : 0));
  }
  out << bold << head << reset << "\n";
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      absl::StrAppend(&text, i ? "  " : "", i + 1 < line.size() ? pad(line[i], widths[i]) : line[i]);
    }
    out << text << "\n";
  }
  if (rows.empty() && !view.rows_field.empty()) out << "(no rows)\n";
  // Verdicts served with a table, under it.
  if (const FieldDescriptor* vf = response.GetDescriptor()->FindFieldByName("verdicts");
      vf != nullptr && view.rows_field != "verdicts") {
    for (const Message* v : Rows(response, "verdicts")) {
      const bool stale = ValueAt(*v, "stale") == "true";
      out << "verdict " << ValueAt(*v, "verdict_id") << " on " << ValueAt(*v, "device_model") << " by "
          << ValueAt(*v, "editor") << (stale ? absl::StrCat(" ", red, "[STALE: ", ValueAt(*v, "stale_reasons"), "]", reset) : "")
          << ": " << ValueAt(*v, "text") << "\n";
    }
  }
  if (!version.empty()) out << "data version " << version << "\n";
}

}  // namespace localbench::cli
