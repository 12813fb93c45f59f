// fleetflagd's process wiring: configuration, cache, upstream, API server, signals, systemd.
#pragma once

#include "agent/app/config.h"
#include "common/json/json.h"

namespace ff::app {

// Runs the daemon until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 runtime failure at start
// (socket in use), 2 configuration error.
int run_daemon(int argc, char** argv);

}  // namespace ff::app
