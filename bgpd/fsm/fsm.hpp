// RFC 4271 §8 BGP finite state machine for ONE transport connection, sans-I/O:
// events in, actions out. No sockets, no clocks, no Asio: the session runtime turns
// actions into I/O and timers, and the standby runs the same code in shadow mode.
//
// Message framing lives here: BytesReceived events carry raw stream bytes in any
// chunking; the FSM reassembles messages, handles OPEN/KEEPALIVE/NOTIFICATION/
// ROUTE-REFRESH itself and hands UPDATE bodies up (UpdateReceived) undecoded, so the
// receiver can use its attribute cache. If the receiver finds a malformed UPDATE that
// requires a session reset it feeds UpdateError back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bgpd/wire/message.hpp"

namespace tandem::fsm {

enum class State : uint8_t { Idle, Connect, Active, OpenSent, OpenConfirm, Established };
const char* to_string(State s);

// DelayOpen is reserved: this FSM never arms it (no DelayOpen support).
enum class Timer : uint8_t { ConnectRetry, Hold, Keepalive, DelayOpen, IdleHold };
const char* to_string(Timer t);

// What this side offers and requires. Timers in seconds.
struct Config {
  uint32_t local_as = 0;
  uint32_t router_id = 0;  // host order
  uint32_t remote_as = 0;  // expected peer AS (checked against the OPEN)
  uint16_t hold_time = 90;          // proposed; 0 disables keepalives/hold
  uint16_t min_hold_time = 3;       // a peer proposing 1..min-1 is refused
  uint16_t connect_retry_time = 30;
  uint16_t idle_hold_time = 5;      // delay before automatic restart after an error
  bool passive = false;             // never initiate the TCP connection
  std::vector<wire::Family> families{wire::kIpv4Unicast};
  bool route_refresh = true;
  bool enhanced_route_refresh = true;
  bool extended_message = true;
  std::optional<wire::GracefulRestartCap> graceful_restart;
  std::optional<wire::LlgrCap> llgr;
  std::optional<wire::AddPathCap> add_path;  // advertised; tandem receives only
  bool ebgp() const { return local_as != remote_as; }
};

// Outcome of capability negotiation (computed when OPEN is accepted).
struct Negotiated {
  uint32_t peer_as = 0;
  uint32_t peer_router_id = 0;
  uint16_t hold_time = 0;   // min(ours, theirs)
  uint16_t keepalive = 0;   // hold_time / 3
  bool four_octet_as = false;
  bool route_refresh = false;
  bool enhanced_route_refresh = false;
  bool extended_message = false;
  std::vector<wire::Family> families;  // both sides (implicit IPv4 unicast w/o MP caps)
  std::optional<wire::GracefulRestartCap> peer_graceful_restart;  // what the peer sent
  std::optional<wire::LlgrCap> peer_llgr;
  std::vector<wire::Family> add_path_rx;  // families where the peer sends path ids
  wire::Open peer_open;  // the OPEN as received
  wire::CodecOptions codec(bool ebgp) const;
  bool has_family(wire::Family f) const;
};

// ---- events ----
namespace ev {
struct ManualStart {};
struct ManualStop { std::string reason; };    // sends Cease/Admin Shutdown when open
struct AutomaticStart {};
struct TcpConnected {};                      // outgoing connect or accepted incoming
struct TcpConnectFailed {};
struct TcpClosed {};                         // peer closed / reset / I/O error
struct BytesReceived { std::span<const uint8_t> bytes; };
struct TimerExpired { Timer timer; };
struct UpdateError { wire::WireError error; };  // receiver found a session-reset UPDATE
// The runtime lost a collision for this connection (RFC 4271 §6.8): Cease/7.
struct CollisionLost {};
// Send a NOTIFICATION and close (e.g. max-prefix, admin reset, hard reset).
struct SendNotification { wire::Notification notification; };
}  // namespace ev
using Event = std::variant<ev::ManualStart, ev::ManualStop, ev::AutomaticStart, ev::TcpConnected,
                           ev::TcpConnectFailed, ev::TcpClosed, ev::BytesReceived,
                           ev::TimerExpired, ev::UpdateError, ev::CollisionLost,
                           ev::SendNotification>;

// ---- actions ----
namespace act {
struct Connect {};                                  // initiate an outgoing TCP connection
struct Disconnect {};                               // close the transport (after sends)
struct Send { std::vector<uint8_t> bytes; wire::MessageType type; };
struct ArmTimer { Timer timer; uint32_t seconds; };  // (re)start; replaces a running one
struct CancelTimer { Timer timer; };
struct StateChanged { State from; State to; std::string reason; };
struct OpenReceived { wire::Open open; };           // for collision detection
struct Established { Negotiated negotiated; };
// `body` points into the BytesReceived bytes or into the FSM's reassembly buffer: valid
// until the next handle() call on this Fsm (and while the event's bytes are alive).
struct UpdateReceived { std::span<const uint8_t> body; };
struct RouteRefreshReceived { wire::RouteRefresh request; };
struct NotificationReceived { wire::Notification notification; };
struct NotificationSent { wire::Notification notification; };
struct SessionDown { std::string reason; bool notification_involved; };  // left Established
}  // namespace act
using Action = std::variant<act::Connect, act::Disconnect, act::Send, act::ArmTimer,
                            act::CancelTimer, act::StateChanged, act::OpenReceived,
                            act::Established, act::UpdateReceived, act::RouteRefreshReceived,
                            act::NotificationReceived, act::NotificationSent,
                            act::SessionDown>;

class Fsm {
 public:
  explicit Fsm(Config config);

  // Feed one event; returns the actions to perform, in order.
  std::vector<Action> handle(const Event& event);

  State state() const { return state_; }
  const Config& config() const { return config_; }
  const std::optional<Negotiated>& negotiated() const { return negotiated_; }
  // Codec options for encoding towards / decoding from this peer (valid once
  // Established; defaults before).
  wire::CodecOptions codec() const;
  // Replace the configuration (takes effect at the next OPEN).
  void reconfigure(Config config) { config_ = std::move(config); }

  // Whether the FSM considers `t` running (armed and neither cancelled nor expired).
  // A TimerExpired for a timer that is not running is stale and ignored.
  bool timer_armed(Timer t) const { return (armed_ & (1u << static_cast<unsigned>(t))) != 0; }
  // RFC 4271 ConnectRetryCounter (failed attempts since the last ManualStart/Stop or
  // Established).
  uint32_t connect_retry_counter() const { return connect_retry_counter_; }
  // Delay (seconds) the next IdleHold arming will use (exponential backoff).
  uint32_t next_idle_hold_time() const { return idle_hold_next_; }
  // The OPEN we sent on the current (or last) connection; negotiation uses it, so a
  // reconfigure() between our OPEN and the peer's does not skew the result.
  const wire::Open& local_open() const { return local_open_; }

  // Stream positions, for replication. Offsets count the bytes fed since TcpConnected.
  // The offset just after the last whole message handed out (a message boundary).
  uint64_t consumed_offset() const { return consumed_; }
  // Bytes fed but not yet a whole message (they follow consumed_offset()).
  std::span<const uint8_t> pending_input() const;
  // The offset just after the KEEPALIVE that made the session Established.
  uint64_t established_offset() const { return established_offset_; }
  // A shadow session (the standby's copy of a session the primary runs): Established
  // from the two OPENs as exchanged, its input stream resuming at `input_offset` (a
  // message boundary). No actions: the caller tells the rest of the speaker. False +
  // why when the OPENs do not make a session (the same checks as a live OPEN).
  bool restore_established(const wire::Open& local, const wire::Open& peer, uint64_t input_offset,
                           std::string& why);
  // A shadow becoming the live session (takeover): the Established timers a live
  // session runs, Hold and Keepalive at the negotiated values (none with hold time 0).
  std::vector<Action> resume_timers();
  // Messages received on this connection, by type (index: wire::MessageType value,
  // 1 OPEN .. 5 ROUTE-REFRESH; index 0 unused). Counted once framed, before handling.
  const std::array<uint64_t, 6>& received_counts() const { return received_; }

 private:
  struct Impl;  // the event handlers (fsm.cpp)
  void transition(State to, std::string reason, std::vector<Action>& out);
  void on_message(wire::MessageType type, std::span<const uint8_t> body, std::vector<Action>& out);

  Config config_;
  State state_ = State::Idle;
  std::optional<Negotiated> negotiated_;
  wire::Open local_open_;    // what we advertised on this connection
  std::vector<uint8_t> rx_;  // partial message reassembly
  size_t rx_off_ = 0;        // rx_[0, rx_off_) consumed; compacted at the next event
  uint32_t connect_retry_counter_ = 0;
  uint32_t idle_hold_next_ = 0;  // backoff state for the IdleHold timer
  uint8_t armed_ = 0;            // bit per Timer
  bool hold_rearmed_ = false;    // Hold already re-armed during this handle() call
  std::array<uint64_t, 6> received_{};
  uint64_t consumed_ = 0;            // see consumed_offset()
  uint64_t established_offset_ = 0;  // see established_offset()
};

// RFC 4271 §6.8: of two connections to the same peer, keep the one initiated by the
// speaker with the higher BGP Identifier. Returns true if the connection WE initiated
// (outgoing) should be kept.
bool keep_outgoing_on_collision(uint32_t local_router_id, uint32_t remote_router_id);
// Same, with the RFC 6286 §2.3 tie-break: when the identifiers are equal (possible
// between different ASes), the connection initiated by the larger AS number is kept.
bool keep_outgoing_on_collision(uint32_t local_router_id, uint32_t remote_router_id,
                                uint32_t local_as, uint32_t remote_as);

}  // namespace tandem::fsm
