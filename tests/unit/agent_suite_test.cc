// The standard suite: its hash, how options reshape it, reproduce commands
// and the progress estimate.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "localbench/agent/cli.h"
#include "localbench/agent/progress.h"
#include "localbench/agent/runner.h"
#include "localbench/agent/suite.h"

namespace localbench::agent {
namespace {

TEST(AgentSuite, HashIsContentAddressed) {
  const auto cpu = CpuSuite();
  EXPECT_EQ(cpu.Hash().size(), 64u);
  EXPECT_EQ(cpu.Hash(), CpuSuite().Hash());
  EXPECT_NE(cpu.Hash(), GpuSuite().Hash());
  auto changed = cpu;
  changed.templates[0].prompt_tokens += 1;
  EXPECT_NE(changed.Hash(), cpu.Hash());
  // The canonical text carries the preset shapes, not only their names.
  EXPECT_NE(cpu.CanonicalText().find("hidden=896"), std::string::npos);
  // 2027.01 is the default (the tables tell its training dimensions apart);
  // --suite 2026.12 keeps the previous family selectable.
  EXPECT_EQ(StandardSuite(v1::BACKEND_CPU).Hash(), CpuSuite2027().Hash());
  EXPECT_EQ(StandardSuite(v1::BACKEND_CUDA).Hash(), GpuSuite2027().Hash());
  EXPECT_EQ(SuiteFor("", v1::BACKEND_CPU)->Hash(), CpuSuite2027().Hash());
  EXPECT_EQ(SuiteFor("2027.01", v1::BACKEND_HIP)->Hash(), GpuSuite2027().Hash());
  auto previous = SuiteFor("2026.12", v1::BACKEND_CPU);
  ASSERT_TRUE(previous.ok());
  EXPECT_EQ(previous->Hash(), CpuSuite().Hash());
  EXPECT_EQ(SuiteFor("2026.12", v1::BACKEND_CUDA)->Hash(), GpuSuite().Hash());
  auto unknown = SuiteFor("2025.01", v1::BACKEND_CPU);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("2025.01"), std::string::npos);
}

TEST(AgentSuite, NoOptionsIsTheStandardSuite) {
  auto s = ApplyOptions(CpuSuite(), RunOptions{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Hash(), CpuSuite().Hash());
  EXPECT_EQ(s->version, CpuSuite().version);
}

TEST(AgentSuite, OptionsRestrictAndSweepLengths) {
  RunOptions o;
  o.presets = {"tiny-llama"};
  o.workloads = {v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_TRAIN_FULL};
  o.precisions = {v1::PRECISION_FP32};
  o.prompt_tokens = {8, 16};
  o.sequence_tokens = {4};
  o.batches = {4, 1, 4};
  o.repetitions = 2;
  auto s = ApplyOptions(CpuSuite(), o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "custom");
  EXPECT_EQ(s->version, CpuSuite().version + "+custom");
  EXPECT_NE(s->Hash(), CpuSuite().Hash());
  EXPECT_EQ(s->batches, (std::vector<std::uint32_t>{1, 4}));
  EXPECT_EQ(s->repetitions, 2u);
  const auto items = Expand(*s);
  // prefill x {8, 16} + train-full (a kind the CPU suite lacks: defaults) x {4}
  ASSERT_EQ(items.size(), 3u);
  std::set<std::uint32_t> prompts;
  for (const auto& it : items) {
    EXPECT_EQ(it.preset, "tiny-llama");
    EXPECT_EQ(it.shape.precision, v1::PRECISION_FP32);
    if (it.shape.kind == v1::WORKLOAD_KIND_PREFILL) prompts.insert(it.shape.prompt_tokens);
    if (it.shape.kind == v1::WORKLOAD_KIND_TRAIN_FULL) {
      EXPECT_EQ(it.shape.sequence_tokens, 4u);
      EXPECT_EQ(it.shape.lora_rank, 0u);
    }
  }
  EXPECT_EQ(prompts, (std::set<std::uint32_t>{8, 16}));
}

TEST(AgentSuite, UnknownPresetIsAnError) {
  RunOptions o;
  o.presets = {"gpt-5"};
  auto s = ApplyOptions(CpuSuite(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("gpt-5"), std::string::npos);
}

TEST(AgentSuite, ReproduceCommandRestrictsToThePoint) {
  auto suite = CpuSuite();
  // The runner fills in the budget the run had (the suite's rule gives 0).
  suite.cpu_memory_limit_bytes = 1280ull << 20;
  SuiteItem item{"qwen2.5-0.5b", {v1::WORKLOAD_KIND_DECODE, v1::PRECISION_BF16, 64, 4, 0, 0, {}}};
  const auto cmd = ReproduceCommand("cpu", suite, item, 2);
  EXPECT_EQ(cmd, "localbench-agent run --device cpu --memory-limit " + std::to_string(suite.cpu_memory_limit_bytes) +
                     " --presets qwen2.5-0.5b --workloads decode --precisions bf16 --prompt-tokens 64"
                     " --generated-tokens 4 --batches 2 --repetitions " + std::to_string(suite.repetitions));
  // The command parses back to exactly that one point's suite.
  auto gpu = ReproduceCommand("cuda:0", GpuSuite(), item, 8);
  EXPECT_EQ(gpu.find("--memory-limit"), std::string::npos);
}

TEST(AgentSuite, Suites2027CarryTheTrainingDimensions) {
  const Suite cpu = CpuSuite2027(), gpu = GpuSuite2027();
  EXPECT_EQ(cpu.version, "2027.01-cpu");
  EXPECT_EQ(gpu.version, "2027.01-gpu");
  // 2026.12's rules and presets, inherited; its text (and hash) unchanged.
  EXPECT_EQ(cpu.presets, CpuSuite().presets);
  EXPECT_EQ(cpu.cpu_memory_margin_fraction, CpuSuite().cpu_memory_margin_fraction);
  EXPECT_EQ(CpuSuite().CanonicalText().find("gradient_checkpointing"), std::string::npos);
  EXPECT_NE(cpu.Hash(), CpuSuite().Hash());
  // The GPU suite measures LoRA with checkpointing off and on, bf16
  // activations; full fine-tuning with the mixed-precision accounting.
  int lora_off = 0, lora_on = 0, full_mixed = 0;
  for (const SuiteTemplate& t : gpu.templates) {
    if (t.kind == v1::WORKLOAD_KIND_TRAIN_LORA) {
      EXPECT_EQ(t.train.activation_precision, v1::PRECISION_BF16);
      (t.train.gradient_checkpointing ? lora_on : lora_off)++;
    }
    if (t.kind == v1::WORKLOAD_KIND_TRAIN_FULL &&
        t.train.full_finetune_accounting == v1::FULL_FINETUNE_ACCOUNTING_MIXED)
      ++full_mixed;
    if (t.kind == v1::WORKLOAD_KIND_DECODE) {
      EXPECT_TRUE(t.train.IsDefault());
    }
  }
  EXPECT_EQ(lora_off, 1);
  EXPECT_EQ(lora_on, 1);
  EXPECT_EQ(full_mixed, 1);
  EXPECT_NE(gpu.CanonicalText().find("gradient_checkpointing=1"), std::string::npos);
}

// Suite 2027.01-gpu's quantized block (issue 15): Q4_0 prefill and decode on
// the 7-8B presets and Llama 2 7B only, NF4 QLoRA on Llama 3.1 8B only;
// Llama 2 7B runs nothing else and comes last (the first to give way to the
// time budget); the run options narrow the block as they narrow templates.
TEST(AgentSuite, Gpu2027QuantizedBlockIsScopedToTheLargePresets) {
  const Suite gpu = GpuSuite2027();
  const auto count = [](const Suite& s, const std::string& preset, v1::WorkloadKind kind, v1::Precision precision) {
    int n = 0;
    for (const SuiteItem& item : Expand(s))
      if (item.preset == preset && item.shape.kind == kind && item.shape.precision == precision) ++n;
    return n;
  };
  const std::vector<std::string> large = {"llama-3.1-8b", "qwen2.5-7b", "mistral-7b-v0.3", "llama-2-7b"};
  for (const std::string& p : large) {
    EXPECT_EQ(count(gpu, p, v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_Q4_0), 1) << p;
    EXPECT_EQ(count(gpu, p, v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q4_0), 1) << p;
  }
  for (const std::string p : {"qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b"}) {
    EXPECT_EQ(count(gpu, p, v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q4_0), 0) << p;
    EXPECT_EQ(count(gpu, p, v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_Q4_0), 0) << p;
    EXPECT_EQ(count(gpu, p, v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_NF4), 0) << p;
  }
  EXPECT_EQ(count(gpu, "qwen2.5-7b", v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_NF4), 0);
  EXPECT_EQ(count(gpu, "llama-3.1-8b", v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_NF4), 1);
  const auto items = Expand(gpu);
  EXPECT_EQ(items.size(), gpu.presets.size() * gpu.templates.size() + 2 * large.size() + 1);
  ASSERT_GE(items.size(), 2u);
  EXPECT_EQ(items[items.size() - 2].preset, "llama-2-7b");
  EXPECT_EQ(items.back().preset, "llama-2-7b");
  EXPECT_EQ(count(gpu, "llama-2-7b", v1::WORKLOAD_KIND_DECODE, v1::PRECISION_BF16), 0);
  // Stated in the 2027.01-gpu text only: the other suites keep their hashes.
  EXPECT_NE(gpu.CanonicalText().find("scoped presets=llama-3.1-8b,qwen2.5-7b,mistral-7b-v0.3,llama-2-7b workload "
                                     "kind=decode precision=q4_0 prompt_tokens=512 generated_tokens=64"),
            std::string::npos)
      << gpu.CanonicalText();
  EXPECT_EQ(CpuSuite2027().CanonicalText().find("scoped"), std::string::npos);
  EXPECT_EQ(GpuSuite().CanonicalText().find("scoped"), std::string::npos);

  RunOptions bf16;
  bf16.precisions = {v1::PRECISION_BF16};
  auto s = ApplyOptions(gpu, bf16);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->scoped.empty());

  RunOptions decode;
  decode.workloads = {v1::WORKLOAD_KIND_DECODE};
  decode.generated_tokens = {128};
  decode.presets = {"llama-2-7b", "llama-3.1-8b"};
  s = ApplyOptions(gpu, decode);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->scoped.size(), 1u);
  EXPECT_EQ(s->scoped[0].shape.generated_tokens, 128u);
  EXPECT_EQ(s->scoped[0].presets, (std::vector<std::string>{"llama-3.1-8b", "llama-2-7b"}));
  EXPECT_EQ(s->name, "custom");

  // --precisions q4_0 turns the general templates into q4_0 too: a point
  // both would run runs once.
  RunOptions q4;
  q4.precisions = {v1::PRECISION_Q4_0};
  q4.presets = {"llama-2-7b"};
  s = ApplyOptions(gpu, q4);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(count(*s, "llama-2-7b", v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q4_0), 1);
  EXPECT_EQ(count(*s, "llama-2-7b", v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_Q4_0), 1);
}

TEST(AgentSuite, TrainingReproduceCommandSelectsExactlyItsTemplate) {
  const Suite gpu = GpuSuite2027();
  SuiteItem item;
  for (const SuiteTemplate& t : gpu.templates)
    if (t.kind == v1::WORKLOAD_KIND_TRAIN_LORA && t.train.gradient_checkpointing) item = {"llama-3.1-8b", t};
  ASSERT_EQ(item.preset, "llama-3.1-8b");
  const std::string cmd = ReproduceCommand("cuda:0", gpu, item, 2);
  EXPECT_NE(cmd.find("--gradient-checkpointing on"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("--activation-precision bf16"), std::string::npos) << cmd;
  // Parsed back, it selects that one template of the standard suite.
  std::vector<std::string> args;
  std::string word;
  for (std::istringstream in(cmd.substr(std::string("localbench-agent ").size())); in >> word;) args.push_back(word);
  const ParseResult parsed = ParseCommandLine(args);
  ASSERT_EQ(parsed.exit_code, 0) << parsed.error;
  auto s = ApplyOptions(gpu, parsed.invocation.run);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->templates.size(), 1u);
  EXPECT_EQ(s->templates[0], item.shape);
}

TEST(AgentSuite, TrainDimsReachTheResultAndTheKernels) {
  TrainDims d;
  d.activation_precision = v1::PRECISION_BF16;
  d.gradient_checkpointing = true;
  d.accumulation_steps = 4;
  d.full_finetune_accounting = v1::FULL_FINETUNE_ACCOUNTING_MIXED;
  d.loss_chunks = 8;
  v1::Workload w;
  SetTrainDims(d, v1::WORKLOAD_KIND_TRAIN_FULL, &w);
  EXPECT_EQ(w.activation_precision(), v1::PRECISION_BF16);
  EXPECT_TRUE(w.gradient_checkpointing());
  EXPECT_EQ(w.accumulation_steps(), 4u);
  EXPECT_EQ(w.full_finetune_accounting(), v1::FULL_FINETUNE_ACCOUNTING_MIXED);
  EXPECT_EQ(w.loss_chunks(), 8u);
  EXPECT_EQ(TrainDimsOf(w), d);  // the report reads back what was sent
  EXPECT_EQ(DescribeTrainDims(d), " bf16-acts ckpt-on accum4 loss-chunks8 mixed");
  const kernels::TrainOptions o = KernelTrainOptions(d, v1::WORKLOAD_KIND_TRAIN_FULL);
  EXPECT_EQ(o.activations, kernels::DType::kBF16);
  EXPECT_TRUE(o.gradient_checkpointing);
  EXPECT_EQ(o.accumulation_steps, 4);
  EXPECT_EQ(o.full_accounting, kernels::FullFinetuneAccounting::kMixed);
  EXPECT_EQ(o.loss_chunks, 8);
  // Inference carries none of them; an old train-full result was lean.
  v1::Workload decode;
  SetTrainDims(d, v1::WORKLOAD_KIND_DECODE, &decode);
  EXPECT_FALSE(decode.gradient_checkpointing());
  EXPECT_EQ(KernelTrainOptions(TrainDims{}, v1::WORKLOAD_KIND_TRAIN_FULL).full_accounting,
            kernels::FullFinetuneAccounting::kLean);
  // --activation-precision must be fp32 or the run's precision.
  RunOptions bad;
  bad.activation_precision = v1::PRECISION_FP16;
  EXPECT_FALSE(ApplyOptions(GpuSuite2027(), bad).ok());
  // QLoRA (train-lora over nf4) computes in bf16: bf16 activations apply.
  RunOptions qlora;
  qlora.precisions = {v1::PRECISION_NF4};
  qlora.activation_precision = v1::PRECISION_BF16;
  auto q = ApplyOptions(CpuSuite2027(), qlora);
  ASSERT_TRUE(q.ok()) << q.status();
  int trained = 0;
  for (const SuiteTemplate& t : q->templates) {
    if (t.kind != v1::WORKLOAD_KIND_TRAIN_LORA) continue;
    EXPECT_EQ(t.precision, v1::PRECISION_NF4);
    EXPECT_EQ(t.train.activation_precision, v1::PRECISION_BF16);
    ++trained;
  }
  EXPECT_GT(trained, 0);
}

TEST(AgentProgress, EstimatesFromThePaceSoFar) {
  auto t = Progress::Clock::time_point{};
  std::FILE* sink = std::tmpfile();
  Progress p(sink, /*live=*/false, [&] { return t; });
  p.SetTotal(4);
  EXPECT_LT(p.EstimateSecondsLeft(), 0);  // unknown before the first unit
  p.Start("a");
  t += std::chrono::seconds(10);
  p.Finish("ok");
  EXPECT_DOUBLE_EQ(p.EstimateSecondsLeft(), 30.0);
  p.Drop(2);  // a sweep stopped early
  EXPECT_EQ(p.total(), 2);
  EXPECT_DOUBLE_EQ(p.EstimateSecondsLeft(), 10.0);
  p.Close();
  std::rewind(sink);
  char buf[512] = {};
  const auto n = std::fread(buf, 1, sizeof buf - 1, sink);
  const std::string log(buf, n);
  EXPECT_NE(log.find("running a"), std::string::npos) << log;
  EXPECT_NE(log.find("about 30s to go"), std::string::npos) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos);  // plain lines off a terminal
  std::fclose(sink);
  EXPECT_EQ(FormatDuration(65), "1m05s");
}

TEST(AgentProgress, LiveLineRedrawsInPlace) {
  auto t = Progress::Clock::time_point{};
  std::FILE* sink = std::tmpfile();
  Progress p(sink, /*live=*/true, [&] { return t; });
  p.SetTotal(3);
  p.Start("tiny-llama prefill batch 1");
  t += std::chrono::seconds(4);
  p.Finish("12.0 tok/s");
  p.Start("tiny-llama prefill batch 2");
  p.Close();
  std::rewind(sink);
  char buf[1024] = {};
  const std::string log(buf, std::fread(buf, 1, sizeof buf - 1, sink));
  std::fclose(sink);
  // "\r + erase line" redraws; the line names what runs, what is left and the estimate.
  EXPECT_NE(log.find("\r\033[K[1/3] tiny-llama prefill batch 1 | 3 left, estimating..."), std::string::npos) << log;
  EXPECT_NE(log.find("  tiny-llama prefill batch 1: 12.0 tok/s\n"), std::string::npos) << log;
  EXPECT_NE(log.find("[2/3] tiny-llama prefill batch 2 | 2 left, about 8s to go"), std::string::npos) << log;
}

}  // namespace
}  // namespace localbench::agent
