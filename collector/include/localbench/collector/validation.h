// Validation of untrusted input arriving over Ingest. Every rule lives here,
// apart from storage and gRPC wiring, so unit tests reach it directly.
#ifndef LOCALBENCH_COLLECTOR_VALIDATION_H_
#define LOCALBENCH_COLLECTOR_VALIDATION_H_

#include <chrono>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "localbench/v1/ingest.pb.h"
#include "localbench/v1/results.pb.h"

namespace localbench::collector {

// Bounds on what one submission may hold. Generous for real agents, small
// enough that one request cannot exhaust the collector or the database.
struct Limits {
  static constexpr int kMaxSweeps = 256;              // sweeps per submission
  static constexpr int kMaxPointsPerSweep = 256;      // batch sizes per sweep
  static constexpr int kMaxPoints = 8192;             // points per submission
  static constexpr std::size_t kMaxNameChars = 256;   // device name, CPU model, OS
  static constexpr std::size_t kMaxVersionChars = 64; // driver/runtime/suite versions
  static constexpr std::size_t kMaxAgentVersionChars = 128;
  static constexpr std::size_t kMaxMessageChars = 4096;  // error_message, reproduce_command
  static constexpr uint64_t kMaxBytes = uint64_t{1} << 50;   // 1 PiB: any size field
  static constexpr uint32_t kMaxBatch = 1u << 20;        // batch sizes and bracket
  static constexpr uint32_t kMaxPcieValue = 64;          // PCIe generation and lane width
  static constexpr uint32_t kMaxTokens = 1u << 24;       // prompt/generated/sequence tokens
  static constexpr uint32_t kMaxLoraRank = 1u << 16;
  static constexpr uint32_t kMaxCount = 1u << 24;        // repetitions, warm-up steps, cores, SMs
  static constexpr uint32_t kMaxClockMhz = 100000;
  // Timestamps must lie after this (2020-01-01T00:00:00Z) ...
  static constexpr int64_t kEarliestUnixSeconds = 1577836800;
  // ... and no further than this into the future (clock skew allowance).
  static constexpr int64_t kMaxFutureSeconds = 24 * 3600;
};

// Checks every field of `s` (see the rules in validation.cc), plausibility
// included: memory measured by a point (arena peak, device delta, process
// memory; for the CPU backend the process against the host's RAM) and an OK
// point's plan cannot exceed what the device has. Returns OK, or
// INVALID_ARGUMENT whose message starts with the offending field's path, e.g.
// "sweeps[2].points[0].tokens_per_second_median: must be finite and > 0".
// `now` bounds the timestamps; pass the current time (tests pass a fixed one).
absl::Status ValidateSubmission(const v1::Submission& s,
                                std::chrono::system_clock::time_point now);

// Checks an enrolment request the same way.
absl::Status ValidateEnrollRequest(const v1::EnrollRequest& r);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view s);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_VALIDATION_H_
