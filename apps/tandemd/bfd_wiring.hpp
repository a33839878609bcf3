// tandemd's BFD: the healthbpf driver built from [bfd], the peers with bfd = true and the
// [ha] heartbeat session.
//  - BGP peers: state changes go to Speaker::peer_liveness (RFC 5882: a BFD Down closes
//    the BGP session at once and blocks reconnecting until the BFD session is Up again;
//    a remote AdminDown is no failure, RFC 5882 §3.2). Sessions follow the peer list:
//    peers added or removed through the API or by a reload get or lose their session.
//  - The pair's heartbeat ([ha] heartbeat = true): its state changes go to the
//    replication (the node-liveness signal), never to a BGP peer.
//  - On an HA node the BGP peers' sessions are held after a stall of the BFD thread
//    (healthbpf/driver.hpp) until the role check (the replication) confirms this node is
//    still the primary; once the sessions are handed over (switchover or fence) they
//    end without a word: their peers' BFD sessions are the other node's now.
// The driver runs on a thread of its own with its own io_context: its transmissions and
// detection timers must not wait for a long turn of the main event loop (a bulk sync,
// a flood of UPDATEs), or a busy node looks dead to its peers and to the other node
// (docs/healthbpf.md, "Threads"). State changes are posted to the main loop; the main loop's
// calls into the driver (sessions added or removed, status, shutdown) run on the BFD
// thread and wait for it.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "healthbpf/driver.hpp"

namespace tandem::app {

// The BFD sessions of a configuration: one per BGP peer with bfd = true (none on a
// standby: it talks to no peer), keyed by the peer's address; and the [ha] heartbeat's
// (nullopt without heartbeat = true).
std::map<std::string, healthbpf::DriverPeer> peer_sessions(const config::Config& cfg, bool standby);
std::optional<healthbpf::DriverPeer> heartbeat_session(const config::Config& cfg);
// How long the BFD thread may not run before an HA primary's peer sessions are held:
// half the time in which the other node could take over (its heartbeat detection
// time, or half the channel's dead interval without a heartbeat); 0 without [ha].
uint64_t stall_threshold_ns(const config::Config& cfg);
healthbpf::DriverPeer bfd_session(const config::Config& cfg, const config::PeerConfig& p);

class BfdWiring : public session::SpeakerObserver {
 public:
  // up, and why (the BFD state change in words).
  // `heard`: the change came with a packet from the other node (Down because it said so,
  // or AdminDown): it was alive just now.
  using OnPairLiveness = std::function<void(bool up, bool heard, const std::string& why)>;
  // Is this node still the primary? `done(true, why)` when confirmed, `done(false, why)`
  // when not (it was fenced); may answer later (a round trip to the other node).
  using RoleCheck = std::function<void(std::function<void(bool still_primary, const std::string& why)> done)>;

  // Creates and starts the driver ([bfd] enabled). nullptr and `error` when it cannot
  // (e.g. receive_path = "xdp" and the program cannot be loaded): tandemd exits 1.
  static std::unique_ptr<BfdWiring> start(boost::asio::io_context& io, session::Speaker& speaker,
                                          const config::Config& cfg, std::string& error);
  ~BfdWiring() override;

  // Where the heartbeat's changes go (set once the replication exists).
  void set_pair_liveness(OnPairLiveness f) { on_pair_ = std::move(f); }
  // Where a stall's hold asks whether it may end (unset: at once).
  void set_role_check(RoleCheck f) { role_check_ = std::move(f); }
  // Daemon shutdown: every session says AdminDown, so that no peer takes it for a failure.
  void shutdown();
  // The BGP sessions went to the other node (switchover, fence): the BGP peers' BFD
  // sessions end without a word and are not started again; the heartbeat carries on.
  void hand_over();
  // BFD sessions move with the BGP sessions (docs/ha.md): the BGP peers' sessions as the
  // other node needs them; resume(): sessions the other node had Up, carried on (same
  // discriminators, Up) from now, this node taking its peers over; set_on_peer_change: a BGP
  // peer's session came Up or went Down (the replication sends it to the standby).
  std::vector<healthbpf::SessionHandover> handover_states() const;
  void resume(const std::vector<healthbpf::SessionHandover>& sessions);
  void set_on_peer_change(std::function<void(const healthbpf::SessionHandover&)> f) { on_peer_change_ = std::move(f); }

  healthbpf::DriverStatus status() const;
  // For the API (runs on the event loop): the status, or nullopt when `w` is null (BFD off).
  static std::function<std::optional<healthbpf::DriverStatus>()> status_fn(const BfdWiring* w);
  // SIGHUP: [bfd] and [ha] heartbeat changes need a restart; says so. (Per-peer bfd
  // settings follow the peers: see on_peers_changed.)
  static void warn_reload(const config::Config& running, const config::Config& next);

  // SpeakerObserver: a reconcile of the BGP peers' sessions is posted (once per loop
  // turn, so that a peer removed and re-created by one reload keeps its session).
  void on_peers_changed() override;

 private:
  BfdWiring(boost::asio::io_context& io, session::Speaker& speaker) : io_(io), speaker_(speaker) {}
  void on_change(const healthbpf::StateChange& c);
  void on_stall(uint64_t generation, uint64_t stalled_ns);
  // Runs `f` on the BFD thread and waits for its result (directly when the thread does
  // not run: before start() and after the destructor stopped it).
  template <typename F>
  auto on_bfd_thread(F f) const -> decltype(f());
  void stop_thread();
  // Adds and removes sessions until they match peer_sessions(); false + the last
  // error when a session could not be opened (the others are applied).
  bool reconcile(std::string& error);

  boost::asio::io_context& io_;  // the main loop
  session::Speaker& speaker_;
  // Declared before driver_: the driver's timers and descriptors belong to it.
  mutable boost::asio::io_context bfd_io_;
  std::unique_ptr<healthbpf::Driver> driver_;  // used on the BFD thread once it runs
  std::thread thread_;
  std::optional<std::string> pair_address_;
  OnPairLiveness on_pair_;
  RoleCheck role_check_;
  std::function<void(const healthbpf::SessionHandover&)> on_peer_change_;
  bool handed_over_ = false;
  std::map<std::string, healthbpf::DriverPeer> peer_sessions_;  // BGP peers' sessions, as applied
  bool reconcile_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::app
