// Retry policy of uploads: exponential backoff with jitter, which codes are
// retried, that an unreachable collector is tried exactly max_attempts times
// with the recorded (not slept) waits, the rate-limit hint, and which
// refusals set a file aside instead of retrying it. The refusals come from a
// scripted Ingest service over real loopback gRPC: the collector's rate
// limiter does not exist yet, and its other refusals are covered end to end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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
  EXPECT_TRUE(IsRetryable(grpc::StatusCode::ABORTED));
  // Only with a rate-limit hint, which the client reads from the trailers.
  EXPECT_FALSE(IsRetryable(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(IsPermanentRefusal(absl::InvalidArgumentError("x")));
  EXPECT_TRUE(IsPermanentRefusal(absl::AlreadyExistsError("x")));
  EXPECT_TRUE(IsPermanentRefusal(absl::ResourceExhaustedError("x")));
  EXPECT_FALSE(IsPermanentRefusal(absl::UnavailableError("x")));
  EXPECT_FALSE(IsPermanentRefusal(absl::InternalError("x")));
  EXPECT_FALSE(IsPermanentRefusal(absl::UnauthenticatedError("x")));
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

TEST(AgentBackoff, RetryAfterHintParsing) {
  EXPECT_EQ(ParseRetryAfterMs("0"), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseRetryAfterMs("1500"), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseRetryAfterMs(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("-5"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("1.5"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("1234567890123"), std::nullopt);  // 13 digits
}

// One scripted answer of the fake collector.
struct Reply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string retry_after_ms;  // trailing metadata; empty: none
};

// An Ingest service answering Submit from a script: per submission id, a
// queue of replies (then OK). Counts the calls per id.
class ScriptedIngest final : public v1::Ingest::Service {
 public:
  void Script(const std::string& id, std::vector<Reply> replies) {
    absl::MutexLock lock(&mu_);
    script_[id] = std::move(replies);
  }
  int Calls(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return calls_[id];
  }
  grpc::Status Submit(grpc::ServerContext* context, const v1::SubmitRequest* request,
                      v1::SubmitResponse* response) override {
    const std::string id = request->submission().submission_id();
    Reply reply;
    {
      absl::MutexLock lock(&mu_);
      ++calls_[id];
      auto& queue = script_[id];
      if (!queue.empty()) {
        reply = queue.front();
        queue.erase(queue.begin());
      }
    }
    if (!reply.retry_after_ms.empty()) context->AddTrailingMetadata(kRetryAfterMsKey, reply.retry_after_ms);
    if (reply.code != grpc::StatusCode::OK) return grpc::Status(reply.code, "scripted refusal");
    response->set_submission_id(id);
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<Reply>> script_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

// The scripted service on 127.0.0.1:0 and a client with recorded waits.
class ScriptedCollector : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    ConnectionOptions c;
    c.collector = "127.0.0.1:" + std::to_string(port);
    c.insecure = true;
    auto channel = OpenChannel(c);
    ASSERT_TRUE(channel.ok()) << channel.status();
    policy_.max_attempts = 4;
    policy_.initial_backoff = std::chrono::milliseconds(10);
    policy_.max_retry_after = std::chrono::milliseconds(60000);
    client_ = std::make_unique<IngestClient>(*channel, "token", policy_,
                                             [this](std::chrono::milliseconds d) { waits_.push_back(d); }, 3);
  }
  void TearDown() override { server_->Shutdown(); }

  v1::Submission NewSubmission() {
    v1::Submission s;
    s.set_submission_id(NewUuid());
    return s;
  }

  ScriptedIngest service_;
  std::unique_ptr<grpc::Server> server_;
  RetryPolicy policy_;
  std::vector<std::chrono::milliseconds> waits_;
  std::unique_ptr<IngestClient> client_;
};

TEST_F(ScriptedCollector, RateLimitHintIsWaitedThenRetried) {
  const auto s = NewSubmission();
  service_.Script(s.submission_id(), {{grpc::StatusCode::RESOURCE_EXHAUSTED, "1500"},
                                      {grpc::StatusCode::RESOURCE_EXHAUSTED, "700"}});
  auto ack = client_->Submit(s);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(service_.Calls(s.submission_id()), 3);
  // At least what was asked (our own backoff, ~10-20 ms, is shorter).
  ASSERT_EQ(waits_.size(), 2u);
  EXPECT_EQ(waits_[0], std::chrono::milliseconds(1500));
  EXPECT_EQ(waits_[1], std::chrono::milliseconds(700));
}

TEST_F(ScriptedCollector, ResourceExhaustedWithoutHintIsNotRetried) {
  const auto s = NewSubmission();
  service_.Script(s.submission_id(), {{grpc::StatusCode::RESOURCE_EXHAUSTED, ""}});
  auto ack = client_->Submit(s);
  ASSERT_FALSE(ack.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(ack.status())) << ack.status();
  EXPECT_TRUE(IsPermanentRefusal(ack.status()));
  EXPECT_EQ(service_.Calls(s.submission_id()), 1);
  EXPECT_TRUE(waits_.empty());
}

TEST_F(ScriptedCollector, HintBeyondTheBoundOrRepeatedEndsTheUploadForLater) {
  const auto s = NewSubmission();
  service_.Script(s.submission_id(), {{grpc::StatusCode::RESOURCE_EXHAUSTED, "600000"}});
  auto ack = client_->Submit(s);
  ASSERT_FALSE(ack.ok());
  EXPECT_TRUE(absl::IsUnavailable(ack.status())) << ack.status();  // try later, not a refusal
  EXPECT_NE(ack.status().message().find("600000 ms"), std::string::npos) << ack.status();
  EXPECT_EQ(service_.Calls(s.submission_id()), 1);
  EXPECT_TRUE(waits_.empty());  // not slept: an upload does not hang for ten minutes

  const auto t = NewSubmission();
  service_.Script(t.submission_id(), std::vector<Reply>(4, {grpc::StatusCode::RESOURCE_EXHAUSTED, "100"}));
  ack = client_->Submit(t);
  ASSERT_FALSE(ack.ok());
  EXPECT_TRUE(absl::IsUnavailable(ack.status())) << ack.status();
  EXPECT_NE(ack.status().message().find("still rate limited"), std::string::npos) << ack.status();
  EXPECT_EQ(service_.Calls(t.submission_id()), policy_.max_attempts);
}

TEST_F(ScriptedCollector, RefusedForGoodIsSetAsideTheRestIsKeptOrSent) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(::testing::TempDir()) / ("agent-refused-" + RandomHex(6));
  Outbox outbox(root / "outbox");
  const auto exists = NewSubmission(), invalid = NewSubmission(), too_large = NewSubmission(),
             internal = NewSubmission(), fine = NewSubmission();
  for (const auto* s : {&exists, &invalid, &too_large, &internal, &fine}) ASSERT_TRUE(outbox.Put(*s).ok());
  ASSERT_TRUE(WriteFileAtomically(root / "outbox" / "garbage.pb", "not a submission").ok());
  service_.Script(exists.submission_id(), {{grpc::StatusCode::ALREADY_EXISTS, ""}});
  service_.Script(invalid.submission_id(), {{grpc::StatusCode::INVALID_ARGUMENT, ""}});
  service_.Script(too_large.submission_id(), {{grpc::StatusCode::RESOURCE_EXHAUSTED, ""}});
  service_.Script(internal.submission_id(), {{grpc::StatusCode::INTERNAL, ""}});

  auto report = UploadPending(outbox, *client_, root / "rejected");
  EXPECT_EQ(report.sent, 1);
  EXPECT_EQ(report.rejected, 4);  // three refusals and the unreadable file
  EXPECT_EQ(report.unreadable, 1);
  EXPECT_EQ(report.failed, 1);    // INTERNAL: may succeed later, kept
  ASSERT_EQ(outbox.Pending().size(), 1u);
  EXPECT_EQ(outbox.Pending()[0], outbox.PathFor(internal.submission_id()));
  for (const auto& [s, code] : {std::pair{&exists, "ALREADY_EXISTS"}, std::pair{&invalid, "INVALID_ARGUMENT"},
                                std::pair{&too_large, "RESOURCE_EXHAUSTED"}}) {
    const fs::path aside = root / "rejected" / (s->submission_id() + ".pb");
    EXPECT_TRUE(fs::exists(aside)) << aside;
    auto reason = ReadFile(aside.string() + ".reason.txt");
    ASSERT_TRUE(reason.ok()) << reason.status();
    EXPECT_NE(reason->find(code), std::string::npos) << *reason;
    EXPECT_NE(reason->find("scripted refusal"), std::string::npos) << *reason;
  }
  EXPECT_TRUE(fs::exists(root / "rejected" / "garbage.pb.reason.txt"));

  // The next upload sends only what can still succeed.
  report = UploadPending(outbox, *client_, root / "rejected");
  EXPECT_EQ(report.sent, 1);
  EXPECT_EQ(report.rejected, 0);
  EXPECT_TRUE(outbox.Pending().empty());
  EXPECT_EQ(service_.Calls(exists.submission_id()), 1);
  EXPECT_EQ(service_.Calls(invalid.submission_id()), 1);
  EXPECT_EQ(service_.Calls(too_large.submission_id()), 1);
  EXPECT_EQ(service_.Calls(internal.submission_id()), 2);
  fs::remove_all(root);
}

}  // namespace
}  // namespace localbench::agent
