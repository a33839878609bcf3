#include "bgpd/session/speaker.hpp"

#include <spdlog/spdlog.h>

#include "bgpd/session/socket_protection.hpp"

namespace tandem::session {
namespace {

wire::PathAttributes network_attributes(const config::NetworkConfig& n) {
  wire::PathAttributes a;
  a.origin = n.origin;
  a.has_origin = true;
  a.has_as_path = true;
  a.next_hop = n.next_hop;
  a.med = n.med;
  a.local_pref = n.local_pref;
  a.communities = n.communities;
  a.large_communities = n.large_communities;
  return a;
}

}  // namespace

Speaker::Speaker(asio::io_context& io, config::Config config)
    : io_(io),
      config_(std::move(config)),
      rib_(rib::RibConfig{config_.local_as, config_.router_id, 0}),
      deferral_(
          io, [this](wire::Family f, const std::string& why) { end_deferral(f, why); },
          [this](rib::PeerId id) {
            const Peer* p = peer_by_id(id);
            return p ? p->name() : "#" + std::to_string(id);
          }) {
  rib_.set_output_ready_listener([this](rib::PeerId id) {
    // Called from inside RIB operations: write later, from the event loop.
    asio::post(io_, [this, id] {
      if (Peer* p = peer_by_id(id)) p->output_ready();
    });
  });
  rib_.set_best_change_listener([this](const rib::BestChange& c) {
    for (auto* o : observers_) o->on_best_change(c);
  });
}

// A summary still held is logged now: nothing may go unaccounted for. The timer goes
// with the speaker (its handler sees operation_aborted and touches nothing).
Speaker::~Speaker() { refusals_.flush(std::chrono::steady_clock::now()); }

size_t Speaker::queued_output_bytes() const {
  size_t n = 0;
  for (const auto& [id, weak] : connections_)
    if (auto c = weak.lock()) n += c->queued_bytes();
  return n;
}

size_t Speaker::unacked_output_kept_bytes() const {
  size_t n = 0;
  for (const auto& [id, weak] : connections_)
    if (auto c = weak.lock()) n += c->unacked_output_kept_bytes();
  return n;
}

std::shared_ptr<Connection> Speaker::find_connection(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.lock();
}

void Speaker::gate_moved(uint64_t connection_id) {
  if (auto c = find_connection(connection_id)) c->gate_moved();
}

bool Speaker::promote(std::string& error) {
  if (!standby_) return true;
  // Promoted whatever becomes of the listeners: the sessions taken over, and the peers
  // this node dials (the graceful-restart path), do not need them.
  const bool listening = open_listeners(config_.listen, error);
  standby_ = false;
  spdlog::info("standby node promoted: {}; peers without a session taken over start now",
               listening ? "listening for BGP" : "NOT listening for BGP (" + error + ")");
  for (auto& [address, p] : peers_) p->start_after_promotion();
  for (auto* o : observers_) o->on_peers_changed();  // e.g. BFD sessions with the peers start
  return listening;
}

Peer* Speaker::find_peer(const wire::IpAddr& address) {
  auto it = peers_.find(address);
  return it == peers_.end() ? nullptr : it->second.get();
}

bool Speaker::start(std::string& error, bool restarting) {
  if (standby_) {
    spdlog::info("standby node: no BGP listeners; sessions are mirrored from the primary");
  } else if (!open_listeners(config_.listen, error)) {
    return false;
  }
  restarting_ = restarting;
  const auto& g = config_.graceful_restart;
  if (restarting && g.enabled && !g.families.empty()) {
    // RFC 4724 §4.1: hold every UPDATE and End-of-RIB of these families until the GR
    // peers have sent theirs (SelectionDeferral), so that helpers never see a partial table.
    for (auto f : g.families) rib_.hold_output(f);
    deferral_.begin(g.families, g.selection_deferral_time);
  }
  for (const auto& n : config_.networks) {
    if (!api_routes_.count(n.prefix)) originate(n);
  }
  for (const auto& pc : config_.peers) {
    Peer* p = create_peer(pc);
    if (deferral_.active() && pc.enabled && p->gr_enabled()) deferral_.expect(p->id(), pc.families);
  }
  return true;
}

void Speaker::end_deferral(wire::Family f, const std::string& why) {
  rib_.release_output(f);
  if (!deferral_.active())  // the restart is over: OPENs from now on carry R = 0
    for (auto& [addr, p] : peers_) p->refresh_capabilities();
  for (auto* o : observers_) o->on_selection_deferral_over(f, why);
}

bool Speaker::open_listeners(const std::vector<wire::IpAddr>& addrs, std::string& error) {
  for (const auto& a : addrs) {
    open_listener(a, error);
    if (!error.empty()) {
      close_listeners();
      return false;
    }
  }
  return true;
}

void Speaker::close_listeners() {
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  // The accept handlers still reference the acceptors: free them from the loop later.
  auto old = std::make_shared<std::vector<std::unique_ptr<tcp::acceptor>>>(std::move(acceptors_));
  acceptors_.clear();
  asio::post(io_, [old] {});
}

void Speaker::open_listener(const wire::IpAddr& address, std::string& error) {
  tcp::endpoint ep(to_asio(address), config_.port);
  auto acc = std::make_unique<tcp::acceptor>(io_);
  boost::system::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  // "::" listens for IPv6 only; IPv4 is a separate listener on "0.0.0.0".
  if (!ec && address.is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen on [" + address.to_string() + "]:" + std::to_string(config_.port) + ": " + ec.message();
    return;
  }
  spdlog::info("listening on [{}]:{}", address.to_string(), config_.port);
  acceptors_.push_back(std::move(acc));
  for (auto& [addr, p] : peers_) set_listener_key(*acceptors_.back(), p->config());
  update_gtsm_filters();
  do_accept(*acceptors_.back());
}

// One asynchronous accept, then non-blocking ones until the listener's queue is empty or
// this many were taken in the turn: a storm of connection attempts is cleared at once
// instead of one per turn of a loop that a flooding peer keeps busy (docs/security.md,
// "Hostile peers"), and the bound keeps everything else from waiting long.
constexpr int kAcceptsPerTurn = 64;

void Speaker::do_accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      on_accepted(std::move(socket));
      boost::system::error_code e;
      if (!acceptor.non_blocking()) acceptor.non_blocking(true, e);
      for (int i = 1; !e && i < kAcceptsPerTurn; ++i) {
        tcp::socket next(io_);
        acceptor.accept(next, e);  // would_block: the queue is empty
        if (!e) on_accepted(std::move(next));
      }
    }
    do_accept(acceptor);
  });
}

void Speaker::on_accepted(tcp::socket socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  wire::IpAddr from = ec ? wire::IpAddr{} : to_ip(remote.address());
  auto it = peers_.find(from);
  if (shutting_down_ || it == peers_.end()) {
    // The socket closes as it goes out of scope. Logged through the rate limit: a storm
    // from unknown addresses must not flood the log (docs/security.md, "Hostile peers").
    refusals_.record(from, shutting_down_ ? RefusalLog::Reason::ShuttingDown : RefusalLog::Reason::NotConfigured,
                     std::chrono::steady_clock::now());
    arm_refusal_timer();
  } else {
    it->second->accept(std::move(socket));
  }
}

// The window's summary must come out even when no further connection arrives: a timer
// for when it is due, armed only while one is held.
void Speaker::arm_refusal_timer() {
  auto due = refusals_.summary_due();
  if (!due || refusal_timer_armed_) return;
  if (!refusal_timer_) refusal_timer_ = std::make_unique<asio::steady_timer>(io_);
  refusal_timer_armed_ = true;
  refusal_timer_->expires_at(*due);
  refusal_timer_->async_wait([this](const boost::system::error_code& e) {
    if (e) return;  // cancelled: the speaker is being destroyed (or shut down)
    refusal_timer_armed_ = false;
    refusals_.expire(std::chrono::steady_clock::now());
    arm_refusal_timer();  // a later window's summary (a refusal ended this one early)
  });
}

// TCP-MD5 (RFC 2385): the listener must hold the key of every peer that signs, or the
// kernel drops its SYNs; listeners of the other address family are left alone.
void Speaker::set_listener_key(tcp::acceptor& acceptor, const config::PeerConfig& pc, bool remove) {
  boost::system::error_code ec;
  auto local = acceptor.local_endpoint(ec);
  if (ec || pc.password.empty() || local.address().is_v6() != pc.address.is_v6()) return;
  if (auto e = set_md5_key(acceptor.native_handle(), pc.address, remove ? std::string() : pc.password); !e.empty())
    spdlog::error("peer {}: cannot {} its TCP-MD5 key on the listener: {}", pc.address.to_string(),
                  remove ? "remove" : "install", e);
}

void Speaker::update_gtsm_filters() {
  std::vector<wire::IpAddr> gtsm;
  for (auto& [addr, p] : peers_)
    if (p->config().ttl_security) gtsm.push_back(addr);
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    auto local = a->local_endpoint(ec);
    if (ec) continue;
    if (auto e = set_gtsm_filter(a->native_handle(), local.address().is_v6(), gtsm); !e.empty())
      spdlog::error("listener [{}]:{}: {}", local.address().to_string(), local.port(), e);
  }
}

Peer* Speaker::create_peer(const config::PeerConfig& pc) {
  for (auto& a : acceptors_) set_listener_key(*a, pc);
  auto id = next_id_++;
  auto peer = std::make_unique<Peer>(*this, id, pc);
  Peer* p = peer.get();
  peers_[pc.address] = std::move(peer);
  by_id_[id] = p;
  if (pc.ttl_security) update_gtsm_filters();
  p->start();
  for (auto* o : observers_) o->on_peers_changed();
  return p;
}

void Speaker::remove_peer(const wire::IpAddr& address, uint8_t cease_subcode, const std::string& why) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return;
  std::unique_ptr<Peer> p = std::move(it->second);
  peers_.erase(it);
  for (auto& a : acceptors_) set_listener_key(*a, p->config(), true);
  if (p->config().ttl_security) update_gtsm_filters();
  by_id_.erase(p->id());
  deferral_.peer_gone(p->id(), "peer removed: " + why);
  p->stop(cease_subcode, why);  // its session-down path withdraws its routes
  retired_.push_back(std::move(p));
  reap_retired();
  for (auto* o : observers_) o->on_peers_changed();
}

void Speaker::reap_retired() {
  std::erase_if(retired_, [](const std::unique_ptr<Peer>& p) { return p->idle(); });
  if (retired_.empty() || reaping_) return;
  reaping_ = true;
  // A member, so that the speaker's destruction cancels it: the handler must not touch
  // a destroyed speaker (ASan, CaptureApi's teardown with a peer still flushing).
  if (!reap_timer_) reap_timer_ = std::make_unique<asio::steady_timer>(io_);
  reap_timer_->expires_after(std::chrono::milliseconds(100));
  reap_timer_->async_wait([this](const boost::system::error_code& e) {
    if (e) return;  // cancelled: the speaker is being destroyed
    reaping_ = false;
    reap_retired();
  });
}

void Speaker::originate(const config::NetworkConfig& n) {
  spdlog::info("originating {}", n.prefix.to_string());
  rib_.originate(n.prefix, network_attributes(n));
}

void Speaker::reconfigure(const config::Config& next) {
  if (next.router_id != config_.router_id || next.local_as != config_.local_as || next.listen != config_.listen ||
      next.port != config_.port)
    spdlog::warn("config reload: router_id, local_as, listen and port changes need a restart; keeping the old values");
  config::Config merged = next;
  merged.router_id = config_.router_id;
  merged.local_as = config_.local_as;
  merged.listen = config_.listen;
  merged.port = config_.port;
  merged.api = config_.api;          // [api] and [metrics] need a restart
  merged.metrics = config_.metrics;
  merged.bfd = config_.bfd;          // [bfd] and [ha] too (the daemon says so)
  merged.ha = config_.ha;
  config::Config old = std::move(config_);
  config_ = std::move(merged);

  size_t added = 0, removed = 0, reset = 0;
  for (const auto& op : old.peers) {
    const auto* np = config_.find_peer(op.address);
    if (!np) {
      remove_peer(op.address, wire::err::kPeerDeconfigured, "peer removed from the configuration");
      ++removed;
    } else if (!(*np == op)) {
      remove_peer(op.address, wire::err::kOtherConfigChange, "peer configuration changed");
      create_peer(*np);
      ++reset;
    }
  }
  for (const auto& np : config_.peers) {
    if (!old.find_peer(np.address)) {
      create_peer(np);
      ++added;
    }
  }
  size_t nets = 0;
  for (const auto& on : old.networks) {
    bool still = false;
    for (const auto& nn : config_.networks) still |= (nn == on);
    if (!still) {
      if (api_routes_.count(on.prefix)) continue;  // an API route owns the prefix
      spdlog::info("no longer originating {}", on.prefix.to_string());
      rib_.withdraw_local(on.prefix);
      ++nets;
    }
  }
  for (const auto& nn : config_.networks) {
    bool had = false;
    for (const auto& on : old.networks) had |= (nn == on);
    if (!had) {
      if (api_routes_.count(nn.prefix)) continue;  // an API route owns the prefix
      originate(nn);
      ++nets;
    }
  }
  spdlog::info("config reloaded from {}: {} peers added, {} removed, {} reset, {} networks changed, {} unchanged peers "
               "untouched",
               config_.file, added, removed, reset, nets, config_.peers.size() - added - reset);
}

void Speaker::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  // No more connections to refuse: the held summary now, not after the exit.
  refusals_.flush(std::chrono::steady_clock::now());
  if (refusal_timer_) refusal_timer_->cancel();
  refusal_timer_armed_ = false;
  std::vector<wire::IpAddr> addrs;
  for (auto& [a, p] : peers_) addrs.push_back(a);
  for (auto& a : addrs) remove_peer(a, wire::err::kAdminShutdown, "tandemd shutting down");
  // Wait until every NOTIFICATION is flushed, at most 2 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, done, deadline, check] {
    std::erase_if(retired_, [](const std::unique_ptr<Peer>& p) { return p->idle(); });
    if (retired_.empty() || std::chrono::steady_clock::now() > deadline) {
      if (!retired_.empty()) spdlog::warn("shutdown: {} peers did not close in time", retired_.size());
      retired_.clear();
      done();
      *check = nullptr;  // break the self-reference
      return;
    }
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(20));
    t->async_wait([t, check](const boost::system::error_code&) {
      if (*check) (*check)();
    });
  };
  (*check)();
}

std::vector<PeerStatus> Speaker::status() const {
  std::vector<PeerStatus> out;
  for (auto& [a, p] : peers_) out.push_back(p->status());
  return out;
}

const Peer* Speaker::find_peer(const wire::IpAddr& address) const {
  auto it = peers_.find(address);
  return it == peers_.end() ? nullptr : it->second.get();
}

Peer* Speaker::peer_by_id(rib::PeerId id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

const Peer* Speaker::peer_by_id(rib::PeerId id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

// ---- operator actions ----

namespace {
std::string cease_text(const std::string& communication, const char* fallback) {
  return communication.empty() ? std::string(fallback) : communication;
}
}  // namespace

OpResult Speaker::add_peer(const config::PeerConfig& pc) {
  if (shutting_down_) return OpResult::error(OpResult::Unavailable, "tandemd is shutting down");
  if (peers_.count(pc.address))
    return OpResult::error(OpResult::AlreadyExists, "peer " + pc.address.to_string() + " already exists");
  if (pc.bfd && !config_.bfd.enabled)
    return OpResult::error(OpResult::FailedPrecondition,
                           "peer " + pc.address.to_string() + ": bfd: BFD is not enabled ([bfd] enabled = true)");
  if (pc.bfd && config_.ha.heartbeat && config_.ha.heartbeat_peer() == pc.address)
    return OpResult::error(OpResult::InvalidArgument,
                           "peer " + pc.address.to_string() + ": bfd: that address has the pair's heartbeat session");
  config_.peers.push_back(pc);
  spdlog::info("API: adding peer {}", pc.address.to_string());
  create_peer(pc);
  return {};
}

OpResult Speaker::delete_peer(const wire::IpAddr& address, const std::string& communication) {
  if (!peers_.count(address))
    return OpResult::error(OpResult::NotFound, "peer " + address.to_string() + " does not exist");
  spdlog::info("API: deleting peer {}", address.to_string());
  std::erase_if(config_.peers, [&](const config::PeerConfig& p) { return p.address == address; });
  remove_peer(address, wire::err::kPeerDeconfigured, cease_text(communication, "peer deleted by the operator"));
  return {};
}

OpResult Speaker::enable_peer(const wire::IpAddr& address) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return OpResult::error(OpResult::NotFound, "peer " + address.to_string() + " does not exist");
  if (it->second->config().enabled) return {};
  config::PeerConfig pc = it->second->config();
  pc.enabled = true;
  for (auto& p : config_.peers) {
    if (p.address == address) p.enabled = true;
  }
  spdlog::info("API: enabling peer {}", address.to_string());
  remove_peer(address, wire::err::kAdminReset, "peer enabled");
  create_peer(pc);
  return {};
}

OpResult Speaker::disable_peer(const wire::IpAddr& address, const std::string& communication) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return OpResult::error(OpResult::NotFound, "peer " + address.to_string() + " does not exist");
  if (!it->second->config().enabled) return {};
  config::PeerConfig pc = it->second->config();
  pc.enabled = false;
  for (auto& p : config_.peers) {
    if (p.address == address) p.enabled = false;
  }
  spdlog::info("API: disabling peer {}", address.to_string());
  remove_peer(address, wire::err::kAdminShutdown, cease_text(communication, "peer disabled by the operator"));
  create_peer(pc);
  return {};
}

OpResult Speaker::reset_peer(const wire::IpAddr& address, ResetKind kind, const std::vector<wire::Family>& families,
                             const std::string& communication) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return OpResult::error(OpResult::NotFound, "peer " + address.to_string() + " does not exist");
  Peer& p = *it->second;
  std::string why;
  switch (kind) {
    case ResetKind::Hard: {
      config::PeerConfig pc = p.config();
      spdlog::info("API: hard reset of peer {}", address.to_string());
      remove_peer(address, wire::err::kAdminReset, cease_text(communication, "administrative reset"));
      create_peer(pc);
      return {};
    }
    case ResetKind::SoftIn:
      if (!p.soft_reset_in(families, why)) return OpResult::error(OpResult::FailedPrecondition, why);
      return {};
    case ResetKind::SoftOut:
      if (!p.soft_reset_out(families, why)) return OpResult::error(OpResult::FailedPrecondition, why);
      return {};
    case ResetKind::SoftBoth:
      // Check inbound first so that a refused request changes nothing.
      if (!p.soft_reset_in(families, why)) return OpResult::error(OpResult::FailedPrecondition, why);
      if (!p.soft_reset_out(families, why)) return OpResult::error(OpResult::FailedPrecondition, why);
      return {};
  }
  return {};
}

OpResult Speaker::set_global(const GlobalChange& ch) {
  if (shutting_down_) return OpResult::error(OpResult::Unavailable, "tandemd is shutting down");
  auto listen = ch.listen.value_or(config_.listen);
  auto port = ch.port.value_or(config_.port);
  if (listen != config_.listen || port != config_.port) {
    auto old_listen = config_.listen;
    auto old_port = config_.port;
    close_listeners();
    config_.listen = listen;
    config_.port = port;
    std::string err;
    if (!open_listeners(listen, err)) {
      config_.listen = old_listen;
      config_.port = old_port;
      std::string err2;
      if (!open_listeners(old_listen, err2)) spdlog::error("cannot restore the old listeners: {}", err2);
      return OpResult::error(OpResult::FailedPrecondition, err);
    }
    spdlog::info("API: listeners re-opened");
  }
  auto rid = ch.router_id.value_or(config_.router_id);
  auto as = ch.local_as.value_or(config_.local_as);
  if (rid != config_.router_id || as != config_.local_as) {
    spdlog::info("API: router id {} AS {} -> router id {} AS {}: resetting every session",
                 wire::IpAddr::v4(config_.router_id).to_string(), config_.local_as, wire::IpAddr::v4(rid).to_string(),
                 as);
    std::vector<config::PeerConfig> pcs;
    for (auto& [a, p] : peers_) pcs.push_back(p->config());
    for (auto& pc : pcs) remove_peer(pc.address, wire::err::kOtherConfigChange, "router id or local AS changed");
    config_.router_id = rid;
    config_.local_as = as;
    rib_.set_identity(as, rid);
    for (auto& pc : pcs) create_peer(pc);
  }
  return {};
}

const config::NetworkConfig* Speaker::config_network(const wire::Prefix& prefix) const {
  for (const auto& n : config_.networks) {
    if (n.prefix == prefix) return &n;
  }
  return nullptr;
}

void Speaker::originate_api(const wire::Prefix& prefix, wire::PathAttributes attrs) {
  spdlog::info("API: originating {}", prefix.to_string());
  api_routes_[prefix] = attrs;
  if (api_route_listener_) api_route_listener_(std::span<const wire::Prefix>(&prefix, 1), &attrs);
  rib_.originate(prefix, std::move(attrs));
}

void Speaker::originate_api(std::span<const wire::Prefix> prefixes, const wire::PathAttributes& attrs) {
  if (prefixes.empty()) return;
  spdlog::debug("API: originating {} routes ({} ...)", prefixes.size(), prefixes.front().to_string());
  for (const auto& p : prefixes) {
    api_routes_[p] = attrs;
    rib_.originate(p, attrs);
  }
  if (api_route_listener_) api_route_listener_(prefixes, &attrs);
}

bool Speaker::withdraw_api(const wire::Prefix& prefix) {
  auto it = api_routes_.find(prefix);
  if (it == api_routes_.end()) return false;
  api_routes_.erase(it);
  if (api_route_listener_) api_route_listener_(std::span<const wire::Prefix>(&prefix, 1), nullptr);
  if (const auto* n = config_network(prefix)) {
    originate(*n);  // the configured network comes back
  } else {
    spdlog::info("API: no longer originating {}", prefix.to_string());
    rib_.withdraw_local(prefix);
  }
  return true;
}

void Speaker::add_observer(SpeakerObserver* o) { observers_.push_back(o); }

void Speaker::remove_observer(SpeakerObserver* o) { std::erase(observers_, o); }

void Speaker::notify_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) {
  for (auto* o : observers_) o->on_peer_state(peer, from, to, reason);
}

OpResult Speaker::peer_liveness(const wire::IpAddr& address, bool up, const std::string& why) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return OpResult::error(OpResult::NotFound, "no peer " + address.to_string());
  it->second->on_liveness(up, why);
  return {};
}

}  // namespace tandem::session
