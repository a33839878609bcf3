// A node configured as the primary asks first whether the other node is the primary
// already, and if so starts as its standby (docs/ha.md, "Restarts"): after an unplanned
// takeover, a supervisor restarting this node with its configured role must not make a
// second speaker. Runs before anything of the daemon exists.
#pragma once

#include <string>

#include "bgpd/config/config.hpp"

namespace tandem::app {

// Sets cfg.ha.role to "standby" when the other node is, or may be, the primary; leaves
// any other role alone. False + error when this node should follow the other one but
// cannot (no [ha] peer to dial).
bool settle_startup_role(config::Config& cfg, std::string& error);

}  // namespace tandem::app
