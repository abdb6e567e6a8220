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
// The outbox directory inside a state directory.
std::filesystem::path OutboxDir(const std::filesystem::path& state_dir);

// Writes the config atomically with mode 0600 (the directory 0700).
absl::Status SaveConfig(const std::filesystem::path& state_dir, const AgentConfig& config);
// Reads it; NotFound with advice to enrol when there is none. Refuses a
// config readable by others: a leaked token lets anyone publish as us.
absl::StatusOr<AgentConfig> LoadConfig(const std::filesystem::path& state_dir);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_STATE_H_
