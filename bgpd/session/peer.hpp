// One configured BGP neighbour: its connections (an outgoing one it keeps dialling
// unless passive, and at most one incoming), collision resolution between them
// (RFC 4271 §6.8), and the bridge between the established connection and the RIB.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/session/connection.hpp"

namespace tandem::session {

class Speaker;

struct PeerStatus {
  wire::IpAddr address;
  uint32_t remote_as = 0;
  std::string description;
  bool enabled = true;
  fsm::State state = fsm::State::Idle;
  std::string last_error;
  std::optional<std::chrono::system_clock::time_point> established_since;
  std::optional<fsm::Negotiated> negotiated;
  rib::PeerCounters counters;
  uint64_t messages_in = 0, messages_out = 0;
};

class Peer {
 public:
  Peer(Speaker& speaker, rib::PeerId id, config::PeerConfig config);
  ~Peer();

  void start();
  // Send Cease with `subcode` on every open connection and stop for good.
  void stop(uint8_t cease_subcode, const std::string& reason);
  void accept(tcp::socket socket);
  void output_ready();
  bool idle() const;  // no connection open (a stopped peer can be destroyed)

  rib::PeerId id() const { return id_; }
  const config::PeerConfig& config() const { return config_; }
  const std::string& name() const { return name_; }  // "192.0.2.2" for logs
  PeerStatus status() const;

  // ---- called by Connection ----
  void on_state_changed(Connection& c, const fsm::act::StateChanged& change);
  void on_open_received(Connection& c, const wire::Open& open);
  void on_established(Connection& c, const fsm::Negotiated& negotiated);
  std::optional<wire::WireError> on_update(Connection& c, std::span<const uint8_t> body);
  void on_route_refresh(Connection& c, const wire::RouteRefresh& request);
  void on_notification(Connection& c, const wire::Notification& n, bool sent);
  void on_session_down(Connection& c, const std::string& reason);
  void on_disconnected(Connection& c);
  size_t take_output(Connection& c, size_t max_bytes, std::vector<uint8_t>& out);
  void count_message(bool inbound) { (inbound ? messages_in_ : messages_out_)++; }

 private:
  fsm::Config fsm_config(bool passive) const;
  rib::PeerInfo rib_info(Connection& c, const fsm::Negotiated& n) const;
  void drop(Connection& c);
  void post_ensure_outgoing();
  void ensure_outgoing();  // (re)create the outgoing connection when none is in progress

  Speaker& speaker_;
  rib::PeerId id_;
  config::PeerConfig config_;
  std::string name_;
  std::shared_ptr<Connection> outgoing_;
  std::shared_ptr<Connection> incoming_;
  Connection* established_ = nullptr;
  bool stopping_ = false;
  std::string last_error_;
  std::optional<std::chrono::system_clock::time_point> established_since_;
  uint64_t messages_in_ = 0, messages_out_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for posted callbacks
};

}  // namespace tandem::session
