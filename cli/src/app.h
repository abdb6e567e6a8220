// The `localbench` command line: parsing, the requests it sends and how it
// prints the answers. main() only wires argv, the streams and the TTY flag.
#ifndef LOCALBENCH_CLI_APP_H_
#define LOCALBENCH_CLI_APP_H_

#include <ostream>

namespace localbench::cli {

// Exit codes (README, "localbench"): what a script can act on.
enum ExitCode : int {
  kOk = 0,
  kFailed = 1,        // the collector could not answer (unreachable, timeout, internal error)
  kUsage = 2,         // bad arguments or config, or the collector refused the request as invalid
  kNotFound = 3,      // no such submission, verdict, token or device model
  kNotAllowed = 4,    // no token, an unknown or revoked one, or a role too low
};

// Runs one command; returns its exit code. `colour`: stdout is a terminal.
int Run(int argc, char** argv, std::ostream& out, std::ostream& err, bool colour);

}  // namespace localbench::cli

#endif  // LOCALBENCH_CLI_APP_H_
