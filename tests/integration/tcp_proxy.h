// A loopback TCP proxy for fault tests: agents connect to it, it forwards
// every connection to the collector's current port, and the test can cut the
// link (every open connection dropped mid-stream, new ones refused) and
// point it at a restarted collector. Plain sockets and one thread per
// direction: small and obviously correct beats fast here.
#ifndef LOCALBENCH_TESTS_INTEGRATION_TCP_PROXY_H_
#define LOCALBENCH_TESTS_INTEGRATION_TCP_PROXY_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace localbench::test_support {

// Forwards 127.0.0.1:port() to 127.0.0.1:backend port.
class TcpProxy {
 public:
  // Listens on a free loopback port; crashes when it cannot (a broken test
  // machine, not a test outcome).
  explicit TcpProxy(int backend_port) : backend_port_(backend_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 512) != 0 || pipe2(wake_, O_CLOEXEC) != 0) {
      std::abort();
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpProxy() {
    stopping_ = true;
    (void)!write(wake_[1], "x", 1);
    acceptor_.join();
    Cut();
    std::vector<std::thread> pumps;
    {
      absl::MutexLock lock(&mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    close(listen_fd_);
    close(wake_[0]);
    close(wake_[1]);
  }

  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // "127.0.0.1:PORT", for the agents.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Where new connections go from now on (a restarted collector).
  void SetBackend(int port) { backend_port_ = port; }

  // Drops every open connection (both directions, mid-stream) and refuses
  // (accepts and closes at once) new ones until Restore().
  void Cut() {
    refusing_ = true;
    absl::MutexLock lock(&mu_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
    cuts_ += static_cast<int>(open_.size() / 2);  // two sockets per connection
  }

  // Forwards new connections again.
  void Restore() { refusing_ = false; }

  // Connections dropped by Cut() so far.
  int connections_cut() const {
    absl::MutexLock lock(&mu_);
    return cuts_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (refusing_) {
        close(client);
        continue;
      }
      const int server = Connect(backend_port_);
      if (server < 0) {  // the collector is down: the agent sees a closed connection
        close(client);
        continue;
      }
      absl::MutexLock lock(&mu_);
      open_.insert(client);
      open_.insert(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  static int Connect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd >= 0) close(fd);
      return -1;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }

  // Copies bytes both ways until either side ends or the link is cut.
  void Pump(int client, int server) {
    char buf[16384];
    for (;;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          done = true;
          break;
        }
        const int to = fds[1 - i].fd;
        for (ssize_t sent = 0; sent < n;) {
          const ssize_t w = send(to, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
          if (w <= 0) {
            done = true;
            break;
          }
          sent += w;
        }
      }
      if (done) break;
    }
    absl::MutexLock lock(&mu_);
    open_.erase(client);
    open_.erase(server);
    close(client);
    close(server);
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> backend_port_;
  std::atomic<bool> refusing_{false};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  std::set<int> open_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
  int cuts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace localbench::test_support

#endif  // LOCALBENCH_TESTS_INTEGRATION_TCP_PROXY_H_
