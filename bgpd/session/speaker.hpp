// The BGP speaker runtime: listeners, the configured peers, the RIB they share and the
// locally originated networks. Everything runs on one io_context thread, which is the
// RIB's single owner.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/session/peer.hpp"
#include "bgpd/session/refusal_log.hpp"
#include "bgpd/session/selection_deferral.hpp"
#include "bgpd/session/tap.hpp"

namespace tandem::session {

// Told about what happens on the event loop thread (from inside it; observers must not
// block, and must not call back into the Rib from on_best_change except const queries).
class SpeakerObserver {
 public:
  virtual ~SpeakerObserver() = default;
  virtual void on_peer_state(const wire::IpAddr& /*peer*/, fsm::State /*from*/, fsm::State /*to*/,
                             const std::string& /*reason*/) {}
  virtual void on_best_change(const rib::BestChange& /*change*/) {}
  // After our own restart: the family's selection deferral is over (RFC 4724 §4.1).
  virtual void on_selection_deferral_over(wire::Family /*family*/, const std::string& /*why*/) {}
  // A peer was created or removed (API, reload, enable/disable): config().peers changed.
  // Called once per peer change, also mid-way through a remove-then-create of one peer.
  virtual void on_peers_changed() {}
};

// Outcome of an operator action (API). `code` maps to a gRPC status.
struct OpResult {
  enum Code { Ok, NotFound, AlreadyExists, FailedPrecondition, InvalidArgument, Unavailable };
  Code code = Ok;
  std::string message;
  bool ok() const { return code == Ok; }
  static OpResult error(Code c, std::string m) { return OpResult{c, std::move(m)}; }
};

enum class ResetKind { Hard, SoftIn, SoftOut, SoftBoth };

// Global settings that SetGlobal may change (unset = keep).
struct GlobalChange {
  std::optional<uint32_t> router_id;  // host order
  std::optional<uint32_t> local_as;
  std::optional<std::vector<wire::IpAddr>> listen;
  std::optional<uint16_t> port;
};

class Speaker {
 public:
  Speaker(asio::io_context& io, config::Config config);
  ~Speaker();

  // Open the listeners, start the peers, originate the networks. False + error when a
  // listener cannot be opened. `restarting`: tandemd restarted (its previous run did not
  // exit cleanly): act as the graceful-restart restarting speaker (RFC 4724 §4.1).
  bool start(std::string& error, bool restarting = false);
  // Apply a re-read configuration: add/remove/reset only the peers that changed, and
  // re-originate changed networks. Global changes that need a restart are logged.
  void reconfigure(const config::Config& config);
  // Send Cease to every peer, flush, then call `done` (at the latest after 2 s).
  void shutdown(std::function<void()> done);

  // Taps see every connection's bytes (MRT recording, replication); add before start().
  void add_tap(SessionTap* tap) { taps_.add(tap); }
  void remove_tap(SessionTap* tap) { taps_.remove(tap); }
  SessionTap* tap() { return &taps_; }
  // Live connections by id (for the taps: gate_moved, TCP state).
  void register_connection(uint64_t id, std::weak_ptr<Connection> c) { connections_[id] = std::move(c); }
  void unregister_connection(uint64_t id) { connections_.erase(id); }
  std::shared_ptr<Connection> find_connection(uint64_t id) const;
  // A tap's flow-control limit for the connection moved (SessionTap::outbound_limit).
  void gate_moved(uint64_t connection_id);
  // HA (replication): every live connection keeps a copy of the output its peer has not
  // acknowledged (SentTail), for a standby's bulk sync. Set before start().
  void set_keep_unacked_output(bool keep) { keep_unacked_output_ = keep; }
  bool keep_unacked_output() const { return keep_unacked_output_; }
  // Standby node (replication): no listeners, no connections of its own; its sessions
  // are shadows of the primary's (Peer::attach_shadow). Set before start().
  void set_standby(bool standby) { standby_ = standby; }
  bool standby() const { return standby_; }
  // Takeover: the standby node becomes the active one and opens the listeners (false +
  // error when it cannot: promoted all the same, without them). The caller promotes the shadows it took
  // over first (Peer::promote_shadow); every other peer then starts as on a live node.
  bool promote(std::string& error);
  Peer* find_peer(const wire::IpAddr& address);
  rib::Rib& rib() { return rib_; }
  SelectionDeferral& deferral() { return deferral_; }
  bool restarting() const { return restarting_; }  // this run started as a graceful restart
  const SelectionDeferral& deferral() const { return deferral_; }
  const rib::Rib& rib() const { return rib_; }
  asio::io_context& io() { return io_; }
  const config::Config& config() const { return config_; }
  std::vector<PeerStatus> status() const;
  const Peer* find_peer(const wire::IpAddr& address) const;
  std::chrono::system_clock::time_point started() const { return started_; }
  // Bytes encoded for the peers and not yet taken by their sockets (all connections).
  size_t queued_output_bytes() const;
  size_t unacked_output_kept_bytes() const;  // keep_unacked_output: what the connections keep
  // Connections refused at accept since this speaker was made (unknown address, or
  // shutting down): every one, also those the rate-limited log only counted.
  uint64_t connections_refused() const { return refusals_.total(); }
  // Tests: a sink and limits for the refusal log instead of spdlog and 10 per 10 s.
  // Before start() (it starts the count again).
  void set_refusal_log(RefusalLog::Sink sink, RefusalLimits limits) {
    refusals_ = RefusalLog(std::move(sink), limits);
  }

  // ---- operator actions (API); all on the event loop thread ----
  OpResult add_peer(const config::PeerConfig& pc);
  OpResult delete_peer(const wire::IpAddr& address, const std::string& communication);
  OpResult enable_peer(const wire::IpAddr& address);
  OpResult disable_peer(const wire::IpAddr& address, const std::string& communication);
  // families empty: every negotiated family.
  OpResult reset_peer(const wire::IpAddr& address, ResetKind kind, const std::vector<wire::Family>& families,
                      const std::string& communication);
  // Router id / AS change resets every session (Cease / Other Configuration Change);
  // a listen/port change re-opens the listeners (on failure the old ones are restored
  // and nothing is changed).
  OpResult set_global(const GlobalChange& change);
  // Routes injected through the API. They are kept apart from the configured
  // [[network]]s: a reload never drops them, and they take precedence over a configured
  // network for the same prefix (which comes back when the API route is deleted).
  void originate_api(const wire::Prefix& prefix, wire::PathAttributes attrs);
  // Many API routes sharing one attribute set (bulk injection): the same, logged once.
  void originate_api(std::span<const wire::Prefix> prefixes, const wire::PathAttributes& attrs);
  bool withdraw_api(const wire::Prefix& prefix);
  const std::map<wire::Prefix, wire::PathAttributes>& api_routes() const { return api_routes_; }
  // Told of every change to the API's routes (replication mirrors them on the standby):
  // the prefixes and their attributes, or nullptr when they were withdrawn.
  using ApiRouteListener = std::function<void(std::span<const wire::Prefix>, const wire::PathAttributes*)>;
  void set_api_route_listener(ApiRouteListener f) { api_route_listener_ = std::move(f); }

  // BFD (or another liveness source) about a peer's forwarding path; see Peer::on_liveness.
  // NotFound for an unknown peer.
  OpResult peer_liveness(const wire::IpAddr& address, bool up, const std::string& why);

  void add_observer(SpeakerObserver* o);
  void remove_observer(SpeakerObserver* o);
  void notify_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason);
  Peer* peer_by_id(rib::PeerId id);
  const Peer* peer_by_id(rib::PeerId id) const;

 private:
  void open_listener(const wire::IpAddr& address, std::string& error);
  void do_accept(tcp::acceptor& acceptor);
  void on_accepted(tcp::socket socket);
  Peer* create_peer(const config::PeerConfig& pc);
  void set_listener_key(tcp::acceptor& acceptor, const config::PeerConfig& pc, bool remove = false);
  void update_gtsm_filters();  // the listeners' GTSM socket filters, from the peers
  void end_deferral(wire::Family f, const std::string& why);
  bool open_listeners(const std::vector<wire::IpAddr>& addrs, std::string& error);
  void close_listeners();
  void remove_peer(const wire::IpAddr& address, uint8_t cease_subcode, const std::string& why);
  void originate(const config::NetworkConfig& n);
  const config::NetworkConfig* config_network(const wire::Prefix& prefix) const;
  void reap_retired();
  void arm_refusal_timer();

  asio::io_context& io_;
  config::Config config_;
  rib::Rib rib_;
  SelectionDeferral deferral_;
  TapSet taps_;
  bool keep_unacked_output_ = false;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;
  bool standby_ = false;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::map<wire::IpAddr, std::unique_ptr<Peer>> peers_;
  std::unordered_map<rib::PeerId, Peer*> by_id_;
  std::vector<std::unique_ptr<Peer>> retired_;  // stopped, flushing their NOTIFICATION
  std::unique_ptr<asio::steady_timer> reap_timer_;
  // Refused connections: logged 10 per 10 s, the rest summed up when the window ends,
  // by this timer (a member for the same reason as reap_timer_) if nothing else comes.
  RefusalLog refusals_;
  std::unique_ptr<asio::steady_timer> refusal_timer_;
  bool refusal_timer_armed_ = false;
  rib::PeerId next_id_ = 1;
  bool shutting_down_ = false;
  bool restarting_ = false;
  bool reaping_ = false;
  std::map<wire::Prefix, wire::PathAttributes> api_routes_;
  ApiRouteListener api_route_listener_;
  std::vector<SpeakerObserver*> observers_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace tandem::session
