// The command line of localbench-agent, parsed into RunOptions and friends.
// Kept in the library so tests check parsing and its errors directly.
#ifndef LOCALBENCH_AGENT_CLI_H_
#define LOCALBENCH_AGENT_CLI_H_

#include <string>
#include <vector>

#include "localbench/agent/options.h"

namespace localbench::agent {

// Exit codes of localbench-agent.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;    // the work failed (a run, an upload, a refusal)
inline constexpr int kExitUsage = 2;      // bad arguments
inline constexpr int kExitNotPublished = 3;  // results kept locally, not uploaded (declined or failed)

// The subcommands.
enum class Command { kNone, kRun, kUpload, kEnroll, kShow };

// One parsed invocation.
struct Invocation {
  Command command = Command::kNone;
  RunOptions run;                 // run (and the connection for upload/enroll)
  std::string state_dir;          // --state-dir; empty = default
  std::string show_path;          // show: the results file
  std::string output_path;        // run: also write the results file here
  std::vector<std::string> upload_files;  // upload: results files to queue and send
};

// The result of parsing: an invocation, or text to print and an exit code
// (help: 0 on stdout; errors: 2 on stderr).
struct ParseResult {
  bool ok = false;
  Invocation invocation;
  int exit_code = 0;
  std::string output;  // help text (stdout)
  std::string error;   // error text (stderr)
};

// Parses argv (argv[0] is the program name). Never exits the process.
ParseResult ParseCommandLine(int argc, const char* const* argv);
// Convenience for tests: args without the program name.
ParseResult ParseCommandLine(const std::vector<std::string>& args);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_CLI_H_
