// Quantized weights in the config and the plan (see quant_workload.h).
#include "quant/quant_workload.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/backend.h"

namespace localbench::kernels::quant {

absl::Status ValidateQuantConfig(const WorkloadConfig& c) {
  if (!c.weight_format) return absl::OkStatus();
  const QuantFormat f = *c.weight_format;
  const std::string name(QuantFormatName(f));
  if (c.kind == WorkloadKind::kTrainFull) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weight_format: ", name, " weights are frozen; train-full updates them (use train-lora for QLoRA)"));
  }
  const ModelPreset& p = c.preset;
  for (const auto& [width, field] : {std::tuple{p.hidden, "hidden"}, std::tuple{p.q_dim(), "heads * head_dim"},
                                     std::tuple{p.intermediate, "intermediate"}}) {
    if (width % QuantBlockSize(f) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("weight_format: ", name, " needs ", field, " of preset ",
                                                     p.name, " to be a multiple of ", QuantBlockSize(f), ", got ",
                                                     width));
    }
  }
  return absl::OkStatus();
}

bool QuantizedLmHead(const WorkloadConfig& c) { return c.weight_format.has_value() && !c.preset.tied_embeddings; }

std::uint64_t QuantGemmWorkspace(const WorkloadConfig& c, std::int64_t rows, std::int64_t head_rows, bool training) {
  const ModelPreset& p = c.preset;
  std::uint64_t need = 0;
  auto quantized = [&](std::int64_t m, std::int64_t out, std::int64_t in) {
    need = std::max(need, QuantLinearWorkspaceBytes(true, m, out, in));
    if (training) need = std::max(need, QuantLinearWorkspaceBytes(false, m, out, in));
  };
  for (const auto& [out, in] : {std::pair{p.q_dim(), p.hidden}, std::pair{p.kv_dim(), p.hidden},
                                std::pair{p.hidden, p.q_dim()}, std::pair{p.intermediate, p.hidden},
                                std::pair{p.hidden, p.intermediate}})
    quantized(rows, out, in);
  if (QuantizedLmHead(c)) {
    quantized(head_rows, p.vocab, p.hidden);
  } else {
    const DType f = DType::kF32;
    need = std::max(need, GemmWorkspaceBytes(head_rows, p.vocab, p.hidden, f, c.precision, f));
    if (training) need = std::max(need, GemmWorkspaceBytes(head_rows, p.hidden, p.vocab, f, c.precision, f));
  }
  return need;
}

}  // namespace localbench::kernels::quant
