// The byte tap: every inbound byte (before it is parsed) and every outbound byte (as
// it is handed to the socket) of every BGP session, with its stream offset. The
// replicator hooks this; bgpd knows nothing else about replication.
#pragma once

#include <cstdint>
#include <span>

#include "bgpd/wire/types.hpp"

namespace tandem::session {

enum class Direction : uint8_t { Inbound, Outbound };

// One TCP connection's endpoints.
struct Endpoints {
  wire::IpAddr local;
  uint16_t local_port = 0;
  wire::IpAddr remote;
  uint16_t remote_port = 0;
};

class SessionTap {
 public:
  virtual ~SessionTap() = default;
  // A connection to `peer` is open (offsets of both directions start at 0).
  virtual void on_open(const wire::IpAddr& peer, uint64_t connection_id, const Endpoints& ep) = 0;
  // `offset` is the position of bytes[0] in this direction's stream.
  virtual void on_bytes(uint64_t connection_id, Direction dir, uint64_t offset,
                        std::span<const uint8_t> bytes) = 0;
  virtual void on_close(uint64_t connection_id) = 0;
};

}  // namespace tandem::session
