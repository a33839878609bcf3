// RFC 5880 BFD session state machine (§6.2) for ONE session, asynchronous mode, sans
// I/O: events in (with the current CLOCK_MONOTONIC time in ns), actions out. No
// sockets, no clocks, no randomness from the system (jitter comes from a seeded
// generator), in the style of bgpd/fsm. Demultiplexing (which session a packet is
// for) is the caller's job; Your Discriminator is still checked here.
//
// Deliberate choices:
//  - a packet is sent at once on every state change (not only at the next periodic
//    tick), so that bring-up takes round trips rather than 1 s slow-rate intervals;
//  - bfd.LocalDiag is cleared when the session reaches Up;
//  - Demand mode and the Echo function are not implemented (D=0, echo interval 0).
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "healthbpf/bfd_packet.hpp"

namespace tandem::bfd {

enum class Timer : uint8_t { Transmit, Detection };
const char* to_string(Timer t);

inline constexpr uint32_t kSlowTxUs = 1'000'000;  // §6.8.3: tx >= 1 s while not Up

struct SessionConfig {
  uint32_t local_discriminator = 1;  // non-zero, unique among local sessions
  uint32_t desired_min_tx_us = 300'000;
  uint32_t required_min_rx_us = 300'000;
  uint8_t detect_mult = 3;
  bool passive = false;  // §6.1: do not transmit before the remote discriminator is known
  uint64_t jitter_seed = 0x9e3779b97f4a7c15ull;
};

namespace ev {
struct Start { uint64_t now_ns; };  // the session exists: Down, begin transmitting
struct Received { ControlPacket packet; uint64_t now_ns; };  // a valid decoded packet
struct TimerExpired { Timer timer; uint64_t now_ns; };
struct AdminDown { uint64_t now_ns; };  // §6.8.16
struct AdminUp { uint64_t now_ns; };
// New local intervals: a Poll Sequence announces them (§6.8.3).
struct SetIntervals { uint32_t desired_min_tx_us; uint32_t required_min_rx_us; uint64_t now_ns; };
// Instead of Start: the session was Up on the other node of an HA pair, with this
// session's local discriminator (the config's) and these remote values; it carries on
// Up, so that the remote sees the same discriminators and state (docs/ha.md, "BFD
// sessions move with the BGP sessions"). Not a protocol event of RFC 5880.
struct Resume {
  uint32_t remote_discriminator;
  uint32_t remote_min_tx_us;
  uint32_t remote_min_rx_us;
  uint8_t remote_detect_mult;
  uint64_t now_ns;
};
}  // namespace ev
using Event = std::variant<ev::Start, ev::Received, ev::TimerExpired, ev::AdminDown,
                           ev::AdminUp, ev::SetIntervals, ev::Resume>;

namespace act {
struct Send { ControlPacket packet; };
struct ArmTimer { Timer timer; uint64_t deadline_ns; };  // absolute; replaces a running one
struct CancelTimer { Timer timer; };
struct StateChanged { State from; State to; Diag diag; };
}  // namespace act
using Action = std::variant<act::Send, act::ArmTimer, act::CancelTimer, act::StateChanged>;

class Session {
 public:
  explicit Session(SessionConfig config);

  std::vector<Action> handle(const Event& event);

  State state() const { return state_; }
  Diag local_diag() const { return local_diag_; }
  State remote_state() const { return remote_state_; }
  uint32_t remote_discriminator() const { return remote_disc_; }
  const SessionConfig& config() const { return config_; }
  bool polling() const { return polling_; }
  // Detection time of the remote (§6.8.4), 0 before any packet was received.
  uint64_t detection_time_ns() const;
  // The interval the periodic transmission uses before jitter (0: not transmitting).
  uint64_t tx_interval_ns() const;
  // The packet a periodic transmission sends now (no Poll or Final while not polling):
  // what the XDP program may send for us in steady state (driver.hpp).
  ControlPacket periodic_packet() const;
  // Packets dropped by the session itself (wrong Your Discriminator, AdminDown).
  uint64_t discarded() const { return discarded_; }

 private:
  void on_received(const ControlPacket& p, uint64_t now, std::vector<Action>& out);
  void resume(const ev::Resume& r, std::vector<Action>& out);
  void on_timer(Timer t, uint64_t now, std::vector<Action>& out);
  void set_intervals(uint32_t tx_us, uint32_t rx_us, uint64_t now, std::vector<Action>& out);
  void transition(State to, Diag diag, uint64_t now, std::vector<Action>& out);
  void advertise_changed(uint64_t now, std::vector<Action>& out);
  void end_poll();
  void send(bool final, uint64_t now, std::vector<Action>& out);
  void schedule_tx(uint64_t now, std::vector<Action>& out);
  bool may_transmit() const;
  uint32_t advertised_tx_us() const;
  uint64_t jittered(uint64_t interval_ns);

  SessionConfig config_;
  State state_ = State::Down;
  bool started_ = false;
  Diag local_diag_ = Diag::None;
  State remote_state_ = State::Down;
  uint32_t remote_disc_ = 0;
  uint32_t remote_min_rx_us_ = 1;  // §6.8.1: initialised to 1
  uint32_t remote_min_tx_us_ = 0;  // last received Desired Min TX
  uint8_t remote_detect_mult_ = 0;
  // Values in use (may lag the advertised ones until a Poll Sequence ends, §6.8.3).
  uint32_t tx_in_use_us_ = 0;
  uint32_t rx_in_use_us_ = 0;
  uint32_t advertised_tx_sent_us_ = 0;  // what our packets announce
  uint32_t advertised_rx_sent_us_ = 0;
  bool polling_ = false;
  bool tx_armed_ = false;
  uint64_t tx_deadline_ = 0;
  uint64_t rng_;
  uint64_t discarded_ = 0;
};

}  // namespace tandem::bfd
