// Context: stream, sticky faults and the mapped index-error word
// (context.cuh says why each exists).
#include "context.cuh"

#include "localbench/kernels/backend.h"

namespace localbench::kernels::LB_GPU_NS {
namespace {

// The op and field names of the contract's error, per IndexOp.
const char* OpName(int op) {
  switch (static_cast<IndexOp>(op)) {
    case IndexOp::kEmbeddingForward:
      return "EmbeddingForward";
    case IndexOp::kEmbeddingBackward:
      return "EmbeddingBackward";
    case IndexOp::kCrossEntropy:
      return "CrossEntropy";
    case IndexOp::kNone:
      break;
  }
  return "unknown op";
}
const char* FieldName(int op) { return static_cast<IndexOp>(op) == IndexOp::kCrossEntropy ? "targets" : "ids"; }

}  // namespace

absl::StatusOr<std::shared_ptr<Context>> Context::Create(int ordinal, int sm_count) {
  std::shared_ptr<Context> ctx(new Context());
  ctx->ordinal_ = ordinal;
  ctx->sm_count_ = sm_count;
  if (absl::Status s = GpuStatus(gpuSetDevice(ordinal), "set device"); !s.ok()) return s;
  if (absl::Status s = GpuStatus(gpuStreamCreateWithFlags(&ctx->stream_, gpuStreamNonBlocking), "stream create");
      !s.ok()) {
    return s;
  }
  void* host = nullptr;
  if (absl::Status s = GpuStatus(gpuHostAllocMapped(&host, sizeof(IndexError)), "host alloc (index error)");
      !s.ok()) {
    return s;
  }
  ctx->index_error_host_ = static_cast<IndexError*>(host);
  *ctx->index_error_host_ = IndexError{};
  void* device = nullptr;
  if (absl::Status s = GpuStatus(gpuHostGetDevicePointer(&device, host, 0), "host device pointer"); !s.ok()) {
    return s;
  }
  ctx->index_error_device_ = static_cast<IndexError*>(device);
  return ctx;
}

Context::~Context() {
  (void)gpuSetDevice(ordinal_);
  if (stream_ != nullptr) (void)gpuStreamDestroy(stream_);
  if (index_error_host_ != nullptr) (void)gpuFreeHost(index_error_host_);
}

absl::Status Context::Activate() {
  if (faulted_) {
    return absl::FailedPreconditionError(std::string(kPrefix) + ":" + std::to_string(ordinal_) +
                                         " is unusable after a device fault (" + fault_ + "); restart the process");
  }
  return GpuStatus(gpuSetDevice(ordinal_), "set device");
}

absl::Status Context::Synced(gpuError_t err, const char* what) {
  if (err != gpuSuccess) {
    absl::Status s = GpuStatus(err, what);
    faulted_ = true;
    fault_ = std::string(s.message());
    return absl::InternalError(fault_);
  }
  // The kernels that wrote it have finished: the stream is synchronised.
  volatile IndexError* e = index_error_host_;
  if (e->set == 0) return absl::OkStatus();
  absl::Status bad = IndexOutOfRange(OpName(e->op), FieldName(e->op), e->row, e->value, e->limit);
  e->op = 0;
  e->set = 0;
  return bad;
}

}  // namespace localbench::kernels::LB_GPU_NS
