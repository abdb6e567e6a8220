#include "localbench/collector/http/params.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace localbench::collector::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Nested messages deeper than this are a schema mistake (or recursion).
constexpr int kMaxDepth = 8;

bool IsWellKnown(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

std::string PathText(const std::vector<const FieldDescriptor*>& path) {
  return absl::StrJoin(path, ".", [](std::string* out, const FieldDescriptor* f) { out->append(f->name()); });
}

// "WorkloadKind" -> "WORKLOAD_KIND".
std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (std::size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (i > 0 && std::isupper(static_cast<unsigned char>(c)) &&
        (std::islower(static_cast<unsigned char>(camel[i - 1])) ||
         std::isdigit(static_cast<unsigned char>(camel[i - 1])))) {
      out += '_';
    }
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

absl::Status Bad(const std::string& name, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("parameter ", name, ": ", why));
}

}  // namespace

RequestSchema::RequestSchema(const Descriptor* request) : descriptor_(request) {
  std::vector<const FieldDescriptor*> prefix;
  Flatten(request, prefix, 0);
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    auto [it, inserted] = by_name_.emplace(leaves_[i].name, i);
    if (!inserted) {
      // A broken invariant of the contract: two leaves would share a name.
      std::fprintf(stderr, "localbench-collector: %s: leaf fields %s and %s share the parameter name %s\n",
                   request->full_name().c_str(), PathText(leaves_[it->second].path).c_str(),
                   PathText(leaves_[i].path).c_str(), leaves_[i].name.c_str());
      std::abort();
    }
  }
}

void RequestSchema::Flatten(const Descriptor* message, std::vector<const FieldDescriptor*>& prefix, int depth) {
  if (depth > kMaxDepth) {
    std::fprintf(stderr, "localbench-collector: %s nests deeper than %d\n", descriptor_->full_name().c_str(),
                 kMaxDepth);
    std::abort();
  }
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    prefix.push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
        !IsWellKnown(f->message_type())) {
      Flatten(f->message_type(), prefix, depth + 1);
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && f->is_repeated()) {
      // A list of messages has no flat parameter form; requests do not use one.
      std::fprintf(stderr, "localbench-collector: %s: repeated message %s cannot be a parameter\n",
                   descriptor_->full_name().c_str(), PathText(prefix).c_str());
      std::abort();
    } else {
      leaves_.push_back(LeafField{f->name(), prefix});
    }
    prefix.pop_back();
  }
}

const LeafField* RequestSchema::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &leaves_[it->second];
}

std::string ShortEnumName(const EnumValueDescriptor* value) {
  const std::string prefix = UpperSnake(value->type()->name()) + "_";
  std::string name = value->name();
  if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor* type, const std::string& text) {
  if (const EnumValueDescriptor* v = type->FindValueByName(text); v != nullptr) return v;
  for (int i = 0; i < type->value_count(); ++i) {
    if (ShortEnumName(type->value(i)) == text) return type->value(i);
  }
  return nullptr;
}

absl::Status SetLeaf(const LeafField& leaf, const std::string& text, Message* request) {
  Message* m = request;
  for (std::size_t i = 0; i + 1 < leaf.path.size(); ++i) {
    m = m->GetReflection()->MutableMessage(m, leaf.path[i]);
  }
  const FieldDescriptor* f = leaf.field();
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  const std::string& name = leaf.name;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, text) : r->SetString(m, f, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (text == "true" || text == "1") {
        v = true;
      } else if (text != "false" && text != "0") {
        return Bad(name, absl::StrCat("\"", text, "\" is not a boolean (true, false, 1, 0)"));
      }
      rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return Bad(name, absl::StrCat("\"", text, "\" is not a 32-bit integer"));
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return Bad(name, absl::StrCat("\"", text, "\" is not a 64-bit integer"));
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t v = 0;
      if (text.empty() || text[0] == '-' || !absl::SimpleAtoi(text, &v)) {
        return Bad(name, absl::StrCat("\"", text, "\" is not a non-negative 32-bit integer"));
      }
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t v = 0;
      if (text.empty() || text[0] == '-' || !absl::SimpleAtoi(text, &v)) {
        return Bad(name, absl::StrCat("\"", text, "\" is not a non-negative 64-bit integer"));
      }
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        return Bad(name, absl::StrCat("\"", text, "\" is not a finite number"));
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(m, f, static_cast<float>(v)) : r->SetFloat(m, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* v = FindEnumValue(f->enum_type(), text);
      if (v == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < f->enum_type()->value_count(); ++i) {
          if (f->enum_type()->value(i)->number() != 0) names.push_back(ShortEnumName(f->enum_type()->value(i)));
        }
        return Bad(name, absl::StrCat("\"", text, "\" is not one of ", absl::StrJoin(names, ", ")));
      }
      rep ? r->AddEnum(m, f, v) : r->SetEnum(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // A well-known type (Timestamp, Duration, wrappers): its JSON string form.
      Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      std::string json = "\"";
      for (char c : text) {
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
          return Bad(name, "unexpected character");
        }
        json += c;
      }
      json += '"';
      if (!google::protobuf::util::JsonStringToMessage(json, sub).ok()) {
        return Bad(name, absl::StrCat("\"", text, "\" is not a valid ", f->message_type()->name()));
      }
      return absl::OkStatus();
    }
  }
  return Bad(name, "unsupported field type");
}

absl::Status ApplyParams(const RequestSchema& schema, const std::vector<std::pair<std::string, std::string>>& params,
                         Message* request, const std::vector<std::string>& reserved) {
  std::set<std::string> seen;
  for (const auto& [name, value] : params) {
    for (const std::string& r : reserved) {
      if (name == r) return Bad(name, "is part of the path, not a query parameter");
    }
    const LeafField* leaf = schema.Find(name);
    if (leaf == nullptr) {
      std::vector<std::string> names;
      for (const LeafField& l : schema.leaves()) {
        bool is_reserved = false;
        for (const std::string& r : reserved) is_reserved |= l.name == r;
        if (!is_reserved) names.push_back(l.name);
      }
      return Bad(name, names.empty() ? "unknown (this route takes no parameters)"
                                     : absl::StrCat("unknown; accepted: ", absl::StrJoin(names, ", ")));
    }
    if (leaf->field()->is_repeated()) {
      for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (absl::Status st = SetLeaf(*leaf, std::string(part), request); !st.ok()) return st;
      }
      continue;
    }
    if (!seen.insert(name).second) return Bad(name, "given more than once");
    if (absl::Status st = SetLeaf(*leaf, value, request); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::int64_t GetIntLeaf(const RequestSchema& schema, const std::string& name, const Message& request) {
  const LeafField* leaf = schema.Find(name);
  if (leaf == nullptr || leaf->field()->is_repeated()) return 0;
  const Message* m = &request;
  for (std::size_t i = 0; i + 1 < leaf->path.size(); ++i) {
    if (!m->GetReflection()->HasField(*m, leaf->path[i])) return 0;
    m = &m->GetReflection()->GetMessage(*m, leaf->path[i]);
  }
  const FieldDescriptor* f = leaf->field();
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(*m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(*m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(*m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return static_cast<std::int64_t>(r->GetUInt64(*m, f));
    default:
      return 0;
  }
}

}  // namespace localbench::collector::http
