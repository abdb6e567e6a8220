#include "localbench/common/names.h"

namespace localbench {

const char* BackendName(v1::Backend b) {
  switch (b) {
    case v1::BACKEND_CPU: return "cpu";
    case v1::BACKEND_CUDA: return "cuda";
    case v1::BACKEND_HIP: return "hip";
    default: return "unspecified";
  }
}

const char* VendorName(v1::Vendor v) {
  switch (v) {
    case v1::VENDOR_NVIDIA: return "nvidia";
    case v1::VENDOR_AMD: return "amd";
    case v1::VENDOR_INTEL: return "intel";
    case v1::VENDOR_APPLE: return "apple";
    case v1::VENDOR_OTHER: return "other";
    default: return "unspecified";
  }
}

const char* KindName(v1::WorkloadKind k) {
  switch (k) {
    case v1::WORKLOAD_KIND_PREFILL: return "prefill";
    case v1::WORKLOAD_KIND_DECODE: return "decode";
    case v1::WORKLOAD_KIND_TRAIN_LORA: return "train_lora";
    case v1::WORKLOAD_KIND_TRAIN_FULL: return "train_full";
    default: return "unspecified";
  }
}

const char* PrecisionName(v1::Precision p) {
  switch (p) {
    case v1::PRECISION_FP32: return "fp32";
    case v1::PRECISION_FP16: return "fp16";
    case v1::PRECISION_BF16: return "bf16";
    case v1::PRECISION_Q8_0: return "q8_0";
    case v1::PRECISION_Q4_0: return "q4_0";
    case v1::PRECISION_NF4: return "nf4";
    default: return "unspecified";
  }
}

bool IsQuantized(v1::Precision p) {
  return p == v1::PRECISION_Q8_0 || p == v1::PRECISION_Q4_0 || p == v1::PRECISION_NF4;
}

double WeightBytesPerValue(v1::Precision p) {
  switch (p) {
    case v1::PRECISION_FP32: return 4.0;
    case v1::PRECISION_FP16:
    case v1::PRECISION_BF16: return 2.0;
    // Must match kernels/src/quant (QuantizedBytes); tests/unit check it.
    case v1::PRECISION_Q8_0: return 34.0 / 32.0;
    case v1::PRECISION_Q4_0: return 18.0 / 32.0;
    case v1::PRECISION_NF4: return (32.0 + 1.0 + 4.0 / 256.0) / 64.0;
    default: return 0.0;
  }
}

const char* PointStatusName(v1::PointStatus s) {
  switch (s) {
    case v1::POINT_STATUS_OK: return "ok";
    case v1::POINT_STATUS_OOM: return "oom";
    case v1::POINT_STATUS_ERROR: return "error";
    case v1::POINT_STATUS_SKIPPED_WONT_FIT: return "skipped_wont_fit";
    case v1::POINT_STATUS_SKIPPED_FOR_TIME: return "skipped_for_time";
    default: return "unspecified";
  }
}

const char* OomThresholdSourceName(v1::OomThresholdSource s) {
  switch (s) {
    case v1::OOM_THRESHOLD_SOURCE_PROVEN: return "proven";
    case v1::OOM_THRESHOLD_SOURCE_PLANNED: return "planned";
    default: return "unspecified";
  }
}

}  // namespace localbench
