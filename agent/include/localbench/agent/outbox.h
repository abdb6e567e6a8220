// The outbox: finished submissions on disk, written before any upload and
// removed only after the collector acknowledges them, so neither a crash, an
// interrupted run nor a collector outage loses a result.
#ifndef LOCALBENCH_AGENT_OUTBOX_H_
#define LOCALBENCH_AGENT_OUTBOX_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "localbench/v1/results.pb.h"

namespace localbench::agent {

// Writes `bytes` to `path` atomically: a temporary file in the same
// directory, fsync, rename over `path`, fsync of the directory. A reader sees
// the old file or the new one, never half of one. `mode` is the new file's
// permission bits (0600 for secrets).
absl::Status WriteFileAtomically(const std::filesystem::path& path, const std::string& bytes,
                                 unsigned mode = 0644);

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path);

// Writes a submission as binary protobuf (atomically) and reads it back.
absl::Status WriteSubmissionFile(const std::filesystem::path& path, const v1::Submission& submission);
absl::StatusOr<v1::Submission> ReadSubmissionFile(const std::filesystem::path& path);

// Parses the bytes of a binary results file (`origin` names it in errors):
// DATA_LOSS unless they are a Submission with a UUID submission_id. The bytes
// are untrusted (a file anyone could have edited), so this is fuzzed.
absl::StatusOr<v1::Submission> ParseSubmissionBytes(const std::string& bytes, const std::string& origin);

// Moves `file` into `dir` (created, mode 0700) under the same name with one
// rename, so it is in one place or the other, never both or neither; then
// makes the move durable (fsync of both directories).
absl::Status MoveInto(const std::filesystem::path& file, const std::filesystem::path& dir);

// Sets a refused submission aside: moves `file` into `dir` and writes
// `<file name>.reason.txt` beside it saying why (one line, with the time).
absl::Status SetAside(const std::filesystem::path& file, const std::filesystem::path& dir,
                      const std::string& reason);

// A directory of pending submissions, one `<submission_id>.pb` file each.
class Outbox {
 public:
  // `dir` is created (mode 0700) on first write.
  explicit Outbox(std::filesystem::path dir);

  // Stores (or replaces, as a run grows sweep by sweep) one submission.
  absl::Status Put(const v1::Submission& submission);
  // The pending files, oldest first (by name order of their mtime, then name).
  std::vector<std::filesystem::path> Pending() const;
  // Removes the file of an acknowledged submission.
  absl::Status Remove(const std::string& submission_id);
  // Where a submission with this id is (or would be) stored.
  std::filesystem::path PathFor(const std::string& submission_id) const;
  // The outbox directory.
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_OUTBOX_H_
