// A throwaway PostgreSQL cluster for one test binary, as a GoogleTest
// Environment. Stable interface: the agent's end-to-end tests use it too.
//
// Usage, in any one .cc file of a test binary linking localbench_test_support:
//
//   LOCALBENCH_USE_THROWAWAY_POSTGRES();
//
//   TEST(Something, Works) {
//     std::string url = localbench::test_support::PostgresEnvironment::FreshDatabase();
//     ...  // an empty database of its own, in the shared cluster
//   }
//
// The cluster lives in a fresh mktemp -d directory under /tmp (reachable by
// the postgres user when the tests run as root), listens only on a private
// Unix socket (no port to collide on), runs without fsync (throwaway data),
// and is removed when the binary's tests end. If it cannot start, every test
// fails with the reason.
#ifndef LOCALBENCH_TEST_SUPPORT_POSTGRES_ENVIRONMENT_H_
#define LOCALBENCH_TEST_SUPPORT_POSTGRES_ENVIRONMENT_H_

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "localbench/collector/postgres_cluster.h"

namespace localbench::test_support {

// Starts the cluster before the first test and stops it after the last.
class PostgresEnvironment : public ::testing::Environment {
 public:
  // Starts the throwaway cluster (fatal test failure if it cannot).
  void SetUp() override;
  // Stops the cluster and removes its directory.
  void TearDown() override;

  // The running cluster. Fails the current test (and returns null) when the
  // environment is not registered or did not start.
  static collector::PostgresCluster* Cluster();

  // Creates a new, empty database in the cluster and returns its libpq URL.
  // Each call gives a distinct database, so tests never see each other's
  // rows. Returns "" (after failing the current test) when there is no
  // cluster.
  static std::string FreshDatabase();
};

// Registers PostgresEnvironment with GoogleTest; returns it. Prefer the
// macro below, which calls it during static initialisation.
::testing::Environment* RegisterPostgresEnvironment();

}  // namespace localbench::test_support

// Put once in a test binary to give it a throwaway cluster.
#define LOCALBENCH_USE_THROWAWAY_POSTGRES()                                 \
  [[maybe_unused]] static ::testing::Environment* const                     \
      localbench_throwaway_postgres_environment =                           \
          ::localbench::test_support::RegisterPostgresEnvironment()

#endif  // LOCALBENCH_TEST_SUPPORT_POSTGRES_ENVIRONMENT_H_
