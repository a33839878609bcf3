// The byte tap: every inbound byte (before it is parsed) and every outbound byte (as
// it is handed to the socket) of every BGP session, with its stream offset. The
// replicator hooks this; bgpd knows nothing else about replication.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

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
  // This process is about to close the socket on purpose (its FIN / RST is meant).
  virtual void before_close(uint64_t /*connection_id*/) {}
  // The connection reached Established; its Fsm has the OPENs and the offset.
  virtual void on_established(uint64_t /*connection_id*/) {}
  // Flow control by the tap (replication): a connection hands the socket outbound bytes
  // only below outbound_limit and reads inbound bytes only below inbound_limit (stream
  // offsets). When a limit moves the tap calls Speaker::gate_moved(connection_id).
  virtual uint64_t outbound_limit(uint64_t /*connection_id*/) { return UINT64_MAX; }
  virtual uint64_t inbound_limit(uint64_t /*connection_id*/) { return UINT64_MAX; }
};

// Several taps on one speaker (MRT recording and replication): events go to each, in
// the order added; the limits are the tightest of them.
class TapSet final : public SessionTap {
 public:
  void add(SessionTap* t) { taps_.push_back(t); }
  void remove(SessionTap* t) { std::erase(taps_, t); }
  bool empty() const { return taps_.empty(); }
  void on_open(const wire::IpAddr& peer, uint64_t id, const Endpoints& ep) override {
    for (auto* t : taps_) t->on_open(peer, id, ep);
  }
  void on_bytes(uint64_t id, Direction dir, uint64_t offset, std::span<const uint8_t> bytes) override {
    for (auto* t : taps_) t->on_bytes(id, dir, offset, bytes);
  }
  void on_close(uint64_t id) override {
    for (auto* t : taps_) t->on_close(id);
  }
  void on_established(uint64_t id) override {
    for (auto* t : taps_) t->on_established(id);
  }
  void before_close(uint64_t id) override {
    for (auto* t : taps_) t->before_close(id);
  }
  uint64_t outbound_limit(uint64_t id) override {
    uint64_t limit = UINT64_MAX;
    for (auto* t : taps_) limit = std::min(limit, t->outbound_limit(id));
    return limit;
  }
  uint64_t inbound_limit(uint64_t id) override {
    uint64_t limit = UINT64_MAX;
    for (auto* t : taps_) limit = std::min(limit, t->inbound_limit(id));
    return limit;
  }

 private:
  std::vector<SessionTap*> taps_;
};

}  // namespace tandem::session
