// GPU graphs: capture of what a body enqueues on the context's stream, and
// replay with one launch (the decode step's hundreds of small kernels).
#include <memory>
#include <string>
#include <utility>

#include "context.cuh"

namespace localbench::kernels::LB_GPU_NS {
namespace {

class Graph final : public gpu::GpuGraph {
 public:
  Graph(std::shared_ptr<Context> ctx, gpuGraph_t graph, gpuGraphExec_t exec)
      : ctx_(std::move(ctx)), graph_(graph), exec_(exec) {}
  ~Graph() override {
    (void)gpuSetDevice(ctx_->ordinal());
    (void)gpuGraphExecDestroy(exec_);
    (void)gpuGraphDestroy(graph_);
  }
  absl::Status Launch() override {
    if (absl::Status s = ctx_->Activate(); !s.ok()) return s;
    return GpuStatus(gpuGraphLaunch(exec_, ctx_->stream()), "graph launch");
  }

 private:
  std::shared_ptr<Context> ctx_;
  gpuGraph_t graph_;
  gpuGraphExec_t exec_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<gpu::GpuGraph>> CaptureGraph(const std::shared_ptr<Context>& ctx,
                                                            const std::function<absl::Status()>& body) {
  if (absl::Status s = ctx->Activate(); !s.ok()) return s;
  if (absl::Status s = GpuStatus(gpuStreamBeginCapture(ctx->stream(), gpuStreamCaptureModeThreadLocal),
                                 "stream begin capture");
      !s.ok()) {
    return s;
  }
  const absl::Status body_status = body();
  gpuGraph_t graph = nullptr;
  const gpuError_t end = gpuStreamEndCapture(ctx->stream(), &graph);
  (void)gpuGetLastError();  // a capture-illegal call inside body leaves a non-sticky error
  if (!body_status.ok() || end != gpuSuccess) {
    if (graph != nullptr) (void)gpuGraphDestroy(graph);
    if (!body_status.ok()) return body_status;
    return absl::UnimplementedError(std::string("graph capture failed: ") + gpuGetErrorName(end));
  }
  gpuGraphExec_t exec = nullptr;
  if (absl::Status s = GpuStatus(gpuGraphInstantiate(&exec, graph), "graph instantiate"); !s.ok()) {
    (void)gpuGraphDestroy(graph);
    return s;
  }
  return std::unique_ptr<gpu::GpuGraph>(new Graph(ctx, graph, exec));
}

}  // namespace localbench::kernels::LB_GPU_NS
