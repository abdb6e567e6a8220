// The workloads, assembled from Backend ops and Device copies only (no host
// access to device memory), so they run unchanged on every backend. Buffer
// allocation order and names must match plan.cc exactly; the tests check it.
// Over 500 lines on purpose: inference and training share Engine (weights,
// arena allocation) and their allocation order is read against plan.cc in
// one place.
#include "localbench/kernels/workload.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "status_macros.h"
#include "workload_testing.h"

namespace localbench::kernels {
namespace {

constexpr float kLoraScale = 1.0f;        // lora_alpha / rank with alpha = rank
constexpr float kLoraLearningRate = 1e-2f;
constexpr float kFullLearningRate = 1e-3f;

// A seed per tensor, so each weight's values do not depend on the others.
std::uint64_t TensorSeed(std::uint64_t seed, std::uint64_t index) {
  return seed * 0x100000001b3ull + index * 0x9e3779b97f4a7c15ull + 1;
}

// Host-side seeded token ids (xorshift): the input every run sees.
std::vector<std::int32_t> SeededTokens(std::uint64_t seed, std::int64_t n, std::int64_t vocab) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(n));
  std::uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;
  for (auto& t : out) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    t = static_cast<std::int32_t>(s % static_cast<std::uint64_t>(vocab));
  }
  return out;
}

// One transformer block's weights.
struct LayerWeights {
  Tensor attn_norm, wq, wk, wv, bq, bk, bv, wo, mlp_norm, w_gate, w_up, w_down;
};

// Base weights in plan order.
struct Weights {
  Tensor tok_embeddings;
  std::vector<LayerWeights> layers;
  Tensor final_norm;
  Tensor lm_head;  // == tok_embeddings when tied
  std::vector<Tensor*> all;  // every distinct tensor, in allocation order
};

// A rank-r adapter pair: y += scale * (x A^T) B^T.
struct Adapter {
  Tensor a, b;
};

// Everything the workloads share: arena-backed allocation and the weights.
class Engine : public Workload {
 protected:
  Engine(Backend& backend, const WorkloadConfig& config, MemoryPlan plan, std::unique_ptr<Arena> arena,
         std::int64_t tokens)
      : Workload(backend, config, std::move(plan), std::move(arena), tokens) {}

  const ModelPreset& p() const { return config_.preset; }

  Tensor Alloc(std::string name, DType dtype, std::initializer_list<std::int64_t> dims) {
    Tensor t = Tensor::Of(nullptr, dtype, dims);
    t.data = arena_->Allocate(t.bytes(), name);
    named_.emplace(std::move(name), t);
    return t;
  }

 public:
  // A buffer by its plan name (tests).
  absl::StatusOr<Tensor> Named(std::string_view name) const {
    auto it = named_.find(std::string(name));
    if (it == named_.end()) return absl::NotFoundError(absl::StrCat("no buffer named ", std::string(name)));
    return it->second;
  }

 protected:
  std::int32_t* AllocIds(std::string name, std::int64_t n) {
    auto* ids = static_cast<std::int32_t*>(arena_->Allocate(static_cast<std::uint64_t>(n) * 4, name));
    // Named too, so tests can set and read them: int32 elements, viewed as
    // 4-byte f32 slots (Tensor has no integer dtype).
    named_.emplace(std::move(name), Tensor::Of(ids, DType::kF32, {n}));
    return ids;
  }

  void AllocWeights(Weights& w, const std::string& prefix, DType dtype) {
    const std::int64_t V = p().vocab, H = p().hidden, Q = p().q_dim(), KV = p().kv_dim(), I = p().intermediate;
    w.tok_embeddings = Alloc(prefix + "tok_embeddings", dtype, {V, H});
    w.layers.resize(static_cast<std::size_t>(p().layers));
    for (std::int64_t l = 0; l < p().layers; ++l) {
      LayerWeights& lw = w.layers[static_cast<std::size_t>(l)];
      const std::string L = absl::StrCat(prefix, "layers.", l, ".");
      lw.attn_norm = Alloc(L + "attn_norm", dtype, {H});
      lw.wq = AllocLinear(L + "wq", dtype, Q, H, prefix);
      lw.wk = AllocLinear(L + "wk", dtype, KV, H, prefix);
      lw.wv = AllocLinear(L + "wv", dtype, KV, H, prefix);
      if (p().qkv_bias) {
        lw.bq = Alloc(L + "bq", dtype, {Q});
        lw.bk = Alloc(L + "bk", dtype, {KV});
        lw.bv = Alloc(L + "bv", dtype, {KV});
      }
      lw.wo = AllocLinear(L + "wo", dtype, H, Q, prefix);
      lw.mlp_norm = Alloc(L + "mlp_norm", dtype, {H});
      lw.w_gate = AllocLinear(L + "w_gate", dtype, I, H, prefix);
      lw.w_up = AllocLinear(L + "w_up", dtype, I, H, prefix);
      lw.w_down = AllocLinear(L + "w_down", dtype, H, I, prefix);
    }
    w.final_norm = Alloc(prefix + "final_norm", dtype, {H});
    w.lm_head = p().tied_embeddings ? w.tok_embeddings : AllocLinear(prefix + "lm_head", dtype, V, H, prefix);
    w.all.push_back(&w.tok_embeddings);
    for (LayerWeights& lw : w.layers) {
      for (Tensor* t : {&lw.attn_norm, &lw.wq, &lw.wk, &lw.wv, &lw.bq, &lw.bk, &lw.bv, &lw.wo, &lw.mlp_norm,
                        &lw.w_gate, &lw.w_up, &lw.w_down})
        if (t->present()) w.all.push_back(t);
    }
    w.all.push_back(&w.final_norm);
    if (!p().tied_embeddings) w.all.push_back(&w.lm_head);
  }

  // Seeded values: norms 1, embeddings +-0.5, linear weights +-1/sqrt(in),
  // biases +-0.1.
  absl::Status InitWeights(Weights& w) {
    std::uint64_t index = 0;
    for (Tensor* t : w.all) {
      ++index;
      if (t == &w.final_norm || IsNorm(w, t)) {
        LB_RETURN_IF_ERROR(backend_.Fill(*t, 1.0f));
        continue;
      }
      float scale = t->rank == 1 ? 0.1f : 1.0f / std::sqrt(static_cast<float>(t->cols()));
      if (t == &w.tok_embeddings) scale = 0.5f;
      if (auto q = quant_.find(t->data); q != quant_.end()) {
        LB_RETURN_IF_ERROR(backend_.FillRandomQuantized(q->second, t->data, t->rows(), t->cols(),
                                                        TensorSeed(config_.seed, index), scale));
        continue;
      }
      LB_RETURN_IF_ERROR(backend_.FillRandomUniform(*t, TensorSeed(config_.seed, index), scale));
    }
    return absl::OkStatus();
  }
  static bool IsNorm(const Weights& w, const Tensor* t) {
    for (const LayerWeights& lw : w.layers)
      if (t == &lw.attn_norm || t == &lw.mlp_norm) return true;
    return false;
  }

  // The GEMM workspace is the one size the workload takes from the plan: it
  // is the contract of Backend::Gemm (GemmWorkspaceBytes), and a product that
  // needed more would fail with InvalidArgument, which the tests would see.
  Tensor AllocGemmWorkspace() {
    std::uint64_t bytes = 0;
    for (const PlannedBuffer& b : plan_.buffers)
      if (b.name == "gemm_workspace") bytes = b.bytes;
    return Alloc("gemm_workspace", DType::kF32, {static_cast<std::int64_t>(bytes / 4)});
  }

  // A projection [out, in] of the base weights (prefix ""): stored in the
  // config's weight_format when it has one (issue 15). The Tensor keeps the
  // logical shape for WeightGemm; its bytes are the quantized size.
  Tensor AllocLinear(std::string name, DType dtype, std::int64_t out, std::int64_t in, const std::string& prefix) {
    if (!config_.weight_format || !prefix.empty()) return Alloc(std::move(name), dtype, {out, in});
    const QuantFormat f = *config_.weight_format;
    Tensor t = Tensor::Of(arena_->Allocate(QuantizedBytes(f, out, in), name), dtype, {out, in});
    quant_.emplace(t.data, f);
    named_.emplace(std::move(name), t);
    return t;
  }

  // y = x op(W) + beta y for a weight W [out, in]: op(W) = W^T (trans_w,
  // forward) or W (backward). Quantized weights go through QuantLinear,
  // whose activations are fp32: 16-bit ones (QLoRA with bf16 activations)
  // convert at the boundary through the planned quant_x / quant_y.
  absl::Status WeightGemm(bool trans_w, const Tensor& x, const Tensor& w, float beta, Tensor y) {
    auto q = quant_.find(w.data);
    if (q == quant_.end()) return backend_.Gemm(false, trans_w, 1.0f, x, w, beta, y, gemm_ws_);
    Tensor x32 = x, y32 = y;
    if (x.dtype != DType::kF32) {
      x32 = Tensor::Of(quant_x_.data, DType::kF32, {x.rows(), x.cols()});
      LB_RETURN_IF_ERROR(backend_.Convert(x, x32));
    }
    if (y.dtype != DType::kF32) {
      y32 = Tensor::Of(quant_y_.data, DType::kF32, {y.rows(), y.cols()});
      if (beta != 0.0f) LB_RETURN_IF_ERROR(backend_.Convert(y, y32));
    }
    LB_RETURN_IF_ERROR(backend_.QuantLinear(q->second, trans_w, x32, w.data, w.rows(), w.cols(), beta, y32, gemm_ws_));
    return y.dtype == DType::kF32 ? absl::OkStatus() : backend_.Convert(y32, y);
  }

  Tensor gemm_ws_;
  Tensor quant_x_, quant_y_;  // fp32 staging of 16-bit activations for QuantLinear
  std::map<std::string, Tensor> named_;
  std::map<const void*, QuantFormat> quant_;  // quantized weights by data pointer
};

// ---------------------------------------------------------------------------
// Inference: prefill and decode share the layer code.
class InferenceWorkload final : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Workload>> Make(Backend& backend, const WorkloadConfig& c,
                                                        MemoryPlan plan, std::unique_ptr<Arena> arena) {
    const bool decode = c.kind == WorkloadKind::kDecode;
    const std::int64_t tokens = c.batch * (decode ? c.generated_tokens : c.prompt_tokens);
    std::unique_ptr<InferenceWorkload> w(
        new InferenceWorkload(backend, c, std::move(plan), std::move(arena), tokens));
    LB_RETURN_IF_ERROR(w->Init());
    return std::unique_ptr<Workload>(std::move(w));
  }

  absl::Status Step() override {
    if (!decode_) return Forward(n_rows_, prompt_, 0);
    for (std::int64_t g = 0; g < config_.generated_tokens; ++g) {
      LB_RETURN_IF_ERROR(Forward(config_.batch, 1, prompt_ + g));
    }
    return absl::OkStatus();
  }

 private:
  InferenceWorkload(Backend& backend, const WorkloadConfig& c, MemoryPlan plan, std::unique_ptr<Arena> arena,
                    std::int64_t tokens)
      : Engine(backend, c, std::move(plan), std::move(arena), tokens),
        decode_(c.kind == WorkloadKind::kDecode),
        prompt_(c.prompt_tokens),
        t_cache_(c.prompt_tokens + (decode_ ? c.generated_tokens : 0)),
        n_rows_(decode_ ? c.batch : c.batch * c.prompt_tokens) {}

  absl::Status Init() {
    const std::int64_t B = config_.batch, N = n_rows_, H = p().hidden, Q = p().q_dim(), KV = p().kv_dim(),
                       I = p().intermediate, Hkv = p().kv_heads, D = p().head_dim;
    const DType s = config_.precision, f = DType::kF32;
    AllocWeights(w_, "", s);
    for (std::int64_t l = 0; l < p().layers; ++l) {
      k_cache_.push_back(Alloc(absl::StrCat("layers.", l, ".k_cache"), s, {B, t_cache_, Hkv, D}));
      v_cache_.push_back(Alloc(absl::StrCat("layers.", l, ".v_cache"), s, {B, t_cache_, Hkv, D}));
    }
    ids_ = AllocIds("token_ids", N);
    x_ = Alloc("x", f, {N, H});
    xn_ = Alloc("xn", f, {N, H});
    rstd_ = Alloc("rstd", f, {N});
    q_ = Alloc("q", f, {N, Q});
    k_ = Alloc("k", f, {N, KV});
    v_ = Alloc("v", f, {N, KV});
    att_ = Alloc("att", f, {N, Q});
    if (!decode_) lse_ = Alloc("lse", f, {B * p().heads * prompt_});
    gate_ = Alloc("gate", f, {N, I});
    up_ = Alloc("up", f, {N, I});
    h_ = Alloc("h", f, {N, I});
    if (!decode_) last_ = Alloc("last", f, {B, H});
    gemm_ws_ = AllocGemmWorkspace();
    logits_ = Alloc("logits", f, {B, p().vocab});

    LB_RETURN_IF_ERROR(InitWeights(w_));
    if (decode_) {
      // The prompt's cache entries: seeded synthetic keys and values.
      for (std::size_t l = 0; l < k_cache_.size(); ++l) {
        LB_RETURN_IF_ERROR(backend_.FillRandomUniform(k_cache_[l], TensorSeed(config_.seed, 1000000 + 2 * l), 1.0f));
        LB_RETURN_IF_ERROR(backend_.FillRandomUniform(v_cache_[l], TensorSeed(config_.seed, 1000001 + 2 * l), 1.0f));
      }
    }
    const std::vector<std::int32_t> ids = SeededTokens(config_.seed, N, p().vocab);
    LB_RETURN_IF_ERROR(backend_.device().CopyHostToDevice(ids_, ids.data(), ids.size() * 4));
    return backend_.device().Synchronize();
  }

  // Rows of a [N, C] tensor as a view with N rows (decode: batch rows).
  static Tensor Rows(const Tensor& t, std::int64_t n) {
    Tensor v = t;
    v.dims[0] = n;
    return v;
  }

  // y = x W^T (+ beta y).
  absl::Status Linear(const Tensor& x, const Tensor& w, Tensor y, float beta) {
    return WeightGemm(true, x, w, beta, y);
  }

  // One forward pass of n rows: `t` tokens per sequence at positions
  // [pos, pos + t). Prefill: t = P, pos = 0. Decode: t = 1, pos = P + g.
  absl::Status Forward(std::int64_t n, std::int64_t t, std::int64_t pos) {
    const std::int64_t B = config_.batch, Hq = p().heads, Hkv = p().kv_heads, D = p().head_dim;
    const float eps = p().rms_eps, theta = p().rope_theta;
    Tensor x = Rows(x_, n), xn = Rows(xn_, n), rstd = Rows(rstd_, n), q = Rows(q_, n), k = Rows(k_, n),
           v = Rows(v_, n), att = Rows(att_, n), gate = Rows(gate_, n), up = Rows(up_, n), h = Rows(h_, n);
    LB_RETURN_IF_ERROR(backend_.EmbeddingForward(w_.tok_embeddings, ids_, x));
    for (std::size_t l = 0; l < w_.layers.size(); ++l) {
      const LayerWeights& lw = w_.layers[l];
      LB_RETURN_IF_ERROR(backend_.RmsNormForward(x, lw.attn_norm, eps, xn, rstd));
      LB_RETURN_IF_ERROR(Linear(xn, lw.wq, q, 0.0f));
      LB_RETURN_IF_ERROR(Linear(xn, lw.wk, k, 0.0f));
      LB_RETURN_IF_ERROR(Linear(xn, lw.wv, v, 0.0f));
      if (p().qkv_bias) {
        LB_RETURN_IF_ERROR(backend_.AddBias(q, lw.bq));
        LB_RETURN_IF_ERROR(backend_.AddBias(k, lw.bk));
        LB_RETURN_IF_ERROR(backend_.AddBias(v, lw.bv));
      }
      LB_RETURN_IF_ERROR(backend_.RopeForward(Tensor::Of(q.data, DType::kF32, {n, Hq, D}), t, pos, theta));
      LB_RETURN_IF_ERROR(backend_.RopeForward(Tensor::Of(k.data, DType::kF32, {n, Hkv, D}), t, pos, theta));
      const Tensor k4 = Tensor::Of(k.data, DType::kF32, {B, t, Hkv, D});
      const Tensor v4 = Tensor::Of(v.data, DType::kF32, {B, t, Hkv, D});
      LB_RETURN_IF_ERROR(backend_.KvCacheWrite(k4, k_cache_[l], pos));
      LB_RETURN_IF_ERROR(backend_.KvCacheWrite(v4, v_cache_[l], pos));
      if (decode_) {
        LB_RETURN_IF_ERROR(backend_.AttentionDecode(Tensor::Of(q.data, DType::kF32, {B, Hq, D}), k_cache_[l],
                                                    v_cache_[l], pos + 1,
                                                    Tensor::Of(att.data, DType::kF32, {B, Hq, D})));
      } else {
        LB_RETURN_IF_ERROR(backend_.AttentionForward(Tensor::Of(q.data, DType::kF32, {B, t, Hq, D}), k4, v4,
                                                     Tensor::Of(att.data, DType::kF32, {B, t, Hq, D}), lse_));
      }
      LB_RETURN_IF_ERROR(Linear(att, lw.wo, x, 1.0f));
      LB_RETURN_IF_ERROR(backend_.RmsNormForward(x, lw.mlp_norm, eps, xn, rstd));
      LB_RETURN_IF_ERROR(Linear(xn, lw.w_gate, gate, 0.0f));
      LB_RETURN_IF_ERROR(Linear(xn, lw.w_up, up, 0.0f));
      LB_RETURN_IF_ERROR(backend_.SwiGluForward(gate, up, h));
      LB_RETURN_IF_ERROR(Linear(h, lw.w_down, x, 1.0f));
    }
    Tensor head_in = x;
    if (!decode_) {
      // Only each prompt's last position feeds the LM head.
      const std::uint64_t row = static_cast<std::uint64_t>(p().hidden) * 4;
      for (std::int64_t b = 0; b < B; ++b) {
        LB_RETURN_IF_ERROR(backend_.device().CopyDeviceToDevice(
            static_cast<char*>(last_.data) + static_cast<std::uint64_t>(b) * row,
            static_cast<char*>(x.data) + static_cast<std::uint64_t>(b * t + t - 1) * row, row));
      }
      head_in = last_;
    }
    Tensor hn = Rows(xn_, B), hr = Rows(rstd_, B);
    LB_RETURN_IF_ERROR(backend_.RmsNormForward(head_in, w_.final_norm, eps, hn, hr));
    LB_RETURN_IF_ERROR(Linear(hn, w_.lm_head, logits_, 0.0f));
    if (decode_) LB_RETURN_IF_ERROR(backend_.Argmax(logits_, ids_));  // greedy: next input token
    return absl::OkStatus();
  }

  bool decode_;
  std::int64_t prompt_, t_cache_, n_rows_;
  Weights w_;
  std::vector<Tensor> k_cache_, v_cache_;
  std::int32_t* ids_ = nullptr;
  Tensor x_, xn_, rstd_, q_, k_, v_, att_, lse_, gate_, up_, h_, last_, logits_;
};

// ---------------------------------------------------------------------------
// Training: LoRA (frozen base) or full fine-tune.
class TrainWorkload final : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Workload>> Make(Backend& backend, const WorkloadConfig& c,
                                                        MemoryPlan plan, std::unique_ptr<Arena> arena) {
    // tokens/s counts the effective batch: every micro-batch of the step.
    std::unique_ptr<TrainWorkload> w(new TrainWorkload(backend, c, std::move(plan), std::move(arena),
                                                       c.train.accumulation_steps * c.batch * c.sequence_tokens));
    LB_RETURN_IF_ERROR(w->Init());
    return std::unique_ptr<Workload>(std::move(w));
  }

  absl::Status Step() override {
    // Gradients sum over the micro-batches; one update per effective batch.
    LB_RETURN_IF_ERROR(ZeroGradients());
    for (micro_ = 0; micro_ < steps_; ++micro_) {
      LB_RETURN_IF_ERROR(ForwardLoss());
      LB_RETURN_IF_ERROR(Backward());
    }
    LB_RETURN_IF_ERROR(Update());
    absl::StatusOr<double> loss = ReadLoss();
    if (!loss.ok()) return loss.status();
    last_loss_ = *loss;
    return absl::OkStatus();
  }

  // Test hooks (workload_testing.h).
  absl::StatusOr<double> LossOnly() {
    for (micro_ = 0; micro_ < steps_; ++micro_) LB_RETURN_IF_ERROR(ForwardLoss(/*backward=*/false));
    return ReadLoss();
  }
  absl::Status GradientsOnly() {
    LB_RETURN_IF_ERROR(ZeroGradients());
    for (micro_ = 0; micro_ < steps_; ++micro_) {
      LB_RETURN_IF_ERROR(ForwardLoss());
      LB_RETURN_IF_ERROR(Backward());
    }
    return absl::OkStatus();
  }

 private:
  // Per-layer saved activations.
  struct Saved {
    Tensor x_in, attn_rstd, xn1, q, k, v, att, lse, x_mid, mlp_rstd, xn2, gate, up, h;
    std::vector<Tensor> lora_mid;  // per projection, LoRA only
  };
  // Per-layer adapters (and their gradients/moments), one per projection.
  struct LayerAdapters {
    std::vector<Adapter> proj;
  };

  TrainWorkload(Backend& backend, const WorkloadConfig& c, MemoryPlan plan, std::unique_ptr<Arena> arena,
                std::int64_t tokens)
      : Engine(backend, c, std::move(plan), std::move(arena), tokens),
        lora_(c.kind == WorkloadKind::kTrainLora),
        t_(c.sequence_tokens),
        n_(c.batch * c.sequence_tokens),
        steps_(c.train.accumulation_steps),
        ckpt_(c.train.gradient_checkpointing),
        act_(c.train.activations),
        grad_act_(c.train.activations == DType::kBF16 ? DType::kBF16 : DType::kF32),
        head_rows_(LossChunkRows(c.train, n_)),
        mixed_(!lora_ && c.train.full_accounting == FullFinetuneAccounting::kMixed),
        master_(mixed_ && c.precision != DType::kF32) {}

  // This micro-batch's token ids, targets and losses.
  std::int32_t* MicroIds() const { return ids_ + micro_ * n_; }
  std::int32_t* MicroTargets() const { return targets_ + micro_ * n_; }
  Tensor MicroLosses() const { return RowsOf(losses_, micro_ * n_, n_); }
  // Rows [first, first + count) of a row-major tensor (any dtype).
  static Tensor RowsOf(const Tensor& t, std::int64_t first, std::int64_t count) {
    const std::int64_t cols = t.numel() / t.dims[0];
    void* at = static_cast<char*>(t.data) + static_cast<std::uint64_t>(first * cols) * DTypeSize(t.dtype);
    if (t.rank == 1) return Tensor::Of(at, t.dtype, {count});
    return Tensor::Of(at, t.dtype, {count, cols});
  }

  static constexpr const char* kProj[] = {"q", "k", "v", "o", "gate", "up", "down"};
  std::pair<std::int64_t, std::int64_t> ProjShape(int i) const {
    const std::int64_t H = p().hidden, Q = p().q_dim(), KV = p().kv_dim(), I = p().intermediate;
    const std::pair<std::int64_t, std::int64_t> shapes[] = {{Q, H}, {KV, H}, {KV, H}, {H, Q},
                                                            {I, H}, {I, H}, {H, I}};
    return shapes[i];
  }

  void AllocAdapters(std::vector<LayerAdapters>& out, const std::string& prefix) {
    const std::int64_t r = config_.lora_rank;
    out.resize(static_cast<std::size_t>(p().layers));
    for (std::int64_t l = 0; l < p().layers; ++l) {
      for (int i = 0; i < 7; ++i) {
        const auto [o, in] = ProjShape(i);
        const std::string L = absl::StrCat(prefix, "layers.", l, ".lora_", kProj[i]);
        Adapter a;
        a.a = Alloc(L + "_a", DType::kF32, {r, in});
        a.b = Alloc(L + "_b", DType::kF32, {o, r});
        out[static_cast<std::size_t>(l)].proj.push_back(a);
      }
    }
  }

  absl::Status Init() {
    const std::int64_t N = n_, H = p().hidden, Q = p().q_dim(), KV = p().kv_dim(), I = p().intermediate,
                       r = config_.lora_rank;
    const DType s = config_.precision, f = DType::kF32;
    AllocWeights(w_, "", s);
    if (lora_) AllocAdapters(adapters_, "");
    saved_.resize(static_cast<std::size_t>(p().layers));
    // One layer's activations; with checkpointing one shared set (after
    // every layer's input) that the backward recomputes layer by layer.
    // 16-bit activations: every activation, saved or recomputed, is in that
    // type and the ops compute on it directly (fp32 inside); fp32 where
    // numerics need it: the norms' rstd and attention's lse (statistics),
    // the logits and losses (softmax, loss), the residual gradient d_x
    // (summed over every layer). Activation gradients are bf16 in a bf16 run;
    // an f16 run keeps them fp32: unscaled gradients underflow f16's range
    // (trainers add loss scaling for f16; bf16 has fp32's exponent).
    auto layer_set = [&](Saved& sv, const std::string& L, DType a) {
      sv.attn_rstd = Alloc(L + "attn_rstd", f, {N});
      sv.xn1 = Alloc(L + "xn1", a, {N, H});
      sv.q = Alloc(L + "q", a, {N, Q});
      sv.k = Alloc(L + "k", a, {N, KV});
      sv.v = Alloc(L + "v", a, {N, KV});
      sv.att = Alloc(L + "att", a, {N, Q});
      sv.lse = Alloc(L + "lse", f, {config_.batch * p().heads * t_});
      sv.x_mid = Alloc(L + "x_mid", a, {N, H});
      sv.mlp_rstd = Alloc(L + "mlp_rstd", f, {N});
      sv.xn2 = Alloc(L + "xn2", a, {N, H});
      sv.gate = Alloc(L + "gate", a, {N, I});
      sv.up = Alloc(L + "up", a, {N, I});
      sv.h = Alloc(L + "h", a, {N, I});
      if (lora_) {
        for (const char* name : kProj) sv.lora_mid.push_back(Alloc(L + "lora_" + name + "_mid", a, {N, r}));
      }
    };
    for (std::int64_t l = 0; l < p().layers; ++l) {
      Saved& sv = saved_[static_cast<std::size_t>(l)];
      const std::string L = absl::StrCat("layers.", l, ".");
      sv.x_in = Alloc(L + "x_in", act_, {N, H});
      if (!ckpt_) layer_set(sv, L, act_);
    }
    if (ckpt_) {
      Saved shared;
      layer_set(shared, "recompute.", act_);
      for (Saved& sv : saved_) {
        const Tensor x_in = sv.x_in;
        sv = shared;
        sv.x_in = x_in;
      }
    }
    const DType act = act_, g = grad_act_;
    x_final_ = Alloc("x_final", act, {N, H});
    final_rstd_ = Alloc("final_rstd", f, {N});
    xn_final_ = Alloc("xn_final", act, {N, H});
    logits_ = Alloc("logits", f, {head_rows_, p().vocab});
    d_x_ = Alloc("d_x", f, {N, H});
    d_xn_ = Alloc("d_xn", g, {N, H});
    d_q_ = Alloc("d_q", g, {N, Q});
    d_k_ = Alloc("d_k", g, {N, KV});
    d_v_ = Alloc("d_v", g, {N, KV});
    d_att_ = Alloc("d_att", g, {N, Q});
    d_gate_ = Alloc("d_gate", g, {N, I});
    d_up_ = Alloc("d_up", g, {N, I});
    d_h_ = Alloc("d_h", g, {N, I});
    if (lora_) {
      d_mid_ = Alloc("d_lora_mid", g, {N, r});
      AllocAdapters(grad_adapters_, "grad.");
      AllocAdapters(m_adapters_, "adam_m.");
      AllocAdapters(v_adapters_, "adam_v.");
    } else {
      AllocWeights(grad_, "grad.", mixed_ ? f : s);
      AllocWeights(m_, "adam_m.", f);
      AllocWeights(v_, "adam_v.", f);
      if (master_) AllocWeights(fp32_master_, "master.", f);
    }
    // Every micro-batch's ids, targets and losses (accumulation).
    ids_ = AllocIds("token_ids", steps_ * N);
    targets_ = AllocIds("targets", steps_ * N);
    losses_ = Alloc("losses", f, {steps_ * N});
    gemm_ws_ = AllocGemmWorkspace();
    if (config_.weight_format && act_ != f) {
      // QLoRA with 16-bit activations: the widest projection input and
      // output, staged in fp32 (WeightGemm).
      const std::int64_t widest = std::max({H, Q, I});
      quant_x_ = Alloc("quant_x", f, {N, widest});
      quant_y_ = Alloc("quant_y", f, {N, widest});
    }

    LB_RETURN_IF_ERROR(InitWeights(w_));
    if (lora_) {
      std::uint64_t index = 2000000;
      for (LayerAdapters& la : adapters_) {
        for (std::size_t i = 0; i < la.proj.size(); ++i) {
          Adapter& a = la.proj[i];
          LB_RETURN_IF_ERROR(backend_.FillRandomUniform(
              a.a, TensorSeed(config_.seed, ++index), 1.0f / std::sqrt(static_cast<float>(a.a.cols()))));
          LB_RETURN_IF_ERROR(backend_.Fill(a.b, 0.0f));  // the adapted model starts as the base model
        }
      }
      for (auto* set : {&m_adapters_, &v_adapters_})
        for (LayerAdapters& la : *set)
          for (Adapter& a : la.proj) {
            LB_RETURN_IF_ERROR(backend_.Fill(a.a, 0.0f));
            LB_RETURN_IF_ERROR(backend_.Fill(a.b, 0.0f));
          }
    } else {
      for (auto* set : {&m_, &v_})
        for (Tensor* t : set->all) LB_RETURN_IF_ERROR(backend_.Fill(*t, 0.0f));
      if (master_) {
        for (std::size_t i = 0; i < w_.all.size(); ++i)
          LB_RETURN_IF_ERROR(backend_.Convert(*w_.all[i], *fp32_master_.all[i]));
      }
    }
    // A fixed batch: inputs and next-token targets from one seeded stream;
    // micro-batch j reads rows [j N, (j + 1) N), so k micro-batches of b
    // sequences see exactly the data of one batch of k b sequences.
    const std::uint64_t total = static_cast<std::uint64_t>(steps_ * N);
    const std::vector<std::int32_t> stream = SeededTokens(config_.seed, steps_ * N + 1, p().vocab);
    LB_RETURN_IF_ERROR(backend_.device().CopyHostToDevice(ids_, stream.data(), total * 4));
    LB_RETURN_IF_ERROR(backend_.device().CopyHostToDevice(targets_, stream.data() + 1, total * 4));
    return backend_.device().Synchronize();
  }

  // y = x W^T (+ beta y), plus the adapter path when training LoRA.
  absl::Status Project(int proj, std::size_t layer, const Tensor& x, const Tensor& w, Tensor y, float beta) {
    LB_RETURN_IF_ERROR(WeightGemm(true, x, w, beta, y));
    if (!lora_) return absl::OkStatus();
    const Adapter& a = adapters_[layer].proj[static_cast<std::size_t>(proj)];
    const Tensor& mid = saved_[layer].lora_mid[static_cast<std::size_t>(proj)];
    LB_RETURN_IF_ERROR(backend_.Gemm(false, true, 1.0f, x, a.a, 0.0f, mid, gemm_ws_));
    return backend_.Gemm(false, true, kLoraScale, mid, a.b, 1.0f, y, gemm_ws_);
  }

  // Given dy for y = x W^T (+ adapter): dx (+)= dy W (+ adapter part), and the
  // trainable gradients.
  absl::Status ProjectBackward(int proj, std::size_t layer, const Tensor& x, const Tensor& w, Tensor grad_w,
                               const Tensor& dy, Tensor dx, float beta) {
    LB_RETURN_IF_ERROR(WeightGemm(false, dy, w, beta, dx));
    if (!lora_) return backend_.Gemm(true, false, 1.0f, dy, x, 1.0f, grad_w, gemm_ws_);
    const std::size_t i = static_cast<std::size_t>(proj);
    const Adapter& a = adapters_[layer].proj[i];
    const Adapter& g = grad_adapters_[layer].proj[i];
    const Tensor& mid = saved_[layer].lora_mid[i];
    Tensor d_mid = d_mid_;
    LB_RETURN_IF_ERROR(backend_.Gemm(false, false, kLoraScale, dy, a.b, 0.0f, d_mid, gemm_ws_));
    LB_RETURN_IF_ERROR(backend_.Gemm(true, false, kLoraScale, dy, mid, 1.0f, g.b, gemm_ws_));
    LB_RETURN_IF_ERROR(backend_.Gemm(true, false, 1.0f, d_mid, x, 1.0f, g.a, gemm_ws_));
    return backend_.Gemm(false, false, 1.0f, d_mid, a.a, 1.0f, dx, gemm_ws_);
  }

  Tensor Heads(const Tensor& t, std::int64_t heads) const {
    return Tensor::Of(t.data, t.dtype, {n_, heads, p().head_dim});
  }
  Tensor Seq(const Tensor& t, std::int64_t heads) const {
    return Tensor::Of(t.data, t.dtype, {config_.batch, t_, heads, p().head_dim});
  }
  absl::Status Copy(const Tensor& dst, const Tensor& src) {
    return backend_.device().CopyDeviceToDevice(dst.data, src.data, src.bytes());
  }

  // Mean of the per-token losses (waits for the step).
  absl::StatusOr<double> ReadLoss() {
    std::vector<float> losses(static_cast<std::size_t>(steps_ * n_));
    LB_RETURN_IF_ERROR(backend_.device().CopyDeviceToHost(losses.data(), losses_.data, losses.size() * 4));
    double sum = 0;
    for (float l : losses) sum += l;
    return sum / static_cast<double>(steps_ * n_);
  }

  // `backward` false: the loss alone (the chunked loss then leaves d_xn and
  // the gradients untouched).
  absl::Status ForwardLoss(bool backward = true) {
    const float eps = p().rms_eps;
    LB_RETURN_IF_ERROR(backend_.EmbeddingForward(w_.tok_embeddings, MicroIds(), saved_[0].x_in));
    for (std::size_t l = 0; l < saved_.size(); ++l) LB_RETURN_IF_ERROR(LayerForward(l, false));
    LB_RETURN_IF_ERROR(backend_.RmsNormForward(x_final_, w_.final_norm, eps, xn_final_, final_rstd_));
    return HeadLoss(backward);
  }

  // LM head and cross-entropy with its gradient (logits become d_logits in
  // place). Chunked: each chunk's logits pass on their gradient to d_xn (and
  // a full fine-tune's lm_head gradient) at once, so the N x V logits never
  // exist together; Backward then starts from d_xn.
  absl::Status HeadLoss(bool backward) {
    const float grad_scale = 1.0f / static_cast<float>(n_ * steps_);
    if (head_rows_ == n_) {
      LB_RETURN_IF_ERROR(WeightGemm(true, xn_final_, w_.lm_head, 0.0f, logits_));
      return backend_.CrossEntropy(logits_, MicroTargets(), MicroLosses(), logits_, grad_scale);
    }
    for (std::int64_t first = 0; first < n_; first += head_rows_) {
      const std::int64_t rows = std::min(head_rows_, n_ - first);
      const Tensor logits = RowsOf(logits_, 0, rows), xn = RowsOf(xn_final_, first, rows);
      LB_RETURN_IF_ERROR(WeightGemm(true, xn, w_.lm_head, 0.0f, logits));
      LB_RETURN_IF_ERROR(backend_.CrossEntropy(logits, MicroTargets() + first, RowsOf(MicroLosses(), first, rows),
                                               logits, grad_scale));
      if (!backward) continue;
      LB_RETURN_IF_ERROR(WeightGemm(false, logits, w_.lm_head, 0.0f, RowsOf(d_xn_, first, rows)));
      if (!lora_) LB_RETURN_IF_ERROR(backend_.Gemm(true, false, 1.0f, logits, xn, 1.0f, grad_.lm_head, gemm_ws_));
    }
    return absl::OkStatus();
  }

  // Layer l's forward from saved_[l].x_in. A recompute (checkpointing, in
  // the backward) stops before the down projection's output: the backward
  // needs its input h and, for LoRA, its adapter's mid, not its output.
  absl::Status LayerForward(std::size_t l, bool recompute) {
    const float eps = p().rms_eps, theta = p().rope_theta;
    const std::int64_t Hq = p().heads, Hkv = p().kv_heads;
    {
      const LayerWeights& lw = w_.layers[l];
      Saved& s = saved_[l];
      LB_RETURN_IF_ERROR(backend_.RmsNormForward(s.x_in, lw.attn_norm, eps, s.xn1, s.attn_rstd));
      LB_RETURN_IF_ERROR(Project(0, l, s.xn1, lw.wq, s.q, 0.0f));
      LB_RETURN_IF_ERROR(Project(1, l, s.xn1, lw.wk, s.k, 0.0f));
      LB_RETURN_IF_ERROR(Project(2, l, s.xn1, lw.wv, s.v, 0.0f));
      if (p().qkv_bias) {
        LB_RETURN_IF_ERROR(backend_.AddBias(s.q, lw.bq));
        LB_RETURN_IF_ERROR(backend_.AddBias(s.k, lw.bk));
        LB_RETURN_IF_ERROR(backend_.AddBias(s.v, lw.bv));
      }
      LB_RETURN_IF_ERROR(backend_.RopeForward(Heads(s.q, Hq), t_, 0, theta));
      LB_RETURN_IF_ERROR(backend_.RopeForward(Heads(s.k, Hkv), t_, 0, theta));
      LB_RETURN_IF_ERROR(backend_.AttentionForward(Seq(s.q, Hq), Seq(s.k, Hkv), Seq(s.v, Hkv), Seq(s.att, Hq), s.lse));
      LB_RETURN_IF_ERROR(Copy(s.x_mid, s.x_in));
      LB_RETURN_IF_ERROR(Project(3, l, s.att, lw.wo, s.x_mid, 1.0f));
      LB_RETURN_IF_ERROR(backend_.RmsNormForward(s.x_mid, lw.mlp_norm, eps, s.xn2, s.mlp_rstd));
      LB_RETURN_IF_ERROR(Project(4, l, s.xn2, lw.w_gate, s.gate, 0.0f));
      LB_RETURN_IF_ERROR(Project(5, l, s.xn2, lw.w_up, s.up, 0.0f));
      LB_RETURN_IF_ERROR(backend_.SwiGluForward(s.gate, s.up, s.h));
      if (recompute) {
        if (!lora_) return absl::OkStatus();
        return backend_.Gemm(false, true, 1.0f, s.h, adapters_[l].proj[6].a, 0.0f, s.lora_mid[6], gemm_ws_);
      }
      const Tensor& out = l + 1 < saved_.size() ? saved_[l + 1].x_in : x_final_;
      LB_RETURN_IF_ERROR(Copy(out, s.x_mid));
      LB_RETURN_IF_ERROR(Project(6, l, s.h, lw.w_down, out, 1.0f));
    }
    return absl::OkStatus();
  }

  // Once per effective batch: every micro-batch's backward accumulates.
  absl::Status ZeroGradients() {
    if (!lora_) {
      for (Tensor* t : grad_.all) LB_RETURN_IF_ERROR(backend_.Fill(*t, 0.0f));
      return absl::OkStatus();
    }
    for (LayerAdapters& la : grad_adapters_)
      for (Adapter& a : la.proj) {
        LB_RETURN_IF_ERROR(backend_.Fill(a.a, 0.0f));
        LB_RETURN_IF_ERROR(backend_.Fill(a.b, 0.0f));
      }
    return absl::OkStatus();
  }

  absl::Status Backward() {
    const float theta = p().rope_theta;
    const std::int64_t Hq = p().heads, Hkv = p().kv_heads;
    const bool full = !lora_;
    Tensor none;
    // LM head (unless the chunked loss did it) and final norm.
    if (head_rows_ == n_) {
      LB_RETURN_IF_ERROR(WeightGemm(false, logits_, w_.lm_head, 0.0f, d_xn_));
      if (full) LB_RETURN_IF_ERROR(backend_.Gemm(true, false, 1.0f, logits_, xn_final_, 1.0f, grad_.lm_head, gemm_ws_));
    }
    LB_RETURN_IF_ERROR(backend_.Fill(d_x_, 0.0f));
    LB_RETURN_IF_ERROR(backend_.RmsNormBackward(d_xn_, x_final_, w_.final_norm, final_rstd_, d_x_,
                                                full ? grad_.final_norm : none));
    for (std::size_t l = saved_.size(); l-- > 0;) {
      const LayerWeights& lw = w_.layers[l];
      LayerWeights* gw = full ? &grad_.layers[l] : nullptr;
      Saved& s = saved_[l];
      if (ckpt_) LB_RETURN_IF_ERROR(LayerForward(l, true));
      // MLP: out = x_mid + down(swiglu(gate(xn2), up(xn2))).
      LB_RETURN_IF_ERROR(ProjectBackward(6, l, s.h, lw.w_down, gw ? gw->w_down : none, d_x_, d_h_, 0.0f));
      LB_RETURN_IF_ERROR(backend_.SwiGluBackward(d_h_, s.gate, s.up, d_gate_, d_up_));
      LB_RETURN_IF_ERROR(ProjectBackward(4, l, s.xn2, lw.w_gate, gw ? gw->w_gate : none, d_gate_, d_xn_, 0.0f));
      LB_RETURN_IF_ERROR(ProjectBackward(5, l, s.xn2, lw.w_up, gw ? gw->w_up : none, d_up_, d_xn_, 1.0f));
      LB_RETURN_IF_ERROR(backend_.RmsNormBackward(d_xn_, s.x_mid, lw.mlp_norm, s.mlp_rstd, d_x_,
                                                  gw ? gw->mlp_norm : none));
      // Attention: x_mid = x_in + o(attention(rope(q), rope(k), v)).
      LB_RETURN_IF_ERROR(ProjectBackward(3, l, s.att, lw.wo, gw ? gw->wo : none, d_x_, d_att_, 0.0f));
      LB_RETURN_IF_ERROR(backend_.AttentionBackward(Seq(s.q, Hq), Seq(s.k, Hkv), Seq(s.v, Hkv), Seq(s.att, Hq),
                                                    s.lse, Seq(d_att_, Hq), Seq(d_q_, Hq), Seq(d_k_, Hkv),
                                                    Seq(d_v_, Hkv)));
      LB_RETURN_IF_ERROR(backend_.RopeBackward(Heads(d_q_, Hq), t_, 0, theta));
      LB_RETURN_IF_ERROR(backend_.RopeBackward(Heads(d_k_, Hkv), t_, 0, theta));
      if (full && p().qkv_bias) {
        LB_RETURN_IF_ERROR(backend_.BiasBackward(d_q_, gw->bq));
        LB_RETURN_IF_ERROR(backend_.BiasBackward(d_k_, gw->bk));
        LB_RETURN_IF_ERROR(backend_.BiasBackward(d_v_, gw->bv));
      }
      LB_RETURN_IF_ERROR(ProjectBackward(0, l, s.xn1, lw.wq, gw ? gw->wq : none, d_q_, d_xn_, 0.0f));
      LB_RETURN_IF_ERROR(ProjectBackward(1, l, s.xn1, lw.wk, gw ? gw->wk : none, d_k_, d_xn_, 1.0f));
      LB_RETURN_IF_ERROR(ProjectBackward(2, l, s.xn1, lw.wv, gw ? gw->wv : none, d_v_, d_xn_, 1.0f));
      LB_RETURN_IF_ERROR(backend_.RmsNormBackward(d_xn_, s.x_in, lw.attn_norm, s.attn_rstd, d_x_,
                                                  gw ? gw->attn_norm : none));
    }
    if (full) LB_RETURN_IF_ERROR(backend_.EmbeddingBackward(d_x_, MicroIds(), grad_.tok_embeddings));
    return absl::OkStatus();
  }

  absl::Status Update() {
    ++step_;
    AdamWParams params;
    params.step = step_;
    if (lora_) {
      params.learning_rate = kLoraLearningRate;
      for (std::size_t l = 0; l < adapters_.size(); ++l)
        for (std::size_t i = 0; i < adapters_[l].proj.size(); ++i) {
          Adapter& a = adapters_[l].proj[i];
          const Adapter& g = grad_adapters_[l].proj[i];
          Adapter& m = m_adapters_[l].proj[i];
          Adapter& v = v_adapters_[l].proj[i];
          LB_RETURN_IF_ERROR(backend_.AdamW(a.a, g.a, m.a, v.a, params));
          LB_RETURN_IF_ERROR(backend_.AdamW(a.b, g.b, m.b, v.b, params));
        }
      return absl::OkStatus();
    }
    params.learning_rate = kFullLearningRate;
    for (std::size_t i = 0; i < w_.all.size(); ++i) {
      if (!master_) {
        LB_RETURN_IF_ERROR(backend_.AdamW(*w_.all[i], *grad_.all[i], *m_.all[i], *v_.all[i], params));
        continue;
      }
      // Mixed precision: AdamW on the fp32 master, then the 16-bit copy.
      LB_RETURN_IF_ERROR(backend_.AdamW(*fp32_master_.all[i], *grad_.all[i], *m_.all[i], *v_.all[i], params));
      LB_RETURN_IF_ERROR(backend_.Convert(*fp32_master_.all[i], *w_.all[i]));
    }
    return absl::OkStatus();
  }

  bool lora_;
  std::int64_t t_, n_;
  std::int64_t steps_;      // micro-batches per update (accumulation_steps)
  bool ckpt_;               // gradient checkpointing
  DType act_;               // activations' dtype (saved and working set)
  DType grad_act_;          // activation gradients' dtype (bf16 in a bf16 run, else fp32)
  std::int64_t head_rows_;  // logits rows at once (n_ unless the loss is chunked)
  bool mixed_, master_;     // full fine-tune: fp32 gradients; fp32 master weights
  std::int64_t micro_ = 0;  // the micro-batch being run
  std::int64_t step_ = 0;
  Weights w_, grad_, m_, v_, fp32_master_;
  std::vector<LayerAdapters> adapters_, grad_adapters_, m_adapters_, v_adapters_;
  std::vector<Saved> saved_;
  Tensor x_final_, final_rstd_, xn_final_, logits_, losses_;
  Tensor d_x_, d_xn_, d_q_, d_k_, d_v_, d_att_, d_gate_, d_up_, d_h_, d_mid_;
  std::int32_t* ids_ = nullptr;
  std::int32_t* targets_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Workload>> Workload::Create(Backend& backend, const WorkloadConfig& config) {
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config, Device::kAlignment);
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::unique_ptr<Arena>> arena = Arena::Create(backend.device(), plan->total_bytes);
  if (!arena.ok()) return arena.status();
  switch (config.kind) {
    case WorkloadKind::kPrefill:
    case WorkloadKind::kDecode:
      return InferenceWorkload::Make(backend, config, *std::move(plan), *std::move(arena));
    case WorkloadKind::kTrainLora:
    case WorkloadKind::kTrainFull:
      return TrainWorkload::Make(backend, config, *std::move(plan), *std::move(arena));
  }
  return absl::InvalidArgumentError("unknown workload kind");
}

namespace testing {

absl::StatusOr<double> TrainingLoss(Workload& workload) {
  auto* train = dynamic_cast<TrainWorkload*>(&workload);
  if (train == nullptr) return absl::InvalidArgumentError("not a training workload");
  return train->LossOnly();
}

absl::Status TrainingGradients(Workload& workload) {
  auto* train = dynamic_cast<TrainWorkload*>(&workload);
  if (train == nullptr) return absl::InvalidArgumentError("not a training workload");
  return train->GradientsOnly();
}

absl::StatusOr<Tensor> NamedBuffer(Workload& workload, std::string_view name) {
  auto* engine = dynamic_cast<Engine*>(&workload);
  if (engine == nullptr) return absl::InvalidArgumentError("not an engine workload");
  return engine->Named(name);
}

}  // namespace testing
}  // namespace localbench::kernels
