// localbench: the editors' tool. Tables, will-it-run, submissions,
// moderation, audit, verdicts and tokens over the collector's gRPC API.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "src/app.h"

int main(int argc, char** argv) {
  // Colour only on a terminal, and never when NO_COLOR is set.
  const bool colour = isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  return localbench::cli::Run(argc, argv, std::cout, std::cerr, colour);
}
