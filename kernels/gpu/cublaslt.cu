// cuBLASLt: NVIDIA's tuned GEMM, the CUDA backend's default path. Our
// matrices are row-major; cuBLAS is column-major, so C = op(A) op(B) is run
// as C^T = op(B)^T op(A)^T, which is the same memory read column-major.
// Algorithms are chosen once per shape by cuBLASLt's heuristic and cached.
//
// The library is loaded at run time (dlopen), like NVML: a binary built with
// the CUDA backend must start on machines without the CUDA toolkit (no GPU,
// AMD only, a driver without cuBLAS); there the portable GEMM is used.
#include <cublasLt.h>
#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "gemm.cuh"

namespace localbench::kernels::cuda {
namespace {

// The cuBLASLt entry points we call, typed from the header we compiled
// against and resolved from the same major version at run time.
struct LtApi {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtDestroy) destroy = nullptr;
  decltype(&cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy = nullptr;
  decltype(&cublasLtMatrixLayoutSetAttribute) layout_set = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
  std::string error;  // why the library is unusable; empty when loaded
};

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return *fn != nullptr;
}

const LtApi& Lt() {
  static const LtApi api = [] {
    LtApi a;
    const std::string soname = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    // The toolkit's usual home, for machines whose loader path lacks it.
    if (lib == nullptr) lib = dlopen(("/usr/local/cuda/lib64/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      a.error = soname + " not found";
      return a;
    }
    const bool ok = Resolve(lib, "cublasLtCreate", &a.create) && Resolve(lib, "cublasLtDestroy", &a.destroy) &&
                    Resolve(lib, "cublasLtMatmulDescCreate", &a.desc_create) &&
                    Resolve(lib, "cublasLtMatmulDescDestroy", &a.desc_destroy) &&
                    Resolve(lib, "cublasLtMatmulDescSetAttribute", &a.desc_set) &&
                    Resolve(lib, "cublasLtMatrixLayoutCreate", &a.layout_create) &&
                    Resolve(lib, "cublasLtMatrixLayoutDestroy", &a.layout_destroy) &&
                    Resolve(lib, "cublasLtMatrixLayoutSetAttribute", &a.layout_set) &&
                    Resolve(lib, "cublasLtMatmulPreferenceCreate", &a.pref_create) &&
                    Resolve(lib, "cublasLtMatmulPreferenceDestroy", &a.pref_destroy) &&
                    Resolve(lib, "cublasLtMatmulPreferenceSetAttribute", &a.pref_set) &&
                    Resolve(lib, "cublasLtMatmulAlgoGetHeuristic", &a.heuristic) &&
                    Resolve(lib, "cublasLtMatmul", &a.matmul);
    if (!ok) a.error = soname + " lacks an entry point we need";
    return a;
  }();
  return api;
}

cudaDataType ToCuda(Elem e) {
  switch (e) {
    case Elem::kBF16:
      return CUDA_R_16BF;
    case Elem::kF16:
      return CUDA_R_16F;
    default:
      return CUDA_R_32F;
  }
}

absl::Status LtStatus(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  // cublasGetStatusName lives in libcublas, which we do not link.
  std::string msg = std::string("cuBLASLt ") + what + ": cublasStatus_t " + std::to_string(static_cast<int>(st));
  if (st == CUBLAS_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(msg);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) return absl::UnimplementedError(msg);
  return absl::InternalError(msg);
}

// Owns the descriptors of one call.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Descs() {
    if (pref != nullptr) Lt().pref_destroy(pref);
    if (c != nullptr) Lt().layout_destroy(c);
    if (b != nullptr) Lt().layout_destroy(b);
    if (a != nullptr) Lt().layout_destroy(a);
    if (op != nullptr) Lt().desc_destroy(op);
  }
};

absl::Status Layout(cublasLtMatrixLayout_t* l, Elem e, std::uint64_t rows, std::uint64_t cols, std::int64_t ld,
                    int batch, std::int64_t stride) {
  if (absl::Status s = LtStatus(Lt().layout_create(l, ToCuda(e), rows, cols, ld), "layout"); !s.ok()) {
    return s;
  }
  if (batch > 1) {
    const std::int32_t count = batch;
    const std::int64_t offset = stride;
    if (absl::Status s = LtStatus(Lt().layout_set(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                                                   sizeof(count)),
                                  "batch count");
        !s.ok()) {
      return s;
    }
    return LtStatus(
        Lt().layout_set(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &offset, sizeof(offset)),
        "batch stride");
  }
  return absl::OkStatus();
}

// Cache key: everything the heuristic's answer depends on, alignments
// included (an algorithm chosen for 256-byte aligned operands faults on a
// view that starts mid-buffer).
using AlgoKey = std::tuple<int, int, int, int, int, int, bool, bool, std::int64_t, std::int64_t, std::int64_t, int,
                           bool, std::uint32_t, std::uint32_t, std::uint32_t>;

// Largest power of two (<= 256) dividing the address.
std::uint32_t Alignment(const void* p) {
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t al = 256;
  while (al > 1 && a % al != 0) al /= 2;
  return al;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CublasLt>> CublasLt::Create(std::size_t workspace_bytes) {
  if (!Lt().error.empty()) return absl::UnavailableError("cuBLASLt: " + Lt().error);
  std::unique_ptr<CublasLt> lt(new CublasLt());
  cublasLtHandle_t h = nullptr;
  if (absl::Status s = LtStatus(Lt().create(&h), "create"); !s.ok()) return s;
  lt->handle_ = h;
  if (workspace_bytes > 0) {
    if (absl::Status s = GpuStatus(cudaMalloc(&lt->workspace_, workspace_bytes), "cudaMalloc(cuBLASLt workspace)");
        !s.ok()) {
      (void)cudaGetLastError();
      return s;
    }
    lt->workspace_bytes_ = workspace_bytes;
  }
  return lt;
}

CublasLt::~CublasLt() {
  if (workspace_ != nullptr) cudaFree(workspace_);
  if (handle_ != nullptr) Lt().destroy(static_cast<cublasLtHandle_t>(handle_));
}

absl::Status CublasLt::Gemm(const GemmArgs& g, gpuStream_t stream) {
  if (absl::Status st = ValidateGemm(g); !st.ok()) return st;
  if (g.m == 0 || g.n == 0) return absl::OkStatus();
  if (g.k == 0) return absl::UnimplementedError("cuBLASLt: k == 0");
  Descs d;
  if (absl::Status s = LtStatus(Lt().desc_create(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc"); !s.ok()) {
    return s;
  }
  // cuBLAS's A is our B, its B our A (see the file comment).
  const cublasOperation_t ta = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (absl::Status s = LtStatus(Lt().desc_set(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
                                "transa");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = LtStatus(Lt().desc_set(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
                                "transb");
      !s.ok()) {
    return s;
  }
  const std::uint64_t m = static_cast<std::uint64_t>(g.n), n = static_cast<std::uint64_t>(g.m),
                      k = static_cast<std::uint64_t>(g.k);
  // Stored shapes, column-major view: our B is [N, K] col-major when not
  // transposed ([K, N] row-major), [K, N] col-major when transposed.
  absl::Status s = Layout(&d.a, g.b_type, g.trans_b ? k : m, g.trans_b ? m : k, g.ldb, g.batch, g.stride_b);
  if (!s.ok()) return s;
  if (absl::Status sb = Layout(&d.b, g.a_type, g.trans_a ? n : k, g.trans_a ? k : n, g.lda, g.batch, g.stride_a);
      !sb.ok()) {
    return sb;
  }
  if (absl::Status sc = Layout(&d.c, g.c_type, m, n, g.ldc, g.batch, g.stride_c); !sc.ok()) return sc;

  cublasLtMatmulHeuristicResult_t result{};
  const AlgoKey key{g.m, g.n, g.k, static_cast<int>(g.a_type), static_cast<int>(g.b_type), static_cast<int>(g.c_type),
                    g.trans_a, g.trans_b, g.lda, g.ldb, g.ldc, g.batch, g.beta != 0.f,
                    Alignment(g.a), Alignment(g.b), Alignment(g.c)};
  // Heuristic results per (handle, shape): shared by every backend of the
  // process, which may run on several threads.
  static struct AlgoCache {
    std::mutex mu;
    std::map<std::pair<void*, AlgoKey>, cublasLtMatmulHeuristicResult_t> entries ABSL_GUARDED_BY(mu);
  } cache;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.entries.find({handle_, key});
    if (it != cache.entries.end()) {
      result = it->second;
      cached = true;
    }
  }
  if (!cached) {
    if (s = LtStatus(Lt().pref_create(&d.pref), "preference"); !s.ok()) return s;
    const std::uint64_t ws = workspace_bytes_;
    if (s = LtStatus(Lt().pref_set(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                          sizeof(ws)),
                     "workspace preference");
        !s.ok()) {
      return s;
    }
    // Tell the heuristic how the operands are really aligned (cuBLAS's
    // A is our B, see above).
    const std::uint32_t al_a = Alignment(g.b), al_b = Alignment(g.a), al_c = Alignment(g.c);
    const struct {
      cublasLtMatmulPreferenceAttributes_t attr;
      std::uint32_t value;
    } aligns[] = {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, al_a},
                  {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, al_b},
                  {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, al_c},
                  {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, al_c}};
    for (const auto& al : aligns) {
      if (s = LtStatus(Lt().pref_set(d.pref, al.attr, &al.value, sizeof(al.value)), "alignment");
          !s.ok()) {
        return s;
      }
    }
    int found = 0;
    if (s = LtStatus(Lt().heuristic(static_cast<cublasLtHandle_t>(handle_), d.op, d.a, d.b, d.c, d.c,
                                                    d.pref, 1, &result, &found),
                     "heuristic");
        !s.ok()) {
      return s;
    }
    if (found == 0) return absl::UnimplementedError("cuBLASLt: no algorithm for this GEMM");
    std::lock_guard<std::mutex> lock(cache.mu);
    cache.entries[{handle_, key}] = result;
  }
  return LtStatus(Lt().matmul(static_cast<cublasLtHandle_t>(handle_), d.op, &g.alpha, g.b, d.a, g.a, d.b, &g.beta,
                                 g.c, d.c, g.c, d.c, &result.algo, workspace_, workspace_bytes_, stream),
                  "matmul");
}

}  // namespace localbench::kernels::cuda
