// Run-time instruction-set choice for the CPU kernels (see isa.h).
#include "cpu/isa.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "absl/strings/str_cat.h"

namespace localbench::kernels::cpu {
namespace {

struct Flags {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512bf16 = false;
};

const Flags& CpuFlags() {
  static const Flags flags = [] {
    Flags f;
#if defined(__x86_64__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    // clang-15 has no "f16c" name for __builtin_cpu_supports: read cpuid
    // leaf 1 (ECX bit 29) directly, the same answer on both compilers.
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    f.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    return f;
  }();
  return flags;
}

std::optional<Isa> ParseIsa(std::string_view name) {
  for (Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512Bf16}) {
    if (name == IsaName(isa)) return isa;
  }
  return std::nullopt;
}

// The cap from LOCALBENCH_CPU_ISA, read once.
std::optional<Isa> EnvCap() {
  static const std::optional<Isa> cap = []() -> std::optional<Isa> {
    const char* value = std::getenv("LOCALBENCH_CPU_ISA");
    if (value == nullptr || *value == '\0') return std::nullopt;
    std::optional<Isa> isa = ParseIsa(value);
    if (!isa) {
      std::fprintf(stderr,
                   "localbench: LOCALBENCH_CPU_ISA=%s is not one of portable, avx2, avx512bf16; ignored\n", value);
    }
    return isa;
  }();
  return cap;
}

// -1: no test cap; otherwise the Isa value.
std::atomic<int> g_test_cap{-1};

}  // namespace

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Bf16: return "avx512bf16";
  }
  return "unknown";
}

Isa BestSupportedIsa() {
  const Flags& f = CpuFlags();
  if (!(f.avx2 && f.fma && f.f16c)) return Isa::kPortable;
  // The AVX-512 kernels also use AVX2 helpers, and BW/VL for the 16-bit
  // widening and the 256-bit bf16 halves.
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512bf16) return Isa::kAvx512Bf16;
  return Isa::kAvx2;
}

Isa ActiveIsa() {
  Isa isa = BestSupportedIsa();
  if (const std::optional<Isa> env = EnvCap()) isa = std::min(isa, *env);
  if (const int cap = g_test_cap.load(std::memory_order_relaxed); cap >= 0) isa = std::min(isa, static_cast<Isa>(cap));
  return isa;
}

void SetIsaCapForTesting(std::optional<Isa> cap) {
  g_test_cap.store(cap ? static_cast<int>(*cap) : -1, std::memory_order_relaxed);
}

std::string IsaReport() {
  const Flags& f = CpuFlags();
  auto flag = [](bool on, const char* name) { return absl::StrCat(on ? "" : "no ", name); };
  std::string line = absl::StrCat("cpu kernels: ", std::string(IsaName(ActiveIsa())), " (best supported ",
                                  std::string(IsaName(BestSupportedIsa())));
  if (const std::optional<Isa> env = EnvCap()) absl::StrAppend(&line, ", LOCALBENCH_CPU_ISA=", std::string(IsaName(*env)));
  absl::StrAppend(&line, "); cpu flags: ", flag(f.avx2, "avx2"), " ", flag(f.fma, "fma"), " ", flag(f.f16c, "f16c"), " ",
                  flag(f.avx512f, "avx512f"), " ", flag(f.avx512bw, "avx512bw"), " ", flag(f.avx512vl, "avx512vl"),
                  " ", flag(f.avx512bf16, "avx512bf16"));
  return line;
}

}  // namespace localbench::kernels::cpu
