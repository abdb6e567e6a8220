// Run-time choice of the CPU kernels' instruction set. The library is built
// for baseline x86-64; the AVX2 and AVX-512 BF16 kernels are compiled with
// per-function target attributes in their own files and picked here once,
// from cpuid (__builtin_cpu_supports), so one binary runs everywhere and uses
// the best instructions of the machine it lands on.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace localbench::kernels::cpu {

// Instruction-set paths of the CPU GEMM/GEMV kernels, ordered worst to best.
enum class Isa {
  kPortable = 0,    // plain C++ loops
  kAvx2 = 1,        // AVX2 + FMA + F16C: 16-bit weights widened to fp32, fp32 FMAs
  kAvx512Bf16 = 2,  // AVX-512F/BW/VL + BF16: vdpbf16ps on bf16 weights, 16-lane widening
};

// "portable", "avx2" or "avx512bf16" (also the values LOCALBENCH_CPU_ISA takes).
std::string_view IsaName(Isa isa);

// The best path this CPU supports (cpuid, read once).
Isa BestSupportedIsa();

// The path the kernels use now: BestSupportedIsa() capped by the environment
// variable LOCALBENCH_CPU_ISA (read once; an unknown value is reported on
// stderr and ignored) and by SetIsaCapForTesting. Never above what the CPU
// supports, so forcing a path can only make it slower, never crash.
Isa ActiveIsa();

// Test hook: caps the active path (std::nullopt removes the cap). Tests use it
// to run the AVX2 fallback on an AVX-512 machine and compare the two.
void SetIsaCapForTesting(std::optional<Isa> cap);

// One line for logs and benchmark headers: the active path, why (cap), and
// the CPU flags it was chosen from, e.g.
// "cpu kernels: avx2 (best avx2); cpu flags: avx2 fma f16c, no avx512f ...".
std::string IsaReport();

}  // namespace localbench::kernels::cpu
