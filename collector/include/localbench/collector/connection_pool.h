// A fixed-size pool of PostgreSQL connections, one per server worker thread.
#ifndef LOCALBENCH_COLLECTOR_CONNECTION_POOL_H_
#define LOCALBENCH_COLLECTOR_CONNECTION_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace localbench::collector {

// Hands out connections for the length of one request. libpqxx 6.4
// connections are neither movable nor thread-safe, so each lives in a
// unique_ptr and is used by one thread at a time. A connection found broken
// is replaced on its next lease, so a database restart heals by itself.
class ConnectionPool {
 public:
  // Prepares statements on every new connection (called again after a
  // reconnect), so handlers can use exec_prepared.
  using Preparer = std::function<void(pqxx::connection&)>;

  // Opens `size` connections to `url` (a libpq URL or key=value string).
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(std::string url, std::size_t size,
                                                                Preparer prepare = nullptr);

  // One leased connection; returns it to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    pqxx::connection& operator*() const { return *conn_; }
    pqxx::connection* operator->() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  // Waits for a free connection (there are as many as server threads, so the
  // wait is short) and reconnects it when broken. Fails only when a broken
  // connection cannot be re-established.
  absl::StatusOr<Lease> Acquire();

  // Connections in the pool.
  std::size_t size() const { return size_; }

  // Connections leased now (the pool-usage metric).
  std::size_t InUse();

 private:
  ConnectionPool(std::string url, std::size_t size, Preparer prepare)
      : url_(std::move(url)), size_(size), prepare_(std::move(prepare)) {}
  std::unique_ptr<pqxx::connection> Connect();
  void Release(std::unique_ptr<pqxx::connection> conn);

  const std::string url_;
  const std::size_t size_;
  const Preparer prepare_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> free_ ABSL_GUARDED_BY(mu_);  // null entries: to reconnect
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_CONNECTION_POOL_H_
