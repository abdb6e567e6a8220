// A private PostgreSQL cluster driven through initdb/pg_ctl: the collector's
// embedded mode (no --db) and the test harness's throwaway database.
#ifndef LOCALBENCH_COLLECTOR_POSTGRES_CLUSTER_H_
#define LOCALBENCH_COLLECTOR_POSTGRES_CLUSTER_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace localbench::collector {

// How to run a cluster.
struct PostgresClusterOptions {
  // Holds pgdata/ (the cluster) and postgres.log. Created when missing; the
  // cluster is initialised on first start and reused afterwards.
  std::filesystem::path data_dir;
  // Database created (when missing) for the collector; url() points at it.
  std::string database = "localbench";
  // False for throwaway clusters: fsync and synchronous commit off, for
  // speed. Never for data anyone wants to keep.
  bool durable = true;
  // Remove data_dir entirely when the cluster stops (throwaway clusters).
  bool remove_on_stop = false;
  // Extra postgresql.conf lines ("name = value") written when the cluster is
  // initialised, e.g. "commit_delay = 200" for benchmarks.
  std::vector<std::string> settings;
  // When set, a new cluster is not initialised but copied from the running
  // cluster whose socket directory this is (pg_basebackup -R): it starts as
  // a streaming replica of that primary. For tests of the read split.
  std::string replica_of_socket_dir;
};

// A running cluster that listens only on a Unix socket in a fresh private
// directory under /tmp (listen_addresses=''), so it never collides with
// another server's port and only its owner can connect (trust auth on that
// socket; the directory is mode 0700). As root, initdb and pg_ctl run as the
// `postgres` user through runuser, because PostgreSQL refuses to run as root.
// Stops (fast shutdown) when destroyed.
//
// Crash-safe: the directory is locked (data_dir/cluster.lock, flock) for the
// cluster object's life, so two collectors never share it. A start that
// finds a server still running on this data directory (its collector was
// SIGKILLed or OOM-killed; the server lives in its own process group) stops
// it cleanly and starts afresh; a stale postmaster.pid (dead PID, or a PID
// now another program's) is removed; socket directories left in /tmp by
// earlier runs are removed once no live server uses them. A server is only
// ever acted on when its postmaster.pid names this data directory and its
// process works in it.
class PostgresCluster {
 public:
  // Initialises (first time) and starts a cluster. Fails with a message that
  // names the problem, e.g. a parent of data_dir the postgres user cannot
  // reach, or the tail of the server log when the server would not start.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> Start(PostgresClusterOptions options);

  // A throwaway cluster in a fresh mktemp -d directory under /tmp, not
  // durable, removed when stopped. For tests and benchmarks.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> StartThrowaway(
      bool durable = false, std::vector<std::string> settings = {});

  // A throwaway streaming replica of `primary` (same database, read-only,
  // following the primary's WAL), removed when stopped. For tests.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> StartThrowawayReplica(const PostgresCluster& primary);

  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // Stops the server (fast shutdown: open sessions are ended, committed data
  // is safe) and cleans up. Idempotent.
  absl::Status Stop();

  // For fault tests: stops the server the way a crash would (pg_ctl stop -m
  // immediate: no checkpoint, every session cut mid-transaction; the next
  // start replays the WAL). The socket directory stays, so url() still names
  // the server once StartAgain() has brought it back.
  absl::Status StopImmediately();

  // Starts a server stopped by StopImmediately() again on the same socket
  // directory (crash recovery runs first). No-op while running.
  absl::Status StartAgain();

  // libpq URL of options.database, e.g.
  // "postgresql://localbench@/localbench?host=/tmp/lbpg-abc123".
  std::string url() const { return UrlFor(options_.database); }

  // libpq URL of another database in this cluster.
  std::string UrlFor(std::string_view database) const;

  // Creates database `name` (letters, digits, underscore) when missing.
  absl::Status CreateDatabase(std::string_view name);

  // The cluster's data directory (options.data_dir).
  const std::filesystem::path& data_dir() const { return options_.data_dir; }

 private:
  explicit PostgresCluster(PostgresClusterOptions options) : options_(std::move(options)) {}
  absl::Status DoStart();
  // With the lock held: stops a server a dead collector left running on
  // this data directory, removes a stale postmaster.pid and stale socket
  // directories.
  absl::Status RecoverLeftovers();

  PostgresClusterOptions options_;
  std::string bindir_;
  std::filesystem::path socket_dir_;
  int lock_fd_ = -1;  // flock on data_dir/cluster.lock while >= 0
  bool running_ = false;
};

// The directory holding initdb and pg_ctl: $LOCALBENCH_PG_BINDIR, else
// `pg_config --bindir`, else Debian's /usr/lib/postgresql/15/bin.
absl::StatusOr<std::string> FindPostgresBinDir();

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_POSTGRES_CLUSTER_H_
