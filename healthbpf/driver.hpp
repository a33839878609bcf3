// The BFD driver of tandemd: runs the configured BFD sessions on the daemon's single
// io_context thread. It owns
//  - one HealthSource: the XDP health table when the program loads (and attaches to the
//    configured interfaces), else the user-space UDP receiver (receive_path decides);
//  - one bfd::Session per peer (unique non-zero local discriminators), each with its
//    UdpSender (TTL 255, source port 49152-65535); their jittered periodic
//    transmissions share one Asio timer (a queue of deadlines on a 0.25 ms grid);
//  - the table's fd, waited on with a stream_descriptor, and a timer for
//    next_deadline() (user-space detection; the XDP path detects in the kernel).
// Table events are demultiplexed to sessions: DISC-keyed slots by our local
// discriminator, ADDR-keyed slots (bring-up, Your Discriminator 0) by the peer's
// address. A DISC slot is armed for detection with set_local_min_rx() when it appears;
// the ADDR slot is released once the session is Up (healthbpf.md, "The health table").
// Transitions to and from Up are reported through the callback.
// Kernel replies (transmit_path, healthbpf.md "Transmission in the kernel"): while a
// session is Up on both sides, not polling, and the remote transmits at least as often
// as we must, the XDP program answers each of its packets with ours (XDP_TX, at most
// one per 75% of our interval) and the session's user-space transmission stops; any
// news (an event) or a change of our packet takes it back to user space. A lease
// renewed every kTickNs keeps a hung or dead daemon from being answered for.
// Stalls (options.stall_ns): the same tick tells when the thread did not run for a
// while (the process was stopped or starved). Sessions marked hold_after_stall (the BGP
// peers' sessions of an HA primary) then report nothing and send nothing but Up
// packets until release_hold(): in the meantime the other node may have taken their
// BGP sessions over, and a woken old primary answering its peers' queued packets with
// a Down would take down their BFD sessions with the new primary (docs/ha.md, "A
// primary that was stopped"); an Up packet says what the new primary says too, and
// silence would let the peer expire a session that was fine.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/driver_status.hpp"
#include "healthbpf/health_source.hpp"
#include "healthbpf/session_fsm.hpp"
#include "healthbpf/udp_sender.hpp"

namespace tandem::healthbpf {

class Loader;

struct DriverPeer {
  std::string address;        // IPv4 or IPv6 text
  std::string local_address;  // source of our packets; empty: the kernel picks
  std::string device;         // SO_BINDTODEVICE for the sender when set
  uint32_t desired_min_tx_us = 300'000;
  uint32_t required_min_rx_us = 300'000;
  uint8_t detect_mult = 3;
  bool passive = false;
  // May the XDP program answer for this session? Not for the HA pair's heartbeat: a
  // hung node must fall silent to its partner at once, not a lease later.
  bool kernel_replies = true;
  // Silent after a stall of the driver's thread until release_hold() (see above).
  bool hold_after_stall = false;
  // Carry on a session the other node of the HA pair had Up: its local discriminator
  // (unless another session has it) and remote values, Up from the first packet.
  std::optional<SessionHandover> resume;
  bool operator==(const DriverPeer&) const = default;
};

struct DriverOptions {
  std::string receive_path = "auto";     // "auto" | "xdp" | "user-space"
  std::vector<std::string> interfaces;   // XDP attachment points
  std::string xdp_mode = "auto";         // "auto" | "native" | "generic"
  std::string transmit_path = "auto";    // "auto" | "xdp" | "user-space" (kernel replies)
  std::vector<DriverPeer> peers;
  uint16_t port = HB_BFD_PORT;           // receive port (user-space path; tests)
  uint16_t remote_port = HB_BFD_PORT;    // where we send (tests)
  std::string bind_address = "::";       // user-space receiver
  // The driver's thread not running for this long (beyond its 5 ms tick) is a stall that
  // holds the hold_after_stall sessions; 0: stalls are not looked for.
  uint64_t stall_ns = 0;
};

// A session reached Up (up = true) or left it (up = false, with the diagnostic).
struct StateChange {
  std::string peer;
  bool up = false;
  bfd::State from = bfd::State::Down;
  bfd::State to = bfd::State::Down;
  bfd::Diag diag = bfd::Diag::None;
  // Down because the remote said AdminDown (its operator or its shutdown): RFC 5882 §3.2,
  // clients must not treat this as a forwarding failure.
  bool remote_admin_down = false;
  std::string why() const;  // "BFD Down (Control Detection Time Expired)"
};

class Driver {
 public:
  using OnChange = std::function<void(const StateChange&)>;
  // A stall held the hold_after_stall sessions (`generation` numbers the stalls).
  using OnStall = std::function<void(uint64_t generation, uint64_t stalled_ns)>;

  // Opens the receive path and a sender per peer. nullptr and `error` when it cannot
  // (receive_path = "xdp" and the program cannot be loaded or attached; the port is
  // in use; a peer address does not parse). Nothing runs until start().
  static std::unique_ptr<Driver> create(boost::asio::io_context& io, DriverOptions options, OnChange on_change,
                                        std::string& error);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Start every session (Down, transmitting) and the receive loop.
  void start();
  // Stop timers and waits; sessions stop transmitting. Idempotent; the destructor calls it.
  void stop();
  // Daemon shutdown: every session goes AdminDown and says so once (RFC 5880 §6.8.16;
  // the remote then does not take our silence for a failure, RFC 5882 §3.2), then stop().
  void shutdown();

  // Sessions at run time (peers added through the API or by a reload). add_session: false
  // + `error` when the address does not parse or already has a session; the session
  // starts at once when the driver runs. remove_session: the session sends AdminDown once
  // (unless `silently`: its peer is someone else's now) and is deleted (its table slots
  // released); false when there is none.
  bool add_session(const DriverPeer& peer, std::string& error);
  bool remove_session(const std::string& peer, bool silently = false);

  // Stalls (see above). Set before start(). release_hold(generation): the held sessions
  // transmit again and report the change of state they had while held (Up -> Down, say);
  // false when a newer stall holds them (its own release will come).
  void set_on_stall(OnStall f) { on_stall_ = std::move(f); }
  bool release_hold(uint64_t generation);
  bool holding() const { return holding_; }
  bool has_session(const std::string& peer) const;

  std::string path() const;
  DriverStatus status() const;
  // The session of `peer` (address text as configured), for tests.
  std::optional<bfd::State> state(const std::string& peer) const;
  // Stop (or resume) transmitting for one peer, as if we had died to it (tests).
  void set_silent(const std::string& peer, bool silent);

 private:
  struct Session;
  Driver(boost::asio::io_context& io, DriverOptions options, OnChange on_change);
  bool open_source(std::string& error);
  bool choose_transmit_path(std::string& error);
  std::unique_ptr<Session> make_session(const DriverPeer& p, std::string& error);
  void start_session(Session& s, uint64_t now);
  void adopt_slots(Session& s, uint64_t now);
  void note_resume_confirmed(Session& s, const hb_slot& slot);
  void admin_down(Session& s, uint64_t now);
  void release_slots(Session& s);
  void wait_readable();
  void arm_deadline();
  void on_readable();
  void on_event(const hb_event& e, uint64_t now);
  void apply(Session& s, const std::vector<bfd::Action>& actions, uint64_t now);
  bool may_reply(const Session& s) const;
  bool replies_were_lost(const Session& s, uint64_t now) const;
  void update_reply(Session& s, uint64_t now);
  void disarm_reply(Session& s);
  void on_tick();
  void check_stall(uint64_t now);
  void report(Session& s, const StateChange& c);
  void arm_tx(Session& s, uint64_t deadline_ns);
  void unschedule_tx(Session& s);
  void rearm_tx_timer();
  void on_tx_timer();
  Session* by_disc(uint32_t disc);
  Session* by_addr(const uint8_t (&addr)[16]);

  boost::asio::io_context& io_;
  DriverOptions opts_;
  OnChange on_change_;
  std::unique_ptr<Loader> loader_;  // XDP path only; outlives source_ (declared first)
  std::unique_ptr<HealthSource> source_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
  boost::asio::steady_timer deadline_;
  std::vector<std::unique_ptr<Session>> sessions_;
  // Transmissions due, by time (CLOCK_MONOTONIC ns), and the one timer for them.
  using TxQueue = std::multimap<uint64_t, Session*>;
  static constexpr uint64_t kTxGrainNs = 250'000;
  TxQueue tx_queue_;
  boost::asio::steady_timer tx_timer_;
  uint64_t tx_timer_at_ = 0;  // when it is armed for, 0: not armed
  // Interfaces (ifindex) where the program may answer for us; empty: user space sends all.
  std::map<int, std::string> reply_interfaces_;
  // The tick: renews the lease, and is the clock stalls are measured against.
  static constexpr uint64_t kTickNs = 5'000'000;
  static constexpr uint64_t kLeaseNs = 10'000'000;
  boost::asio::steady_timer tick_timer_;
  uint64_t tick_due_ns_ = 0;   // when the tick is expected to run, 0: not ticking
  uint64_t last_tick_ns_ = 0;  // when it last ran
  OnStall on_stall_;
  bool holding_ = false;
  uint64_t hold_generation_ = 0;
  uint32_t next_discriminator_ = 0;
  uint64_t unknown_events_ = 0;
  bool running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::healthbpf
