// Model shapes of popular local models (published configurations), plus tiny
// shapes for tests. Weights are synthetic and seeded: nothing is downloaded,
// and the shape alone decides speed and memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace localbench::kernels {

// A decoder-only transformer: RMSNorm, RoPE, SwiGLU MLP, grouped-query attention.
struct ModelPreset {
  std::string name;              // e.g. "llama-3.2-1b"
  std::int64_t vocab = 0;        // vocabulary size
  std::int64_t hidden = 0;       // model width
  std::int64_t intermediate = 0; // MLP width
  std::int64_t layers = 0;       // transformer blocks
  std::int64_t heads = 0;        // query heads
  std::int64_t kv_heads = 0;     // key/value heads (grouped-query attention)
  std::int64_t head_dim = 0;     // per-head width
  float rope_theta = 10000.0f;   // RoPE base
  bool tied_embeddings = false;  // LM head shares the embedding table
  bool qkv_bias = false;         // q/k/v projections have biases (Qwen2)
  float rms_eps = 1e-5f;         // RMSNorm epsilon

  // Width of the query projection output (heads * head_dim).
  std::int64_t q_dim() const { return heads * head_dim; }
  // Width of each of the key and value projection outputs.
  std::int64_t kv_dim() const { return kv_heads * head_dim; }
  // Number of parameters of the base model (embedding counted once if tied).
  std::int64_t ParameterCount() const;
};

// Every preset: the real models first, then the tiny test shapes ("tiny-*").
const std::vector<ModelPreset>& AllPresets();

// The preset named `name`; NotFound with the list of names otherwise.
absl::StatusOr<ModelPreset> FindPreset(std::string_view name);

// Checks a (possibly user-made) preset for consistency; InvalidArgument says what.
absl::Status ValidatePreset(const ModelPreset& preset);

}  // namespace localbench::kernels
