// Fills a running collector for the browser tests with generated submissions
// over its real gRPC Ingest service: three GPU device models (one measured by
// three machines, so its cells are verified), on the workloads of
// MakeSubmission, beside what a real agent run adds. Deterministic: the same
// seeds give the same submissions, so the pages show the same figures.
//
//   localbench_site_fixture HOST:PORT
//   localbench_site_fixture --tiny-limit   prints the CPU memory limit (bytes)
//                                         that puts the agent's tiny-llama
//                                         prefill OOM bracket at (6, 7)
#include <cstdio>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/test_support/tiny_bracket.h"
#include "localbench/v1/ingest.grpc.pb.h"

namespace {

using localbench::test_support::FingerprintFor;
using localbench::test_support::MakeSubmission;
namespace v1 = localbench::v1;

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

// A device model and how fast it is against MakeSubmission's figures.
struct Device {
  const char* name;
  std::uint64_t memory_bytes;
  v1::Backend backend;
  double speed;
  int machines;
};

// MakeSubmission(seed) moved onto `device` and machine `machine`.
v1::Submission Build(std::uint64_t seed, std::uint64_t machine, const Device& device) {
  v1::Submission s = MakeSubmission(seed, 4, 4);  // decode, prefill, LoRA, full; batches 1, 4, 9, OOM at 16
  s.set_machine_fingerprint(FingerprintFor(machine + 2000000));
  v1::Device* d = s.mutable_hardware()->mutable_device();
  d->set_name(device.name);
  d->set_memory_total_bytes(device.memory_bytes);
  d->set_memory_free_at_start_bytes(device.memory_bytes - device.memory_bytes / 50);
  d->set_backend(device.backend);
  // Machines of one model run different drivers, so its stack chart has rows.
  static const char* const kDrivers[] = {"550.54.14", "560.35.03", "580.65.06"};
  d->set_driver_version(kDrivers[machine % 3]);
  if (device.backend == v1::BACKEND_HIP) {
    d->set_vendor(v1::VENDOR_AMD);
    d->clear_compute_capability();
    d->set_gfx_target("gfx1100");
  }
  // Machines of one model differ a little, as real ones do.
  const double speed = device.speed * (1.0 + 0.02 * static_cast<double>(machine % 3));
  for (auto& sweep : *s.mutable_sweeps()) {
    for (auto& p : *sweep.mutable_points()) {
      p.set_tokens_per_second_median(p.tokens_per_second_median() * speed);
      p.set_tokens_per_second_min(p.tokens_per_second_min() * speed);
      p.set_tokens_per_second_max(p.tokens_per_second_max() * speed);
      if (p.status() == v1::POINT_STATUS_OK) {
        p.set_step_seconds_median(p.step_seconds_median() / speed);
        p.set_step_seconds_min(p.step_seconds_min() / speed);
        p.set_step_seconds_max(p.step_seconds_max() / speed);
        p.set_step_seconds_mean(p.step_seconds_mean() / speed);
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: localbench_site_fixture HOST:PORT | --tiny-limit\n");
    return 2;
  }
  if (std::string(argv[1]) == "--tiny-limit") {
    std::printf("%llu\n", static_cast<unsigned long long>(localbench::test_support::LimitForBracketAtSix()));
    return 0;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto stub = v1::Ingest::NewStub(channel);
  const Device devices[] = {
      {"NVIDIA GeForce RTX 4090", 24 * kGiB, v1::BACKEND_CUDA, 1.0, 3},
      {"NVIDIA GeForce RTX 3090", 24 * kGiB, v1::BACKEND_CUDA, 0.55, 1},
      {"AMD Radeon RX 7900 XTX", 24 * kGiB, v1::BACKEND_HIP, 0.7, 1},
  };
  std::uint64_t seed = 500;
  std::uint64_t machine = 0;
  int stored = 0;
  for (const Device& device : devices) {
    for (int m = 0; m < device.machines; ++m, ++machine, ++seed) {
      const v1::Submission s = Build(seed, machine, device);
      v1::EnrollRequest enroll;
      enroll.set_machine_fingerprint(s.machine_fingerprint());
      enroll.set_agent_version("site-fixture");
      v1::EnrollResponse agent;
      grpc::ClientContext enroll_ctx;
      if (grpc::Status st = stub->Enroll(&enroll_ctx, enroll, &agent); !st.ok()) {
        std::fprintf(stderr, "localbench_site_fixture: enroll: %s\n", st.error_message().c_str());
        return 1;
      }
      grpc::ClientContext ctx;
      localbench::test_support::SetBearer(ctx, agent.agent_token());
      v1::SubmitRequest req;
      *req.mutable_submission() = s;
      v1::SubmitResponse resp;
      if (grpc::Status st = stub->Submit(&ctx, req, &resp); !st.ok()) {
        std::fprintf(stderr, "localbench_site_fixture: submit %s: %s\n", device.name, st.error_message().c_str());
        return 1;
      }
      ++stored;
    }
  }
  std::printf("localbench_site_fixture: stored %d submissions\n", stored);
  return 0;
}
