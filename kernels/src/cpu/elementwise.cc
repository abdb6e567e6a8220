// CpuBackend's element-wise ops: fills, conversion, axpy, scale, bias.
#include "cpu/elementwise.h"

#include "cpu/elements.h"
#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"

namespace localbench::kernels {

using cpu::WithElementType;

absl::Status CpuBackend::FillImpl(Tensor x, float value) {
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) cpu::Store(p[i], value);
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::FillRandomUniformImpl(Tensor x, std::uint64_t seed, float scale) {
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i)
        cpu::Store(p[i], cpu::HashUniform(seed, static_cast<std::uint64_t>(i), scale));
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::ConvertImpl(const Tensor& src, Tensor dst) {
  pool_->For(src.numel(), [&](std::int64_t i0, std::int64_t i1) {
    cpu::ConvertSpan(src.dtype, src.data, dst.dtype, dst.data, i0, i1);
  }, 1 << 14);
  return absl::OkStatus();
}

absl::Status CpuBackend::AxpyImpl(float alpha, const Tensor& x, Tensor y) {
  WithElementType(x.dtype, x.data, [&](auto* xs) {
    WithElementType(y.dtype, y.data, [&](auto* ys) {
      pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) cpu::Store(ys[i], cpu::Load(ys[i]) + alpha * cpu::Load(xs[i]));
      }, 1 << 14);
    });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::ScaleImpl(Tensor x, float alpha) {
  WithElementType(x.dtype, x.data, [&](auto* p) {
    pool_->For(x.numel(), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) cpu::Store(p[i], cpu::Load(p[i]) * alpha);
    }, 1 << 14);
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::AddBiasImpl(Tensor x, const Tensor& bias) {
  WithElementType(bias.dtype, bias.data, [&](auto* b) {
    WithElementType(x.dtype, x.data, [&](auto* xs) { cpu::AddBias(*pool_, xs, b, x.rows(), x.cols()); });
  });
  return absl::OkStatus();
}

absl::Status CpuBackend::BiasBackwardImpl(const Tensor& d_out, Tensor d_bias) {
  WithElementType(d_bias.dtype, d_bias.data, [&](auto* b) {
    WithElementType(d_out.dtype, d_out.data, [&](auto* dy) {
      cpu::BiasBackward(*pool_, dy, b, d_out.rows(), d_out.cols());
    });
  });
  return absl::OkStatus();
}

}  // namespace localbench::kernels
