#include "localbench/agent/app.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "localbench/agent/outbox.h"
#include "localbench/agent/probe.h"
#include "localbench/agent/report.h"
#include "localbench/agent/runner.h"
#include "localbench/agent/state.h"
#include "localbench/agent/suite.h"

namespace localbench::agent {
namespace {

// The connection to use: flags win over what enrolment stored.
ConnectionOptions Resolve(const ConnectionOptions& flags, const AgentConfig& config) {
  ConnectionOptions c = flags;
  if (c.collector.empty()) {
    c.collector = config.collector;
    if (!flags.insecure && flags.ca_cert_path.empty()) {
      c.insecure = config.insecure;
      c.ca_cert_path = config.ca_cert_path;
    }
    if (c.tls_server_name.empty()) c.tls_server_name = config.tls_server_name;
  }
  return c;
}

absl::Status WriteOutput(const std::string& path, const std::string& text, Console& console) {
  if (path == "-") {
    console.out << text;
    console.out.flush();
    return absl::OkStatus();
  }
  return WriteFileAtomically(path, text);
}

// Writes --json / --csv outputs.
absl::Status WriteMachineOutputs(const RunOptions& o, const v1::Submission& s, Console& console) {
  if (!o.json_path.empty()) {
    auto json = FormatJson(s);
    if (!json.ok()) return json.status();
    if (auto st = WriteOutput(o.json_path, *json + "\n", console); !st.ok()) return st;
  }
  if (!o.csv_path.empty()) {
    if (auto st = WriteOutput(o.csv_path, FormatCsv(s), console); !st.ok()) return st;
  }
  return absl::OkStatus();
}

int Fail(Console& console, const absl::Status& st) {
  console.err << "localbench-agent: " << st.message() << "\n";
  return kExitFailure;
}

// Takes the state directory's lock and moves an interrupted run's last
// checkpoint into the outbox (no run is in progress while we hold the lock).
absl::StatusOr<StateLock> LockState(const std::filesystem::path& state_dir, Console& console) {
  auto lock = StateLock::Acquire(state_dir);
  if (!lock.ok()) return lock.status();
  auto recovered = RecoverInterruptedRuns(state_dir);
  if (!recovered.ok()) return recovered.status();
  if (*recovered > 0) {
    console.err << "localbench-agent: " << *recovered << " interrupted run(s) moved to the outbox with their "
                << "finished sweeps\n";
  }
  return lock;
}

// Uploads the given files; removes those in the outbox once acknowledged.
// The caller holds the state lock.
int Upload(const std::filesystem::path& state_dir, const ConnectionOptions& flags, Console& console,
           const UploadSettings& settings, const std::vector<std::string>& files = {}) {
  auto config = LoadConfig(state_dir);
  if (!config.ok()) return Fail(console, config.status());
  // Named files join the outbox first, so they get its guarantees: kept
  // until acknowledged, sent once.
  for (const auto& file : files) {
    auto submission = LoadResults(file);
    if (!submission.ok()) return Fail(console, submission.status());
    if (auto st = Outbox(OutboxDir(state_dir)).Put(*submission); !st.ok()) return Fail(console, st);
  }
  const auto connection = Resolve(flags, *config);
  auto channel = OpenChannel(connection);
  if (!channel.ok()) return Fail(console, channel.status());
  IngestClient client(*channel, config->agent_token, settings.policy, settings.sleeper);
  Outbox outbox(OutboxDir(state_dir));
  if (outbox.Pending().empty()) {
    console.err << "localbench-agent: nothing to upload (the outbox " << outbox.dir().string() << " is empty)\n";
    return kExitOk;
  }
  auto report = UploadPending(outbox, client, RejectedDir(state_dir), [&](const std::string& line) {
    console.err << "localbench-agent: " << line << "\n";
  });
  if (report.failed == 0 && report.rejected == 0) {
    console.err << "localbench-agent: published " << report.sent << " submission(s) to " << connection.collector
                << "\n";
    return kExitOk;
  }
  if (report.rejected > 0) {
    console.err << "localbench-agent: " << report.rejected << " submission(s) refused for good and set aside in "
                << RejectedDir(state_dir).string() << " (the .reason.txt beside each says why; not retried)\n";
  }
  if (report.failed > 0) {
    console.err << "localbench-agent: " << report.failed << " submission(s) not published; they stay in "
                << outbox.dir().string() << " (retry: localbench-agent upload)\n";
  }
  return kExitFailure;
}

}  // namespace

absl::StatusOr<v1::Submission> LoadResults(const std::filesystem::path& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseResults(*bytes, path.string());
}

int RunCommand(const Invocation& inv, Console& console, const UploadSettings& upload,
               const BackendFinder& find_backends) {
  const auto state_dir = ResolveStateDir(inv.state_dir);
  const RunOptions& o = inv.run;

  // Before minutes of work: a run that will publish must be able to.
  if (!o.offline) {
    if (auto config = LoadConfig(state_dir); !config.ok()) {
      return Fail(console, absl::Status(config.status().code(),
                                        std::string(config.status().message()) +
                                            " (or pass --offline to keep the results locally)"));
    }
  }

  // The CPU's limit depends on the suite, the suite on the device: discover
  // with the CPU suite's limit (or --memory-limit), then pick.
  // The CPU suite's budget follows this machine's available memory.
  const std::uint64_t cpu_limit =
      o.memory_limit_bytes ? o.memory_limit_bytes : CpuMemoryBudget(CpuSuite(), AvailableMemoryBytes());
  auto backends = find_backends ? find_backends(cpu_limit) : FindBackends(cpu_limit);
  auto backend = SelectBackend(backends, o.device);
  if (!backend.ok()) return Fail(console, backend.status());
  const v1::Backend kind = DescribeDevice(**backend).backend();
  if (o.memory_limit_bytes != 0 && kind != v1::BACKEND_CPU) {
    console.err << "localbench-agent: --memory-limit applies to the CPU backend only\n";
    return kExitUsage;
  }
  auto standard = SuiteFor(o.suite, kind);
  if (!standard.ok()) {
    console.err << "localbench-agent: " << standard.status().message() << "\n";
    return kExitUsage;
  }
  auto suite = ApplyOptions(*standard, o);
  if (!suite.ok()) {
    console.err << "localbench-agent: " << suite.status().message() << "\n";
    return kExitUsage;
  }

  // One agent per state directory, for the whole run (and its upload).
  auto lock = LockState(state_dir, console);
  if (!lock.ok()) return Fail(console, lock.status());

  // Checkpoints go where nothing uploads them: results/ when offline, else
  // running/, which joins the outbox only once the run has ended.
  Outbox outbox(o.offline ? state_dir / "results" : OutboxDir(state_dir));
  Outbox checkpoints(o.offline ? outbox.dir() : RunningDir(state_dir));
  console.err << "localbench-agent: running suite " << suite->version << " (" << suite->Hash().substr(0, 12)
              << ") on " << (*backend)->name() << ": " << (*backend)->device().info().name << "\n";
  Progress progress(console.progress, console.progress_live);
  RunBudget budget;
  budget.seconds = o.budget_minutes * 60;
  auto run = RunSuite(
      **backend, *suite, progress, [&](const v1::Submission& partial) { return checkpoints.Put(partial); },
      budget);
  if (!run.ok()) return Fail(console, run.status());
  const v1::Submission* submission = &run->submission;
  const auto checkpoint = checkpoints.PathFor(submission->submission_id());
  if (submission->sweeps_size() == 0 && !run->stopped.ok()) {
    // Nothing finished (the device faulted in the first sweep): no result.
    std::error_code ec;
    std::filesystem::remove(checkpoint, ec);
    return Fail(console, absl::Status(run->stopped.code(), std::string(run->stopped.message()) +
                                                               "; no sweep finished, nothing was kept"));
  }
  if (auto st = checkpoints.Put(*submission); !st.ok()) return Fail(console, st);
  if (checkpoints.dir() != outbox.dir()) {
    if (auto st = MoveInto(checkpoint, outbox.dir()); !st.ok()) return Fail(console, st);
  }
  const auto stored = outbox.PathFor(submission->submission_id());
  // A device fault ended the run early: the finished sweeps go on as usual
  // (table, consent, upload), and the exit code says the run is incomplete.
  const bool stopped = !run->stopped.ok();
  std::string presets_left;  // the presets with sweeps that did not run, in order
  for (const auto& item : run->not_run) {
    if (("," + presets_left + ",").find("," + item.preset + ",") != std::string::npos) continue;
    presets_left += (presets_left.empty() ? "" : ",") + item.preset;
  }
  auto say_stopped = [&] {
    if (!stopped) return;
    console.err << "localbench-agent: the run stopped early: " << run->stopped.message() << ". "
                << submission->sweeps_size() << " finished sweep(s) kept; " << run->not_run.size()
                << " sweep(s) did not run. The device is unusable in this process; run the rest in a new one: "
                << "localbench-agent run --device " << (*backend)->name() << " --presets " << presets_left
                << "\n";
  };
  auto result_code = [&](int rc) { return stopped ? kExitFailure : rc; };
  if (!inv.output_path.empty()) {
    if (auto st = WriteSubmissionFile(inv.output_path, *submission); !st.ok()) return Fail(console, st);
  }

  // The table goes to stdout unless stdout carries JSON or CSV.
  const bool stdout_taken = o.json_path == "-" || o.csv_path == "-";
  (stdout_taken ? console.err : console.out) << "\n" << FormatTable(*submission) << "\n";
  if (auto st = WriteMachineOutputs(o, *submission, console); !st.ok()) return Fail(console, st);

  if (o.offline) {
    console.err << "localbench-agent: results written to " << stored.string()
                << " (offline: not published; to publish later: localbench-agent upload " << stored.string()
                << ")\n";
    say_stopped();
    return result_code(kExitOk);
  }
  bool publish = o.yes;
  if (!publish) {
    if (!console.interactive) {
      console.err << "localbench-agent: not published: no terminal to ask and no --yes. The results wait in "
                  << stored.string() << "; publish them with: localbench-agent upload\n";
      say_stopped();
      return result_code(kExitNotPublished);
    }
    console.err << "Publish these results to localbench? [y/N] ";
    console.err.flush();
    std::string answer;
    std::getline(console.in, answer);
    publish = answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
    if (!publish) {
      // Declined: out of the outbox (nothing pending), kept for the record.
      const auto kept = state_dir / "results" / stored.filename();
      std::error_code ec;
      std::filesystem::create_directories(kept.parent_path(), ec);
      std::filesystem::rename(stored, kept, ec);
      const auto where = (ec ? stored : kept).string();
      console.err << "localbench-agent: not published. Results kept at " << where
                  << " (to publish later: localbench-agent upload " << where << ")\n";
      say_stopped();
      return result_code(kExitNotPublished);
    }
  }
  const int rc = Upload(state_dir, o.connection, console, upload);
  say_stopped();
  return result_code(rc == kExitOk ? kExitOk : kExitNotPublished);
}

int UploadCommand(const Invocation& inv, Console& console, const UploadSettings& upload) {
  const auto state_dir = ResolveStateDir(inv.state_dir);
  auto lock = LockState(state_dir, console);
  if (!lock.ok()) return Fail(console, lock.status());
  return Upload(state_dir, inv.run.connection, console, upload, inv.upload_files);
}

int EnrollCommand(const Invocation& inv, Console& console, const UploadSettings& upload) {
  const auto state_dir = ResolveStateDir(inv.state_dir);
  auto lock = StateLock::Acquire(state_dir);
  if (!lock.ok()) return Fail(console, lock.status());
  const auto& c = inv.run.connection;
  auto channel = OpenChannel(c);
  if (!channel.ok()) return Fail(console, channel.status());
  IngestClient client(*channel, "", upload.policy, upload.sleeper);
  v1::EnrollRequest request;
  request.set_machine_fingerprint(MachineFingerprint(ProbeHost()));
  request.set_agent_version(AgentVersion());
  auto response = client.Enroll(request);
  if (!response.ok()) return Fail(console, response.status());
  if (response->agent_token().empty()) {
    return Fail(console, absl::InternalError("the collector returned no token"));
  }
  AgentConfig config;
  config.collector = c.collector;
  config.agent_id = response->agent_id();
  config.agent_token = response->agent_token();
  config.insecure = c.insecure;
  if (!c.ca_cert_path.empty()) config.ca_cert_path = std::filesystem::absolute(c.ca_cert_path).string();
  config.tls_server_name = c.tls_server_name;
  if (auto st = SaveConfig(state_dir, config); !st.ok()) return Fail(console, st);
  console.err << "localbench-agent: enrolled with " << c.collector << " as agent " << config.agent_id
              << "; token stored in " << ConfigPath(state_dir).string() << " (mode 0600)\n";
  return kExitOk;
}

int ShowCommand(const Invocation& inv, Console& console) {
  auto submission = LoadResults(inv.show_path);
  if (!submission.ok()) return Fail(console, submission.status());
  if (inv.run.json_path.empty() && inv.run.csv_path.empty()) console.out << FormatTable(*submission);
  if (auto st = WriteMachineOutputs(inv.run, *submission, console); !st.ok()) return Fail(console, st);
  return kExitOk;
}

int Dispatch(const Invocation& inv, Console& console, const UploadSettings& upload) {
  switch (inv.command) {
    case Command::kRun: return RunCommand(inv, console, upload, {});
    case Command::kUpload: return UploadCommand(inv, console, upload);
    case Command::kEnroll: return EnrollCommand(inv, console, upload);
    case Command::kShow: return ShowCommand(inv, console);
    case Command::kNone: break;
  }
  console.err << "localbench-agent: no command given (run, upload, enroll or show)\n";
  return kExitUsage;
}

}  // namespace localbench::agent
