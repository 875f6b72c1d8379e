// orchctl: the command line of orch. Everything happens in cli.cpp.
#include <string>
#include <vector>

#include "api/orchctl/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return orch::ctl::RunCli(args, orch::ctl::CliIo::System());
}
