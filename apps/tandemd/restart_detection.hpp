// Graceful restart, restarting speaker (docs/graceful-restart.md): did the previous run
// of tandemd end without a clean exit? Then this run is a restart: its kernel routes are
// kept and selection is deferred. The marker file exists while tandemd runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/fib/fib.hpp"

namespace tandem::app {

struct RestartDetection {
  bool restarting = false;  // marker left over, or our routes still in the kernel
  std::vector<wire::Family> deferred;  // restarting with the restarting-speaker role on: its families
  std::vector<fib::Fib::Route> kept;   // our kernel routes found at start-up
};

// Reads the marker and (with a FIB) our kernel routes, and logs the decision.
RestartDetection detect_restart(const config::Config& cfg, fib::Fib* fib);

// The marker: written once started, removed on a clean exit.
void write_restart_marker(const std::string& path);
void remove_restart_marker(const std::string& path);

}  // namespace tandem::app
