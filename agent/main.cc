// localbench-agent: benchmark this machine's AI hardware and publish the
// results. All logic lives in localbench_agent_lib; this file only connects
// the process (argv, terminals, streams) to it.
#include <unistd.h>

#include <iostream>

#include "localbench/agent/app.h"
#include "localbench/agent/cli.h"

int main(int argc, char** argv) {
  using namespace localbench::agent;
  auto parsed = ParseCommandLine(argc, argv);
  if (!parsed.ok) {
    std::cout << parsed.output;
    std::cerr << parsed.error;
    return parsed.exit_code;
  }
  const bool stderr_tty = ::isatty(STDERR_FILENO) == 1;
  Console console{std::cout, std::cerr, std::cin};
  // Ask only a person at a terminal; a pipe or CI gets "not published" instead
  // of a prompt nobody answers.
  console.interactive = ::isatty(STDIN_FILENO) == 1 && stderr_tty;
  console.progress = stderr;
  console.progress_live = stderr_tty;
  return Dispatch(parsed.invocation, console);
}
