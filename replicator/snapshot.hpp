// Bulk sync pieces: the state object of one Established session, and its Adj-RIB-In /
// Adj-RIB-Out cut into bounded chunks of UPDATE messages (so a 1M-route table is sent
// over many turns of the event loop, never in one stall).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bgpd/rib/rib.hpp"
#include "bgpd/session/connection.hpp"
#include "bgpd/session/peer.hpp"
#include "tandem/v1/replication.pb.h"

namespace tandem::replicator {

namespace repl = tandem::v1::repl;

// The connection's OPENs, endpoints and TCP state; the streams resume at the offsets.
repl::SessionObject make_session_object(const session::Connection& c, const wire::IpAddr& peer,
                                        uint64_t inbound_offset, uint64_t outbound_offset);
// SessionObject.outbound_unacked: the output the peer has not acknowledged yet
// (Connection::unacked_output), when it ends exactly at the object's outbound offset.
void fill_outbound_unacked(session::Connection& c, repl::SessionObject& o);
void fill_tcp_state(const session::Connection& c, repl::TcpState& out);
// The peer's graceful-restart stale state, when it waits for End-of-RIB (bulk sync).
void fill_gr_stale(const session::PeerStatus& status, repl::SessionObject& o);

class RibChunker {
 public:
  RibChunker(uint64_t connection_id, rib::PeerId peer, std::vector<wire::Family> families,
             wire::CodecOptions codec);
  // The next chunk (at most `max_routes` routes): every family's Adj-RIB-In, then every
  // family's Adj-RIB-Out. nullopt when done.
  std::optional<repl::RibChunk> next(const rib::Rib& rib, size_t max_routes);
  size_t adj_in_routes() const { return routes_[0]; }
  size_t adj_out_routes() const { return routes_[1]; }

 private:
  uint64_t connection_id_;
  rib::PeerId peer_;
  std::vector<wire::Family> families_;
  wire::CodecOptions codec_;
  size_t table_ = 0;   // 0 Adj-RIB-In, 1 Adj-RIB-Out
  size_t family_ = 0;  // index into families_
  rib::ListCursor cursor_;
  size_t routes_[2] = {0, 0};
};

}  // namespace tandem::replicator
