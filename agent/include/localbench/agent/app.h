// The subcommands of localbench-agent as functions over explicit streams,
// state directory and terminal flag, so tests drive the whole agent (run,
// consent, outbox, upload, enrolment) in-process.
#ifndef LOCALBENCH_AGENT_APP_H_
#define LOCALBENCH_AGENT_APP_H_

#include <cstdio>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>

#include "localbench/agent/cli.h"
#include "localbench/kernels/backend.h"
#include "localbench/agent/uploader.h"

namespace localbench::agent {

// Where a command talks to the user.
struct Console {
  std::ostream& out;        // results (table, JSON/CSV to stdout)
  std::ostream& err;        // messages and errors
  std::istream& in;         // the y/N answer
  bool interactive = false; // stdin and stderr are a terminal: ask before publishing
  std::FILE* progress = stderr;  // where progress goes
  bool progress_live = false;    // redraw one line (a terminal) or log lines
};

// Knobs tests turn: the retry policy and its sleeper (tiny, recorded).
struct UploadSettings {
  RetryPolicy policy;
  IngestClient::Sleeper sleeper;  // empty = real sleep
};

// Finds the machine's backends for a CPU memory limit (FindBackends); tests
// substitute one, e.g. a backend that faults on purpose.
using BackendFinder = std::function<std::vector<std::unique_ptr<kernels::Backend>>(std::uint64_t)>;

// `run`: suite (checkpoints in running/) -> outbox -> table -> consent ->
// upload, holding the state directory's lock throughout.
// Exit codes: 0 published (or --offline written), 3 kept locally, 1 failed
// (also when a device fault stopped the run early: the finished sweeps are
// still kept and, with consent, published).
int RunCommand(const Invocation& inv, Console& console, const UploadSettings& upload = {},
               const BackendFinder& find_backends = {});
// `upload`: sends what the outbox holds; refused-for-good files move to
// rejected/. 0 when everything went.
int UploadCommand(const Invocation& inv, Console& console, const UploadSettings& upload = {});
// `enroll`: obtains a token and stores it (mode 0600).
int EnrollCommand(const Invocation& inv, Console& console, const UploadSettings& upload = {});
// `show`: prints a results file (binary protobuf or JSON).
int ShowCommand(const Invocation& inv, Console& console);

// Reads a results file in either format (binary Submission or its JSON).
absl::StatusOr<v1::Submission> LoadResults(const std::filesystem::path& path);

// Dispatches a parsed invocation.
int Dispatch(const Invocation& inv, Console& console, const UploadSettings& upload = {});

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_APP_H_
