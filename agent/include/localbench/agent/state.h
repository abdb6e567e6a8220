// The agent's state on disk: where it lives, and the enrolment (collector
// address and secret token) stored in a 0600 config file.
#ifndef LOCALBENCH_AGENT_STATE_H_
#define LOCALBENCH_AGENT_STATE_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace localbench::agent {

// The state directory: `flag` if set, else $LOCALBENCH_AGENT_HOME, else
// $XDG_STATE_HOME/localbench-agent, else ~/.local/state/localbench-agent.
std::filesystem::path ResolveStateDir(const std::string& flag);

// What enrolment stored. The token is a secret: never print it.
struct AgentConfig {
  std::string collector;        // HOST:PORT
  std::string agent_id;         // public id the collector gave this agent
  std::string agent_token;      // bearer token
  bool insecure = false;        // enrolled over plaintext (loopback / test)
  std::string ca_cert_path;     // TLS roots used at enrolment
  std::string tls_server_name;  // certificate name override used at enrolment
};

// The config file inside a state directory.
std::filesystem::path ConfigPath(const std::filesystem::path& state_dir);
// The outbox directory inside a state directory: finished submissions
// waiting for upload.
std::filesystem::path OutboxDir(const std::filesystem::path& state_dir);
// Where a run in progress checkpoints its submission after every sweep. Not
// the outbox: a partial run must never be uploaded (its id would then be
// taken by a payload that keeps growing). It moves to the outbox when the
// run ends, or, after a crash, when the next command holds the lock.
std::filesystem::path RunningDir(const std::filesystem::path& state_dir);
// Submissions the collector refused for good (each with a .reason.txt), set
// aside so no upload retries them.
std::filesystem::path RejectedDir(const std::filesystem::path& state_dir);

// An exclusive lock on a state directory (flock on `lock` inside it), held
// for a command's whole duration so two agents never share an outbox or a
// run in progress. Released when destroyed (or when the process dies).
class StateLock {
 public:
  // Takes the lock without waiting; FailedPrecondition naming the holder's
  // pid when another agent holds it. Creates the directory (mode 0700).
  static absl::StatusOr<StateLock> Acquire(const std::filesystem::path& state_dir);
  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// After a crash, a run's last checkpoint is left in RunningDir: its finished
// sweeps are a valid submission, so they move to the outbox. Call only while
// holding the StateLock (then no run is in progress). Returns how many moved.
absl::StatusOr<int> RecoverInterruptedRuns(const std::filesystem::path& state_dir);

// Writes the config atomically with mode 0600 (the directory 0700).
absl::Status SaveConfig(const std::filesystem::path& state_dir, const AgentConfig& config);
// Reads it; NotFound with advice to enrol when there is none. Refuses a
// config readable by others: a leaked token lets anyone publish as us.
absl::StatusOr<AgentConfig> LoadConfig(const std::filesystem::path& state_dir);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_STATE_H_
