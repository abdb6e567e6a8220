// Every validation rule: a valid submission passes, and each broken field is
// rejected with a message that starts with its own path.
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "localbench/collector/validation.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::collector {
namespace {

using test_support::MakeSubmission;

// A fixed "now" (2026-11-25) keeps the timestamp rules reproducible.
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795600000));
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(ValidationTest, BuilderSubmissionsAreValid) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (int sweeps : {1, 4, 9}) {
      const v1::Submission s = MakeSubmission(seed, sweeps, 1 + static_cast<int>(seed % 14));
      EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
    }
  }
}

TEST(ValidationTest, OtherBackendsAndStatusesAreValid) {
  v1::Submission s = MakeSubmission(3);
  auto* d = s.mutable_hardware()->mutable_device();
  d->set_backend(v1::BACKEND_HIP);
  d->set_vendor(v1::VENDOR_AMD);
  d->set_compute_capability("");
  d->set_gfx_target("gfx1030");
  // An ERROR point with its message, a skipped one after the OOM.
  auto* sweep = s.mutable_sweeps(0);
  auto* last = sweep->mutable_points(11);
  auto* skipped = sweep->add_points();
  skipped->set_batch_size(last->batch_size() + 1);
  skipped->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
  auto* error = sweep->add_points();
  error->set_batch_size(last->batch_size() + 2);
  error->set_status(v1::POINT_STATUS_ERROR);
  error->set_error_message("kernel launch failed");
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);

  v1::Submission cpu = MakeSubmission(4);
  auto* c = cpu.mutable_hardware()->mutable_device();
  c->set_backend(v1::BACKEND_CPU);
  c->set_vendor(v1::VENDOR_OTHER);
  c->set_compute_capability("");
  c->set_driver_version("");
  EXPECT_TRUE(ValidateSubmission(cpu, kNow).ok()) << ValidateSubmission(cpu, kNow);
}

TEST(ValidationTest, TrainingDimensionsAreValidOnTraining) {
  v1::Submission s = MakeSubmission(12, /*sweeps=*/4);
  v1::Workload* lora = s.mutable_sweeps(2)->mutable_workload();
  lora->set_precision(v1::PRECISION_BF16);
  lora->set_activation_precision(v1::PRECISION_BF16);
  lora->set_gradient_checkpointing(true);
  lora->set_accumulation_steps(4);
  lora->set_loss_chunks(8);
  v1::Workload* full = s.mutable_sweeps(3)->mutable_workload();
  full->set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_MIXED);
  full->set_activation_precision(v1::PRECISION_FP32);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
}

// Quantized weights (issue 15): decode in Q4_0/Q8_0 and QLoRA over NF4.
TEST(ValidationTest, QuantizedPrecisionsAreValid) {
  v1::Submission s = MakeSubmission(5, 3);
  ASSERT_EQ(s.sweeps(2).workload().kind(), v1::WORKLOAD_KIND_TRAIN_LORA);
  s.mutable_sweeps(0)->mutable_workload()->set_precision(v1::PRECISION_Q4_0);
  s.mutable_sweeps(1)->mutable_workload()->set_precision(v1::PRECISION_Q8_0);
  s.mutable_sweeps(2)->mutable_workload()->set_precision(v1::PRECISION_NF4);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  // QLoRA computes in bf16: bf16 activations over NF4 are valid (issue 13,
  // schema/0009); f16 ones, or a quantized "activation precision", are not.
  s.mutable_sweeps(2)->mutable_workload()->set_activation_precision(v1::PRECISION_BF16);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  for (v1::Precision bad : {v1::PRECISION_FP16, v1::PRECISION_NF4}) {
    s.mutable_sweeps(2)->mutable_workload()->set_activation_precision(bad);
    const absl::Status st = ValidateSubmission(s, kNow);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("sweeps[2].workload.activation_precision"), std::string::npos) << st;
  }
}

TEST(ValidationTest, OomBelowLargestOkStaysAPoint) {
  // As the agent's sweep reports it: the OOM at the 6th batch is kept as a
  // point, and the bracket is (largest OK, first OOM above it).
  v1::Submission s = MakeSubmission(2);
  auto* sw = s.mutable_sweeps(0);
  v1::Point* p = sw->mutable_points(5);
  const uint32_t batch = p->batch_size();
  p->Clear();
  p->set_batch_size(batch);
  p->set_status(v1::POINT_STATUS_OOM);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  // With no OOM above the largest OK batch, there is no failed bound.
  sw->mutable_points(11)->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
  sw->mutable_points(11)->clear_error_message();
  EXPECT_FALSE(ValidateSubmission(s, kNow).ok());
  sw->set_smallest_failed_batch(0);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
}

TEST(ValidationTest, SweepWithoutOomHasNoFailedBatch) {
  v1::Submission s = MakeSubmission(5, 1, 1);  // one OK point
  EXPECT_EQ(s.sweeps(0).smallest_failed_batch(), 0u);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok());
  // A sweep where nothing ran: both ends of the bracket are 0 / the OOM.
  v1::Submission none = MakeSubmission(6, 1, 1);
  auto* p = none.mutable_sweeps(0)->mutable_points(0);
  p->Clear();
  p->set_batch_size(1);
  p->set_status(v1::POINT_STATUS_OOM);
  none.mutable_sweeps(0)->set_largest_ok_batch(0);
  none.mutable_sweeps(0)->set_smallest_failed_batch(1);
  EXPECT_TRUE(ValidateSubmission(none, kNow).ok()) << ValidateSubmission(none, kNow);
}

struct Rule {
  const char* name;
  std::function<void(v1::Submission&)> mutate;
  const char* field;  // the message must start with "<field>: "
};

class RuleTest : public ::testing::TestWithParam<Rule> {};

TEST_P(RuleTest, BrokenFieldIsNamed) {
  v1::Submission s = MakeSubmission(11, /*sweeps=*/3);
  ASSERT_TRUE(ValidateSubmission(s, kNow).ok());
  GetParam().mutate(s);
  const absl::Status st = ValidateSubmission(s, kNow);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  const std::string message(st.message());
  EXPECT_EQ(message.rfind(std::string(GetParam().field) + ": ", 0), 0u) << message;
}

using S = v1::Submission;
v1::Device* Dev(S& s) { return s.mutable_hardware()->mutable_device(); }
v1::Host* Host(S& s) { return s.mutable_hardware()->mutable_host(); }
v1::Point* Pt(S& s, int sweep, int point) { return s.mutable_sweeps(sweep)->mutable_points(point); }
v1::Workload* Wl(S& s, int sweep) { return s.mutable_sweeps(sweep)->mutable_workload(); }

INSTANTIATE_TEST_SUITE_P(
    Validation, RuleTest,
    ::testing::Values(
        // Identity.
        Rule{"IdNotUuid", [](S& s) { s.set_submission_id("not-a-uuid"); }, "submission_id"},
        Rule{"IdEmpty", [](S& s) { s.clear_submission_id(); }, "submission_id"},
        Rule{"FingerprintShort", [](S& s) { s.set_machine_fingerprint("abc"); }, "machine_fingerprint"},
        Rule{"FingerprintUpper", [](S& s) { s.set_machine_fingerprint(std::string(64, 'A')); },
             "machine_fingerprint"},
        // Hardware.
        Rule{"NoHardware", [](S& s) { s.clear_hardware(); }, "hardware"},
        Rule{"NoDevice", [](S& s) { s.mutable_hardware()->clear_device(); }, "hardware.device"},
        Rule{"NoHost", [](S& s) { s.mutable_hardware()->clear_host(); }, "hardware.host"},
        Rule{"BackendUnspecified", [](S& s) { Dev(s)->set_backend(v1::BACKEND_UNSPECIFIED); },
             "hardware.device.backend"},
        Rule{"BackendUnknownValue", [](S& s) { Dev(s)->set_backend(static_cast<v1::Backend>(42)); },
             "hardware.device.backend"},
        Rule{"VendorUnspecified", [](S& s) { Dev(s)->set_vendor(v1::VENDOR_UNSPECIFIED); },
             "hardware.device.vendor"},
        Rule{"CudaOnAmd", [](S& s) { Dev(s)->set_vendor(v1::VENDOR_AMD); }, "hardware.device.vendor"},
        Rule{"NameEmpty", [](S& s) { Dev(s)->clear_name(); }, "hardware.device.name"},
        Rule{"NameTooLong", [](S& s) { Dev(s)->set_name(std::string(257, 'x')); }, "hardware.device.name"},
        Rule{"NameNul", [](S& s) { Dev(s)->set_name(std::string("a\0b", 3)); }, "hardware.device.name"},
        Rule{"NameBadUtf8", [](S& s) { Dev(s)->set_name("RTX \xc3\x28"); }, "hardware.device.name"},
        Rule{"MemoryZero", [](S& s) { Dev(s)->set_memory_total_bytes(0); }, "hardware.device.memory_total_bytes"},
        Rule{"MemoryHuge", [](S& s) { Dev(s)->set_memory_total_bytes(~uint64_t{0}); },
             "hardware.device.memory_total_bytes"},
        Rule{"FreeAboveTotal",
             [](S& s) { Dev(s)->set_memory_free_at_start_bytes(Dev(s)->memory_total_bytes() + 1); },
             "hardware.device.memory_free_at_start_bytes"},
        Rule{"DriverTooLong", [](S& s) { Dev(s)->set_driver_version(std::string(65, '1')); },
             "hardware.device.driver_version"},
        Rule{"RuntimeNul", [](S& s) { Dev(s)->set_runtime_version(std::string("13\0", 3)); },
             "hardware.device.runtime_version"},
        Rule{"ComputeCapabilityShape", [](S& s) { Dev(s)->set_compute_capability("sm_89"); },
             "hardware.device.compute_capability"},
        Rule{"GfxOnNvidia", [](S& s) { Dev(s)->set_gfx_target("gfx1030"); }, "hardware.device.gfx_target"},
        Rule{"SmCountHuge", [](S& s) { Dev(s)->set_multiprocessor_count(~0u); },
             "hardware.device.multiprocessor_count"},
        Rule{"PcieTooLong", [](S& s) { Dev(s)->set_pcie_link(std::string(100, 'x')); }, "hardware.device.pcie_link"},
        Rule{"OthersWithoutFlag", [](S& s) { Dev(s)->set_memory_used_by_others_bytes(1); },
             "hardware.device.memory_used_by_others_bytes"},
        Rule{"OthersAboveTotal",
             [](S& s) {
               Dev(s)->set_other_processes_hold_memory(true);
               Dev(s)->set_memory_used_by_others_bytes(Dev(s)->memory_total_bytes() + 1);
             },
             "hardware.device.memory_used_by_others_bytes"},
        Rule{"CpuModelBadUtf8", [](S& s) { Host(s)->set_cpu_model("\xff\xfe"); }, "hardware.host.cpu_model"},
        Rule{"LogicalBelowPhysical", [](S& s) { Host(s)->set_cpu_logical_cores(8); },
             "hardware.host.cpu_logical_cores"},
        Rule{"RamHuge", [](S& s) { Host(s)->set_ram_total_bytes(~uint64_t{0}); }, "hardware.host.ram_total_bytes"},
        Rule{"OsKernelTooLong", [](S& s) { Host(s)->set_os_kernel(std::string(300, 'k')); },
             "hardware.host.os_kernel"},
        // Software.
        Rule{"NoSoftware", [](S& s) { s.clear_software(); }, "software"},
        Rule{"AgentVersionEmpty", [](S& s) { s.mutable_software()->clear_agent_version(); },
             "software.agent_version"},
        Rule{"KernelHashBad", [](S& s) { s.mutable_software()->set_kernel_source_hash("xyz"); },
             "software.kernel_source_hash"},
        Rule{"SuiteVersionEmpty", [](S& s) { s.mutable_software()->clear_suite_version(); },
             "software.suite_version"},
        Rule{"SuiteHashBad", [](S& s) { s.mutable_software()->set_suite_hash(std::string(63, 'a')); },
             "software.suite_hash"},
        // Timestamps.
        Rule{"NoStart", [](S& s) { s.clear_started_at(); }, "started_at"},
        Rule{"NoFinish", [](S& s) { s.clear_finished_at(); }, "finished_at"},
        Rule{"StartBefore2020", [](S& s) { s.mutable_started_at()->set_seconds(1000); }, "started_at"},
        Rule{"FinishFarFuture", [](S& s) { s.mutable_finished_at()->set_seconds(1795600000 + 2 * 86400); },
             "finished_at"},
        Rule{"BadNanos", [](S& s) { s.mutable_started_at()->set_nanos(-1); }, "started_at"},
        Rule{"FinishBeforeStart",
             [](S& s) { s.mutable_finished_at()->set_seconds(s.started_at().seconds() - 1); }, "finished_at"},
        // Sweeps and workloads.
        Rule{"NoSweeps", [](S& s) { s.clear_sweeps(); }, "sweeps"},
        Rule{"TooManySweeps",
             [](S& s) {
               while (s.sweeps_size() <= Limits::kMaxSweeps) *s.add_sweeps() = s.sweeps(0);
             },
             "sweeps"},
        Rule{"NoWorkload", [](S& s) { s.mutable_sweeps(1)->clear_workload(); }, "sweeps[1].workload"},
        Rule{"PresetEmpty", [](S& s) { Wl(s, 0)->clear_model_preset(); }, "sweeps[0].workload.model_preset"},
        Rule{"PresetUpper", [](S& s) { Wl(s, 0)->set_model_preset("Llama"); }, "sweeps[0].workload.model_preset"},
        Rule{"KindUnspecified", [](S& s) { Wl(s, 2)->set_kind(v1::WORKLOAD_KIND_UNSPECIFIED); },
             "sweeps[2].workload.kind"},
        Rule{"PrecisionUnspecified", [](S& s) { Wl(s, 1)->set_precision(v1::PRECISION_UNSPECIFIED); },
             "sweeps[1].workload.precision"},
        Rule{"QuantizedFullFineTune",
             [](S& s) {
               Wl(s, 2)->set_kind(v1::WORKLOAD_KIND_TRAIN_FULL);
               Wl(s, 2)->set_lora_rank(0);
               Wl(s, 2)->set_precision(v1::PRECISION_Q4_0);
             },
             "sweeps[2].workload.precision"},
        Rule{"DecodeNoPrompt", [](S& s) { Wl(s, 0)->set_prompt_tokens(0); }, "sweeps[0].workload.prompt_tokens"},
        Rule{"DecodeNoGenerated", [](S& s) { Wl(s, 0)->set_generated_tokens(0); },
             "sweeps[0].workload.generated_tokens"},
        Rule{"TrainingNoSequence", [](S& s) { Wl(s, 2)->set_sequence_tokens(0); },
             "sweeps[2].workload.sequence_tokens"},
        Rule{"LoraWithoutRank", [](S& s) { Wl(s, 2)->set_lora_rank(0); }, "sweeps[2].workload.lora_rank"},
        Rule{"RankOnDecode", [](S& s) { Wl(s, 0)->set_lora_rank(8); }, "sweeps[0].workload.lora_rank"},
        Rule{"TokensHuge", [](S& s) { Wl(s, 1)->set_prompt_tokens(~0u); }, "sweeps[1].workload.prompt_tokens"},
        // Training dimensions (fields 8-12): sweep 0 decodes, sweep 2 is an fp32 LoRA.
        Rule{"CheckpointingOnDecode", [](S& s) { Wl(s, 0)->set_gradient_checkpointing(true); },
             "sweeps[0].workload.gradient_checkpointing"},
        Rule{"AccumulationOnDecode", [](S& s) { Wl(s, 0)->set_accumulation_steps(4); },
             "sweeps[0].workload.accumulation_steps"},
        Rule{"ActivationsOnDecode", [](S& s) { Wl(s, 0)->set_activation_precision(v1::PRECISION_FP32); },
             "sweeps[0].workload.activation_precision"},
        Rule{"AccumulationHuge", [](S& s) { Wl(s, 2)->set_accumulation_steps(5000); },
             "sweeps[2].workload.accumulation_steps"},
        Rule{"LossChunksHuge", [](S& s) { Wl(s, 2)->set_loss_chunks(5000); }, "sweeps[2].workload.loss_chunks"},
        Rule{"ActivationsNotTheRunPrecision", [](S& s) { Wl(s, 2)->set_activation_precision(v1::PRECISION_BF16); },
             "sweeps[2].workload.activation_precision"},
        Rule{"ActivationsUnknownValue",
             [](S& s) { Wl(s, 2)->set_activation_precision(static_cast<v1::Precision>(42)); },
             "sweeps[2].workload.activation_precision"},
        Rule{"AccountingOnLora",
             [](S& s) { Wl(s, 2)->set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_MIXED); },
             "sweeps[2].workload.full_finetune_accounting"},
        // Points.
        Rule{"NoPoints", [](S& s) { s.mutable_sweeps(2)->clear_points(); }, "sweeps[2].points"},
        Rule{"TooManyPoints",
             [](S& s) {
               auto* sw = s.mutable_sweeps(0);
               while (sw->points_size() <= Limits::kMaxPointsPerSweep) *sw->add_points() = sw->points(0);
             },
             "sweeps[0].points"},
        Rule{"BatchZero", [](S& s) { Pt(s, 1, 0)->set_batch_size(0); }, "sweeps[1].points[0].batch_size"},
        Rule{"BatchHuge", [](S& s) { Pt(s, 1, 11)->set_batch_size(~0u); }, "sweeps[1].points[11].batch_size"},
        Rule{"BatchRepeated", [](S& s) { Pt(s, 0, 4)->set_batch_size(Pt(s, 0, 3)->batch_size()); },
             "sweeps[0].points[4].batch_size"},
        Rule{"StatusUnspecified", [](S& s) { Pt(s, 0, 1)->set_status(v1::POINT_STATUS_UNSPECIFIED); },
             "sweeps[0].points[1].status"},
        Rule{"OkZeroThroughput", [](S& s) { Pt(s, 2, 0)->set_tokens_per_second_median(0); },
             "sweeps[2].points[0].tokens_per_second_median"},
        Rule{"NaNThroughput", [](S& s) { Pt(s, 2, 0)->set_tokens_per_second_median(kNaN); },
             "sweeps[2].points[0].tokens_per_second_median"},
        Rule{"InfMin", [](S& s) { Pt(s, 2, 1)->set_tokens_per_second_min(kInf); },
             "sweeps[2].points[1].tokens_per_second_min"},
        Rule{"NegativeMax", [](S& s) { Pt(s, 2, 1)->set_tokens_per_second_max(-3); },
             "sweeps[2].points[1].tokens_per_second_max"},
        Rule{"MedianAboveMax",
             [](S& s) { Pt(s, 0, 2)->set_tokens_per_second_median(Pt(s, 0, 2)->tokens_per_second_max() * 2); },
             "sweeps[0].points[2].tokens_per_second_median"},
        Rule{"StepNaN", [](S& s) { Pt(s, 0, 2)->set_step_seconds_median(kNaN); },
             "sweeps[0].points[2].step_seconds_median"},
        Rule{"StepMinNegative", [](S& s) { Pt(s, 0, 2)->set_step_seconds_min(-1e-3); },
             "sweeps[0].points[2].step_seconds_min"},
        Rule{"StepMeanOutside", [](S& s) { Pt(s, 0, 2)->set_step_seconds_mean(1e9); },
             "sweeps[0].points[2].step_seconds_mean"},
        Rule{"OkWithoutRepetitions", [](S& s) { Pt(s, 0, 2)->set_repetitions(0); },
             "sweeps[0].points[2].repetitions"},
        Rule{"OkWithError", [](S& s) { Pt(s, 0, 2)->set_error_message("oops"); },
             "sweeps[0].points[2].error_message"},
        Rule{"OomWithThroughput", [](S& s) { Pt(s, 0, 11)->set_tokens_per_second_median(5); },
             "sweeps[0].points[11].tokens_per_second_median"},
        Rule{"OomWithNaNStep", [](S& s) { Pt(s, 0, 11)->set_step_seconds_max(kNaN); },
             "sweeps[0].points[11].step_seconds_max"},
        Rule{"ErrorWithoutMessage",
             [](S& s) {
               Pt(s, 0, 11)->set_status(v1::POINT_STATUS_ERROR);
               Pt(s, 0, 11)->clear_error_message();
               s.mutable_sweeps(0)->set_smallest_failed_batch(0);
             },
             "sweeps[0].points[11].error_message"},
        Rule{"ErrorMessageTooLong", [](S& s) { Pt(s, 0, 11)->set_error_message(std::string(5000, 'e')); },
             "sweeps[0].points[11].error_message"},
        Rule{"ReproduceNul", [](S& s) { Pt(s, 1, 3)->set_reproduce_command(std::string("run\0x", 5)); },
             "sweeps[1].points[3].reproduce_command"},
        Rule{"PlannedHuge", [](S& s) { Pt(s, 1, 3)->set_planned_bytes(~uint64_t{0}); },
             "sweeps[1].points[3].planned_bytes"},
        Rule{"ArenaHuge", [](S& s) { Pt(s, 1, 3)->set_arena_peak_bytes(uint64_t{1} << 62); },
             "sweeps[1].points[3].arena_peak_bytes"},
        Rule{"DeltaHuge", [](S& s) { Pt(s, 1, 3)->set_device_delta_bytes(uint64_t{1} << 51); },
             "sweeps[1].points[3].device_delta_bytes"},
        Rule{"ProcessHuge", [](S& s) { Pt(s, 1, 3)->set_process_memory_bytes(~uint64_t{0}); },
             "sweeps[1].points[3].process_memory_bytes"},
        // Measured memory beyond what the device (24 GiB here) has cannot
        // have happened, even below the 1 PiB bound on any size field.
        Rule{"ArenaAboveDevice", [](S& s) { Pt(s, 1, 3)->set_arena_peak_bytes(uint64_t{24000} << 30); },
             "sweeps[1].points[3].arena_peak_bytes"},
        Rule{"ArenaJustAboveDevice",
             [](S& s) { Pt(s, 1, 3)->set_arena_peak_bytes(Dev(s)->memory_total_bytes() + 1); },
             "sweeps[1].points[3].arena_peak_bytes"},
        Rule{"DeltaAboveDevice", [](S& s) { Pt(s, 1, 3)->set_device_delta_bytes(uint64_t{25} << 30); },
             "sweeps[1].points[3].device_delta_bytes"},
        Rule{"ProcessPebibyte", [](S& s) { Pt(s, 1, 3)->set_process_memory_bytes(Limits::kMaxBytes); },
             "sweeps[1].points[3].process_memory_bytes"},
        Rule{"OkPlanAboveDevice", [](S& s) { Pt(s, 1, 3)->set_planned_bytes(uint64_t{48} << 30); },
             "sweeps[1].points[3].planned_bytes"},
        Rule{"MeasuredOnOomPointAboveDevice",
             [](S& s) { Pt(s, 1, 11)->set_arena_peak_bytes(uint64_t{25} << 30); },
             "sweeps[1].points[11].arena_peak_bytes"},
        Rule{"CpuProcessAboveHostRam",
             [](S& s) {
               Dev(s)->set_backend(v1::BACKEND_CPU);
               Dev(s)->set_vendor(v1::VENDOR_OTHER);
               Dev(s)->clear_compute_capability();
               Pt(s, 1, 3)->set_process_memory_bytes(Host(s)->ram_total_bytes() + 1);
             },
             "sweeps[1].points[3].process_memory_bytes"},
        Rule{"RepetitionsHuge", [](S& s) { Pt(s, 1, 3)->set_repetitions(~0u); }, "sweeps[1].points[3].repetitions"},
        Rule{"WarmupHuge", [](S& s) { Pt(s, 1, 3)->set_warmup_steps(~0u); }, "sweeps[1].points[3].warmup_steps"},
        Rule{"ClockHuge", [](S& s) { Pt(s, 1, 3)->set_sm_clock_mhz(1000000); }, "sweeps[1].points[3].sm_clock_mhz"},
        Rule{"ThrottleTopBit", [](S& s) { Pt(s, 1, 3)->set_throttle_reasons(~uint64_t{0}); },
             "sweeps[1].points[3].throttle_reasons"},
        // The OOM bracket against the points.
        Rule{"LargestOkWrong", [](S& s) { s.mutable_sweeps(1)->set_largest_ok_batch(1); },
             "sweeps[1].largest_ok_batch"},
        Rule{"SmallestFailedWrong", [](S& s) { s.mutable_sweeps(1)->set_smallest_failed_batch(0); },
             "sweeps[1].smallest_failed_batch"},
        Rule{"OomBelowOkIsNoBound",
             [](S& s) {
               // A transient OOM at the 6th batch, but larger batches ran:
               // the bound is still the last point's OOM.
               auto* sw = s.mutable_sweeps(0);
               v1::Point* p = sw->mutable_points(5);
               const uint32_t batch = p->batch_size();
               p->Clear();
               p->set_batch_size(batch);
               p->set_status(v1::POINT_STATUS_OOM);
               sw->set_smallest_failed_batch(batch);
             },
             "sweeps[0].smallest_failed_batch"},
        Rule{"PlannedMaxHuge", [](S& s) { s.mutable_sweeps(0)->set_planned_max_batch(~0u); },
             "sweeps[0].planned_max_batch"},
        // Issue 14: threshold source, sampled peaks, PCIe, other processes, estimate.
        Rule{"ThresholdSourceUnknown",
             [](S& s) { s.mutable_sweeps(0)->set_oom_threshold_source(static_cast<v1::OomThresholdSource>(9)); },
             "sweeps[0].oom_threshold_source"},
        Rule{"PeakAboveDevice",
             [](S& s) { Pt(s, 1, 0)->set_process_peak_bytes(Dev(s)->memory_total_bytes() + 1); },
             "sweeps[1].points[0].process_peak_bytes"},
        Rule{"RuntimeShareAboveDevice",
             [](S& s) { Pt(s, 1, 0)->set_runtime_memory_bytes(Dev(s)->memory_total_bytes() + 1); },
             "sweeps[1].points[0].runtime_memory_bytes"},
        Rule{"PcieGenerationAboveMax",
             [](S& s) {
               Dev(s)->set_pcie_generation_max(4);
               Dev(s)->set_pcie_generation_current(5);
             },
             "hardware.device.pcie_generation_current"},
        Rule{"PcieWidthHuge", [](S& s) { Dev(s)->set_pcie_width_max(65); }, "hardware.device.pcie_width_max"},
        Rule{"OtherProcessesCountedButNotFlagged",
             [](S& s) {
               Dev(s)->set_other_processes_hold_memory(false);
               Dev(s)->set_memory_used_by_others_bytes(0);
               Dev(s)->set_other_process_count(2);
             },
             "hardware.device.other_process_count"},
        Rule{"EstimateNegative", [](S& s) { s.set_estimated_seconds(-1); }, "estimated_seconds"},
        Rule{"BudgetNotFinite", [](S& s) { s.set_time_budget_seconds(std::numeric_limits<double>::infinity()); }, "time_budget_seconds"}),
    [](const ::testing::TestParamInfo<Rule>& param_info) { return std::string(param_info.param.name); });

TEST(ValidationTest, PlansBeyondTheDeviceAreFineWhereNothingRan) {
  // OOM and won't-fit points exist because their plan exceeds the device:
  // their planned_bytes stay unbounded by it.
  v1::Submission s = MakeSubmission(5);
  const uint64_t device = s.hardware().device().memory_total_bytes();
  v1::Sweep* sw = s.mutable_sweeps(0);
  v1::Point* oom = sw->mutable_points(sw->points_size() - 1);
  ASSERT_EQ(oom->status(), v1::POINT_STATUS_OOM);
  oom->set_planned_bytes(device * 3);
  v1::Point* skipped = sw->add_points();
  skipped->set_batch_size(oom->batch_size() + 1);
  skipped->set_status(v1::POINT_STATUS_SKIPPED_WONT_FIT);
  skipped->set_planned_bytes(uint64_t{24000} << 30);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  // A measurement of exactly the device's memory is possible.
  sw->mutable_points(0)->set_arena_peak_bytes(device);
  sw->mutable_points(0)->set_device_delta_bytes(device);
  sw->mutable_points(0)->set_process_memory_bytes(device);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
}

TEST(ValidationTest, CpuProcessMemoryIsBoundedByHostRam) {
  // The CPU backend's device is a limit inside the host's RAM; the process
  // (its resident memory) may exceed that limit but not the RAM.
  v1::Submission s = MakeSubmission(6);
  auto* d = s.mutable_hardware()->mutable_device();
  d->set_backend(v1::BACKEND_CPU);
  d->set_vendor(v1::VENDOR_OTHER);
  d->clear_compute_capability();
  const uint64_t ram = s.hardware().host().ram_total_bytes();
  ASSERT_GT(ram, d->memory_total_bytes());
  s.mutable_sweeps(0)->mutable_points(0)->set_process_memory_bytes(ram);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  s.mutable_sweeps(0)->mutable_points(0)->set_process_memory_bytes(ram + 1);
  const absl::Status st = ValidateSubmission(s, kNow);
  EXPECT_EQ(std::string(st.message()).rfind("sweeps[0].points[0].process_memory_bytes: ", 0), 0u) << st;
  EXPECT_NE(std::string(st.message()).find("ram_total_bytes"), std::string::npos) << st;
}

// A threshold marked PROVEN must be what the points show: an OK batch and
// the next one failing to allocate. PLANNED claims nothing about the points.
TEST(ValidationTest, ProvenThresholdNeedsAnAdjacentBracket) {
  v1::Submission s = MakeSubmission(5, 1, 1);  // one OK point, no OOM
  ASSERT_TRUE(ValidateSubmission(s, kNow).ok());
  v1::Sweep* sw = s.mutable_sweeps(0);
  sw->set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PLANNED);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  sw->set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PROVEN);
  absl::Status st = ValidateSubmission(s, kNow);
  EXPECT_EQ(std::string(st.message()).rfind("sweeps[0].oom_threshold_source: ", 0), 0u) << st;
  // An OOM two batches above the last OK one: a bracket, but not proven.
  const uint32_t ok = sw->points(0).batch_size();
  v1::Point* oom = sw->add_points();
  oom->set_batch_size(ok + 2);
  oom->set_status(v1::POINT_STATUS_OOM);
  sw->set_largest_ok_batch(ok);
  sw->set_smallest_failed_batch(ok + 2);
  st = ValidateSubmission(s, kNow);
  EXPECT_EQ(std::string(st.message()).rfind("sweeps[0].oom_threshold_source: ", 0), 0u) << st;
  oom->set_batch_size(ok + 1);
  sw->set_smallest_failed_batch(ok + 1);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
}

// A point the time budget cut: a status of its own, no timings, no bound.
TEST(ValidationTest, SkippedForTimeIsAPointWithoutTimings) {
  v1::Submission s = MakeSubmission(5, 1, 1);
  v1::Sweep* sw = s.mutable_sweeps(0);
  v1::Point* p = sw->add_points();
  p->set_batch_size(sw->points(0).batch_size() + 1);
  p->set_status(v1::POINT_STATUS_SKIPPED_FOR_TIME);
  p->set_error_message("not run: past the suite's time budget");
  sw->set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PLANNED);
  EXPECT_TRUE(ValidateSubmission(s, kNow).ok()) << ValidateSubmission(s, kNow);
  p->set_tokens_per_second_median(5);
  const absl::Status st = ValidateSubmission(s, kNow);
  EXPECT_EQ(std::string(st.message()).rfind("sweeps[0].points[1].tokens_per_second_median: ", 0), 0u) << st;
}

TEST(ValidationTest, TotalPointsAreBounded) {
  v1::Submission s = MakeSubmission(1, 1, Limits::kMaxPointsPerSweep);
  s.mutable_sweeps(0)->mutable_points()->RemoveLast();  // keep it valid: all OK
  // The builder's plans grow with the batch; let a device hold them all.
  s.mutable_hardware()->mutable_device()->set_memory_total_bytes(uint64_t{1} << 44);
  const v1::Sweep sweep = [&] {
    v1::Sweep sw = s.sweeps(0);
    sw.set_smallest_failed_batch(0);
    sw.set_largest_ok_batch(sw.points(sw.points_size() - 1).batch_size());
    return sw;
  }();
  s.clear_sweeps();
  while (s.sweeps_size() * sweep.points_size() <= Limits::kMaxPoints) *s.add_sweeps() = sweep;
  const absl::Status st = ValidateSubmission(s, kNow);
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(st.message()).rfind("sweeps: must hold at most", 0), 0u) << st;
}

TEST(ValidationTest, EnrollRequest) {
  v1::EnrollRequest r;
  r.set_machine_fingerprint(test_support::FingerprintFor(1));
  r.set_agent_version("v1");
  EXPECT_TRUE(ValidateEnrollRequest(r).ok());
  r.set_agent_version("");
  EXPECT_EQ(std::string(ValidateEnrollRequest(r).message()).rfind("agent_version:", 0), 0u);
  r.set_agent_version("v1");
  r.set_machine_fingerprint("zz");
  EXPECT_EQ(std::string(ValidateEnrollRequest(r).message()).rfind("machine_fingerprint:", 0), 0u);
}

TEST(Utf8Test, AcceptsWellFormedRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80"));  // été ✓ 🚀
  EXPECT_FALSE(IsValidUtf8("\x80"));                // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xc3"));                // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));        // UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xfe"));
}

}  // namespace
}  // namespace localbench::collector
