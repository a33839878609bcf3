// Whether the other node of the pair is the primary already. Asked by a node configured
// as the primary before it takes a term or the VIPs (docs/ha.md, "Restarts"): after an
// unplanned takeover the other node holds the sessions, and a supervisor that restarts
// this one with its configured role must not make it a second speaker.
//
// Two witnesses, asked at once: the replication channel (this node dials the other's
// listener as a standby would; only a primary listens there and completes the
// handshake with its Hello) and the term beacon on the peers' segment (only a primary
// sends it), which still arrives when the link between the nodes is what failed.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "replicator/channel/channel.hpp"
#include "replicator/witness/term_beacon.hpp"

namespace tandem::replicator {

struct StartupQuery {
  std::optional<asio::ip::tcp::endpoint> channel;  // the other node's listener ([ha] peer)
  ChannelIdentity identity;                        // this node's; sent with the standby role
  std::chrono::milliseconds channel_timeout{3000};  // the dial and the handshake
  std::optional<witness::BeaconOptions> beacon;    // listen for the other node's beacon
  std::chrono::milliseconds beacon_window{100};     // at least this long
};

enum class OtherNode {
  Absent,      // nothing listens at the channel's address and no beacon arrived
  Primary,     // it answered as the primary, or its beacon arrived
  Unverified,  // something listens there but did not prove what it is (hung, wrong key)
};
const char* to_string(OtherNode o);

struct StartupAnswer {
  OtherNode other = OtherNode::Absent;
  uint64_t term = 0;     // Primary: the term it announced
  std::string evidence;  // what was seen, for the log
};

// Runs its own event loop; returns within channel_timeout + 1 s (beacon_window if longer).
StartupAnswer ask_other_node(const StartupQuery& query);

}  // namespace tandem::replicator
