#include "localbench/test_support/postgres_environment.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace localbench::test_support {
namespace {

std::unique_ptr<collector::PostgresCluster>& TheCluster() {
  static auto* cluster = new std::unique_ptr<collector::PostgresCluster>();
  return *cluster;
}

std::atomic<int> g_next_database{0};

}  // namespace

void PostgresEnvironment::SetUp() {
  auto cluster = collector::PostgresCluster::StartThrowaway();
  ASSERT_TRUE(cluster.ok()) << "throwaway PostgreSQL did not start: " << cluster.status();
  TheCluster() = *std::move(cluster);
}

void PostgresEnvironment::TearDown() {
  if (TheCluster() == nullptr) return;
  absl::Status st = TheCluster()->Stop();
  EXPECT_TRUE(st.ok()) << st;
  TheCluster().reset();
}

collector::PostgresCluster* PostgresEnvironment::Cluster() {
  collector::PostgresCluster* c = TheCluster().get();
  if (c == nullptr) {
    ADD_FAILURE() << "no throwaway PostgreSQL: add LOCALBENCH_USE_THROWAWAY_POSTGRES(); to the "
                     "test binary, or see the environment's start-up failure above";
  }
  return c;
}

std::string PostgresEnvironment::FreshDatabase() {
  collector::PostgresCluster* c = Cluster();
  if (c == nullptr) return "";
  const std::string name = absl::StrCat("test_", g_next_database.fetch_add(1));
  absl::Status st = c->CreateDatabase(name);
  if (!st.ok()) {
    ADD_FAILURE() << st;
    return "";
  }
  return c->UrlFor(name);
}

::testing::Environment* RegisterPostgresEnvironment() {
  return ::testing::AddGlobalTestEnvironment(new PostgresEnvironment());
}

}  // namespace localbench::test_support
