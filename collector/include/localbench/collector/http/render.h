// The two representations of a response: JSON (the protobuf JSON mapping,
// proto field names, every field printed) and CSV (a flat rendering of the
// response's rows).
#ifndef LOCALBENCH_COLLECTOR_HTTP_RENDER_H_
#define LOCALBENCH_COLLECTOR_HTTP_RENDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

namespace localbench::collector::http {

// `message` in the protobuf JSON mapping with the .proto field names
// (snake_case, the same names as the query parameters), enums by name, and
// fields at their default value printed too, so every documented scalar
// property is always present. Unset message fields are left out.
std::string RenderJson(const google::protobuf::Message& message);

// The repeated message field of `type` that CSV renders one line per
// element (the first top-level one: rows, models, points, candidates), or
// null when there is none (the message itself is then the only row).
const google::protobuf::FieldDescriptor* CsvRowField(const google::protobuf::Descriptor* type);

// CSV column names for a response type: "data_version", then the dotted
// paths of every leaf field of the row message (nested messages
// flattened, google.protobuf.* types as leaves), in declaration order.
std::vector<std::string> CsvColumns(const google::protobuf::Descriptor* response);

// `message` as CSV (RFC 4180: CRLF line ends, fields quoted when they hold
// a comma, quote or line break): one header line (CsvColumns), then one line
// per row, each starting with `data_version`. Scalars as in JSON (enums by
// full name, timestamps in RFC 3339); repeated scalars inside a row are
// joined with ';'; repeated messages inside a row are one JSON array cell.
std::string RenderCsv(const google::protobuf::Message& message, std::int64_t data_version);

// The response's `version.data_version` (a DataVersion field named
// `version`), when the type has one and it is set.
std::optional<std::int64_t> ResponseDataVersion(const google::protobuf::Message& message);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_RENDER_H_
