#include "localbench/agent/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>
#include <sstream>
#include <system_error>

#include "localbench/agent/outbox.h"

namespace localbench::agent {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Values are single-line; a newline inside one would forge another key.
bool SafeValue(const std::string& v) { return v.find_first_of("\r\n") == std::string::npos; }

}  // namespace

std::filesystem::path ResolveStateDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (auto home = Env("LOCALBENCH_AGENT_HOME"); !home.empty()) return home;
  if (auto xdg = Env("XDG_STATE_HOME"); !xdg.empty()) return std::filesystem::path(xdg) / "localbench-agent";
  if (auto home = Env("HOME"); !home.empty()) {
    return std::filesystem::path(home) / ".local" / "state" / "localbench-agent";
  }
  return std::filesystem::path(".localbench-agent");
}

std::filesystem::path ConfigPath(const std::filesystem::path& state_dir) { return state_dir / "agent.conf"; }
std::filesystem::path OutboxDir(const std::filesystem::path& state_dir) { return state_dir / "outbox"; }
std::filesystem::path RunningDir(const std::filesystem::path& state_dir) { return state_dir / "running"; }
std::filesystem::path RejectedDir(const std::filesystem::path& state_dir) { return state_dir / "rejected"; }

absl::StatusOr<StateLock> StateLock::Acquire(const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return absl::InternalError("cannot create state directory " + state_dir.string() + ": " + ec.message());
  std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, ec);
  const auto path = state_dir / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError("cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) return absl::InternalError("cannot lock " + path.string() + ": " + std::strerror(err));
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return absl::FailedPreconditionError("another localbench-agent" + (holder.empty() ? "" : " (pid " + holder + ")") +
                                         " is using " + state_dir.string() +
                                         "; wait for it to finish, or use another --state-dir");
  }
  // Who holds it, for the message above; advisory only (flock decides).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return StateLock(fd);
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

absl::StatusOr<int> RecoverInterruptedRuns(const std::filesystem::path& state_dir) {
  Outbox running(RunningDir(state_dir));
  int moved = 0;
  for (const auto& file : running.Pending()) {
    if (auto st = MoveInto(file, OutboxDir(state_dir)); !st.ok()) return st;
    ++moved;
  }
  return moved;
}

absl::Status SaveConfig(const std::filesystem::path& state_dir, const AgentConfig& config) {
  for (const auto* v : {&config.collector, &config.agent_id, &config.agent_token, &config.ca_cert_path,
                        &config.tls_server_name}) {
    if (!SafeValue(*v)) return absl::InvalidArgumentError("config values must be single lines");
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return absl::InternalError("cannot create state directory " + state_dir.string() + ": " + ec.message());
  std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, ec);
  std::ostringstream out;
  out << "# localbench-agent enrolment. Holds a secret token: keep this file private (mode 0600).\n"
      << "collector=" << config.collector << "\n"
      << "agent_id=" << config.agent_id << "\n"
      << "agent_token=" << config.agent_token << "\n"
      << "insecure=" << (config.insecure ? "true" : "false") << "\n"
      << "ca_cert=" << config.ca_cert_path << "\n"
      << "tls_server_name=" << config.tls_server_name << "\n";
  return WriteFileAtomically(ConfigPath(state_dir), out.str(), 0600);
}

absl::StatusOr<AgentConfig> LoadConfig(const std::filesystem::path& state_dir) {
  const auto path = ConfigPath(state_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError("this agent is not enrolled (no " + path.string() +
                               "); run: localbench-agent enroll --collector HOST:PORT");
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(path.string() +
                                       " is readable by other users; it holds a secret token. Fix with: chmod 600 " +
                                       path.string());
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  AgentConfig config;
  std::istringstream in(*text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      return absl::DataLossError(path.string() + ":" + std::to_string(lineno) + ": expected key=value");
    }
    const auto key = line.substr(0, eq);
    const auto value = line.substr(eq + 1);
    if (key == "collector") config.collector = value;
    else if (key == "agent_id") config.agent_id = value;
    else if (key == "agent_token") config.agent_token = value;
    else if (key == "insecure") config.insecure = value == "true";
    else if (key == "ca_cert") config.ca_cert_path = value;
    else if (key == "tls_server_name") config.tls_server_name = value;
    // Unknown keys are ignored so a newer agent's file still loads.
  }
  if (config.collector.empty() || config.agent_token.empty()) {
    return absl::DataLossError(path.string() + " lacks the collector or the token; enrol again");
  }
  return config;
}

}  // namespace localbench::agent
