// What a user asks the agent to do, independent of how it was parsed, so the
// library (and its tests) can run the agent without a command line.
#ifndef LOCALBENCH_AGENT_OPTIONS_H_
#define LOCALBENCH_AGENT_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// How to reach the collector. TLS unless `insecure` is set explicitly.
struct ConnectionOptions {
  std::string collector;        // HOST:PORT; empty = the one stored at enrolment
  std::string ca_cert_path;     // PEM roots for TLS; empty = system roots
  std::string tls_server_name;  // overrides the name checked in the certificate
  bool insecure = false;        // plaintext: only when asked for explicitly
};

// Everything `localbench-agent run` accepts. Empty lists and zeros mean "the
// standard suite's choice".
struct RunOptions {
  std::string device;  // "" = best found; "cpu", "cuda", "cuda:1", "hip:0"
  // Suite version family: "" or "2027.01" = the standard suite (2026.12 plus
  // the training dimensions and quantized decode, suite_2027.cc); "2026.12" =
  // the previous one.
  std::string suite;
  std::vector<std::string> presets;
  std::vector<v1::WorkloadKind> workloads;
  std::vector<v1::Precision> precisions;
  std::vector<std::uint32_t> batches;  // explicit batch list
  std::uint32_t max_batch = 0;         // cap for the default doubling sweep
  std::vector<std::uint32_t> prompt_tokens;
  std::vector<std::uint32_t> generated_tokens;
  std::vector<std::uint32_t> sequence_tokens;
  std::uint32_t repetitions = 0;
  // Training dimensions (train_dims.h): unset = the suite's choice.
  std::optional<v1::Precision> activation_precision;  // fp32 or the run's 16-bit precision
  std::optional<bool> gradient_checkpointing;
  std::optional<std::uint32_t> accumulation_steps;
  std::optional<v1::FullFinetuneAccounting> full_accounting;  // train-full
  std::optional<std::uint32_t> loss_chunks;
  std::uint64_t memory_limit_bytes = 0;  // CPU backend's memory limit; 0 = default
  double budget_minutes = 0;  // the suite's time budget; 0 = the suite's default (10 min)
  bool yes = false;      // publish without asking
  bool offline = false;  // write the results, never upload
  std::string json_path;  // protobuf JSON of the submission ("-" = stdout)
  std::string csv_path;   // one CSV row per point ("-" = stdout)
  ConnectionOptions connection;
};

// Names used on the command line, in reproduce commands and in reports.
std::string_view WorkloadName(v1::WorkloadKind kind);
std::string_view PrecisionName(v1::Precision precision);
std::string_view BackendName(v1::Backend backend);

// Parses a command-line workload name ("prefill", "decode", "train-lora",
// "train-full"); a clear error otherwise.
absl::StatusOr<v1::WorkloadKind> ParseWorkload(std::string_view name);

// Parses "fp32", "fp16" or "bf16".
absl::StatusOr<v1::Precision> ParsePrecision(std::string_view name);

// Parses a byte size: "1073741824", "512M", "512MiB", "1.5G", "2GB" (binary
// units: a volunteer's "8G" of RAM is GiB).
absl::StatusOr<std::uint64_t> ParseByteSize(std::string_view text);

// Formats bytes for people: "1.50 GiB".
std::string FormatBytes(std::uint64_t bytes);

// Validates HOST:PORT (a port 1..65535; IPv6 hosts in brackets).
absl::Status ValidateHostPort(std::string_view address);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_OPTIONS_H_
