// Parsing untrusted protobuf bytes with an answer that names the field.
// Protobuf's own parser refuses a proto3 string holding invalid UTF-8 with
// no word on which one; the collector parses raw request bytes itself so an
// agent learns the field path instead of an empty INTERNAL.
#ifndef LOCALBENCH_COLLECTOR_WIRE_H_
#define LOCALBENCH_COLLECTOR_WIRE_H_

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace localbench::collector {

// Parses `bytes` into `message`. On failure: INVALID_ARGUMENT whose message
// starts with the offending field's path from the request's root, e.g.
// "submission.sweeps[2].points[0].error_message: must be valid UTF-8", or
// "request: is not a valid localbench.v1.SubmitRequest (...)" when the bytes
// are malformed in a way no single string explains.
absl::Status ParseUntrusted(std::string_view bytes, google::protobuf::Message* message);

// The path of the first string field in `bytes` (a serialised message of
// `type`) holding invalid UTF-8, or "" when there is none or the bytes are
// malformed first. Walks the wire format with the descriptors, without
// parsing (which would fail on exactly that field).
std::string FindInvalidUtf8(std::string_view bytes, const google::protobuf::Descriptor& type);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_WIRE_H_
