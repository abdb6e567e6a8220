// Rendering responses for editors: an aligned terminal table (colour only
// on a TTY), protobuf JSON, or CSV, from any message by reflection.
#ifndef LOCALBENCH_CLI_OUTPUT_H_
#define LOCALBENCH_CLI_OUTPUT_H_

#include <ostream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

namespace localbench::cli {

// How to print.
enum class Format { kTable, kJson, kCsv };

// One column of the terminal table: a header and a dotted field path in
// the row message (e.g. "largest_ok_batch.median").
struct Column {
  std::string header;
  std::string path;
};

// What to print of a response: the repeated message field holding its rows
// ("" prints the message itself as one row) and the table's columns.
struct View {
  std::string rows_field;
  std::vector<Column> columns;
};

// Writes `response` to `out`: JSON is the whole message (protobuf JSON,
// .proto field names, defaults printed); CSV is every leaf field of the rows
// (dotted paths; first column data_version when the response names one);
// the table shows `view.columns`, then any verdicts the response carries.
void Print(const google::protobuf::Message& response, const View& view, Format format, bool colour,
           std::ostream& out);

// The short lower-case name of an enum value: WORKLOAD_KIND_TRAIN_LORA ->
// "train_lora" (the enum's type name, in upper snake case, is the prefix).
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value);

// The enum value whose short name (or full name) is `text`; null if none.
const google::protobuf::EnumValueDescriptor* ParseEnum(const google::protobuf::EnumDescriptor& type,
                                                       const std::string& text);

// The short names of an enum's values, except the unspecified one ("a|b|c").
std::string EnumChoices(const google::protobuf::EnumDescriptor& type);

}  // namespace localbench::cli

#endif  // LOCALBENCH_CLI_OUTPUT_H_
