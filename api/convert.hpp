// Conversions between tandem's internal types and the tandem.v1 protobuf messages.
// Pure functions; the ones reading RIB or speaker state run on the event loop thread.
#pragma once

#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/fsm/fsm.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/session/peer.hpp"
#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/types.hpp"
#include "tandem/v1/common.pb.h"
#include "tandem/v1/global.pb.h"
#include "tandem/v1/peer.pb.h"
#include "tandem/v1/rib.pb.h"

namespace tandem::api {

v1::Family to_proto(wire::Family f);
// FAMILY_UNSPECIFIED -> nullopt.
std::optional<wire::Family> from_proto(v1::Family f);
v1::SessionState to_proto(fsm::State s);

void to_proto(const wire::PathAttributes& a, v1::PathAttributes& out);
// Assumes a validated message (validate.hpp).
wire::PathAttributes from_proto(const v1::PathAttributes& a);

void to_proto(const config::PeerConfig& c, v1::PeerConfig& out);
// Assumes a validated message; defaults from config::PeerConfig.
config::PeerConfig from_proto(const v1::PeerConfig& c);

void to_proto(const session::PeerStatus& s, const rib::Rib& rib, rib::PeerId id, v1::PeerState& out);
void to_proto(const rib::ListedRoute& r, wire::Family family, const std::string& peer_address, v1::Route& out);

}  // namespace tandem::api
