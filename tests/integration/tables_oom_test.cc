// The tables on a real PostgreSQL: device models across name variants, one
// machine one vote, every filter, sorting and pagination.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tables_fixture.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

using Rows = std::set<std::pair<std::string, int>>;  // (slug, kind)

Rows RowsOf(const v1::OomTable& t) {
  Rows out;
  for (const auto& r : t.rows()) out.insert({r.device_model().slug(), r.workload().kind()});
  return out;
}

TEST_F(TablesTest, DeviceModelsGroupNameVariantsUnderOneSlug) {
  Variant a;
  Variant b;
  b.device_name = "GeForce RTX 4090";                 // another driver's spelling
  b.memory_bytes = 25757220864ULL;                    // 24564 MiB, as the driver reports it
  Store(Build(1, 1, a));
  Store(Build(2, 2, b));
  v1::OomTableRequest req;
  auto t = tables().GetOomTable(req);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows_size(), 4);  // one row per workload, both machines in each
  for (const auto& r : t->rows()) {
    EXPECT_EQ(r.device_model().slug(), "rtx-4090-24gb");
    EXPECT_TRUE(r.device_model().in_catalogue());
    EXPECT_EQ(r.device_model().memory_bandwidth_bytes_per_second(), 1008e9);
    EXPECT_EQ(r.support().machine_count(), 2u);
    EXPECT_EQ(r.support().submission_count(), 2u);
    EXPECT_FALSE(r.support().verified());  // two machines are below the quorum
    EXPECT_EQ(r.largest_ok_batch().median(), 9);
    EXPECT_EQ(r.smallest_failed_batch().median(), 16);
    EXPECT_GT(r.peak_bytes_at_batch_1().median(), 0);
    EXPECT_GT(r.planned_bytes_at_batch_1(), 0u);
    EXPECT_NE(r.reproduce_command().find("--batch 9"), std::string::npos) << r.reproduce_command();
  }
  // The catalogue lists models nobody measured; measured_only leaves them out.
  v1::ListDeviceModelsRequest all;
  all.mutable_page()->set_page_size(1000);
  auto models = tables().ListDeviceModels(all);
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_GE(models->models_size(), 40);
  v1::ListDeviceModelsRequest measured = all;
  measured.set_measured_only(true);
  models = tables().ListDeviceModels(measured);
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->models_size(), 1);
  EXPECT_EQ(models->models(0).slug(), "rtx-4090-24gb");
  EXPECT_EQ(models->models(0).machine_count(), 2u);
}

TEST_F(TablesTest, UncataloguedDevicesAndCpusGetStableSlugs) {
  Variant odd;
  odd.device_name = "NVIDIA Future GPU 9000";
  odd.memory_bytes = 40 * kGiB;
  Store(Build(1, 1, odd));
  v1::ListDeviceModelsRequest req;
  req.set_measured_only(true);
  auto models = tables().ListDeviceModels(req);
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->models_size(), 1);
  EXPECT_EQ(models->models(0).slug(), "future-gpu-9000-40gb");
  EXPECT_FALSE(models->models(0).in_catalogue());
  EXPECT_EQ(models->models(0).memory_bytes(), 40 * kGiB);
}

TEST_F(TablesTest, OneMachineSubmittingFiftyTimesCannotMoveTheMedian) {
  Variant slow, mid, fast;
  slow.speed = 1.0;
  mid.speed = 1.1;
  fast.speed = 1.2;
  slow.sweeps = mid.sweeps = fast.sweeps = 1;  // decode only
  Store(Build(1, 1, slow));
  const v1::Submission middle = Build(2, 2, mid);
  Store(middle);
  Store(Build(3, 3, fast));
  const double expected = middle.sweeps(0).points(0).tokens_per_second_median();

  v1::BatchCurveRequest req;
  req.set_device_model("rtx-4090-24gb");
  *req.mutable_workload() = KeyOf(middle, 0);
  auto before = tables().GetBatchCurve(req);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_GE(before->points_size(), 1);
  EXPECT_EQ(before->points(0).tokens_per_second().median(), expected);

  for (uint64_t seed = 100; seed < 150; ++seed) Store(Build(seed, 1, slow));  // machine 1 again and again
  auto after = tables().GetBatchCurve(req);
  ASSERT_TRUE(after.ok()) << after.status();
  const auto& p = after->points(0);
  EXPECT_EQ(p.tokens_per_second().median(), expected);  // still the middle machine's figure
  EXPECT_EQ(p.support().machine_count(), 3u);
  EXPECT_EQ(p.support().submission_count(), 53u);
  EXPECT_TRUE(p.support().verified());  // three machines within 25% of each other
  // The curve runs in increasing batch size up to the OOM line.
  ASSERT_EQ(after->points_size(), 4);
  EXPECT_EQ(after->points(2).batch_size(), 9u);
  EXPECT_EQ(after->points(3).batch_size(), 16u);
  EXPECT_EQ(after->points(3).oom_machine_count(), 3u);
  EXPECT_FALSE(after->points(3).has_tokens_per_second());
  EXPECT_EQ(after->smallest_failed_batch().median(), 16);
}

class TablesFilterTest : public TablesTest {
 protected:
  void SetUp() override {
    TablesTest::SetUp();
    Variant nv;                                   // rtx-4090-24gb, nvidia, cuda
    Variant amd;                                  // rx-7900-xtx-24gb, amd, hip
    amd.device_name = "AMD Radeon RX 7900 XTX";
    amd.backend = v1::BACKEND_HIP;
    Variant big;                                  // a100-sxm4-80gb, newer agent and suite, another preset
    big.device_name = "NVIDIA A100-SXM4-80GB";
    big.memory_bytes = 80 * kGiB;
    big.agent_version = "v0.2.0";
    big.suite_version = "2026.12";
    big.preset = "qwen2.5-0.5b";
    Store(Build(1, 1, nv));
    Store(Build(2, 2, amd));
    Store(Build(3, 3, big));
  }

  Rows Query(const v1::TableFilter& f) {
    v1::OomTableRequest req;
    *req.mutable_filter() = f;
    auto t = tables().GetOomTable(req);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? RowsOf(*t) : Rows{};
  }
};

constexpr int kDecode = v1::WORKLOAD_KIND_DECODE;
constexpr int kPrefill = v1::WORKLOAD_KIND_PREFILL;
constexpr int kLora = v1::WORKLOAD_KIND_TRAIN_LORA;
constexpr int kFull = v1::WORKLOAD_KIND_TRAIN_FULL;

TEST_F(TablesFilterTest, EveryFilterNarrows) {
  v1::TableFilter f;
  EXPECT_EQ(Query(f).size(), 12u);
  f.set_vendor(v1::VENDOR_AMD);
  EXPECT_EQ(Query(f), (Rows{{"rx-7900-xtx-24gb", kDecode}, {"rx-7900-xtx-24gb", kPrefill},
                            {"rx-7900-xtx-24gb", kLora}, {"rx-7900-xtx-24gb", kFull}}));
  f = {};
  f.add_device_models("a100-sxm4-80gb");
  f.add_device_models("rtx-4090-24gb");
  EXPECT_EQ(Query(f).size(), 8u);
  f = {};
  f.set_memory_min_bytes(30 * kGiB);
  for (const auto& [slug, kind] : Query(f)) EXPECT_EQ(slug, "a100-sxm4-80gb");
  f = {};
  f.set_memory_max_bytes(30 * kGiB);
  EXPECT_EQ(Query(f).size(), 8u);
  f = {};
  f.set_model_preset("qwen2.5-0.5b");
  EXPECT_EQ(Query(f).size(), 4u);
  f = {};
  f.set_kind(v1::WORKLOAD_KIND_TRAIN_LORA);
  EXPECT_EQ(Query(f), (Rows{{"a100-sxm4-80gb", kLora}, {"rtx-4090-24gb", kLora}, {"rx-7900-xtx-24gb", kLora}}));
  f = {};
  f.set_precision(v1::PRECISION_FP16);  // decode and full fine-tune
  EXPECT_EQ(Query(f).size(), 6u);
  f = {};
  f.set_sequence_tokens(1024);  // the training sweeps
  EXPECT_EQ(Query(f).size(), 6u);
  f.set_sequence_tokens(512);  // the inference sweeps' prompt length
  EXPECT_EQ(Query(f).size(), 6u);
  f = {};
  f.set_suite_version("2026.12");
  EXPECT_EQ(Query(f).size(), 4u);
  f = {};
  f.set_agent_version("v0.1.0-3-gabcdef0");
  EXPECT_EQ(Query(f).size(), 8u);
  f = {};
  f.set_backend(v1::BACKEND_HIP);
  EXPECT_EQ(Query(f).size(), 4u);
  f.set_vendor(v1::VENDOR_NVIDIA);  // filters combine
  EXPECT_EQ(Query(f).size(), 0u);
}

TEST_F(TablesFilterTest, BadFiltersNameTheField) {
  v1::OomTableRequest req;
  req.mutable_filter()->add_device_models("RTX 4090!");
  auto t = tables().GetOomTable(req);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("filter.device_models[0]"), std::string::npos) << t.status();
  req.mutable_filter()->set_device_models(0, "no-such-gpu-1gb");
  t = tables().GetOomTable(req);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound) << t.status();
  req = {};
  req.mutable_filter()->set_memory_min_bytes(10);
  req.mutable_filter()->set_memory_max_bytes(5);
  t = tables().GetOomTable(req);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("filter.memory_max_bytes"), std::string::npos) << t.status();
  req = {};
  req.mutable_filter()->set_kind(static_cast<v1::WorkloadKind>(99));
  t = tables().GetOomTable(req);
  EXPECT_NE(t.status().message().find("filter.kind"), std::string::npos) << t.status();
  req = {};
  req.mutable_page()->set_sort("colour");
  t = tables().GetOomTable(req);
  EXPECT_NE(t.status().message().find("page.sort"), std::string::npos) << t.status();
}

TEST_F(TablesFilterTest, PagesJoinToTheWholeTableAndTokensBindTheVersion) {
  v1::OomTableRequest whole_req;
  auto whole = tables().GetOomTable(whole_req);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->rows_size(), 12);
  EXPECT_TRUE(whole->next_page_token().empty());

  v1::OomTableRequest req;
  req.mutable_page()->set_page_size(5);
  auto first = tables().GetOomTable(req);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->rows_size(), 5);
  ASSERT_FALSE(first->next_page_token().empty());
  // A later submission does not shift the pages of a started walk.
  Variant another;
  another.device_name = "NVIDIA GeForce RTX 3090";
  Store(Build(9, 9, another));
  std::vector<v1::OomRow> rows(first->rows().begin(), first->rows().end());
  std::string token = first->next_page_token();
  while (!token.empty()) {
    req.mutable_page()->set_page_token(token);
    auto page = tables().GetOomTable(req);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->version().data_version(), first->version().data_version());
    rows.insert(rows.end(), page->rows().begin(), page->rows().end());
    token = page->next_page_token();
  }
  ASSERT_EQ(rows.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(Bytes(rows[i]), Bytes(whole->rows(i))) << i;

  // A token is bound to its query and cannot be forged.
  req.mutable_page()->set_page_token(first->next_page_token());
  req.mutable_filter()->set_vendor(v1::VENDOR_AMD);
  auto replay = tables().GetOomTable(req);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(replay.status().message().find("page.page_token"), std::string::npos) << replay.status();
  req.mutable_page()->set_page_token("not-a-token");
  EXPECT_EQ(tables().GetOomTable(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TablesFilterTest, SortsByANamedColumn) {
  v1::OomTableRequest req;
  req.mutable_page()->set_sort("-memory_bytes");
  auto t = tables().GetOomTable(req);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows_size(), 12);
  EXPECT_EQ(t->rows(0).device_model().slug(), "a100-sxm4-80gb");
  EXPECT_EQ(t->rows(11).device_model().memory_bytes(), 24 * kGiB);
}

}  // namespace
}  // namespace localbench::test_support
