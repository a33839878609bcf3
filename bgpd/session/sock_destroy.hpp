// Destroying a TCP socket of this network namespace by its 4-tuple (SOCK_DESTROY over
// NETLINK_SOCK_DIAG, like `ss -K`; needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY).
// Used for the old primary's orphans: after a crash its kernel keeps each session's
// socket (FIN_WAIT, its FIN dropped by the crash guard) and that 4-tuple blocks the
// socket a later takeover rebuilds on this node. Destroying an orphan makes its kernel
// send a RST: do it while the crash guard still drops it.
#pragma once

#include <string>

#include "bgpd/session/tcp_repair.hpp"

namespace tandem::session {

// True when a socket was destroyed; false with an empty error when there is none; false
// with the reason otherwise.
bool destroy_socket(const TcpEndpoint& local, const TcpEndpoint& remote, std::string& error);

}  // namespace tandem::session
