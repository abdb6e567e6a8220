#include "localbench/collector/connection_pool.h"

#include "absl/strings/str_cat.h"

namespace localbench::collector {

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(std::string url, std::size_t size,
                                                                       Preparer prepare) {
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(std::move(url), size, std::move(prepare)));
  try {
    for (std::size_t i = 0; i < size; ++i) pool->free_.push_back(pool->Connect());
  } catch (const std::exception& e) {
    // libpq's message names host and database, never the password.
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
  return pool;
}

std::unique_ptr<pqxx::connection> ConnectionPool::Connect() {
  auto conn = std::make_unique<pqxx::connection>(url_);
  if (prepare_) prepare_(*conn);
  return conn;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_ptr<pqxx::connection> conn;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !free_.empty(); });
    conn = std::move(free_.back());
    free_.pop_back();
  }
  if (conn == nullptr || !conn->is_open()) {
    try {
      conn = Connect();
    } catch (const std::exception& e) {
      Release(nullptr);  // keep the slot; the next lease tries again
      return absl::UnavailableError(absl::StrCat("cannot reconnect to PostgreSQL: ", e.what()));
    }
  }
  return Lease(this, std::move(conn));
}

std::size_t ConnectionPool::InUse() {
  std::lock_guard lock(mu_);
  return size_ - free_.size();
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> conn) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_));
}

}  // namespace localbench::collector
