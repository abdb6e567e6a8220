// AVX2 single-token attention against a KV cache (decode), the fp32 fast
// path of cpu::AttentionDecode (attention.h): same tasks, same results up to
// the order of fp32 sums. Call only when cpu::ActiveIsa() >= Isa::kAvx2
// (cpu/isa.h) and head_dim is a multiple of 8.
#pragma once

#include <cstdint>

#include "cpu/elements.h"

namespace localbench::kernels {
class ThreadPool;
}

namespace localbench::kernels::cpu {

// q [B,Hq,D] fp32, caches [B,Tmax,Hkv,D] of W, out [B,Hq,D]; one pool task
// per (batch, kv head) reads each cached row once for its query heads.
template <typename W>
void AttentionDecodeAvx2(const ThreadPool& pool, const float* q, const W* kc, const W* vc, float* out,
                         std::int64_t batch, std::int64_t hq, std::int64_t hkv, std::int64_t d, std::int64_t t_max,
                         std::int64_t length);

extern template void AttentionDecodeAvx2<float>(const ThreadPool&, const float*, const float*, const float*, float*,
                                                std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                                std::int64_t);
extern template void AttentionDecodeAvx2<Bf16>(const ThreadPool&, const float*, const Bf16*, const Bf16*, float*,
                                               std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                               std::int64_t);
extern template void AttentionDecodeAvx2<F16>(const ThreadPool&, const float*, const F16*, const F16*, float*,
                                              std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                              std::int64_t);

}  // namespace localbench::kernels::cpu
