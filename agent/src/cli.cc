#include "localbench/agent/cli.h"

// GCC 12's -Wnull-dereference reports a false positive inside std::string
// once CLI11's templates are inlined here; it is silenced for this file only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>

#include <sstream>

#include "localbench/agent/train_dims.h"

namespace localbench::agent {
namespace {

void AddConnection(CLI::App* cmd, ConnectionOptions& c) {
  cmd->add_option("--collector", c.collector, "Collector address HOST:PORT (default: the enrolled one)");
  cmd->add_option("--ca-cert", c.ca_cert_path, "PEM file of the CA that signed the collector's certificate")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-server-name", c.tls_server_name, "Name to check in the collector's certificate");
  cmd->add_flag("--insecure", c.insecure, "Plaintext gRPC, no TLS (only for a collector on loopback or in tests)");
}

}  // namespace

ParseResult ParseCommandLine(int argc, const char* const* argv) {
  ParseResult result;
  Invocation& inv = result.invocation;
  RunOptions& run = inv.run;

  CLI::App app{"localbench-agent: benchmark this machine's AI hardware and publish the results to localbench",
               "localbench-agent"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");

  std::vector<std::string> workloads, precisions;
  std::string memory_limit;

  auto* run_cmd = app.add_subcommand("run", "Run the benchmark suite, show the results, then ask to publish");
  run_cmd->add_option("--device", run.device, "Device: cpu, cuda, cuda:N, hip, hip:N (default: best found)");
  run_cmd->add_option("--suite", run.suite,
                      "Suite version: 2027.01 (default: training dimensions, 4/8-bit decode) or 2026.12 (the previous one)")
      ->check(CLI::IsMember({"2026.12", "2027.01"}));
  run_cmd->add_option("--presets", run.presets, "Model presets, comma-separated (default: the suite's)")
      ->delimiter(',');
  run_cmd->add_option("--workloads", workloads, "prefill, decode, train-lora, train-full (comma-separated)")
      ->delimiter(',');
  run_cmd->add_option("--precisions", precisions, "fp32, fp16, bf16, q8_0, q4_0, nf4 (comma-separated)")->delimiter(',');
  run_cmd->add_option("--batches", run.batches, "Batch sizes to run, comma-separated (default: 1,2,4,... to the OOM threshold)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1u << 20));
  run_cmd->add_option("--max-batch", run.max_batch, "Largest batch of the default doubling sweep")
      ->check(CLI::Range(1u, 1u << 20));
  run_cmd->add_option("--prompt-tokens", run.prompt_tokens, "Prompt lengths (prefill, decode), comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1u << 20));
  run_cmd->add_option("--generated-tokens", run.generated_tokens, "Generated lengths (decode), comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1u << 20));
  run_cmd->add_option("--sequence-tokens", run.sequence_tokens, "Training sequence lengths, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1u << 20));
  run_cmd->add_option("--repetitions", run.repetitions, "Timed steps per point")->check(CLI::Range(1u, 1000u));
  std::string activation_precision, checkpointing, accounting;
  run_cmd->add_option("--activation-precision", activation_precision,
                      "Training: saved activations in fp32 or the run's 16-bit precision (fp16, bf16)");
  run_cmd->add_option("--gradient-checkpointing", checkpointing, "Training: per-layer gradient checkpointing, on or off")
      ->check(CLI::IsMember({"on", "off"}));
  run_cmd->add_option("--accumulation-steps", run.accumulation_steps,
                      "Training: micro-batches per optimizer step (effective batch = batch x steps)")
      ->check(CLI::Range(1u, 1024u));
  run_cmd->add_option("--full-accounting", accounting,
                      "train-full: mixed (fp32 master weights and gradients, 18 B/param) or lean (12 B/param)")
      ->check(CLI::IsMember({"mixed", "lean"}));
  run_cmd->add_option("--loss-chunks", run.loss_chunks, "Training: cross-entropy in this many chunks (0 = off)")
      ->check(CLI::Range(0u, 1024u));
  run_cmd->add_option("--budget", run.budget_minutes,
                      "Time budget of the suite in minutes (default 10); points past it are recorded as skipped for time")
      ->check(CLI::Range(0.1, 10000.0));
  run_cmd->add_option("--memory-limit", memory_limit, "CPU backend memory limit, e.g. 2G (makes OOM real on a CPU)");
  run_cmd->add_flag("--yes,-y", run.yes, "Publish without asking");
  run_cmd->add_flag("--offline", run.offline, "Only write the results locally; never upload");
  run_cmd->add_option("--json", run.json_path, "Write the results as JSON (protobuf mapping) to FILE, - for stdout");
  run_cmd->add_option("--csv", run.csv_path, "Write one CSV row per point to FILE, - for stdout");
  run_cmd->add_option("--output,-o", inv.output_path, "Also write the results file (binary protobuf) to FILE");
  run_cmd->add_option("--state-dir", inv.state_dir, "State directory (default: $LOCALBENCH_AGENT_HOME or ~/.local/state/localbench-agent)");
  AddConnection(run_cmd, run.connection);
  run_cmd->callback([&] { inv.command = Command::kRun; });

  auto* upload_cmd = app.add_subcommand(
      "upload", "Publish the results waiting in the outbox (files refused for good move to rejected/)");
  upload_cmd->add_option("files", inv.upload_files, "Results files to publish too (e.g. kept by --offline)")
      ->check(CLI::ExistingFile);
  upload_cmd->add_option("--state-dir", inv.state_dir, "State directory");
  AddConnection(upload_cmd, run.connection);
  upload_cmd->callback([&] { inv.command = Command::kUpload; });

  auto* enroll_cmd = app.add_subcommand("enroll", "Obtain and store an agent token from a collector");
  enroll_cmd->add_option("--state-dir", inv.state_dir, "State directory");
  AddConnection(enroll_cmd, run.connection);
  enroll_cmd->callback([&] { inv.command = Command::kEnroll; });

  auto* show_cmd = app.add_subcommand("show", "Print a results file (binary or JSON) as a table, JSON or CSV");
  show_cmd->add_option("file", inv.show_path, "Results file")->required()->check(CLI::ExistingFile);
  show_cmd->add_option("--json", run.json_path, "Write JSON to FILE, - for stdout");
  show_cmd->add_option("--csv", run.csv_path, "Write CSV to FILE, - for stdout");
  show_cmd->callback([&] { inv.command = Command::kShow; });

  std::ostringstream out, err;
  // CLI11 would only say "a subcommand is required" for a misspelt one.
  const std::string first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "run" && first != "upload" && first != "enroll" &&
      first != "show") {
    result.exit_code = kExitUsage;
    result.error = std::string("localbench-agent: unknown command '") + argv[1] +
                   "' (expected run, upload, enroll or show)\nRun with --help for more information.\n";
    return result;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    result.exit_code = app.exit(e, out, err);
    if (result.exit_code != 0) result.exit_code = kExitUsage;
    result.output = out.str();
    result.error = err.str().empty() ? "" : "localbench-agent: " + err.str();
    return result;
  }

  auto usage = [&](const std::string& message) {
    result.exit_code = kExitUsage;
    result.error = "localbench-agent: " + message + "\nRun with --help for more information.\n";
    return result;
  };
  for (const auto& w : workloads) {
    auto kind = ParseWorkload(w);
    if (!kind.ok()) return usage(std::string(kind.status().message()));
    run.workloads.push_back(*kind);
  }
  for (const auto& p : precisions) {
    auto precision = ParsePrecision(p);
    if (!precision.ok()) return usage(std::string(precision.status().message()));
    run.precisions.push_back(*precision);
  }
  if (!activation_precision.empty()) {
    auto precision = ParsePrecision(activation_precision);
    if (!precision.ok()) return usage("--activation-precision: " + std::string(precision.status().message()));
    run.activation_precision = *precision;
  }
  if (!checkpointing.empty()) run.gradient_checkpointing = checkpointing == "on";
  if (!accounting.empty()) run.full_accounting = *ParseAccounting(accounting);  // IsMember checked it
  if (!memory_limit.empty()) {
    auto bytes = ParseByteSize(memory_limit);
    if (!bytes.ok()) return usage("--memory-limit: " + std::string(bytes.status().message()));
    if (*bytes < 4096) return usage("--memory-limit must be at least 4K");
    run.memory_limit_bytes = *bytes;
  }
  for (const auto& preset : run.presets) {
    if (preset.empty()) return usage("--presets holds an empty name");
  }
  if (!run.batches.empty() && run.max_batch != 0) {
    return usage("--batches and --max-batch exclude each other (--max-batch caps the default sweep)");
  }
  if (run.yes && run.offline) return usage("--yes and --offline contradict each other");
  if (!run.connection.collector.empty()) {
    if (auto st = ValidateHostPort(run.connection.collector); !st.ok()) return usage(std::string(st.message()));
  }
  if (run.connection.insecure && !run.connection.ca_cert_path.empty()) {
    return usage("--insecure and --ca-cert contradict each other");
  }
  if (inv.command == Command::kEnroll && run.connection.collector.empty()) {
    return usage("enroll needs --collector HOST:PORT");
  }
  if (!run.json_path.empty() && run.json_path == run.csv_path) {
    return usage("--json and --csv cannot both write to " + run.json_path);
  }
  result.ok = true;
  return result;
}

ParseResult ParseCommandLine(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"localbench-agent"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

}  // namespace localbench::agent

#pragma GCC diagnostic pop
