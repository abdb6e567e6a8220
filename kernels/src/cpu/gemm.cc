// CpuBackend::Gemm: OpenBLAS sgemm for fp32, low-precision operands
// converted to fp32 panel by panel in the caller's workspace, and a fused
// GEMV for decode-shaped products (few rows times a bf16/f16 weight) that
// reads the 16-bit weights directly, so decode streams each weight byte once.
// The instruction set is picked at run time (cpu/isa.h): AVX-512 BF16
// (gemm_avx512.cc), AVX2 + FMA + F16C (here), or portable loops.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "cpu/elements.h"
#include "cpu/gemm_avx512.h"
#include "cpu/gemm_testing.h"
#include "cpu/isa.h"
#include "cpu/simd_avx2.h"
#include "status_macros.h"
#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

namespace {
std::atomic<std::int64_t> g_panel_cap{0};
}  // namespace

void cpu::SetGemmPanelCapForTesting(std::int64_t columns) { g_panel_cap = columns; }

namespace {

constexpr std::int64_t kMaxGemvRows = 8;

// y[r, n] = alpha * dot(x[r, :], w[n, :]) + beta * y[r, n] for n in [n0, n1),
// portable version.
template <typename W>
void GemvPortable(const float* x, std::int64_t m, const W* w, std::int64_t k, std::int64_t n0,
                  std::int64_t n1, float* y, std::int64_t ldy, float alpha, float beta) {
  for (std::int64_t n = n0; n < n1; ++n) {
    float acc[kMaxGemvRows] = {};
    const W* wr = w + n * k;
    for (std::int64_t i = 0; i < k; ++i) {
      const float wv = cpu::Load(wr[i]);
      for (std::int64_t r = 0; r < m; ++r) acc[r] += wv * x[r * k + i];
    }
    for (std::int64_t r = 0; r < m; ++r)
      y[r * ldy + n] = alpha * acc[r] + (beta == 0.0f ? 0.0f : beta * y[r * ldy + n]);
  }
}

#if defined(__x86_64__)
using cpu::HorizontalSum;
using cpu::Load8;

// AVX2 version: M rows of x against one weight row at a time. An FMA has a
// latency of 4-5 cycles, so one accumulator chain per row caps a core at
// 8 weights (16 bytes) per FMA latency, about 12 GB/s: below the memory
// bandwidth decode is bound by. U independent chains per row (U * M >= 4)
// lift that cap; they are summed in a fixed order, so results stay
// bit-identical run to run and across thread counts.
template <int M, typename W>
__attribute__((target("avx2,fma,f16c"))) void GemvAvx2(const float* x, const W* w, std::int64_t k,
                                                       std::int64_t n0, std::int64_t n1, float* y,
                                                       std::int64_t ldy, float alpha, float beta) {
  constexpr int U = M >= 4 ? 1 : (M >= 2 ? 2 : 4);
  const std::int64_t ku = k / (8 * U) * (8 * U);
  const std::int64_t k8 = k / 8 * 8;
  for (std::int64_t n = n0; n < n1; ++n) {
    const W* wr = w + n * k;
    __m256 acc[U][M];
    for (int u = 0; u < U; ++u) {
      for (int r = 0; r < M; ++r) acc[u][r] = _mm256_setzero_ps();
    }
    for (std::int64_t i = 0; i < ku; i += 8 * U) {
      for (int u = 0; u < U; ++u) {
        const __m256 wv = Load8(wr + i + 8 * u);
        for (int r = 0; r < M; ++r) {
          acc[u][r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * k + i + 8 * u), acc[u][r]);
        }
      }
    }
    for (std::int64_t i = ku; i < k8; i += 8) {
      const __m256 wv = Load8(wr + i);
      for (int r = 0; r < M; ++r) acc[0][r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * k + i), acc[0][r]);
    }
    for (int r = 0; r < M; ++r) {
      for (int u = 1; u < U; ++u) acc[0][r] = _mm256_add_ps(acc[0][r], acc[u][r]);
      float s = HorizontalSum(acc[0][r]);
      for (std::int64_t i = k8; i < k; ++i) s += cpu::Load(wr[i]) * x[r * k + i];
      y[r * ldy + n] = alpha * s + (beta == 0.0f ? 0.0f : beta * y[r * ldy + n]);
    }
  }
}

// Converts a prefix of n elements (a multiple of 8); returns its length.
// dst[i] may be misaligned; src is read 8 elements at a time.
__attribute__((target("avx2,fma,f16c"))) std::int64_t ConvertBf16Avx2(const cpu::Bf16* src, float* dst,
                                                                     std::int64_t n) {
  const std::int64_t n8 = n / 8 * 8;
  for (std::int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, Load8(src + i));
  return n8;
}
__attribute__((target("avx2,fma,f16c"))) std::int64_t ConvertF16Avx2(const cpu::F16* src, float* dst,
                                                                    std::int64_t n) {
  const std::int64_t n8 = n / 8 * 8;
  for (std::int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, Load8(src + i));
  return n8;
}

template <typename W>
bool GemvDispatchAvx2(const float* x, std::int64_t m, const W* w, std::int64_t k, std::int64_t n0,
                      std::int64_t n1, float* y, std::int64_t ldy, float alpha, float beta) {
  if (cpu::ActiveIsa() < cpu::Isa::kAvx2) return false;
  switch (m) {
    case 1: GemvAvx2<1>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 2: GemvAvx2<2>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 3: GemvAvx2<3>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 4: GemvAvx2<4>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 5: GemvAvx2<5>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 6: GemvAvx2<6>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 7: GemvAvx2<7>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    case 8: GemvAvx2<8>(x, w, k, n0, n1, y, ldy, alpha, beta); return true;
    default: return false;
  }
}
#endif

template <typename W>
void Gemv(const float* x, std::int64_t m, const W* w, std::int64_t k, std::int64_t n0, std::int64_t n1,
          float* y, std::int64_t ldy, float alpha, float beta) {
#if defined(__x86_64__)
  static_assert(cpu::kAvx512MaxGemvRows >= kMaxGemvRows);
  if constexpr (std::is_same_v<W, cpu::Bf16>) {
    if (cpu::ActiveIsa() == cpu::Isa::kAvx512Bf16 && m >= 1 && m <= kMaxGemvRows) {
      cpu::GemvBf16Avx512(x, m, w, k, n0, n1, y, ldy, alpha, beta);
      return;
    }
  }
  if (GemvDispatchAvx2(x, m, w, k, n0, n1, y, ldy, alpha, beta)) return;
#endif
  GemvPortable(x, m, w, k, n0, n1, y, ldy, alpha, beta);
}

// Converts n contiguous elements to fp32. The 16-bit cases are vectorised
// explicitly: the generic element loop does not vectorise, and this
// conversion runs over every weight in every prefill and training GEMM.
void RowToF32(DType dtype, const void* src, float* dst, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__x86_64__)
  const cpu::Isa isa = cpu::ActiveIsa();
  if (isa == cpu::Isa::kAvx512Bf16 && dtype == DType::kBF16) {
    i = cpu::ConvertBf16Avx512(static_cast<const cpu::Bf16*>(src), dst, n);
  } else if (isa == cpu::Isa::kAvx512Bf16 && dtype == DType::kF16) {
    i = cpu::ConvertF16Avx512(static_cast<const cpu::F16*>(src), dst, n);
  }
  // The AVX2 loop takes what the 16-wide steps left (or everything).
  const bool has = isa >= cpu::Isa::kAvx2;
  if (has && dtype == DType::kBF16) {
    i += ConvertBf16Avx2(static_cast<const cpu::Bf16*>(src) + i, dst + i, n - i);
  } else if (has && dtype == DType::kF16) {
    i += ConvertF16Avx2(static_cast<const cpu::F16*>(src) + i, dst + i, n - i);
  }
#endif
  cpu::ConvertSpan(dtype, src, DType::kF32, dst, i, n);
}

// Converts a rows x cols block at src (leading dim ld, element offset) to a
// dense fp32 rows x cols block at dst.
void ConvertBlock(ThreadPool& pool, DType dtype, const void* src, std::int64_t ld, std::int64_t row0,
                  std::int64_t col0, std::int64_t rows, std::int64_t cols, float* dst) {
  const std::size_t size = DTypeSize(dtype);
  pool.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t base = (row0 + r) * ld + col0;
      const void* row = static_cast<const char*>(src) + static_cast<std::size_t>(base) * size;
      RowToF32(dtype, row, dst + r * cols, cols);
    }
  }, 8);
}

// Writes a dense fp32 rows x cols block back into a matrix of any dtype.
void StoreBlock(ThreadPool& pool, const float* src, DType dtype, void* dst, std::int64_t ld, std::int64_t col0,
                std::int64_t rows, std::int64_t cols) {
  pool.For(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      cpu::WithElementType(dtype, dst, [&](auto* d) {
        for (std::int64_t c = 0; c < cols; ++c) cpu::Store(d[r * ld + col0 + c], src[r * cols + c]);
      });
    }
  }, 8);
}

}  // namespace

absl::Status CpuBackend::GemmImpl(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b,
                                  float beta, Tensor c, Tensor workspace) {
  // Shapes were checked by the contract (backend.cc).
  const std::int64_t m = trans_a ? a.cols() : a.rows();
  const std::int64_t k = trans_a ? a.rows() : a.cols();
  const std::int64_t n = trans_b ? b.rows() : b.cols();
  if (m == 0 || n == 0) return absl::OkStatus();
  // The workspace is this backend's own resource need (it converts 16-bit
  // operands to fp32 for sgemm); a GPU stages only when given room, so the
  // size is checked here rather than in the contract.
  const std::uint64_t need = GemmWorkspaceBytes(m, n, k, a.dtype, b.dtype, c.dtype);
  if (need > 0 && (!workspace.present() || workspace.bytes() < need)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Gemm: workspace of ", workspace.present() ? workspace.bytes() : 0, " bytes, need ", need));
  }

  // Decode: a few activation rows times a 16-bit weight stored [N, K].
  if (!trans_a && trans_b && m <= kMaxGemvRows && a.dtype == DType::kF32 && c.dtype == DType::kF32 &&
      b.dtype != DType::kF32) {
    const float* x = static_cast<const float*>(a.data);
    float* y = static_cast<float*>(c.data);
    pool_->For(n, [&](std::int64_t n0, std::int64_t n1) {
      cpu::WithElementType(b.dtype, b.data, [&](auto* w) {
        using W = std::remove_pointer_t<decltype(w)>;
        if constexpr (std::is_same_v<W, float>) {
          GemvPortable(x, m, w, k, n0, n1, y, n, alpha, beta);
        } else {
          Gemv(x, m, w, k, n0, n1, y, n, alpha, beta);
        }
      });
    }, 16);
    return absl::OkStatus();
  }

  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  const std::int64_t lda = a.cols(), ldb = b.cols();
  float* ws = static_cast<float*>(workspace.data);

  // C[:, cols] = alpha op(A) op(B)[:, cols] + beta C[:, cols], the columns
  // split over the pool; OpenBLAS runs single-threaded inside each part, so
  // its threads never compete with ours and every element of C comes from
  // exactly one call.
  auto parallel_sgemm = [&](const float* a32, const float* bp, std::int64_t ldbp, float* cp, std::int64_t ldcp,
                            std::int64_t cols) {
    pool_->For(cols, [&](std::int64_t c0, std::int64_t c1) {
      cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(c1 - c0), static_cast<int>(k), alpha,
                  a32, static_cast<int>(lda), trans_b ? bp + c0 * ldbp : bp + c0, static_cast<int>(ldbp), beta,
                  cp + c0, static_cast<int>(ldcp));
    }, 64);
  };

  const float* a32 = static_cast<const float*>(a.data);
  if (a.dtype != DType::kF32) {
    ConvertBlock(*pool_, a.dtype, a.data, lda, 0, 0, a.rows(), a.cols(), ws);
    a32 = ws;
    ws += a.rows() * a.cols();
  }
  const bool b_convert = b.dtype != DType::kF32;
  const bool c_convert = c.dtype != DType::kF32;
  if (!b_convert && !c_convert) {
    parallel_sgemm(a32, static_cast<const float*>(b.data), ldb, static_cast<float*>(c.data), n, n);
    return absl::OkStatus();
  }
  std::int64_t panel = GemmPanelColumns(m, n, k, b.dtype, c.dtype);
  if (const std::int64_t cap = g_panel_cap.load(); cap > 0) panel = std::min(panel, cap);
  float* b_panel = ws;
  float* c_panel = ws + (b_convert ? panel * k : 0);
  for (std::int64_t n0 = 0; n0 < n; n0 += panel) {
    const std::int64_t nc = std::min(panel, n - n0);
    const float* bp;
    std::int64_t ldbp;
    if (b_convert) {
      if (trans_b) {  // B stored [N, K]: rows n0.. are contiguous
        ConvertBlock(*pool_, b.dtype, b.data, ldb, n0, 0, nc, k, b_panel);
        ldbp = k;
      } else {        // B stored [K, N]: columns n0.. of every row
        ConvertBlock(*pool_, b.dtype, b.data, ldb, 0, n0, k, nc, b_panel);
        ldbp = nc;
      }
      bp = b_panel;
    } else {
      bp = static_cast<const float*>(b.data) + (trans_b ? n0 * ldb : n0);
      ldbp = ldb;
    }
    float* cp;
    std::int64_t ldcp;
    if (c_convert) {
      if (beta != 0.0f) ConvertBlock(*pool_, c.dtype, c.data, n, 0, n0, m, nc, c_panel);
      cp = c_panel;
      ldcp = nc;
    } else {
      cp = static_cast<float*>(c.data) + n0;
      ldcp = n;
    }
    parallel_sgemm(a32, bp, ldbp, cp, ldcp, nc);
    if (c_convert) StoreBlock(*pool_, c_panel, c.dtype, c.data, n, n0, m, nc);
  }
  return absl::OkStatus();
}

}  // namespace localbench::kernels
