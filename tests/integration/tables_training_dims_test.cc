// The served tables tell the training dimensions apart (issue 13, item 6):
// two sweeps of one preset, kind and precision that differ only in gradient
// checkpointing (and a pair differing only in activation precision) are two
// cells in every table, over gRPC and HTTP, labelled, filterable, and a
// verdict on one does not attach to the other. Real PostgreSQL, real gRPC
// and HTTP on loopback.
#include <httplib.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/editors.h"
#include "localbench/v1/admin.grpc.pb.h"
#include "localbench/v1/query.grpc.pb.h"
#include "tables_fixture.h"

namespace localbench::test_support {
namespace {

constexpr int kLora = 2;  // MakeSubmission's sweep indices (see Variant::sweeps)
constexpr int kFull = 3;  // train_full fp16

// One CSV line's cells (RFC 4180 quoting, as render.cc writes it).
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// Tokens/s of sweep `i` of `s` at `batch` (0 when it has no ok point there).
double TokensPerSecond(const v1::Submission& s, int i, uint32_t batch) {
  for (const auto& p : s.sweeps(i).points()) {
    if (p.batch_size() == batch && p.status() == v1::POINT_STATUS_OK) return p.tokens_per_second_median();
  }
  return 0;
}

// A collector with its HTTP API on, and two machines' submissions: machine A
// ran LoRA with checkpointing and the full fine-tune with fp16 activations,
// machine B both at the defaults (as agents before 2027.01 did); their
// figures differ, so each cell shows whose they are.
class TrainingDimsTest : public TablesTest {
 protected:
  void SetUp() override {
    const std::string url = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url.empty());
    collector::CollectorOptions options;
    options.http_listen = "127.0.0.1:0";
    auto c = InProcessCollector::Start(url, std::move(options));
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    const std::string address = collector_->server().http_address();
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port));
    http_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    query_ = v1::Query::NewStub(collector_->NewChannel());

    a_ = Build(1, 1);
    a_.mutable_sweeps(kLora)->mutable_workload()->set_gradient_checkpointing(true);
    for (auto& p : *a_.mutable_sweeps(kLora)->mutable_points()) {
      p.set_reproduce_command(p.reproduce_command() + " --gradient-checkpointing on");
    }
    a_.mutable_sweeps(kFull)->mutable_workload()->set_activation_precision(v1::PRECISION_FP16);
    b_ = Build(2, 2);
    Store(a_);
    Store(b_);
  }

  v1::OomTable Oom(const v1::OomTableRequest& req = {}) {
    grpc::ClientContext ctx;
    v1::OomTable out;
    grpc::Status st = query_->GetOomTable(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  // The rows of `table` of `kind`, in table order.
  static std::vector<v1::OomRow> RowsOf(const v1::OomTable& table, v1::WorkloadKind kind) {
    std::vector<v1::OomRow> out;
    for (const auto& r : table.rows()) {
      if (r.workload().kind() == kind) out.push_back(r);
    }
    return out;
  }

  httplib::Result Get(const std::string& path) { return http_->Get(path.c_str()); }

  v1::Submission a_, b_;
  std::unique_ptr<httplib::Client> http_;
  std::unique_ptr<v1::Query::Stub> query_;
};

TEST_F(TrainingDimsTest, OomTableHasOneRowPerTrainingVariant) {
  const v1::OomTable table = Oom();
  const auto lora = RowsOf(table, v1::WORKLOAD_KIND_TRAIN_LORA);
  ASSERT_EQ(lora.size(), 2u) << table.DebugString();
  // Ordered by the key: checkpointing off first.
  EXPECT_EQ(Bytes(lora[0].workload()), Bytes(KeyOf(b_, kLora)));
  EXPECT_EQ(Bytes(lora[1].workload()), Bytes(KeyOf(a_, kLora)));
  EXPECT_FALSE(lora[0].workload().gradient_checkpointing());
  EXPECT_TRUE(lora[1].workload().gradient_checkpointing());
  for (const auto& r : lora) {
    EXPECT_EQ(r.support().machine_count(), 1u);
    // Everything else about the key is the old one, made explicit.
    EXPECT_EQ(r.workload().activation_precision(), v1::PRECISION_FP32);
    EXPECT_EQ(r.workload().accumulation_steps(), 1u);
    EXPECT_TRUE(r.workload().has_loss_chunks());
    EXPECT_FALSE(r.workload().has_full_finetune_accounting());  // LoRA has none
  }
  // The representative point's command reproduces its own variant.
  EXPECT_NE(lora[1].reproduce_command().find("--gradient-checkpointing on"), std::string::npos);
  EXPECT_EQ(lora[0].reproduce_command().find("--gradient-checkpointing"), std::string::npos);

  const auto full = RowsOf(table, v1::WORKLOAD_KIND_TRAIN_FULL);
  ASSERT_EQ(full.size(), 2u);
  EXPECT_EQ(Bytes(full[0].workload()), Bytes(KeyOf(a_, kFull)));  // fp16 before fp32 in key order
  EXPECT_EQ(full[0].workload().activation_precision(), v1::PRECISION_FP16);
  EXPECT_EQ(full[1].workload().activation_precision(), v1::PRECISION_FP32);
  EXPECT_EQ(full[1].workload().full_finetune_accounting(), v1::FULL_FINETUNE_ACCOUNTING_LEAN);  // pre-2027.01

  // Inference rows carry no training dimensions and still merge both machines.
  for (const auto& r : table.rows()) {
    if (r.workload().kind() != v1::WORKLOAD_KIND_DECODE && r.workload().kind() != v1::WORKLOAD_KIND_PREFILL) continue;
    EXPECT_FALSE(r.workload().has_gradient_checkpointing());
    EXPECT_FALSE(r.workload().has_activation_precision());
    EXPECT_EQ(r.support().machine_count(), 2u);
  }
}

TEST_F(TrainingDimsTest, FiltersSelectOneVariantAndRefuseBadValues) {
  v1::OomTableRequest req;
  req.mutable_filter()->set_gradient_checkpointing(true);
  v1::OomTable on = Oom(req);
  ASSERT_EQ(on.rows_size(), 1) << on.DebugString();  // training rows only
  EXPECT_EQ(Bytes(on.rows(0).workload()), Bytes(KeyOf(a_, kLora)));
  req.mutable_filter()->set_gradient_checkpointing(false);
  req.mutable_filter()->set_kind(v1::WORKLOAD_KIND_TRAIN_LORA);
  v1::OomTable off = Oom(req);
  ASSERT_EQ(off.rows_size(), 1);
  EXPECT_EQ(Bytes(off.rows(0).workload()), Bytes(KeyOf(b_, kLora)));

  // Over HTTP: the same filter, as a query parameter.
  auto r = Get("/v1/tables/oom?activation_precision=fp16");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"activation_precision\":\"PRECISION_FP16\""), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("TRAIN_LORA"), std::string::npos) << r->body;
  // Inference rows' JSON is as before: no training dimensions at all.
  auto decode = Get("/v1/tables/oom?kind=decode");
  ASSERT_TRUE(decode);
  ASSERT_EQ(decode->status, 200) << decode->body;
  EXPECT_NE(decode->body.find("WORKLOAD_KIND_DECODE"), std::string::npos) << decode->body;
  EXPECT_EQ(decode->body.find("gradient_checkpointing"), std::string::npos) << decode->body;
  EXPECT_EQ(decode->body.find("activation_precision"), std::string::npos) << decode->body;
  // Bad values: 400 naming the field.
  for (const auto& [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"gradient_checkpointing=maybe", "gradient_checkpointing"},
           {"accumulation_steps=0", "accumulation_steps"},
           {"activation_precision=q4_0", "activation_precision"},
           {"full_finetune_accounting=unspecified", "full_finetune_accounting"},
           {"loss_chunks=5000", "loss_chunks"}}) {
    auto bad = Get("/v1/tables/oom?" + query);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400) << query << ": " << bad->body;
    EXPECT_NE(bad->body.find(field), std::string::npos) << bad->body;
  }
  // A workload key's dimensions belong to its kind.
  auto inference = Get("/v1/tables/curve?device_model=rtx-4090-24gb&model_preset=llama-3.2-1b&kind=decode"
                       "&gradient_checkpointing=true");
  ASSERT_TRUE(inference);
  EXPECT_EQ(inference->status, 400) << inference->body;
  EXPECT_NE(inference->body.find("workload.gradient_checkpointing"), std::string::npos) << inference->body;
}

TEST_F(TrainingDimsTest, CsvHasTheColumnsAndOlderRowsLeaveThemEmpty) {
  auto r = Get("/v1/tables/oom.csv");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<std::string> lines = absl::StrSplit(r->body, "\r\n", absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  const std::vector<std::string> header = SplitCsv(lines[0]);
  auto column = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    ADD_FAILURE() << "no column " << name << " in " << lines[0];
    return -1;
  };
  const int kind = column("workload.kind");
  const int ckpt = column("workload.gradient_checkpointing");
  const int act = column("workload.activation_precision");
  for (const char* c : {"workload.accumulation_steps", "workload.full_finetune_accounting", "workload.loss_chunks"}) {
    column(c);
  }
  ASSERT_GE(kind, 0);
  ASSERT_GE(ckpt, 0);
  ASSERT_GE(act, 0);
  int lora_on = 0, lora_off = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> cells = SplitCsv(lines[i]);
    ASSERT_EQ(cells.size(), header.size()) << lines[i];
    if (cells[kind] == "WORKLOAD_KIND_TRAIN_LORA") {
      lora_on += cells[ckpt] == "true";
      lora_off += cells[ckpt] == "false";
      EXPECT_EQ(cells[act], "PRECISION_FP32");
    } else if (cells[kind] == "WORKLOAD_KIND_DECODE") {
      EXPECT_EQ(cells[ckpt], "");  // inference: no training dimensions, as before
      EXPECT_EQ(cells[act], "");
    }
  }
  EXPECT_EQ(lora_on, 1);
  EXPECT_EQ(lora_off, 1);
}

TEST_F(TrainingDimsTest, CurveStackAndStandingFollowTheKey) {
  // A served key sent back selects exactly its cell and its machine's figures.
  auto curve = [&](const v1::WorkloadKey& key) {
    v1::BatchCurveRequest req;
    req.set_device_model("rtx-4090-24gb");
    *req.mutable_workload() = key;
    grpc::ClientContext ctx;
    v1::BatchCurve out;
    grpc::Status st = query_->GetBatchCurve(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  };
  const v1::BatchCurve on = curve(KeyOf(a_, kLora));
  const v1::BatchCurve off = curve(KeyOf(b_, kLora));
  ASSERT_FALSE(on.points().empty());
  ASSERT_EQ(on.points_size(), off.points_size());
  EXPECT_TRUE(on.workload().gradient_checkpointing());
  EXPECT_FALSE(off.workload().gradient_checkpointing());
  int compared = 0;
  for (int i = 0; i < on.points_size(); ++i) {
    if (!on.points(i).has_tokens_per_second()) continue;
    const uint32_t batch = on.points(i).batch_size();
    EXPECT_EQ(on.points(i).support().machine_count(), 1u);
    EXPECT_DOUBLE_EQ(on.points(i).tokens_per_second().median(), TokensPerSecond(a_, kLora, batch));
    EXPECT_DOUBLE_EQ(off.points(i).tokens_per_second().median(), TokensPerSecond(b_, kLora, batch));
    ++compared;
  }
  EXPECT_EQ(compared, 3);  // batches 1, 4, 9

  // The stack table: one stack, one machine, each variant its own figure.
  auto stack = [&](const v1::WorkloadKey& key) {
    v1::StackDeltaRequest req;
    req.set_device_model("rtx-4090-24gb");
    *req.mutable_workload() = key;
    auto out = tables().GetStackDeltas(req);
    EXPECT_TRUE(out.ok()) << out.status();
    return *out;
  };
  const v1::StackDeltaTable s_on = stack(KeyOf(a_, kLora));
  const v1::StackDeltaTable s_off = stack(KeyOf(b_, kLora));
  ASSERT_EQ(s_on.rows_size(), 1);
  ASSERT_EQ(s_off.rows_size(), 1);
  EXPECT_EQ(s_on.rows(0).support().machine_count(), 1u);
  EXPECT_DOUBLE_EQ(s_on.rows(0).tokens_per_second().median(), TokensPerSecond(a_, kLora, 1));
  EXPECT_DOUBLE_EQ(s_off.rows(0).tokens_per_second().median(), TokensPerSecond(b_, kLora, 1));
  EXPECT_TRUE(s_on.workload().gradient_checkpointing());

  // Where A stands: alone on its checkpointing cell, among two on decode.
  v1::StackUpRequest up;
  up.set_submission_id(a_.submission_id());
  auto standing = tables().StackUp(up);
  ASSERT_TRUE(standing.ok()) << standing.status();
  bool saw_lora = false;
  for (const auto& row : standing->rows()) {
    if (row.workload().kind() == v1::WORKLOAD_KIND_TRAIN_LORA) {
      saw_lora = true;
      EXPECT_TRUE(row.workload().gradient_checkpointing());
      EXPECT_EQ(row.machine_count(), 1u);
    }
    if (row.workload().kind() == v1::WORKLOAD_KIND_DECODE) {
      EXPECT_EQ(row.machine_count(), 2u);
    }
  }
  EXPECT_TRUE(saw_lora);
}

TEST_F(TrainingDimsTest, ChartTitlesNameTheVariant) {
  const std::string base = "/v1/charts/throughput?device_model=rtx-4090-24gb&model_preset=llama-3.2-1b&kind=train_lora";
  auto on = Get(base + "&gradient_checkpointing=true");
  auto off = Get(base + "&gradient_checkpointing=false");
  ASSERT_TRUE(on);
  ASSERT_TRUE(off);
  ASSERT_EQ(on->status, 200) << on->body;
  ASSERT_EQ(off->status, 200) << off->body;
  EXPECT_NE(on->body.find("llama-3.2-1b train_lora fp32 seq"), std::string::npos) << on->body;
  EXPECT_NE(on->body.find(", ckpt"), std::string::npos) << on->body;
  EXPECT_EQ(off->body.find(", ckpt"), std::string::npos) << off->body;
  auto act = Get("/v1/charts/memory?device_model=rtx-4090-24gb&model_preset=llama-3.2-1b&kind=train_full"
                 "&activation_precision=fp16");
  ASSERT_TRUE(act);
  ASSERT_EQ(act->status, 200) << act->body;
  EXPECT_NE(act->body.find(", fp16 act"), std::string::npos) << act->body;
}

TEST_F(TrainingDimsTest, AVerdictOnOneVariantDoesNotAttachToTheOther) {
  pqxx::connection conn(collector_->db_url());
  auto admin = collector::CreateApiToken(conn, v1::ROLE_ADMIN, "root admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto admin_stub = v1::Admin::NewStub(collector_->NewChannel());
  v1::PutVerdictRequest put;
  put.set_device_model("rtx-4090-24gb");
  put.set_text("Checkpointing halves nothing here.");
  *put.mutable_workload() = KeyOf(a_, kLora);  // checkpointing on
  v1::Verdict written;
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin->token());
    grpc::Status st = admin_stub->PutVerdict(&ctx, put, &written);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // It cites the checkpointing cell only.
  ASSERT_EQ(written.cited_size(), 1);
  EXPECT_TRUE(written.cited(0).workload().gradient_checkpointing());

  auto curve_verdicts = [&](const v1::WorkloadKey& key) {
    v1::BatchCurveRequest req;
    req.set_device_model("rtx-4090-24gb");
    *req.mutable_workload() = key;
    auto out = tables().GetBatchCurve(req);
    EXPECT_TRUE(out.ok()) << out.status();
    return out->verdicts_size();
  };
  EXPECT_EQ(curve_verdicts(KeyOf(a_, kLora)), 1);
  EXPECT_EQ(curve_verdicts(KeyOf(b_, kLora)), 0);
  // In the OOM table it stays with its own row's model, and ListVerdicts
  // narrowed to the other variant leaves it out.
  v1::ListVerdictsRequest list;
  *list.mutable_workload() = KeyOf(b_, kLora);
  auto other = tables().ListVerdicts(list);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->verdicts_size(), 0);
  *list.mutable_workload() = KeyOf(a_, kLora);
  auto same = tables().ListVerdicts(list);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->verdicts_size(), 1);
  // Not stale: its cell has not moved.
  EXPECT_FALSE(same->verdicts(0).stale()) << same->verdicts(0).DebugString();
}

TEST_F(TrainingDimsTest, WillItRunPlansTheAskedVariant) {
  v1::WillItRunRequest req;
  req.set_device_model("rtx-4090-24gb");
  req.mutable_workload()->set_model_preset("llama-3.1-8b");
  req.mutable_workload()->set_kind(v1::WORKLOAD_KIND_TRAIN_LORA);
  req.mutable_workload()->set_precision(v1::PRECISION_BF16);
  req.mutable_workload()->set_sequence_tokens(512);
  auto plain = tables().WillItRun(req);
  ASSERT_TRUE(plain.ok()) << plain.status();
  req.mutable_workload()->set_gradient_checkpointing(true);
  req.mutable_workload()->set_activation_precision(v1::PRECISION_BF16);
  auto saving = tables().WillItRun(req);
  ASSERT_TRUE(saving.ok()) << saving.status();
  // Checkpointing and bf16 activations need less memory for the same batch.
  EXPECT_LT(saving->required_bytes().value(), plain->required_bytes().value());
  EXPECT_GT(saving->largest_batch().value(), plain->largest_batch().value());
  EXPECT_NE(saving->measure_command().find("--gradient-checkpointing on"), std::string::npos)
      << saving->measure_command();
  EXPECT_NE(saving->measure_command().find("--activation-precision bf16"), std::string::npos);
  bool says = false;
  for (const auto& a : saving->assumptions()) says |= a.find("gradient checkpointing per layer") != std::string::npos;
  EXPECT_TRUE(says);
  // fp16 activations in a bf16 run: refused, naming the field.
  req.mutable_workload()->set_activation_precision(v1::PRECISION_FP16);
  auto bad = tables().WillItRun(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace localbench::test_support
