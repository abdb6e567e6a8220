// Retry policy of uploads: exponential backoff with jitter, which codes are
// retried, and that an unreachable collector is tried exactly
// max_attempts times with the recorded (not slept) waits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "localbench/agent/uploader.h"
#include "localbench/common/crypto.h"

namespace localbench::agent {
namespace {

TEST(AgentBackoff, GrowsExponentiallyWithBoundedJitter) {
  RetryPolicy p;
  p.initial_backoff = std::chrono::milliseconds(100);
  p.multiplier = 2;
  p.max_backoff = std::chrono::milliseconds(1000);
  p.jitter = 0.2;
  std::mt19937_64 rng(42);
  EXPECT_EQ(BackoffFor(p, 1, rng).count(), 0);
  const double expected[] = {100, 200, 400, 800, 1000, 1000};
  for (int attempt = 2; attempt <= 7; ++attempt) {
    const auto base = expected[attempt - 2];
    const auto wait = static_cast<double>(BackoffFor(p, attempt, rng).count());
    EXPECT_GE(wait, base * 0.8 - 1) << attempt;
    EXPECT_LE(wait, base * 1.2 + 1) << attempt;
  }
}

TEST(AgentBackoff, JitterIsSeededAndSpreads) {
  RetryPolicy p;
  std::mt19937_64 a(7), b(7), c(8);
  std::vector<long> wa, wb, wc;
  for (int i = 0; i < 8; ++i) {
    wa.push_back(BackoffFor(p, 3, a).count());
    wb.push_back(BackoffFor(p, 3, b).count());
    wc.push_back(BackoffFor(p, 3, c).count());
  }
  EXPECT_EQ(wa, wb);  // same seed, same waits: tests are reproducible
  EXPECT_NE(wa, wc);  // another seed, other waits: agents do not retry in lockstep
  EXPECT_GT(*std::max_element(wa.begin(), wa.end()), *std::min_element(wa.begin(), wa.end()));
}

TEST(AgentBackoff, RetryableCodes) {
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::UNAVAILABLE));
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::ALREADY_EXISTS));
  auto st = FromGrpc(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token"), "upload");
  EXPECT_TRUE(absl::IsUnauthenticated(st));
  EXPECT_NE(st.message().find("enrol again"), std::string::npos);
}

// A loopback port nothing listens on: bound, then closed.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(AgentUploader, UnreachableCollectorIsTriedMaxAttemptsTimes) {
  ConnectionOptions c;
  c.collector = "127.0.0.1:" + std::to_string(ClosedPort());
  c.insecure = true;
  auto channel = OpenChannel(c);
  ASSERT_TRUE(channel.ok()) << channel.status();
  RetryPolicy p;
  p.max_attempts = 4;
  p.call_deadline = std::chrono::milliseconds(2000);
  std::vector<std::chrono::milliseconds> waits;
  IngestClient client(*channel, "token", p, [&](std::chrono::milliseconds d) { waits.push_back(d); }, 1);
  v1::Submission s;
  s.set_submission_id(NewUuid());
  auto r = client.Submit(s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status()) || absl::IsDeadlineExceeded(r.status())) << r.status();
  ASSERT_EQ(waits.size(), 3u);  // between 4 attempts
  EXPECT_LT(waits[0], waits[2]);
}

TEST(AgentUploader, ChannelOptionsAreChecked) {
  ConnectionOptions c;
  c.collector = "127.0.0.1:1";
  c.ca_cert_path = "/nonexistent/ca.pem";
  EXPECT_FALSE(OpenChannel(c).ok());
  const std::string not_pem = ::testing::TempDir() + "/not-a-cert.pem";
  ASSERT_TRUE(WriteFileAtomically(not_pem, "hello\n").ok());
  c.ca_cert_path = not_pem;  // exists, holds no certificate
  auto r = OpenChannel(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no PEM certificate"), std::string::npos);
  c.ca_cert_path.clear();
  c.collector = "nonsense";
  EXPECT_FALSE(OpenChannel(c).ok());
  c.collector = "127.0.0.1:1";
  EXPECT_TRUE(OpenChannel(c).ok());  // TLS with system roots by default
}

}  // namespace
}  // namespace localbench::agent
