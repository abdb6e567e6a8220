// End to end: localbench-agent (through its library, and the real binary as
// a child process) runs tiny presets on a memory-limited CPU device, enrols
// and uploads over real gRPC to a real collector, and the rows land in a
// real PostgreSQL with the measured OOM bracket. Also: the collector down
// during upload (nothing lost, delivered later exactly once) and a collector
// that refuses the token (clear message, outbox kept), and a file refused
// for good (set aside in rejected/, not retried).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "localbench/agent/app.h"
#include "localbench/agent/cli.h"
#include "localbench/agent/outbox.h"
#include "localbench/agent/state.h"
#include "localbench/common/crypto.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/tiny_bracket.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::agent {
namespace {

namespace fs = std::filesystem;
using test_support::InProcessCollector;
using test_support::PostgresEnvironment;

// A fresh state directory per test, removed afterwards.
class StateDir {
 public:
  StateDir() : path_(fs::path(::testing::TempDir()) / ("agent-e2e-" + RandomHex(6))) {}
  ~StateDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The outcome of one agent command run in-process.
struct Outcome {
  int rc = -1;
  std::string out, err;
};

// Tiny, fast retries: the test never sleeps for real.
UploadSettings FastRetries(std::vector<std::chrono::milliseconds>* waits = nullptr) {
  UploadSettings s;
  s.policy.max_attempts = 3;
  s.policy.initial_backoff = std::chrono::milliseconds(1);
  s.policy.call_deadline = std::chrono::milliseconds(5000);
  s.sleeper = [waits](std::chrono::milliseconds d) {
    if (waits) waits->push_back(d);
  };
  return s;
}

Outcome Agent(const std::vector<std::string>& args, const UploadSettings& settings = FastRetries()) {
  auto parsed = ParseCommandLine(args);
  Outcome o;
  if (!parsed.ok) {
    o.rc = parsed.exit_code;
    o.err = parsed.error;
    return o;
  }
  std::ostringstream out, err;
  std::istringstream in;
  Console console{out, err, in};
  console.progress = std::tmpfile();
  o.rc = Dispatch(parsed.invocation, console, settings);
  std::fclose(console.progress);
  o.out = out.str();
  o.err = err.str();
  return o;
}

// The CPU memory limit whose OOM bracket the agent must measure and the
// collector store: (6, 7).
std::string LimitForBracketAtSix() { return std::to_string(test_support::LimitForBracketAtSix()); }

// A run of tiny-llama prefill (swept to its OOM threshold) and llama-3.1-8b
// (which cannot fit: recorded, not attempted).
std::vector<std::string> RunArgs(const StateDir& state, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", "--device", "cpu", "--presets", "tiny-llama,llama-3.1-8b",
                                "--workloads", "prefill", "--precisions", "fp32", "--prompt-tokens", "16",
                                "--max-batch", "64", "--repetitions", "2", "--memory-limit",
                                LimitForBracketAtSix(), "--state-dir", state.str()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

long Count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  return tx.exec1(sql)[0].as<long>();
}

TEST(AgentE2E, RunPublishesRowsWithTheOomBracket) {
  auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase());
  ASSERT_TRUE(collector.ok()) << collector.status();
  StateDir state;
  auto enrolled = Agent({"enroll", "--collector", (*collector)->address(), "--insecure", "--state-dir", state.str()});
  ASSERT_EQ(enrolled.rc, kExitOk) << enrolled.err;
  EXPECT_EQ(fs::status(ConfigPath(state.path())).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // The secret is stored, never printed.
  auto config = LoadConfig(state.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(enrolled.err.find(config->agent_token), std::string::npos);

  auto run = Agent(RunArgs(state, {"--yes"}));
  ASSERT_EQ(run.rc, kExitOk) << run.err;
  EXPECT_NE(run.out.find("largest batch that fits: 6, smallest that failed: 7"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("published 1 submission"), std::string::npos) << run.err;
  EXPECT_TRUE(Outbox(OutboxDir(state.path())).Pending().empty());

  pqxx::connection conn((*collector)->db_url());
  pqxx::work tx(conn);
  auto sweeps = tx.exec(
      "SELECT model_preset, largest_ok_batch, smallest_failed_batch, planned_max_batch "
      "FROM sweeps ORDER BY sweep_index");
  ASSERT_EQ(sweeps.size(), 2u);
  EXPECT_EQ(sweeps[0][0].as<std::string>(), "tiny-llama");
  EXPECT_EQ(sweeps[0][1].as<int>(), 6);
  EXPECT_EQ(sweeps[0][2].as<int>(), 7);
  EXPECT_EQ(sweeps[0][3].as<int>(), 6);
  EXPECT_EQ(sweeps[1][0].as<std::string>(), "llama-3.1-8b");
  EXPECT_EQ(sweeps[1][1].as<int>(), 0);
  auto oom = tx.exec("SELECT batch_size FROM points WHERE status = 'oom'");
  ASSERT_EQ(oom.size(), 1u);
  EXPECT_EQ(oom[0][0].as<int>(), 7);
  auto ok = tx.exec("SELECT max(batch_size), min(tokens_per_second_median) FROM points WHERE status = 'ok'");
  EXPECT_EQ(ok[0][0].as<int>(), 6);
  EXPECT_GT(ok[0][1].as<double>(), 0.0);
  // Peak memory three ways, all stored: on the CPU device the arena, the
  // free-memory delta and the process's device usage agree with the plan.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM points WHERE status = 'ok' AND NOT (arena_peak_bytes = planned_bytes "
                     "AND device_delta_bytes = planned_bytes AND process_memory_bytes = planned_bytes)")[0]
                .as<long>(),
            0);
  auto skipped = tx.exec(
      "SELECT p.batch_size, p.repetitions, p.reproduce_command FROM points p JOIN sweeps s "
      "USING (submission_id, sweep_index) WHERE s.model_preset = 'llama-3.1-8b'");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0][1].as<int>(), 0);  // not attempted
  EXPECT_NE(skipped[0][2].as<std::string>().find("--presets llama-3.1-8b"), std::string::npos);
  auto status = tx.exec("SELECT status FROM points p JOIN sweeps s USING (submission_id, sweep_index) "
                        "WHERE s.model_preset = 'llama-3.1-8b'");
  EXPECT_EQ(status[0][0].as<std::string>(), "skipped_wont_fit");
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM points WHERE reproduce_command NOT LIKE 'localbench-agent run %'")[0]
                .as<long>(),
            0);
  // Enrolment and the run name the same machine.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM agents a JOIN machines m ON m.fingerprint = a.machine_fingerprint")[0]
                .as<long>(),
            1);
}

TEST(AgentE2E, CollectorDownDuringUploadLosesNothingAndDeliversOnce) {
  const std::string db = PostgresEnvironment::FreshDatabase();
  auto first = InProcessCollector::Start(db);
  ASSERT_TRUE(first.ok()) << first.status();
  StateDir state;
  ASSERT_EQ(Agent({"enroll", "--collector", (*first)->address(), "--insecure", "--state-dir", state.str()}).rc,
            kExitOk);
  (*first)->server().Shutdown(std::chrono::milliseconds(100));

  // The run finishes; the upload meets a dead collector and keeps the file.
  const std::string copy = (state.path() / "copy.pb").string();
  std::vector<std::chrono::milliseconds> waits;
  auto run = Agent(RunArgs(state, {"--yes", "--output", copy}), FastRetries(&waits));
  EXPECT_EQ(run.rc, kExitNotPublished) << run.err;
  EXPECT_NE(run.err.find("stay in"), std::string::npos) << run.err;
  EXPECT_EQ(waits.size(), 2u);  // 3 attempts, 2 backoffs, none slept for real
  Outbox outbox(OutboxDir(state.path()));
  ASSERT_EQ(outbox.Pending().size(), 1u);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM submissions"), 0);

  // The collector is back (same database, new port): upload delivers it.
  auto second = InProcessCollector::Start(db);
  ASSERT_TRUE(second.ok()) << second.status();
  auto upload = Agent({"upload", "--collector", (*second)->address(), "--insecure", "--state-dir", state.str()});
  ASSERT_EQ(upload.rc, kExitOk) << upload.err;
  EXPECT_TRUE(outbox.Pending().empty());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM submissions"), 1);
  const long points = Count(db, "SELECT count(*) FROM points");
  EXPECT_GT(points, 0);

  // Again, and the same file resent (a crash between ack and delete): the
  // collector keeps exactly one copy.
  upload = Agent({"upload", "--collector", (*second)->address(), "--insecure", "--state-dir", state.str()});
  EXPECT_EQ(upload.rc, kExitOk) << upload.err;
  EXPECT_NE(upload.err.find("nothing to upload"), std::string::npos);
  upload = Agent({"upload", copy, "--collector", (*second)->address(), "--insecure", "--state-dir", state.str()});
  EXPECT_EQ(upload.rc, kExitOk) << upload.err;
  EXPECT_TRUE(outbox.Pending().empty());
  EXPECT_EQ(Count(db, "SELECT count(*) FROM submissions"), 1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM points"), points);
}

TEST(AgentE2E, RefusedTokenIsClearAndKeepsTheOutbox) {
  auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase());
  ASSERT_TRUE(collector.ok()) << collector.status();
  StateDir state;
  ASSERT_EQ(Agent({"enroll", "--collector", (*collector)->address(), "--insecure", "--state-dir", state.str()}).rc,
            kExitOk);
  auto config = LoadConfig(state.path());
  ASSERT_TRUE(config.ok());
  config->agent_token = RandomHex(32);  // a token the collector never issued
  ASSERT_TRUE(SaveConfig(state.path(), *config).ok());

  auto run = Agent(RunArgs(state, {"--yes"}));
  EXPECT_EQ(run.rc, kExitNotPublished);
  EXPECT_NE(run.err.find("refused this agent's token"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find(config->agent_token), std::string::npos);  // never echoed
  EXPECT_EQ(Outbox(OutboxDir(state.path())).Pending().size(), 1u);
  EXPECT_EQ(Count((*collector)->db_url(), "SELECT count(*) FROM submissions"), 0);
}

// Issue 8, item 6: a partial run stored under the run's id (as an upload in
// the middle of a run once could) makes the collector refuse the final file
// with ALREADY_EXISTS. That file is set aside with the reason, not retried by
// every later upload.
TEST(AgentE2E, RefusedForGoodIsSetAsideNotRetriedForEver) {
  auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase());
  ASSERT_TRUE(collector.ok()) << collector.status();
  StateDir state;
  const std::string address = (*collector)->address();
  ASSERT_EQ(Agent({"enroll", "--collector", address, "--insecure", "--state-dir", state.str()}).rc, kExitOk);
  const std::string full = (state.path() / "full.pb").string();
  auto run = Agent(RunArgs(state, {"--offline", "--output", full}));
  ASSERT_EQ(run.rc, kExitOk) << run.err;
  auto submission = LoadResults(full);
  ASSERT_TRUE(submission.ok()) << submission.status();
  ASSERT_EQ(submission->sweeps_size(), 2);
  v1::Submission partial = *submission;
  partial.mutable_sweeps()->RemoveLast();
  const std::string partial_path = (state.path() / "partial.pb").string();
  ASSERT_TRUE(WriteSubmissionFile(partial_path, partial).ok());
  auto up = Agent({"upload", partial_path, "--state-dir", state.str()});
  ASSERT_EQ(up.rc, kExitOk) << up.err;

  up = Agent({"upload", full, "--state-dir", state.str()});
  EXPECT_EQ(up.rc, kExitFailure) << up.err;
  EXPECT_NE(up.err.find("refused for good and set aside"), std::string::npos) << up.err;
  const fs::path aside = RejectedDir(state.path()) / (submission->submission_id() + ".pb");
  EXPECT_TRUE(fs::exists(aside)) << up.err;
  auto reason = ReadFile(aside.string() + ".reason.txt");
  ASSERT_TRUE(reason.ok()) << reason.status();
  EXPECT_NE(reason->find("ALREADY_EXISTS"), std::string::npos) << *reason;
  EXPECT_TRUE(Outbox(OutboxDir(state.path())).Pending().empty());

  // The next upload has nothing to retry: it succeeds at once.
  up = Agent({"upload", "--state-dir", state.str()});
  EXPECT_EQ(up.rc, kExitOk) << up.err;
  EXPECT_NE(up.err.find("nothing to upload"), std::string::npos) << up.err;
  EXPECT_EQ(Count((*collector)->db_url(), "SELECT count(*) FROM sweeps"), 1);  // the partial, as stored
}

// A self-signed certificate for DNS name "localhost" (its own CA) and its
// key, both PEM, made in-process so the test needs no openssl binary.
std::pair<std::string, std::string> SelfSignedLocalhost() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>("P-256"));
  EXPECT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    EXPECT_NE(ext, nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  std::string cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert); });
  std::string key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(cert);
  EVP_PKEY_free(key);
  return {cert_pem, key_pem};
}

TEST(AgentE2E, TlsByDefaultWithTheGivenCa) {
  auto [cert, key] = SelfSignedLocalhost();
  collector::CollectorOptions options;
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key, cert});
  options.credentials = grpc::SslServerCredentials(ssl);
  auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase(), options);
  ASSERT_TRUE(collector.ok()) << collector.status();
  StateDir state;
  fs::create_directories(state.path());
  const std::string ca = (state.path() / "ca.pem").string();
  ASSERT_TRUE(WriteFileAtomically(ca, cert).ok());
  const std::string address = (*collector)->address();

  // TLS against the system roots: the self-signed certificate is refused.
  auto refused = Agent({"enroll", "--collector", address, "--tls-server-name", "localhost", "--state-dir",
                        state.str()});
  EXPECT_EQ(refused.rc, kExitFailure);
  EXPECT_NE(refused.err.find("enrolment failed"), std::string::npos) << refused.err;
  // Plaintext to a TLS collector fails too.
  EXPECT_EQ(Agent({"enroll", "--collector", address, "--insecure", "--state-dir", state.str()}).rc, kExitFailure);
  EXPECT_FALSE(LoadConfig(state.path()).ok());

  // With the CA: enrolled, and the run publishes over TLS with the stored settings.
  auto enrolled = Agent({"enroll", "--collector", address, "--ca-cert", ca, "--tls-server-name", "localhost",
                         "--state-dir", state.str()});
  ASSERT_EQ(enrolled.rc, kExitOk) << enrolled.err;
  auto config = LoadConfig(state.path());
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->insecure);
  EXPECT_EQ(config->tls_server_name, "localhost");
  auto run = Agent(RunArgs(state, {"--yes"}));
  ASSERT_EQ(run.rc, kExitOk) << run.err;
  EXPECT_EQ(Count((*collector)->db_url(), "SELECT count(*) FROM submissions"), 1);
}

// Runs the real binary with stdin from /dev/null (no TTY); returns its exit
// code and merged output.
std::pair<int, std::string> RunBinary(const std::string& args) {
  const std::string cmd = std::string(LOCALBENCH_AGENT_BINARY) + " " + args + " </dev/null 2>&1";
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(AgentE2E, BinaryWithoutTerminalAsksNobodyAndSaysHowToPublish) {
  auto collector = InProcessCollector::Start(PostgresEnvironment::FreshDatabase());
  ASSERT_TRUE(collector.ok()) << collector.status();
  StateDir state;
  auto [rc, out] = RunBinary("enroll --insecure --collector " + (*collector)->address() + " --state-dir " + state.str());
  ASSERT_EQ(rc, 0) << out;
  std::string args;
  for (const auto& a : RunArgs(state)) args += " " + a;
  std::tie(rc, out) = RunBinary(args);
  EXPECT_EQ(rc, kExitNotPublished) << out;
  EXPECT_NE(out.find("localbench-agent: [1/"), std::string::npos) << out;  // plain progress lines
  EXPECT_NE(out.find("publish them with: localbench-agent upload"), std::string::npos) << out;
  EXPECT_EQ(Count((*collector)->db_url(), "SELECT count(*) FROM submissions"), 0);
  std::tie(rc, out) = RunBinary("upload --state-dir " + state.str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(Count((*collector)->db_url(), "SELECT count(*) FROM submissions"), 1);

  std::tie(rc, out) = RunBinary("run --batches 0");
  EXPECT_EQ(rc, kExitUsage) << out;
  std::tie(rc, out) = RunBinary("run --workloads nonsense");
  EXPECT_EQ(rc, kExitUsage);
  EXPECT_NE(out.find("unknown workload 'nonsense'"), std::string::npos) << out;
}

}  // namespace
}  // namespace localbench::agent
