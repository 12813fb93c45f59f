// fleetflagd: thin wiring; see agent/app/daemon.h.
#include <cstdio>
#include <exception>

#include "agent/app/daemon.h"

int main(int argc, char** argv) {
  try {
    return ff::app::run_daemon(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleetflagd: fatal: %s\n", e.what());
    return 1;
  }
}
