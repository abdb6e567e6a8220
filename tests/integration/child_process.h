// A child process for tests of the real binaries: its stdout on a pipe,
// read line by line; stderr passes through to the test's log.
#ifndef LOCALBENCH_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define LOCALBENCH_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace localbench::test_support {

// A child process with its stdout on a pipe; stderr passes through to the
// test's log.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_ >= 0) close(out_);
  }

  // Reads stdout up to the next newline; nullopt at end of file.
  std::optional<std::string> ReadLine() {
    std::string line;
    char c = 0;
    for (;;) {
      const ssize_t n = read(out_, &c, 1);
      if (n == 1) {
        if (c == '\n') return line;
        line.push_back(c);
      } else if (n == 0 || errno != EINTR) {
        return line.empty() ? std::nullopt : std::optional<std::string>(line);
      }
    }
  }

  // The address from "localbench-collector: listening on HOST:PORT (...)".
  std::optional<std::string> WaitForAddress() {
    static const std::regex kListening(R"(^localbench-collector: listening on (\S+) \((plaintext|tls)\)$)");
    while (auto line = ReadLine()) {
      std::smatch m;
      if (std::regex_match(*line, m, kListening)) return m[1].str();
    }
    return std::nullopt;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Exit status, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool started() const { return pid_ > 0; }

  // The child's PID (-1 once waited for).
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

}  // namespace localbench::test_support

#endif  // LOCALBENCH_TESTS_INTEGRATION_CHILD_PROCESS_H_
