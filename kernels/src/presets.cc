// Model presets: the published shapes (docs: /work REFERENCE table) and tiny
// shapes that keep tests fast while exercising every feature (GQA, tied and
// untied embeddings, q/k/v bias).
#include "localbench/kernels/presets.h"

#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace localbench::kernels {

std::int64_t ModelPreset::ParameterCount() const {
  const std::int64_t per_layer = 2 * hidden                                  // two RMSNorms
                                 + hidden * q_dim() + 2 * hidden * kv_dim()  // q, k, v
                                 + q_dim() * hidden                          // o
                                 + 3 * hidden * intermediate                 // gate, up, down
                                 + (qkv_bias ? q_dim() + 2 * kv_dim() : 0);
  return vocab * hidden * (tied_embeddings ? 1 : 2) + hidden + layers * per_layer;
}

const std::vector<ModelPreset>& AllPresets() {
  // name, vocab, hidden, intermediate, layers, heads, kv heads, head dim,
  // theta, tied, qkv bias, eps
  static const std::vector<ModelPreset> presets = {
      {"llama-3.2-1b", 128256, 2048, 8192, 16, 32, 8, 64, 500000.0f, true, false, 1e-5f},
      {"llama-3.2-3b", 128256, 3072, 8192, 28, 24, 8, 128, 500000.0f, true, false, 1e-5f},
      {"llama-3.1-8b", 128256, 4096, 14336, 32, 32, 8, 128, 500000.0f, false, false, 1e-5f},
      {"qwen2.5-0.5b", 151936, 896, 4864, 24, 14, 2, 64, 1000000.0f, true, true, 1e-6f},
      {"qwen2.5-7b", 152064, 3584, 18944, 28, 28, 4, 128, 1000000.0f, false, true, 1e-6f},
      {"mistral-7b-v0.3", 32768, 4096, 14336, 32, 32, 8, 128, 1000000.0f, false, false, 1e-5f},
      // Tests: Llama-like (tied, GQA 4:2) and Qwen-like (untied, bias, GQA 3:1).
      {"tiny-llama", 97, 32, 48, 2, 4, 2, 8, 10000.0f, true, false, 1e-5f},
      {"tiny-qwen", 61, 24, 40, 2, 3, 1, 8, 1000000.0f, false, true, 1e-6f},
      // Quantized weights (issue 15): Llama 2 7B, the model of llama.cpp's
      // published Q4_0 scoreboards (MHA, 32k vocabulary, untied head); and a
      // tiny untied shape whose widths are whole NF4 blocks (64).
      {"llama-2-7b", 32000, 4096, 11008, 32, 32, 32, 128, 10000.0f, false, false, 1e-5f},
      {"tiny-quant", 97, 64, 128, 2, 4, 2, 16, 10000.0f, false, false, 1e-5f},
  };
  return presets;
}

absl::StatusOr<ModelPreset> FindPreset(std::string_view name) {
  std::vector<std::string> names;
  for (const ModelPreset& p : AllPresets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  return absl::NotFoundError(
      absl::StrCat("unknown model preset \"", std::string(name), "\"; known: ", absl::StrJoin(names, ", ")));
}

absl::Status ValidatePreset(const ModelPreset& p) {
  // Bounds far above any real model that keep every buffer size of the plan
  // (products of these with batch x tokens <= 2^24) inside 64 bits.
  auto in_range = [&](std::int64_t v, int max_log2, const char* what) -> absl::Status {
    if (v <= 0 || v > (std::int64_t{1} << max_log2)) {
      return absl::InvalidArgumentError(absl::StrCat("preset \"", p.name, "\": ", what, " must be in [1, 2^",
                                                     max_log2, "], got ", v));
    }
    return absl::OkStatus();
  };
  for (auto [v, max_log2, what] :
       {std::tuple{p.vocab, 24, "vocab"}, std::tuple{p.hidden, 20, "hidden"},
        std::tuple{p.intermediate, 22, "intermediate"}, std::tuple{p.layers, 12, "layers"},
        std::tuple{p.heads, 12, "heads"}, std::tuple{p.kv_heads, 12, "kv_heads"},
        std::tuple{p.head_dim, 12, "head_dim"}, std::tuple{p.q_dim(), 20, "heads * head_dim"}}) {
    if (absl::Status s = in_range(v, max_log2, what); !s.ok()) return s;
  }
  if (p.heads % p.kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("preset \"", p.name, "\": heads (", p.heads,
                                                   ") must be a multiple of kv_heads (", p.kv_heads, ")"));
  }
  if (p.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("preset \"", p.name, "\": head_dim must be even for RoPE"));
  }
  if (!(p.rope_theta > 1.0f) || !(p.rms_eps > 0.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("preset \"", p.name, "\": rope_theta must be > 1 and rms_eps > 0"));
  }
  return absl::OkStatus();
}

}  // namespace localbench::kernels
