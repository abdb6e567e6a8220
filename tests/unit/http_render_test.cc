// JSON and CSV renderings of responses.
#include "localbench/collector/http/render.h"

#include <gtest/gtest.h>

#include "localbench/v1/query.pb.h"

namespace localbench::collector::http {
namespace {

v1::DeviceModelList TwoModels() {
  v1::DeviceModelList list;
  list.mutable_version()->set_data_version(42);
  list.mutable_version()->mutable_made_at()->set_seconds(1700000000);
  auto* a = list.add_models();
  a->set_slug("rtx-4090-24gb");
  a->set_vendor(v1::VENDOR_NVIDIA);
  a->set_name("GeForce RTX 4090, \"Ada\"");  // a comma and quotes: must be quoted
  a->set_memory_bytes(25757220864u);
  a->set_bf16_tflops(165.2);
  auto* b = list.add_models();
  b->set_slug("cpu-generic");
  b->set_name("line\nbreak");
  return list;
}

TEST(HttpRender, JsonUsesProtoNamesAndPrintsDefaults) {
  const std::string json = RenderJson(TwoModels());
  EXPECT_NE(json.find("\"data_version\":\"42\""), std::string::npos) << json;  // int64 as string
  EXPECT_NE(json.find("\"made_at\":\"2023-11-14T22:13:20Z\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"vendor\":\"VENDOR_NVIDIA\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"in_catalogue\":false"), std::string::npos) << json;  // default printed
  EXPECT_NE(json.find("\"next_page_token\":\"\""), std::string::npos) << json;
  EXPECT_EQ(json.find("inCatalogue"), std::string::npos) << json;
}

TEST(HttpRender, CsvHasDottedHeaderAndOneLinePerRow) {
  const std::string csv = RenderCsv(TwoModels(), 42);
  const std::string header =
      "data_version,slug,vendor,name,backend,memory_bytes,memory_bandwidth_bytes_per_second,bf16_tflops,"
      "fp32_tflops,source,in_catalogue,machine_count,submission_count\r\n";
  ASSERT_EQ(csv.substr(0, header.size()), header);
  const std::string rows = csv.substr(header.size());
  EXPECT_EQ(rows,
            "42,rtx-4090-24gb,VENDOR_NVIDIA,\"GeForce RTX 4090, \"\"Ada\"\"\",BACKEND_UNSPECIFIED,25757220864,0,"
            "165.2,0,,false,0,0\r\n"
            "42,cpu-generic,VENDOR_UNSPECIFIED,\"line\nbreak\",BACKEND_UNSPECIFIED,0,0,0,0,,false,0,0\r\n");
}

TEST(HttpRender, CsvFlattensNestedMessagesAndLeavesAbsentOnesEmpty) {
  v1::OomTable table;
  auto* row = table.add_rows();
  row->mutable_device_model()->set_slug("mi300x-192gb");
  row->mutable_workload()->set_model_preset("llama-3.1-8b");
  row->mutable_largest_ok_batch()->set_median(8);
  // smallest_failed_batch absent: its cells are empty, not zero.
  const std::vector<std::string> cols = CsvColumns(v1::OomTable::descriptor());
  ASSERT_GT(cols.size(), 20u);
  EXPECT_EQ(cols[0], "data_version");
  EXPECT_EQ(cols[1], "device_model.slug");
  const std::string csv = RenderCsv(table, 3);
  const std::string line = csv.substr(csv.find("\r\n") + 2);
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size() - 2; ++i) {
    if (i == line.size() - 2 || line[i] == ',') {
      cells.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  ASSERT_EQ(cells.size(), cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (cols[i] == "largest_ok_batch.median") {
      EXPECT_EQ(cells[i], "8");
    } else if (cols[i].rfind("smallest_failed_batch.", 0) == 0) {
      EXPECT_EQ(cells[i], "") << cols[i];
    } else if (cols[i] == "workload.model_preset") {
      EXPECT_EQ(cells[i], "llama-3.1-8b");
    }
  }
}

TEST(HttpRender, CsvOfAMessageWithoutRowsIsOneRow) {
  v1::WillItRunAnswer answer;
  answer.set_fit(v1::FIT_TIGHT);
  answer.add_assumptions("bf16");
  answer.add_assumptions("no checkpointing");
  answer.set_margin_bytes(-5);
  const std::string csv = RenderCsv(answer, 9);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_NE(csv.find("FIT_TIGHT,-5,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",bf16;no checkpointing,"), std::string::npos) << csv;
}

TEST(HttpRender, FindsTheResponseDataVersion) {
  EXPECT_EQ(ResponseDataVersion(TwoModels()), 42);
  EXPECT_EQ(ResponseDataVersion(v1::OomTable()), std::nullopt);  // unset
  EXPECT_EQ(ResponseDataVersion(v1::GetSubmissionResponse()), std::nullopt);  // no such field
}

}  // namespace
}  // namespace localbench::collector::http
