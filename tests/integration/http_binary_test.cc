// The real localbench-collector binary with --http-listen: it prints the HTTP
// address beside the gRPC one, serves /healthz on it, and stops on SIGTERM.
#include <httplib.h>
#include <signal.h>

#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "child_process.h"
#include "localbench/test_support/postgres_environment.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

// SIGTERM, then the exit status (-1: did not exit normally).
int Stop(Child& c) {
  c.Signal(SIGTERM);
  return c.Wait();
}

TEST(HttpBinary, PrintsTheHttpAddressAndServesHealthz) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  ASSERT_FALSE(url.empty());
  Child c({LOCALBENCH_COLLECTOR_BINARY, "--db", url, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"});
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
  EXPECT_EQ(Stop(c), 0);
}

TEST(HttpBinary, RefusesAMalformedHttpAddress) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  ASSERT_FALSE(url.empty());
  Child c({LOCALBENCH_COLLECTOR_BINARY, "--db", url, "--listen", "127.0.0.1:0", "--http-listen", "nonsense"});
  EXPECT_FALSE(c.ReadLine().has_value());  // exits without announcing an address
  EXPECT_EQ(Stop(c), 1);                  // already exited, with status 1
}

}  // namespace
}  // namespace localbench::test_support
