// The BGP speaker runtime: listeners, the configured peers, the RIB they share and the
// locally originated networks. Everything runs on one io_context thread, which is the
// RIB's single owner.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bgpd/config/config.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/session/peer.hpp"
#include "bgpd/session/tap.hpp"

namespace tandem::session {

class Speaker {
 public:
  Speaker(asio::io_context& io, config::Config config);
  ~Speaker();

  // Open the listeners, start the peers, originate the networks. False + error when a
  // listener cannot be opened.
  bool start(std::string& error);
  // Apply a re-read configuration: add/remove/reset only the peers that changed, and
  // re-originate changed networks. Global changes that need a restart are logged.
  void reconfigure(const config::Config& config);
  // Send Cease to every peer, flush, then call `done` (at the latest after 2 s).
  void shutdown(std::function<void()> done);

  void set_tap(SessionTap* tap) { tap_ = tap; }
  SessionTap* tap() const { return tap_; }
  rib::Rib& rib() { return rib_; }
  const rib::Rib& rib() const { return rib_; }
  asio::io_context& io() { return io_; }
  const config::Config& config() const { return config_; }
  std::vector<PeerStatus> status() const;
  const Peer* find_peer(const wire::IpAddr& address) const;
  Peer* peer_by_id(rib::PeerId id);
  const Peer* peer_by_id(rib::PeerId id) const;

 private:
  void open_listener(const wire::IpAddr& address, std::string& error);
  void do_accept(tcp::acceptor& acceptor);
  void add_peer(const config::PeerConfig& pc);
  void remove_peer(const wire::IpAddr& address, uint8_t cease_subcode, const std::string& why);
  void originate(const config::NetworkConfig& n);
  void reap_retired();

  asio::io_context& io_;
  config::Config config_;
  rib::Rib rib_;
  SessionTap* tap_ = nullptr;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::map<wire::IpAddr, std::unique_ptr<Peer>> peers_;
  std::unordered_map<rib::PeerId, Peer*> by_id_;
  std::vector<std::unique_ptr<Peer>> retired_;  // stopped, flushing their NOTIFICATION
  rib::PeerId next_id_ = 1;
  bool shutting_down_ = false;
  bool reaping_ = false;
};

}  // namespace tandem::session
