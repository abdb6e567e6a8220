// Data versions and moderation on a real PostgreSQL: as_of reproduces past
// responses byte for byte across later submissions and moderation events;
// flags hide, restores show; the older RPCs; the Query service over gRPC.
#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "localbench/v1/query.grpc.pb.h"
#include "tables_fixture.h"

namespace localbench::test_support {
namespace {

// Every table at `as_of`, serialised deterministically, in a fixed order.
std::vector<std::string> Snapshot(collector::TableService& t, int64_t as_of, const v1::Submission& probe) {
  std::vector<std::string> out;
  auto add = [&](const auto& result) {
    EXPECT_TRUE(result.ok()) << result.status();
    out.push_back(result.ok() ? Bytes(*result) : "error");
  };
  v1::ListDeviceModelsRequest models;
  models.mutable_read()->set_as_of(as_of);
  add(t.ListDeviceModels(models));
  v1::OomTableRequest oom;
  oom.mutable_read()->set_as_of(as_of);
  add(t.GetOomTable(oom));
  v1::BatchCurveRequest curve;
  curve.mutable_read()->set_as_of(as_of);
  curve.set_device_model("rtx-4090-24gb");
  *curve.mutable_workload() = KeyOf(probe, 0);
  add(t.GetBatchCurve(curve));
  v1::CompareHardwareRequest compare;
  compare.mutable_read()->set_as_of(as_of);
  *compare.mutable_workload() = KeyOf(probe, 0);
  compare.set_batch_size(4);
  add(t.CompareHardware(compare));
  v1::StackDeltaRequest deltas;
  deltas.mutable_read()->set_as_of(as_of);
  deltas.set_device_model("rtx-4090-24gb");
  *deltas.mutable_workload() = KeyOf(probe, 0);
  add(t.GetStackDeltas(deltas));
  v1::WillItRunRequest wir;
  wir.mutable_read()->set_as_of(as_of);
  wir.set_device_model("rtx-4090-24gb");
  *wir.mutable_workload() = KeyOf(probe, 0);
  wir.set_batch_size(4);
  add(t.WillItRun(wir));
  v1::StackUpRequest up;
  up.mutable_read()->set_as_of(as_of);
  up.set_submission_id(probe.submission_id());
  add(t.StackUp(up));
  v1::GetTableRequest table;
  table.set_data_version(as_of);
  add(t.GetTable(table));
  v1::GetSubmissionRequest sub;
  sub.mutable_read()->set_as_of(as_of);
  sub.set_submission_id(probe.submission_id());
  add(t.GetSubmission(sub));
  return out;
}

TEST_F(TablesTest, AsOfReproducesEveryTableByteForByte) {
  const v1::Submission probe = Build(1, 1);
  Store(probe);
  Variant other;
  other.speed = 1.1;
  other.driver_version = "560.35.03";
  const v1::Submission second = Build(2, 2, other);
  Store(second);
  Variant amd;
  amd.device_name = "AMD Radeon RX 7900 XTX";
  amd.backend = v1::BACKEND_HIP;
  Store(Build(3, 3, amd));
  const int64_t v = Latest();
  ASSERT_EQ(v, 3);
  const std::vector<std::string> before = Snapshot(tables(), v, probe);

  // Later: more submissions (one from the same machine), a flag, a restore,
  // a retraction.
  Store(Build(4, 4, other));
  Store(Build(5, 1));
  Moderate(second.submission_id(), "flag");
  Moderate(second.submission_id(), "restore");
  Moderate(probe.submission_id(), "flag");
  ASSERT_EQ(Latest(), 8);

  EXPECT_EQ(Snapshot(tables(), v, probe), before);
  v1::GetSubmissionRequest then;
  then.mutable_read()->set_as_of(v);
  then.set_submission_id(probe.submission_id());
  auto past = tables().GetSubmission(then);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_FALSE(past->flagged());  // not yet flagged at v
  // And the newest version really differs (the flag hid the probe).
  v1::GetSubmissionRequest sub;
  sub.set_submission_id(probe.submission_id());
  auto now = tables().GetSubmission(sub);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_TRUE(now->flagged());
  EXPECT_EQ(now->flag_reason(), "test: flag");
  EXPECT_EQ(now->version().data_version(), 8);
  EXPECT_EQ(now->stored_data_version(), 1);
  EXPECT_EQ(now->device_model(), "rtx-4090-24gb");
  EXPECT_EQ(Bytes(now->submission()), Bytes(probe));
}

TEST_F(TablesTest, FlagsHideRowsAndRestoresShowThemAgain) {
  const v1::Submission a = Build(1, 1);
  Store(a);
  Store(Build(2, 2));
  auto machines = [&](int64_t as_of) -> uint32_t {
    v1::OomTableRequest req;
    req.mutable_read()->set_as_of(as_of);
    req.mutable_filter()->set_kind(v1::WORKLOAD_KIND_DECODE);
    auto t = tables().GetOomTable(req);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() && t->rows_size() == 1 ? t->rows(0).support().machine_count() : 0;
  };
  EXPECT_EQ(machines(0), 2u);
  const int64_t flagged = Moderate(a.submission_id(), "flag");
  EXPECT_EQ(flagged, 3);
  EXPECT_EQ(machines(0), 1u);
  EXPECT_EQ(machines(2), 2u);  // the past is unchanged
  Moderate(a.submission_id(), "restore");
  EXPECT_EQ(machines(0), 2u);
  Moderate(a.submission_id(), "retract");
  EXPECT_EQ(machines(0), 1u);

  // The version moves with every change; bad moderation input is refused.
  EXPECT_EQ(Latest(), 5);
  auto bad = collector::RecordModeration(*moderation_pool_, a.submission_id(), "delete", "r", "e");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  bad = collector::RecordModeration(*moderation_pool_, UuidFor(999), "flag", "r", "e");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Latest(), 5);
}

TEST_F(TablesTest, CatalogueGrowsWithoutChangingThePast) {
  Store(Build(1, 1));
  v1::ListDeviceModelsRequest req;
  req.mutable_filter()->set_vendor(v1::VENDOR_NVIDIA);
  req.mutable_filter()->set_memory_min_bytes(90 * kGiB);
  req.mutable_page()->set_page_size(1000);
  auto before = tables().ListDeviceModels(req);
  ASSERT_TRUE(before.ok()) << before.status();
  for (const auto& m : before->models()) {
    EXPECT_EQ(m.vendor(), v1::VENDOR_NVIDIA);
    EXPECT_GE(m.memory_bytes(), 90 * kGiB);
  }
  // A new catalogue row, as an operator adds one: its own data version.
  {
    pqxx::connection conn(collector_->db_url());
    pqxx::work tx(conn);
    tx.exec("UPDATE data_version_counter SET version = version + 1");
    tx.exec("INSERT INTO data_versions (version, cause) SELECT version, 'catalogue' FROM data_version_counter");
    tx.exec(
        "INSERT INTO device_models (slug, data_version, vendor, backend, name, memory_bytes, "
        "memory_bandwidth_bytes_per_second, bf16_tflops, fp32_tflops, source) "
        "SELECT 'test-gpu-96gb', version, 'nvidia', 'cuda', 'Test GPU', 103079215104, 1e12, 0, 0, 'test' "
        "FROM data_version_counter");
    tx.commit();
  }
  auto after = tables().ListDeviceModels(req);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->models_size(), before->models_size() + 1);
  req.mutable_read()->set_as_of(before->version().data_version());
  auto past = tables().ListDeviceModels(req);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_EQ(Bytes(*past), Bytes(*before));
  // Pages of the listing join to the whole.
  req.clear_read();
  req.mutable_page()->set_page_size(2);
  std::vector<std::string> slugs;
  for (std::string token;;) {
    req.mutable_page()->set_page_token(token);
    auto page = tables().ListDeviceModels(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& m : page->models()) slugs.push_back(m.slug());
    token = page->next_page_token();
    if (token.empty()) break;
  }
  ASSERT_EQ(slugs.size(), static_cast<std::size_t>(after->models_size()));
  for (int i = 0; i < after->models_size(); ++i) EXPECT_EQ(slugs[static_cast<std::size_t>(i)], after->models(i).slug());
}

TEST_F(TablesTest, ListSweepsPagesNewestFirstWithEditorialState) {
  const v1::Submission a = Build(1, 1);
  const v1::Submission b = Build(2, 2);
  Store(a);
  Store(b);
  Moderate(a.submission_id(), "flag");
  v1::ListSweepsRequest req;
  req.set_page_size(3);
  std::vector<v1::StoredSweep> sweeps;
  for (std::string token;;) {
    req.set_page_token(token);
    auto page = tables().ListSweeps(req);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->version().data_version(), 3);
    sweeps.insert(sweeps.end(), page->sweeps().begin(), page->sweeps().end());
    token = page->next_page_token();
    if (token.empty()) break;
  }
  ASSERT_EQ(sweeps.size(), 8u);
  EXPECT_EQ(sweeps[0].submission_id(), b.submission_id());  // received last
  EXPECT_EQ(Bytes(sweeps[0].sweep()), Bytes(b.sweeps(0)));
  EXPECT_FALSE(sweeps[0].flagged());
  EXPECT_EQ(sweeps[7].submission_id(), a.submission_id());
  EXPECT_TRUE(sweeps[7].flagged());
  req.clear_page_token();
  req.mutable_filter()->set_kind(v1::WORKLOAD_KIND_TRAIN_LORA);
  req.mutable_read()->set_as_of(2);  // before the flag
  auto lora = tables().ListSweeps(req);
  ASSERT_TRUE(lora.ok()) << lora.status();
  ASSERT_EQ(lora->sweeps_size(), 2);
  EXPECT_FALSE(lora->sweeps(1).flagged());
  req.set_page_size(5000);
  EXPECT_EQ(tables().ListSweeps(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TablesTest, FutureAndNegativeVersionsAreRefused) {
  Store(Build(1, 1));
  v1::OomTableRequest req;
  req.mutable_read()->set_as_of(2);
  auto t = tables().GetOomTable(req);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("read.as_of"), std::string::npos);
  req.mutable_read()->set_as_of(-1);
  EXPECT_EQ(tables().GetOomTable(req).status().code(), absl::StatusCode::kInvalidArgument);
  // Version 0 is "newest".
  req.mutable_read()->set_as_of(0);
  t = tables().GetOomTable(req);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->version().data_version(), 1);
  EXPECT_GT(t->version().made_at().seconds(), 0);
}

TEST_F(TablesTest, StackDeltasCompareDriversOnOneDeviceModel) {
  Variant old_driver, new_driver;
  old_driver.driver_version = "550.54.14";
  new_driver.driver_version = "560.35.03";
  new_driver.speed = 1.07;
  old_driver.sweeps = new_driver.sweeps = 1;
  const v1::Submission a = Build(1, 1, old_driver);
  const v1::Submission b = Build(2, 2, new_driver);
  Store(a);
  Store(b);
  v1::StackDeltaRequest req;
  req.set_device_model("rtx-4090-24gb");
  *req.mutable_workload() = KeyOf(a, 0);
  auto t = tables().GetStackDeltas(req);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->rows_size(), 2);
  EXPECT_EQ(t->rows(0).driver_version(), "550.54.14");
  EXPECT_EQ(t->rows(0).relative_change(), 0);
  const double expected = b.sweeps(0).points(0).tokens_per_second_median() /
                          a.sweeps(0).points(0).tokens_per_second_median() - 1;
  EXPECT_DOUBLE_EQ(t->rows(1).relative_change(), expected);
  req.set_device_model("");
  EXPECT_EQ(tables().GetStackDeltas(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TablesTest, CompareHardwareRanksFastestFirst) {
  Variant v3090;
  v3090.device_name = "NVIDIA GeForce RTX 3090";
  v3090.speed = 0.6;
  v3090.sweeps = 1;
  Variant v4090;
  v4090.sweeps = 1;
  Store(Build(1, 1, v3090));
  const v1::Submission fast = Build(2, 2, v4090);
  Store(fast);
  v1::CompareHardwareRequest req;
  req.add_device_models("rtx-3090-24gb");
  req.add_device_models("rtx-4090-24gb");
  *req.mutable_workload() = KeyOf(fast, 0);
  auto c = tables().CompareHardware(req);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->rows_size(), 2);
  EXPECT_EQ(c->batch_size(), 1u);
  EXPECT_EQ(c->rows(0).device_model().slug(), "rtx-4090-24gb");
  EXPECT_EQ(c->rows(0).relative_tokens_per_second(), 1.0);
  EXPECT_LT(c->rows(1).relative_tokens_per_second(), 0.7);
  EXPECT_EQ(c->rows(0).largest_ok_batch().median(), 9);
  req.clear_device_models();
  req.add_device_models("rtx-3090-24gb");
  EXPECT_EQ(tables().CompareHardware(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TablesTest, QueryServiceAnswersOverGrpc) {
  const v1::Submission s = Build(1, 1);
  Store(s);
  auto stub = v1::Query::NewStub(collector_->NewChannel());
  {
    grpc::ClientContext ctx;
    v1::OomTableRequest req;
    v1::OomTable reply;
    ASSERT_TRUE(stub->GetOomTable(&ctx, req, &reply).ok());
    auto direct = tables().GetOomTable(req);
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(Bytes(reply), Bytes(*direct));
    EXPECT_EQ(reply.rows_size(), 4);
  }
  {
    grpc::ClientContext ctx;
    v1::WillItRunRequest req;
    req.set_device_model("no-such-gpu-1gb");
    req.mutable_workload()->set_model_preset("llama-3.2-1b");
    req.mutable_workload()->set_kind(v1::WORKLOAD_KIND_DECODE);
    v1::WillItRunAnswer reply;
    EXPECT_EQ(stub->WillItRun(&ctx, req, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::ListDevicesRequest req;
    v1::ListDevicesResponse reply;
    ASSERT_TRUE(stub->ListDevices(&ctx, req, &reply).ok());
    ASSERT_EQ(reply.devices_size(), 1);
    EXPECT_EQ(reply.devices(0).device_model(), "rtx-4090-24gb");
    EXPECT_EQ(reply.devices(0).submission_count(), 1u);
  }
  {
    grpc::ClientContext ctx;
    v1::GetTableRequest req;
    req.mutable_filter()->set_kind(v1::WORKLOAD_KIND_DECODE);
    v1::Table reply;
    ASSERT_TRUE(stub->GetTable(&ctx, req, &reply).ok());
    ASSERT_EQ(reply.rows_size(), 3);  // batches 1, 4, 9 ran
    EXPECT_EQ(reply.rows(0).device_model(), "rtx-4090-24gb");
    EXPECT_EQ(reply.rows(0).tokens_per_second_median(), s.sweeps(0).points(0).tokens_per_second_median());
    EXPECT_EQ(reply.rows(2).largest_ok_batch_median(), 9u);
  }
  {
    grpc::ClientContext ctx;
    v1::GetSubmissionRequest req;
    req.set_submission_id(UuidFor(42));
    v1::GetSubmissionResponse reply;
    EXPECT_EQ(stub->GetSubmission(&ctx, req, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace
}  // namespace localbench::test_support
