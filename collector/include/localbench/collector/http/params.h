// Query parameters onto request messages, by protobuf reflection: every leaf
// field of a request (nested messages flattened) is one parameter named by
// its own field name, so a new request field is a new parameter with no code.
#ifndef LOCALBENCH_COLLECTOR_HTTP_PARAMS_H_
#define LOCALBENCH_COLLECTOR_HTTP_PARAMS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace localbench::collector::http {

// One leaf field of a request and how to reach it from the top message.
struct LeafField {
  std::string name;  // the parameter name: the field's own name
  // Fields from the top message down; the last is the leaf.
  std::vector<const google::protobuf::FieldDescriptor*> path;
  // The leaf itself.
  const google::protobuf::FieldDescriptor* field() const { return path.back(); }
};

// The parameters a request message accepts.
class RequestSchema {
 public:
  // Flattens `request`. Leaf names must be unique within a request (they are
  // the parameter names); a request breaking that is a programming error and
  // crashes with the clashing paths. google.protobuf.* messages are leaves.
  explicit RequestSchema(const google::protobuf::Descriptor* request);

  // The request type.
  const google::protobuf::Descriptor* descriptor() const { return descriptor_; }
  // Leaves in declaration order (depth first).
  const std::vector<LeafField>& leaves() const { return leaves_; }
  // The leaf named `name`, or null.
  const LeafField* Find(const std::string& name) const;

 private:
  void Flatten(const google::protobuf::Descriptor* message,
               std::vector<const google::protobuf::FieldDescriptor*>& prefix, int depth);

  const google::protobuf::Descriptor* descriptor_;
  std::vector<LeafField> leaves_;
  std::map<std::string, std::size_t> by_name_;
};

// The short name of an enum value: its name without the enum's conventional
// UPPER_SNAKE prefix, lower-cased ("WORKLOAD_KIND_TRAIN_LORA" -> "train_lora").
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);

// The enum value `text` names in `type`: its short name or its full name, or
// null.
const google::protobuf::EnumValueDescriptor* FindEnumValue(const google::protobuf::EnumDescriptor* type,
                                                            const std::string& text);

// Sets the fields of `request` (whose type is schema.descriptor()) from
// `params` (name, value) in order. Repeated fields take every occurrence and
// comma-separated lists; a singular field given twice, an unknown name, a
// malformed or out-of-range number or an unknown enum name is
// INVALID_ARGUMENT naming the parameter. Names in `reserved` (set from the
// path) are refused as parameters.
absl::Status ApplyParams(const RequestSchema& schema,
                         const std::vector<std::pair<std::string, std::string>>& params,
                         google::protobuf::Message* request, const std::vector<std::string>& reserved = {});

// Sets one leaf from text; INVALID_ARGUMENT naming `leaf.name` when the text
// does not parse as the field's type.
absl::Status SetLeaf(const LeafField& leaf, const std::string& text, google::protobuf::Message* request);

// The value of leaf field `name` in `request` as an int64, when it is a
// singular integer field that is set; 0 otherwise (e.g. as_of).
std::int64_t GetIntLeaf(const RequestSchema& schema, const std::string& name,
                        const google::protobuf::Message& request);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_PARAMS_H_
