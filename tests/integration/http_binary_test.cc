// The real localbench-collector binary with --http-listen: it prints the HTTP
// address beside the gRPC one, serves /healthz on it, and stops on SIGTERM.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "localbench/test_support/postgres_environment.h"

extern char** environ;

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

// The collector as a child process with its stdout on a pipe.
class Collector {
 public:
  explicit Collector(std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Collector() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_ >= 0) close(out_);
  }
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
  int Stop() {
    kill(pid_, SIGTERM);
    return Wait();
  }

 private:
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST(HttpBinary, PrintsTheHttpAddressAndServesHealthz) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  ASSERT_FALSE(url.empty());
  Collector c({LOCALBENCH_COLLECTOR_BINARY, "--db", url, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"});
  auto grpc_line = c.ReadLine();
  ASSERT_TRUE(grpc_line.has_value());
  EXPECT_TRUE(std::regex_match(*grpc_line, std::regex(R"(localbench-collector: listening on \S+ \(plaintext\))")))
      << *grpc_line;
  auto http_line = c.ReadLine();
  ASSERT_TRUE(http_line.has_value());
  std::smatch m;
  ASSERT_TRUE(std::regex_match(*http_line, m, std::regex(R"(localbench-collector: http listening on 127\.0\.0\.1:(\d+))")))
      << *http_line;
  httplib::Client client("127.0.0.1", std::stoi(m[1]));
  auto r = client.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"status\":\"ok\""), std::string::npos) << r->body;
  EXPECT_EQ(c.Stop(), 0);
}

TEST(HttpBinary, RefusesAMalformedHttpAddress) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  ASSERT_FALSE(url.empty());
  Collector c({LOCALBENCH_COLLECTOR_BINARY, "--db", url, "--listen", "127.0.0.1:0", "--http-listen", "nonsense"});
  EXPECT_FALSE(c.ReadLine().has_value());  // exits without announcing an address
  EXPECT_EQ(c.Stop(), 1);                  // already exited, with status 1
}

}  // namespace
}  // namespace localbench::test_support
