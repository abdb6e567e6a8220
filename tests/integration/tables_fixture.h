// Shared fixture of the table tests: a fresh database behind an in-process
// collector (real PostgreSQL, real gRPC on loopback), submissions written
// through the real store, and builders for varied, realistic submissions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include "localbench/collector/tables.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {

constexpr uint64_t kGiB = 1ULL << 30;

// How a built submission departs from MakeSubmission's RTX 4090.
struct Variant {
  std::string device_name = "NVIDIA GeForce RTX 4090";
  uint64_t memory_bytes = 24 * kGiB;
  v1::Backend backend = v1::BACKEND_CUDA;
  std::string preset = "llama-3.2-1b";
  double speed = 1.0;  // multiplies every tokens/s figure
  std::string driver_version = "580.65.06";
  std::string agent_version = "v0.1.0-3-gabcdef0";
  std::string suite_version = "2026.11";
  int sweeps = 4;  // decode fp16, prefill bf16, train_lora fp32, train_full fp16
  int points = 4;  // batches 1, 4, 9 ok; 16 out of memory
};

// A valid submission: id from `seed`, machine from `machine`.
inline v1::Submission Build(uint64_t seed, uint64_t machine, const Variant& v = {}) {
  v1::Submission s = MakeSubmission(seed, v.sweeps, v.points);
  s.set_machine_fingerprint(FingerprintFor(machine + 1000000));
  v1::Device* d = s.mutable_hardware()->mutable_device();
  d->set_name(v.device_name);
  d->set_memory_total_bytes(v.memory_bytes);
  d->set_memory_free_at_start_bytes(v.memory_bytes - (v.memory_bytes / 50));
  d->set_backend(v.backend);
  d->set_driver_version(v.driver_version);
  if (v.backend == v1::BACKEND_HIP) {
    d->set_vendor(v1::VENDOR_AMD);
    d->clear_compute_capability();
    d->set_gfx_target("gfx1100");
  }
  s.mutable_software()->set_agent_version(v.agent_version);
  s.mutable_software()->set_suite_version(v.suite_version);
  for (auto& sweep : *s.mutable_sweeps()) {
    sweep.mutable_workload()->set_model_preset(v.preset);
    for (auto& p : *sweep.mutable_points()) {
      p.set_tokens_per_second_median(p.tokens_per_second_median() * v.speed);
      p.set_tokens_per_second_min(p.tokens_per_second_min() * v.speed);
      p.set_tokens_per_second_max(p.tokens_per_second_max() * v.speed);
      if (p.status() == v1::POINT_STATUS_OK) {
        p.set_step_seconds_median(p.step_seconds_median() / v.speed);
        p.set_step_seconds_min(p.step_seconds_min() / v.speed);
        p.set_step_seconds_max(p.step_seconds_max() / v.speed);
        p.set_step_seconds_mean(p.step_seconds_mean() / v.speed);
      }
    }
  }
  return s;
}

// Deterministic bytes of a message (what "byte for byte" compares).
inline std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream raw(&out);
  google::protobuf::io::CodedOutputStream coded(&raw);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

class TablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url.empty());
    auto c = InProcessCollector::Start(url);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    auto pool = collector::ConnectionPool::Create(url, 1);
    ASSERT_TRUE(pool.ok()) << pool.status();
    moderation_pool_ = *std::move(pool);
  }

  // Stores `s` through the collector's store (one data version each), sent
  // by an agent enrolled for its machine (agents may submit only for theirs).
  void Store(const v1::Submission& s) {
    auto it = agents_.find(s.machine_fingerprint());
    if (it == agents_.end()) {
      auto agent = collector_->Enroll(s.machine_fingerprint());
      ASSERT_TRUE(agent.ok()) << agent.status();
      it = agents_.emplace(s.machine_fingerprint(),
                           collector::AgentIdentity{agent->agent_id(), s.machine_fingerprint()}).first;
    }
    auto r = collector_->server().store().Submit(it->second, s);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Flags, retracts or restores a submission; returns the new version.
  int64_t Moderate(const std::string& id, const std::string& action) {
    auto v = collector::RecordModeration(*moderation_pool_, id, action, "test: " + action, "editor@test");
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  int64_t Latest() {
    auto v = tables().LatestVersion();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  collector::TableService& tables() { return collector_->server().tables(); }

  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<collector::ConnectionPool> moderation_pool_;
  std::map<std::string, collector::AgentIdentity> agents_;  // by machine fingerprint
};

// The workload key of MakeSubmission's sweep `i` (see Variant::sweeps).
inline v1::WorkloadKey KeyOf(const v1::Submission& s, int i) {
  const v1::Workload& w = s.sweeps(i).workload();
  v1::WorkloadKey k;
  k.set_model_preset(w.model_preset());
  k.set_kind(w.kind());
  k.set_precision(w.precision());
  k.set_prompt_tokens(w.prompt_tokens());
  k.set_generated_tokens(w.generated_tokens());
  k.set_sequence_tokens(w.sequence_tokens());
  k.set_lora_rank(w.lora_rank());
  // Served keys state a training workload's dimensions (query.proto
  // WorkloadKey 8-12), unset ones at their pre-2027.01 meaning; written out
  // here rather than calling the collector's canonical form, so the tests
  // check it.
  if (w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA || w.kind() == v1::WORKLOAD_KIND_TRAIN_FULL) {
    k.set_activation_precision(w.activation_precision() == v1::PRECISION_UNSPECIFIED ? v1::PRECISION_FP32
                                                                                    : w.activation_precision());
    k.set_gradient_checkpointing(w.gradient_checkpointing());
    k.set_accumulation_steps(w.accumulation_steps() == 0 ? 1 : w.accumulation_steps());
    k.set_loss_chunks(w.loss_chunks());
    if (w.kind() == v1::WORKLOAD_KIND_TRAIN_FULL) {
      k.set_full_finetune_accounting(w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_MIXED
                                         ? v1::FULL_FINETUNE_ACCOUNTING_MIXED
                                         : v1::FULL_FINETUNE_ACCOUNTING_LEAN);
    }
  }
  return k;
}

}  // namespace localbench::test_support
