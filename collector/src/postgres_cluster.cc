#include "localbench/collector/postgres_cluster.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "localbench/collector/log.h"

extern char** environ;

namespace localbench::collector {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSuperuser = "localbench";

std::string Tail(const std::string& text, std::size_t max_chars = 2000) {
  return text.size() <= max_chars ? text : text.substr(text.size() - max_chars);
}

std::string ReadFileTail(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Tail(ss.str());
}

// Runs argv (searched on PATH) with "/" as working directory (the postgres
// user may not reach ours), default signal handling, an empty signal mask and
// its own process group (a Ctrl-C meant for the collector must not reach the
// database before the collector has shut down). Returns combined
// stdout+stderr, or an error holding it when the exit status is not 0.
absl::StatusOr<std::string> Run(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::FailedPreconditionError(absl::StrCat("cannot run ", argv[0], ": ", strerror(rc)));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) absl::StrAppend(&cmd, cmd.empty() ? "" : " ", a);
    return absl::InternalError(absl::StrCat("`", cmd, "` failed (status ", status, "): ", Tail(out)));
  }
  return out;
}

bool RunningAsRoot() { return geteuid() == 0; }

struct PostgresUser {
  uid_t uid;
  gid_t gid;
};

absl::StatusOr<PostgresUser> LookupPostgresUser() {
  struct passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return absl::FailedPreconditionError(
        "running as root needs a `postgres` system user to run PostgreSQL "
        "(install the postgresql package: scripts/bootstrap.sh)");
  }
  return PostgresUser{pw->pw_uid, pw->pw_gid};
}

// The prefix that makes a command run as the cluster's owner.
std::vector<std::string> AsOwner() {
  if (!RunningAsRoot()) return {};
  std::string runuser = "runuser";
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
    if (access(p, X_OK) == 0) {
      runuser = p;
      break;
    }
  }
  return {runuser, "-u", "postgres", "--"};
}

// As root, every existing parent of `dir` must be searchable by the postgres
// user, or the server cannot open its own files (e.g. under /root, mode 700).
absl::Status CheckReachable(const fs::path& dir, const PostgresUser& pg) {
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) {
      const bool reachable = (st.st_mode & S_IXOTH) != 0 || st.st_uid == pg.uid ||
                             (st.st_gid == pg.gid && (st.st_mode & S_IXGRP) != 0);
      if (!reachable) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "data directory %s is not reachable by the postgres user, which runs the embedded "
            "PostgreSQL: its parent %s has mode %04o and is not world-searchable (o+x). Choose "
            "a --data-dir whose parents are all o+x (e.g. /var/lib/localbench/collector), or "
            "`chmod o+x %s`",
            dir.string(), p.string(), st.st_mode & 07777, p.string()));
      }
    }
    if (p == p.root_path()) break;
  }
  return absl::OkStatus();
}

absl::Status Chown(const fs::path& p, const PostgresUser& pg) {
  if (chown(p.c_str(), pg.uid, pg.gid) != 0) {
    return absl::InternalError(absl::StrCat("chown postgres ", p.string(), ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// What a server's postmaster.pid says (the first lines PostgreSQL writes:
// PID, data directory, start time, port, socket directory, ...).
struct PostmasterPid {
  pid_t pid = 0;
  fs::path data_dir;
  fs::path socket_dir;
};

std::optional<PostmasterPid> ReadPostmasterPid(const fs::path& file) {
  std::ifstream in(file);
  std::string pid_line;
  PostmasterPid out;
  std::string data_line, start_line, port_line, socket_line;
  if (!std::getline(in, pid_line) || !std::getline(in, data_line)) return std::nullopt;
  std::getline(in, start_line);
  std::getline(in, port_line);
  std::getline(in, socket_line);
  char* end = nullptr;
  const long pid = std::strtol(pid_line.c_str(), &end, 10);
  if (end == pid_line.c_str() || pid <= 0) return std::nullopt;
  out.pid = static_cast<pid_t>(pid);
  out.data_dir = data_line;
  out.socket_dir = socket_line;
  return out;
}

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

bool SamePath(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const bool same = fs::equivalent(a, b, ec);
  return !ec && same;
}

// True when `pid` is a PostgreSQL server working in `pgdata`: the
// postmaster chdirs into its data directory, so its cwd names the cluster it
// serves whatever socket or port it uses. False when it cannot be told
// (a process of another user cannot be our server: ours runs as us, or as
// postgres when we are root, who may read every process).
bool IsServerOf(pid_t pid, const fs::path& pgdata) {
  std::error_code ec;
  const fs::path proc = fs::path("/proc") / std::to_string(pid);
  const std::string exe = fs::read_symlink(proc / "exe", ec).filename().string();
  if (ec || exe.rfind("postgres", 0) != 0) return false;  // "postgres" or "postgres (deleted)"
  const fs::path cwd = fs::read_symlink(proc / "cwd", ec);
  return !ec && SamePath(cwd, pgdata);
}

// A socket directory this code made (mkdtemp /tmp/lbpg-XXXXXX) that no live
// server uses any more: its .s.PGSQL.<port>.lock files name dead PIDs.
bool IsStaleSocketDir(const fs::path& dir) {
  if (dir.parent_path() != "/tmp" || dir.filename().string().rfind("lbpg-", 0) != 0) return false;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".s.PGSQL.", 0) != 0 || name.size() < 5 || name.substr(name.size() - 5) != ".lock") continue;
    std::ifstream in(entry.path());
    long pid = 0;
    if (in >> pid && pid > 0 && ProcessAlive(static_cast<pid_t>(pid))) return false;
  }
  return !ec;
}

}  // namespace

absl::StatusOr<std::string> FindPostgresBinDir() {
  if (const char* env = std::getenv("LOCALBENCH_PG_BINDIR"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  auto has_tools = [](const std::string& dir) {
    return access((dir + "/initdb").c_str(), X_OK) == 0 && access((dir + "/pg_ctl").c_str(), X_OK) == 0;
  };
  if (auto out = Run({"pg_config", "--bindir"}); out.ok()) {
    std::string dir = *out;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    if (has_tools(dir)) return dir;
  }
  const std::string debian = "/usr/lib/postgresql/15/bin";
  if (has_tools(debian)) return debian;
  return absl::NotFoundError(
      "PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package "
      "(scripts/bootstrap.sh) or set LOCALBENCH_PG_BINDIR");
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::Start(PostgresClusterOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data directory is empty");
  options.data_dir = fs::absolute(options.data_dir).lexically_normal();
  if (options.data_dir.has_filename() == false) options.data_dir = options.data_dir.parent_path();
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster(std::move(options)));
  absl::Status st = cluster->DoStart();
  if (!st.ok()) {
    (void)cluster->Stop();  // removes a half-made throwaway directory
    return st;
  }
  return cluster;
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::StartThrowaway(
    bool durable, std::vector<std::string> settings) {
  char tmpl[] = "/tmp/lbtest-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  // mkdtemp makes it 0700; the cluster's own checks and chown follow in Start.
  PostgresClusterOptions o;
  o.data_dir = tmpl;
  o.durable = durable;
  o.remove_on_stop = true;
  o.settings = std::move(settings);
  return Start(std::move(o));
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::StartThrowawayReplica(
    const PostgresCluster& primary) {
  char tmpl[] = "/tmp/lbtest-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  PostgresClusterOptions o;
  o.data_dir = tmpl;
  o.database = primary.options_.database;
  o.durable = false;
  o.remove_on_stop = true;
  o.replica_of_socket_dir = primary.socket_dir_.string();
  return Start(std::move(o));
}

absl::Status PostgresCluster::DoStart() {
  auto bindir = FindPostgresBinDir();
  if (!bindir.ok()) return bindir.status();
  bindir_ = *bindir;
  const fs::path& dir = options_.data_dir;
  const bool root = RunningAsRoot();
  PostgresUser pg{0, 0};
  if (root) {
    auto u = LookupPostgresUser();
    if (!u.ok()) return u.status();
    pg = *u;
    if (absl::Status st = CheckReachable(dir, pg); !st.ok()) return st;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  if (root) {
    if (absl::Status st = Chown(dir, pg); !st.ok()) return st;
  }
  chmod(dir.c_str(), 0700);

  // One collector per data directory. The lock dies with its holder (even on
  // SIGKILL), and is close-on-exec, so the server does not inherit it: a
  // server found running below while we hold the lock was left by a
  // collector that is gone.
  const fs::path lock = dir / "cluster.lock";
  lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open ", lock.string(), ": ", strerror(errno)));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd_);
    lock_fd_ = -1;
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir.string(), " is in use by another process (a running localbench-collector?): ",
        lock.string(), " is locked"));
  }

  const fs::path pgdata = dir / "pgdata";
  if (absl::Status st = RecoverLeftovers(); !st.ok()) return st;
  const std::vector<std::string> as_owner = AsOwner();
  auto cmd = [&](std::initializer_list<std::string> args) {
    std::vector<std::string> v = as_owner;
    v.insert(v.end(), args.begin(), args.end());
    return v;
  };
  if (!fs::exists(pgdata / "PG_VERSION")) {
    if (fs::exists(pgdata)) {
      return absl::FailedPreconditionError(absl::StrCat(
          pgdata.string(), " exists but holds no PostgreSQL cluster (no PG_VERSION): move it away"));
    }
    if (!options_.replica_of_socket_dir.empty()) {
      // A copy of the primary, settings included; -R writes standby.signal
      // and primary_conninfo, so it starts as a streaming replica.
      if (auto out = Run(cmd({bindir_ + "/pg_basebackup", "-h", options_.replica_of_socket_dir, "-U",
                              kSuperuser, "-D", pgdata.string(), "-R", "-X", "stream", "-c", "fast"}));
          !out.ok()) {
        return out.status();
      }
      LogLine(absl::StrCat("made a streaming replica in ", pgdata.string()));
    }
  }
  if (!fs::exists(pgdata / "PG_VERSION")) {
    std::vector<std::string> init = cmd({bindir_ + "/initdb", "-D", pgdata.string(), "-U", kSuperuser,
                                         "--auth=trust", "-E", "UTF8", "--locale=C"});
    if (!options_.durable) init.push_back("--no-sync");
    if (auto out = Run(init); !out.ok()) return out.status();
    // Settings that hold for every start of this cluster.
    std::ofstream conf(pgdata / "postgresql.conf", std::ios::app);
    conf << "\n# localbench: Unix socket only, in a private directory given at start (-k).\n"
         << "listen_addresses = ''\n"
         << "unix_socket_permissions = 0700\n";
    if (!options_.durable) {
      conf << "# localbench: throwaway cluster, durability traded for speed.\n"
           << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    }
    for (const std::string& line : options_.settings) conf << line << "\n";
    if (!conf) return absl::InternalError("cannot write postgresql.conf");
    LogLine(absl::StrCat("initialised PostgreSQL cluster in ", pgdata.string()));
  }

  // A short private socket directory: Unix socket paths are limited to ~100
  // bytes, and data_dir may be long.
  char tmpl[] = "/tmp/lbpg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  socket_dir_ = tmpl;
  if (root) {
    if (absl::Status st = Chown(socket_dir_, pg); !st.ok()) return st;
  }
  // Remembered so that a start after a crash removes it (RecoverLeftovers),
  // even when the server never got to write postmaster.pid.
  {
    std::ofstream record(dir / "socket_dir", std::ios::trunc);
    record << socket_dir_.string() << "\n";
    if (!record) return absl::InternalError(absl::StrCat("cannot write ", (dir / "socket_dir").string()));
  }
  const fs::path log = dir / "postgres.log";
  auto started = Run(cmd({bindir_ + "/pg_ctl", "-D", pgdata.string(), "-l", log.string(), "-w", "-t",
                          "60", "-o", "-k " + socket_dir_.string(), "start"}));
  if (!started.ok()) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL did not start: ", started.status().message(),
                                               "\nserver log (", log.string(), "):\n", ReadFileTail(log)));
  }
  running_ = true;
  return CreateDatabase(options_.database);
}

absl::Status PostgresCluster::RecoverLeftovers() {
  const fs::path& dir = options_.data_dir;
  const fs::path pgdata = dir / "pgdata";
  std::vector<fs::path> socket_dirs;
  if (std::ifstream record(dir / "socket_dir"); record) {
    std::string line;
    if (std::getline(record, line) && !line.empty()) socket_dirs.emplace_back(line);
  }
  const fs::path pid_file = pgdata / "postmaster.pid";
  std::error_code ec;
  if (fs::exists(pid_file, ec)) {
    const std::optional<PostmasterPid> pm = ReadPostmasterPid(pid_file);
    if (!pm) {
      return absl::FailedPreconditionError(absl::StrCat(
          pid_file.string(), " is unreadable or garbled: make sure no PostgreSQL server runs on ",
          pgdata.string(), ", then remove it"));
    }
    // Only ever act on a server of this data directory.
    if (!SamePath(pm->data_dir, pgdata)) {
      return absl::FailedPreconditionError(absl::StrCat(
          pid_file.string(), " names another data directory (", pm->data_dir.string(),
          "): not touching that server; remove the file once sure no server runs on ", pgdata.string()));
    }
    socket_dirs.push_back(pm->socket_dir);
    if (ProcessAlive(pm->pid) && IsServerOf(pm->pid, pgdata)) {
      // Left running by a collector that died (SIGKILL, OOM kill): stop it
      // cleanly (fast shutdown keeps every committed transaction) and start
      // our own below, with a fresh private socket directory.
      LogLine(absl::StrCat("PostgreSQL (pid ", pm->pid, ") is still running on ", pgdata.string(),
                           " from a previous collector that stopped without shutting it down: stopping it"));
      std::vector<std::string> stop = AsOwner();
      for (const std::string& a : {bindir_ + "/pg_ctl", std::string("-D"), pgdata.string(), std::string("-m"),
                                   std::string("fast"), std::string("-w"), std::string("-t"), std::string("60"),
                                   std::string("stop")}) {
        stop.push_back(a);
      }
      if (auto out = Run(stop); !out.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot stop the PostgreSQL server (pid ", pm->pid,
                                                   ") left running on ", pgdata.string(), ": ",
                                                   out.status().message()));
      }
    } else {
      // Its PID is dead, or now another program's (PostgreSQL would refuse
      // to start over a live PID): the file is stale.
      LogLine(absl::StrCat("removing stale ", pid_file.string(), " (pid ", pm->pid,
                           " is no PostgreSQL server of this cluster)"));
      fs::remove(pid_file, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot remove ", pid_file.string(), ": ", ec.message()));
    }
  }
  for (const fs::path& sock : socket_dirs) {
    if (IsStaleSocketDir(sock)) {
      fs::remove_all(sock, ec);
      if (!ec) LogLine(absl::StrCat("removed stale socket directory ", sock.string()));
    }
  }
  return absl::OkStatus();
}

absl::Status PostgresCluster::CreateDatabase(std::string_view name_view) {
  const std::string name(name_view);
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(absl::StrCat("bad database name: ", name));
    }
  }
  try {
    pqxx::connection conn(UrlFor("postgres"));
    pqxx::nontransaction tx(conn);
    if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty()) {
      // CREATE DATABASE takes no parameters; the name was checked above.
      tx.exec("CREATE DATABASE " + tx.quote_name(name));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("creating database ", name, ": ", e.what()));
  }
  return absl::OkStatus();
}

std::string PostgresCluster::UrlFor(std::string_view database) const {
  return absl::StrCat("postgresql://", kSuperuser, "@/", std::string(database), "?host=", socket_dir_.string());
}

absl::Status PostgresCluster::Stop() {
  absl::Status result = absl::OkStatus();
  if (running_) {
    std::vector<std::string> stop = AsOwner();
    for (const std::string& a : {bindir_ + "/pg_ctl", std::string("-D"), (options_.data_dir / "pgdata").string(),
                                 std::string("-m"), std::string("fast"), std::string("-w"),
                                 std::string("-t"), std::string("60"), std::string("stop")}) {
      stop.push_back(a);
    }
    if (auto out = Run(stop); !out.ok()) result = out.status();
    running_ = false;
  }
  std::error_code ec;
  if (!socket_dir_.empty()) {
    fs::remove_all(socket_dir_, ec);
    socket_dir_.clear();
    fs::remove(options_.data_dir / "socket_dir", ec);
  }
  if (options_.remove_on_stop && !options_.data_dir.empty()) {
    fs::remove_all(options_.data_dir, ec);
    options_.remove_on_stop = false;
  }
  if (lock_fd_ >= 0) {
    close(lock_fd_);  // releases the lock
    lock_fd_ = -1;
  }
  return result;
}

absl::Status PostgresCluster::StopImmediately() {
  if (!running_) return absl::FailedPreconditionError("the cluster is not running");
  std::vector<std::string> stop = AsOwner();
  for (const std::string& a : {bindir_ + "/pg_ctl", std::string("-D"), (options_.data_dir / "pgdata").string(),
                               std::string("-m"), std::string("immediate"), std::string("-w"), std::string("-t"),
                               std::string("60"), std::string("stop")}) {
    stop.push_back(a);
  }
  if (auto out = Run(stop); !out.ok()) return out.status();
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresCluster::StartAgain() {
  if (running_) return absl::OkStatus();
  if (socket_dir_.empty()) return absl::FailedPreconditionError("the cluster was stopped for good");
  const fs::path log = options_.data_dir / "postgres.log";
  std::vector<std::string> start = AsOwner();
  for (const std::string& a : {bindir_ + "/pg_ctl", std::string("-D"), (options_.data_dir / "pgdata").string(),
                               std::string("-l"), log.string(), std::string("-w"), std::string("-t"),
                               std::string("60"), std::string("-o"), "-k " + socket_dir_.string(),
                               std::string("start")}) {
    start.push_back(a);
  }
  if (auto out = Run(start); !out.ok()) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL did not start again: ", out.status().message(),
                                               "\nserver log (", log.string(), "):\n", ReadFileTail(log)));
  }
  running_ = true;
  return absl::OkStatus();
}

PostgresCluster::~PostgresCluster() {
  absl::Status st = Stop();
  if (!st.ok()) LogLine(absl::StrCat("stopping PostgreSQL: ", st.message()));
}

}  // namespace localbench::collector
