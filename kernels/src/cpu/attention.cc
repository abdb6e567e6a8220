// CpuBackend's attention ops: causal GQA forward/backward, the KV-cache
// write and single-token decode.
#include "cpu/attention.h"
#include "cpu/attention_avx2.h"
#include "cpu/isa.h"

#include <type_traits>

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {
namespace {
float* F(const Tensor& t) { return static_cast<float*>(t.data); }
}  // namespace

absl::Status CpuBackend::AttentionForwardImpl(const Tensor& q, const Tensor& k, const Tensor& v, Tensor out,
                                              Tensor lse) {
  cpu::WithElementType(q.dtype, q.data, [&](auto* qs) {
    using X = std::remove_pointer_t<decltype(qs)>;
    cpu::AttentionForward(*pool_, qs, static_cast<const X*>(k.data), static_cast<const X*>(v.data),
                          static_cast<X*>(out.data), F(lse), q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3));
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::AttentionBackwardImpl(const Tensor& q, const Tensor& k, const Tensor& v,
                                               const Tensor& out, const Tensor& lse, const Tensor& d_out,
                                               Tensor d_q, Tensor d_k, Tensor d_v) {
  cpu::WithElementType(q.dtype, q.data, [&](auto* qs) {
    using X = std::remove_pointer_t<decltype(qs)>;
    cpu::WithElementType(d_out.dtype, d_out.data, [&](auto* dy) {
      using G = std::remove_pointer_t<decltype(dy)>;
      cpu::AttentionBackward(*pool_, qs, static_cast<const X*>(k.data), static_cast<const X*>(v.data),
                             static_cast<const X*>(out.data), F(lse), dy, static_cast<G*>(d_q.data),
                             static_cast<G*>(d_k.data), static_cast<G*>(d_v.data), q.dim(0), q.dim(1), q.dim(2),
                             k.dim(2), q.dim(3));
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::KvCacheWriteImpl(const Tensor& src, Tensor cache, std::int64_t position) {
  const std::int64_t b = src.dim(0), t = src.dim(1), row = src.dim(2) * src.dim(3), t_max = cache.dim(1);
  cpu::WithElementType(cache.dtype, cache.data, [&](auto* c) {
    pool_->For(b * t, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const float* s = F(src) + r * row;
        auto* d = c + ((r / t) * t_max + position + r % t) * row;
        for (std::int64_t i = 0; i < row; ++i) cpu::Store(d[i], s[i]);
      }
    }, 4);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::AttentionDecodeImpl(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                             std::int64_t length, Tensor out) {
  const bool avx2 = cpu::ActiveIsa() >= cpu::Isa::kAvx2 && q.dim(2) % 8 == 0;
  cpu::WithElementType(k_cache.dtype, k_cache.data, [&](auto* kc) {
    using W = std::remove_pointer_t<decltype(kc)>;
    if (avx2) {
      cpu::AttentionDecodeAvx2(*pool_, F(q), kc, static_cast<const W*>(v_cache.data), F(out), q.dim(0), q.dim(1),
                               k_cache.dim(2), q.dim(2), k_cache.dim(1), length);
      return;
    }
    cpu::AttentionDecode(*pool_, F(q), kc, static_cast<const W*>(v_cache.data), F(out), q.dim(0), q.dim(1),
                         k_cache.dim(2), q.dim(2), k_cache.dim(1), length);
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
