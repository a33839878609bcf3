// The SIGUSR1 state dump: peers and RIB as one JSON document, written atomically.
// Stop-gap introspection until the gRPC API (tandemctl) exists.
#pragma once

#include <string>

#include "bgpd/session/speaker.hpp"

namespace tandem::app {

// Returns an error message, or empty on success.
std::string write_state_dump(const session::Speaker& speaker, const std::string& path);

}  // namespace tandem::app
