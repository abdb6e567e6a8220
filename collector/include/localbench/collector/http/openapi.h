// The OpenAPI 3 description of the HTTP API, generated from the route table
// and the proto descriptors (field comments included when the pool was
// built from a descriptor set with source info), so docs/openapi.yaml cannot
// drift from the code: a test regenerates it and fails when it differs.
#ifndef LOCALBENCH_COLLECTOR_HTTP_OPENAPI_H_
#define LOCALBENCH_COLLECTOR_HTTP_OPENAPI_H_

#include <string>

#include <google/protobuf/descriptor.h>

#include "absl/status/statusor.h"

namespace localbench::collector::http {

// The OpenAPI 3.0 document (JSON, which is valid YAML) for every route of
// QueryRouteSpecs() plus /healthz and /metrics, with `pool` supplying the
// localbench.v1 types and their comments.
absl::StatusOr<std::string> GenerateOpenApi(const google::protobuf::DescriptorPool& pool);

// Loads a FileDescriptorSet (protoc --descriptor_set_out --include_imports
// --include_source_info) into `pool`.
absl::Status LoadDescriptorSet(const std::string& path, google::protobuf::DescriptorPool* pool);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_OPENAPI_H_
