// The analytic memory plan. It lists, in the order Workload::Create allocates
// them, every buffer of a workload (see workload.cc; the tests compare the
// two name by name). Written separately from the workload on purpose: the
// plan answers "does batch b fit?" without allocating anything.
#include "localbench/kernels/plan.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/arena.h"
#include "localbench/kernels/backend.h"
#include "quant/quant_workload.h"

namespace localbench::kernels {

std::string_view BufferCategoryName(BufferCategory category) {
  switch (category) {
    case BufferCategory::kWeights: return "weights";
    case BufferCategory::kKvCache: return "kv_cache";
    case BufferCategory::kActivationsSaved: return "activations_saved";
    case BufferCategory::kGradients: return "gradients";
    case BufferCategory::kOptimizerState: return "optimizer_state";
    case BufferCategory::kWorkspace: return "workspace";
    case BufferCategory::kLogits: return "logits";
  }
  return "?";
}

std::uint64_t MemoryPlan::CategoryBytes(BufferCategory category) const {
  std::uint64_t sum = 0;
  for (const PlannedBuffer& b : buffers)
    if (b.category == category) sum += AlignUp(b.bytes, alignment);
  return sum;
}

namespace {

// The LoRA-adapted projections, in allocation order, with (out, in) widths.
struct Projection {
  const char* name;
  std::int64_t out, in;
};
std::vector<Projection> Projections(const ModelPreset& p) {
  return {{"q", p.q_dim(), p.hidden},         {"k", p.kv_dim(), p.hidden},
          {"v", p.kv_dim(), p.hidden},        {"o", p.hidden, p.q_dim()},
          {"gate", p.intermediate, p.hidden}, {"up", p.intermediate, p.hidden},
          {"down", p.hidden, p.intermediate}};
}

class Planner {
 public:
  explicit Planner(const WorkloadConfig& c) : c_(c), p_(c.preset), s_(DTypeSize(c.precision)) {}

  void Add(std::string name, BufferCategory category, std::uint64_t elements, std::uint64_t element_bytes) {
    plan_.buffers.push_back(PlannedBuffer{std::move(name), category, elements * element_bytes});
  }

  // A projection [out, in]: quantized when the config says so (base weights
  // only, prefix ""), else `bytes` per element (issue 15).
  void Linear(std::string name, BufferCategory category, std::uint64_t out, std::uint64_t in,
              std::uint64_t bytes, const std::string& prefix) {
    if (c_.weight_format && prefix.empty()) {
      Add(std::move(name), category,
          QuantizedBytes(*c_.weight_format, static_cast<std::int64_t>(out), static_cast<std::int64_t>(in)), 1);
    } else {
      Add(std::move(name), category, out * in, bytes);
    }
  }

  // Base weights, in the order of workload.cc's AllocateWeights. `category`
  // lets a full fine-tune list its gradients with the same names.
  void BaseWeights(const std::string& prefix, BufferCategory category, std::uint64_t bytes) {
    const std::uint64_t V = u(p_.vocab), H = u(p_.hidden), Q = u(p_.q_dim()), KV = u(p_.kv_dim()),
                        I = u(p_.intermediate);
    Add(prefix + "tok_embeddings", category, V * H, bytes);
    for (std::int64_t l = 0; l < p_.layers; ++l) {
      const std::string L = absl::StrCat(prefix, "layers.", l, ".");
      Add(L + "attn_norm", category, H, bytes);
      Linear(L + "wq", category, Q, H, bytes, prefix);
      Linear(L + "wk", category, KV, H, bytes, prefix);
      Linear(L + "wv", category, KV, H, bytes, prefix);
      if (p_.qkv_bias) {
        Add(L + "bq", category, Q, bytes);
        Add(L + "bk", category, KV, bytes);
        Add(L + "bv", category, KV, bytes);
      }
      Linear(L + "wo", category, H, Q, bytes, prefix);
      Add(L + "mlp_norm", category, H, bytes);
      Linear(L + "w_gate", category, I, H, bytes, prefix);
      Linear(L + "w_up", category, I, H, bytes, prefix);
      Linear(L + "w_down", category, H, I, bytes, prefix);
    }
    Add(prefix + "final_norm", category, H, bytes);
    if (!p_.tied_embeddings) Linear(prefix + "lm_head", category, V, H, bytes, prefix);
  }

  void LoraAdapters(const std::string& prefix, BufferCategory category) {
    const std::uint64_t r = u(c_.lora_rank);
    for (std::int64_t l = 0; l < p_.layers; ++l) {
      for (const Projection& pr : Projections(p_)) {
        const std::string L = absl::StrCat(prefix, "layers.", l, ".lora_", pr.name);
        Add(L + "_a", category, r * u(pr.in), 4);
        Add(L + "_b", category, u(pr.out) * r, 4);
      }
    }
  }

  // GEMM workspace: the largest need over the workload's products.
  // `grad` is the dtype of full fine-tune weight gradients; `act` and
  // `agrad` those of training activations and their gradients (16-bit
  // operands are converted through the workspace, GemmWorkspaceBytes).
  std::uint64_t GemmWorkspace(std::int64_t n_tokens, std::int64_t head_rows, bool training,
                              DType grad = DType::kF32, DType act = DType::kF32,
                              DType agrad = DType::kF32) const {
    const DType w = c_.precision, f = DType::kF32;
    const bool full = c_.kind == WorkloadKind::kTrainFull;
    // Quantized weights: QuantLinear's panels (fp32 activations, staged by
    // the workload), plus the 16-bit adapter and tied-head products below.
    const bool quantized = c_.weight_format.has_value();
    std::uint64_t need = quantized ? quant::QuantGemmWorkspace(c_, n_tokens, head_rows, training) : 0;
    auto gemm = [&](std::int64_t m, std::int64_t n, std::int64_t k, DType a, DType b, DType c) {
      need = std::max(need, GemmWorkspaceBytes(m, n, k, a, b, c));
    };
    for (const Projection& pr : Projections(p_)) {
      if (!quantized) gemm(n_tokens, pr.out, pr.in, act, w, act);  // y = x W^T
      if (!training) continue;
      if (!quantized) gemm(n_tokens, pr.in, pr.out, agrad, w, agrad);  // dx = dy W
      if (full) gemm(pr.out, pr.in, n_tokens, agrad, act, grad);      // dW += dy^T x
      if (full) continue;
      // LoRA's adapter products (fp32 adapters, workload.cc Project and
      // ProjectBackward): mid = x A^T, y += mid B^T, d_mid = dy B,
      // dB += dy^T mid, dA += d_mid^T x, dx += d_mid A.
      const std::int64_t r = c_.lora_rank;
      gemm(n_tokens, r, pr.in, act, f, act);
      gemm(n_tokens, pr.out, r, act, f, act);
      gemm(n_tokens, r, pr.out, agrad, f, agrad);
      gemm(pr.out, r, n_tokens, agrad, act, f);
      gemm(r, pr.in, n_tokens, agrad, act, f);
      gemm(n_tokens, pr.in, r, agrad, f, agrad);
    }
    // LM head: logits = xn W^T (fp32 logits), d_xn = d_logits W, a full
    // fine-tune's dW += d_logits^T xn.
    if (quantized && !p_.tied_embeddings) return need;
    gemm(head_rows, p_.vocab, p_.hidden, act, w, f);
    if (training) {
      gemm(head_rows, p_.hidden, p_.vocab, f, w, agrad);
      if (full) gemm(p_.vocab, p_.hidden, head_rows, f, act, grad);
    }
    return need;
  }

  MemoryPlan Build(std::uint64_t alignment) {
    plan_.alignment = alignment;
    const std::uint64_t B = u(c_.batch), H = u(p_.hidden), Q = u(p_.q_dim()), KV = u(p_.kv_dim()),
                        I = u(p_.intermediate), V = u(p_.vocab), Hq = u(p_.heads);
    const auto W = BufferCategory::kWeights, K = BufferCategory::kKvCache,
               S = BufferCategory::kActivationsSaved, G = BufferCategory::kGradients,
               O = BufferCategory::kOptimizerState, X = BufferCategory::kWorkspace,
               LG = BufferCategory::kLogits;
    BaseWeights("", W, s_);
    switch (c_.kind) {
      case WorkloadKind::kPrefill:
      case WorkloadKind::kDecode: {
        const bool decode = c_.kind == WorkloadKind::kDecode;
        const std::uint64_t t_cache = u(c_.prompt_tokens + (decode ? c_.generated_tokens : 0));
        for (std::int64_t l = 0; l < p_.layers; ++l) {
          Add(absl::StrCat("layers.", l, ".k_cache"), K, B * t_cache * KV, s_);
          Add(absl::StrCat("layers.", l, ".v_cache"), K, B * t_cache * KV, s_);
        }
        const std::uint64_t N = decode ? B : B * u(c_.prompt_tokens);
        Add("token_ids", X, N, 4);
        Add("x", X, N * H, 4);
        Add("xn", X, N * H, 4);
        Add("rstd", X, N, 4);
        Add("q", X, N * Q, 4);
        Add("k", X, N * KV, 4);
        Add("v", X, N * KV, 4);
        Add("att", X, N * Q, 4);
        if (!decode) Add("lse", X, B * Hq * u(c_.prompt_tokens), 4);
        Add("gate", X, N * I, 4);
        Add("up", X, N * I, 4);
        Add("h", X, N * I, 4);
        if (!decode) Add("last", X, B * H, 4);
        Add("gemm_workspace", X, GemmWorkspace(static_cast<std::int64_t>(N), c_.batch, false), 1);
        Add("logits", LG, B * V, 4);
        break;
      }
      case WorkloadKind::kTrainLora:
      case WorkloadKind::kTrainFull: {
        const bool lora = c_.kind == WorkloadKind::kTrainLora;
        const TrainOptions& t = c_.train;
        const bool ckpt = t.gradient_checkpointing;
        const std::uint64_t T = u(c_.sequence_tokens), N = B * T, r = u(c_.lora_rank),
                            steps = u(t.accumulation_steps),
                            head_rows = u(LossChunkRows(t, static_cast<std::int64_t>(N)));
        // Full fine-tune: gradient dtype and master copy by accounting.
        const bool mixed = !lora && t.full_accounting == FullFinetuneAccounting::kMixed;
        const std::uint64_t grad_bytes = mixed ? 4 : s_;
        const bool master = mixed && c_.precision != DType::kF32;
        if (lora) LoraAdapters("", W);
        // One layer's activations, saved per layer or (checkpointing) one
        // shared set that the backward recomputes layer by layer. 16-bit
        // activations: all of them in that type, statistics fp32; their
        // gradients bf16 in a bf16 run, else fp32 (workload.cc says why).
        const std::uint64_t a = DTypeSize(t.activations);
        const DType agrad = t.activations == DType::kBF16 ? DType::kBF16 : DType::kF32;
        const std::uint64_t g = DTypeSize(agrad);
        auto layer_set = [&](const std::string& L, std::uint64_t e) {
          Add(L + "attn_rstd", S, N, 4);
          Add(L + "xn1", S, N * H, e);
          Add(L + "q", S, N * Q, e);
          Add(L + "k", S, N * KV, e);
          Add(L + "v", S, N * KV, e);
          Add(L + "att", S, N * Q, e);
          Add(L + "lse", S, B * Hq * T, 4);
          Add(L + "x_mid", S, N * H, e);
          Add(L + "mlp_rstd", S, N, 4);
          Add(L + "xn2", S, N * H, e);
          Add(L + "gate", S, N * I, e);
          Add(L + "up", S, N * I, e);
          Add(L + "h", S, N * I, e);
          if (lora) {
            for (const Projection& pr : Projections(p_)) Add(L + "lora_" + pr.name + "_mid", S, N * r, e);
          }
        };
        for (std::int64_t l = 0; l < p_.layers; ++l) {
          const std::string L = absl::StrCat("layers.", l, ".");
          Add(L + "x_in", S, N * H, a);
          if (!ckpt) layer_set(L, a);
        }
        if (ckpt) layer_set("recompute.", a);
        Add("x_final", S, N * H, a);
        Add("final_rstd", S, N, 4);
        Add("xn_final", S, N * H, a);
        Add("logits", LG, head_rows * V, 4);
        Add("d_x", G, N * H, 4);  // the residual gradient stays fp32
        Add("d_xn", G, N * H, g);
        Add("d_q", G, N * Q, g);
        Add("d_k", G, N * KV, g);
        Add("d_v", G, N * KV, g);
        Add("d_att", G, N * Q, g);
        Add("d_gate", G, N * I, g);
        Add("d_up", G, N * I, g);
        Add("d_h", G, N * I, g);
        if (lora) {
          Add("d_lora_mid", G, N * r, g);
          LoraAdapters("grad.", G);
          LoraAdapters("adam_m.", O);
          LoraAdapters("adam_v.", O);
        } else {
          BaseWeights("grad.", G, grad_bytes);
          BaseWeights("adam_m.", O, 4);
          BaseWeights("adam_v.", O, 4);
          if (master) BaseWeights("master.", O, 4);
        }
        // Accumulation needs only every micro-batch's ids, targets and
        // losses: the gradients already accumulate (beta = 1) until the update.
        Add("token_ids", X, steps * N, 4);
        Add("targets", X, steps * N, 4);
        Add("losses", X, steps * N, 4);
        Add("gemm_workspace", X,
            GemmWorkspace(static_cast<std::int64_t>(N), static_cast<std::int64_t>(head_rows), true,
                          mixed ? DType::kF32 : c_.precision, t.activations, agrad),
            1);
        if (c_.weight_format && t.activations != DType::kF32) {
          // QLoRA with 16-bit activations: fp32 staging for QuantLinear.
          const std::uint64_t widest = std::max({H, Q, I});
          Add("quant_x", X, N * widest, 4);
          Add("quant_y", X, N * widest, 4);
        }
        break;
      }
    }
    plan_.total_bytes = 0;
    for (const PlannedBuffer& b : plan_.buffers) plan_.total_bytes += AlignUp(b.bytes, alignment);
    return std::move(plan_);
  }

 private:
  static std::uint64_t u(std::int64_t v) { return static_cast<std::uint64_t>(v); }
  const WorkloadConfig& c_;
  const ModelPreset& p_;
  std::uint64_t s_;
  MemoryPlan plan_;
};

}  // namespace

absl::StatusOr<MemoryPlan> PlanMemory(const WorkloadConfig& config, std::uint64_t alignment) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return absl::InvalidArgumentError("alignment must be a power of two");
  return Planner(config).Build(alignment);
}

absl::StatusOr<std::int64_t> MaxBatchForBudget(const WorkloadConfig& config, std::uint64_t budget_bytes,
                                               std::int64_t max_batch, std::uint64_t alignment) {
  WorkloadConfig c = config;
  auto fits = [&](std::int64_t b) -> absl::StatusOr<bool> {
    c.batch = b;
    absl::StatusOr<MemoryPlan> plan = PlanMemory(c, alignment);
    if (!plan.ok()) return plan.status();
    return plan->total_bytes <= budget_bytes;
  };
  // Batches past ValidateConfig's batch x tokens bound are not plannable.
  const std::int64_t tokens =
      std::max<std::int64_t>(1, std::max(config.prompt_tokens + config.generated_tokens, config.sequence_tokens)) *
      std::max<std::int64_t>(1, config.train.accumulation_steps);
  max_batch = std::min(max_batch, std::max<std::int64_t>(1, (std::int64_t{1} << 24) / tokens));
  absl::StatusOr<bool> one = fits(1);
  if (!one.ok()) return one.status();
  if (!*one || max_batch < 1) return 0;
  // Memory grows monotonically with batch: double, then bisect.
  std::int64_t lo = 1, hi = 2;
  while (hi <= max_batch) {
    absl::StatusOr<bool> f = fits(hi);
    if (!f.ok()) return f.status();
    if (!*f) break;
    lo = hi;
    hi *= 2;
  }
  hi = std::min(hi, max_batch + 1);
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<bool> f = fits(mid);
    if (!f.ok()) return f.status();
    (*f ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace localbench::kernels
