#include "localbench/agent/outbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "localbench/common/crypto.h"

namespace localbench::agent {
namespace {

absl::Status Errno(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

absl::Status WriteFileAtomically(const std::filesystem::path& path, const std::string& bytes,
                                 unsigned mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // A random suffix so two writers never share a temporary file.
  const auto tmp = dir / ("." + path.filename().string() + "." + RandomHex(6) + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", tmp);
  // umask may have narrowed the mode; fchmod makes it exactly what was asked.
  if (::fchmod(fd, mode) != 0) {
    auto st = Errno("cannot chmod", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto st = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto st = Errno("cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::close(fd) != 0) {
    auto st = Errno("cannot close", tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto st = Errno("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

namespace {

absl::Status MakePrivateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return absl::OkStatus();
}

void SyncDir(const std::filesystem::path& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

absl::Status MoveInto(const std::filesystem::path& file, const std::filesystem::path& dir) {
  if (auto st = MakePrivateDir(dir); !st.ok()) return st;
  const auto target = dir / file.filename();
  if (::rename(file.c_str(), target.c_str()) != 0) return Errno("cannot move " + file.string() + " to", target);
  SyncDir(dir);
  SyncDir(file.has_parent_path() ? file.parent_path() : std::filesystem::path("."));
  return absl::OkStatus();
}

absl::Status SetAside(const std::filesystem::path& file, const std::filesystem::path& dir,
                      const std::string& reason) {
  if (auto st = MakePrivateDir(dir); !st.ok()) return st;
  // The reason first: a crash between the two leaves a stray note, never a
  // refused file without one.
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32] = {};
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::string line = reason;
  std::replace(line.begin(), line.end(), '\n', ' ');
  const auto note = dir / (file.filename().string() + ".reason.txt");
  if (auto st = WriteFileAtomically(note, std::string(when) + " " + line + "\n"); !st.ok()) return st;
  return MoveInto(file, dir);
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path.string() + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InternalError("cannot read " + path.string());
  return out.str();
}

absl::Status WriteSubmissionFile(const std::filesystem::path& path, const v1::Submission& submission) {
  std::string bytes;
  if (!submission.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise submission " + submission.submission_id());
  }
  return WriteFileAtomically(path, bytes);
}

absl::StatusOr<v1::Submission> ReadSubmissionFile(const std::filesystem::path& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseSubmissionBytes(*bytes, path.string());
}

absl::StatusOr<v1::Submission> ParseSubmissionBytes(const std::string& bytes, const std::string& origin) {
  v1::Submission submission;
  if (!submission.ParseFromString(bytes)) {
    return absl::DataLossError(origin + " is not a localbench results file (binary Submission)");
  }
  if (!IsUuid(submission.submission_id())) {
    return absl::DataLossError(origin + " holds a submission without a valid submission_id");
  }
  return submission;
}

Outbox::Outbox(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path Outbox::PathFor(const std::string& submission_id) const {
  return dir_ / (submission_id + ".pb");
}

absl::Status Outbox::Put(const v1::Submission& submission) {
  if (!IsUuid(submission.submission_id())) {
    return absl::InvalidArgumentError("submission id '" + submission.submission_id() + "' is not a UUID");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InternalError("cannot create outbox " + dir_.string() + ": " + ec.message());
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
  return WriteSubmissionFile(PathFor(submission.submission_id()), submission);
}

std::vector<std::filesystem::path> Outbox::Pending() const {
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const auto& p = entry.path();
    // Temporary files start with '.'; only finished writes count.
    if (p.extension() != ".pb" || p.filename().string().front() == '.') continue;
    std::error_code tec;
    found.emplace_back(std::filesystem::last_write_time(p, tec), p);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& [t, p] : found) out.push_back(p);
  return out;
}

absl::Status Outbox::Remove(const std::string& submission_id) {
  std::error_code ec;
  std::filesystem::remove(PathFor(submission_id), ec);
  if (ec) return absl::InternalError("cannot remove " + PathFor(submission_id).string() + ": " + ec.message());
  return absl::OkStatus();
}

}  // namespace localbench::agent
