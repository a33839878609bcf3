// Session protection on BGP sockets: TCP-MD5 signatures (RFC 2385) and the Generalized
// TTL Security Mechanism (RFC 5082). Both are enforced by the kernel, so a segment with
// a wrong or missing signature, or a packet that crossed a router, never reaches the
// FSM. (TCP-AO is not built into this machine's kernel.)
#pragma once

#include <string>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::session {

// Install (or, with an empty key, remove) the MD5 key for `peer` on a socket: on a
// listening socket it applies to connections from the peer, on a connecting socket to
// its connection. Returns an error message, empty on success.
std::string set_md5_key(int fd, const wire::IpAddr& peer, const std::string& key);

// GTSM for a directly connected peer: send with TTL / hop limit 255 and accept only
// packets that arrive with 255 (IP_MINTTL / IPV6_MINHOPCOUNT).
std::string set_gtsm(int fd, bool ipv6);

// GTSM on a listening socket shared with peers that do not use it: a socket filter that
// drops packets from `peers` (of the listener's family) arriving with a TTL / hop limit
// below 255. Accepted connections inherit it, so not even the segments that arrive
// before set_gtsm() runs on the new socket get through. An empty list removes it.
std::string set_gtsm_filter(int listener_fd, bool ipv6, const std::vector<wire::IpAddr>& peers);

}  // namespace tandem::session
