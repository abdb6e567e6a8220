#include "localbench/collector/wire.h"

#include <cstdint>
#include <unordered_map>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "absl/strings/str_cat.h"
#include "localbench/collector/validation.h"

namespace localbench::collector {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Protobuf's default recursion limit; our messages nest a few levels.
constexpr int kMaxDepth = 100;

// What the walk found: the bad field's path, or that it could not go on.
struct Walk {
  std::string path;
  bool malformed = false;
};

void WalkMessage(std::string_view bytes, const Descriptor& type, const std::string& prefix, int depth,
                 Walk* out) {
  if (depth > kMaxDepth) {
    out->malformed = true;
    return;
  }
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetRecursionLimit(kMaxDepth);
  std::unordered_map<int, int> seen;  // field number -> occurrences so far
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      // 0 is both the clean end and a malformed tag.
      if (!in.ConsumedEntireMessage()) out->malformed = true;
      return;
    }
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const FieldDescriptor* field = type.FindFieldByNumber(number);
    const int index = seen[number]++;
    uint64_t scratch64 = 0;
    uint32_t scratch32 = 0;
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT:
        if (!in.ReadVarint64(&scratch64)) out->malformed = true;
        break;
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!in.ReadLittleEndian64(&scratch64)) out->malformed = true;
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!in.ReadLittleEndian32(&scratch32)) out->malformed = true;
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length = 0;
        std::string payload;
        if (!in.ReadVarint32(&length) || !in.ReadString(&payload, static_cast<int>(length))) {
          out->malformed = true;
          break;
        }
        if (field == nullptr) break;  // unknown field: kept as bytes, never checked
        std::string path = prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
        if (field->is_repeated()) absl::StrAppend(&path, "[", index, "]");
        if (field->type() == FieldDescriptor::TYPE_STRING) {
          if (!IsValidUtf8(payload)) {
            out->path = std::move(path);
            return;
          }
        } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
          WalkMessage(payload, *field->message_type(), path, depth + 1, out);
          if (!out->path.empty()) return;
        }
        break;
      }
      default:  // groups (never in our protos) and invalid wire types
        out->malformed = true;
        break;
    }
    if (out->malformed) return;
  }
}

}  // namespace

std::string FindInvalidUtf8(std::string_view bytes, const Descriptor& type) {
  Walk walk;
  WalkMessage(bytes, type, "", 0, &walk);
  return walk.path;
}

absl::Status ParseUntrusted(std::string_view bytes, google::protobuf::Message* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return absl::OkStatus();
  const std::string path = FindInvalidUtf8(bytes, *message->GetDescriptor());
  if (!path.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": must be valid UTF-8"));
  return absl::InvalidArgumentError(absl::StrCat("request: is not a valid ", message->GetTypeName(),
                                                 " (malformed protobuf)"));
}

}  // namespace localbench::collector
