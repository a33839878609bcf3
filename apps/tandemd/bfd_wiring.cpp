#include "apps/tandemd/bfd_wiring.hpp"

#include <spdlog/spdlog.h>

#include <future>
#include <map>

namespace tandem::app {

healthbpf::DriverPeer bfd_session(const config::Config& cfg, const config::PeerConfig& p) {
  const auto& b = cfg.bfd;
  healthbpf::DriverPeer d;
  d.address = p.address.to_string();
  if (p.local_address) d.local_address = p.local_address->to_string();
  d.desired_min_tx_us = p.bfd_desired_min_tx_ms.value_or(b.desired_min_tx_ms) * 1000;
  d.required_min_rx_us = p.bfd_required_min_rx_ms.value_or(b.required_min_rx_ms) * 1000;
  d.detect_mult = p.bfd_detect_mult.value_or(b.detect_mult);
  d.hold_after_stall = cfg.ha.enabled();
  return d;
}

uint64_t stall_threshold_ns(const config::Config& cfg) {
  const auto& ha = cfg.ha;
  if (!ha.enabled()) return 0;
  const uint64_t takeover_ms = ha.heartbeat ? uint64_t{ha.heartbeat_interval_ms} * ha.heartbeat_detect_mult
                                            : uint64_t{ha.channel_dead_ms};
  return takeover_ms * 1'000'000 / 2;
}

std::optional<healthbpf::DriverPeer> heartbeat_session(const config::Config& cfg) {
  const auto& ha = cfg.ha;
  if (!ha.enabled() || !ha.heartbeat || !ha.heartbeat_peer()) return std::nullopt;
  healthbpf::DriverPeer d;
  d.address = ha.heartbeat_peer()->to_string();
  if (ha.heartbeat_local_address) d.local_address = ha.heartbeat_local_address->to_string();
  else if (ha.listen) d.local_address = ha.listen->first.to_string();
  d.desired_min_tx_us = d.required_min_rx_us = ha.heartbeat_interval_ms * 1000;
  d.detect_mult = ha.heartbeat_detect_mult;
  d.kernel_replies = false;  // a hung node must fall silent to its partner at once
  return d;
}

std::map<std::string, healthbpf::DriverPeer> peer_sessions(const config::Config& cfg, bool standby) {
  std::map<std::string, healthbpf::DriverPeer> out;
  // A standby talks to no BGP peer: its peers' sessions start when it is promoted.
  if (standby) return out;
  for (const auto& p : cfg.peers)
    if (p.bfd) out[p.address.to_string()] = bfd_session(cfg, p);
  return out;
}

std::unique_ptr<BfdWiring> BfdWiring::start(boost::asio::io_context& io, session::Speaker& speaker,
                                            const config::Config& cfg, std::string& error) {
  std::unique_ptr<BfdWiring> w(new BfdWiring(io, speaker));
  BfdWiring* self = w.get();
  // The driver starts with the heartbeat only; the BGP peers' sessions are added by
  // the same reconcile() that follows the peer list later.
  healthbpf::DriverOptions o;
  o.receive_path = cfg.bfd.receive_path;
  o.interfaces = cfg.bfd.interfaces;
  o.xdp_mode = cfg.bfd.xdp_mode;
  o.transmit_path = cfg.bfd.transmit_path;
  o.stall_ns = stall_threshold_ns(cfg);
  if (auto hb = heartbeat_session(cfg)) {
    o.peers.push_back(*hb);
    w->pair_address_ = hb->address;
    spdlog::info("bfd: heartbeat with the other node {} ({} ms x {}): the node-liveness signal of the pair",
                 hb->address, cfg.ha.heartbeat_interval_ms, unsigned(cfg.ha.heartbeat_detect_mult));
  }
  // A change is handled on the main loop (the speaker and the replication live there).
  // The thread is stopped before the wiring is destroyed, so `self` outlives the post;
  // the handler checks `alive` because the main loop may run it after that.
  std::weak_ptr<bool> alive = w->alive_;
  w->driver_ = healthbpf::Driver::create(
      w->bfd_io_, o,
      [self, alive](const healthbpf::StateChange& c) {
        boost::asio::post(self->io_, [self, alive, c] {
          if (!alive.expired()) self->on_change(c);
        });
      },
      error);
  if (!w->driver_) return nullptr;
  w->driver_->set_on_stall([self, alive](uint64_t generation, uint64_t stalled_ns) {
    boost::asio::post(self->io_, [self, alive, generation, stalled_ns] {
      if (!alive.expired()) self->on_stall(generation, stalled_ns);
    });
  });
  // At start a session that cannot be opened (e.g. an unusable local address) is fatal.
  if (!w->reconcile(error)) return nullptr;
  w->driver_->start();
  if (w->peer_sessions_.empty() && !w->pair_address_) spdlog::info("bfd: enabled, but no session to run");
  // From here on the driver belongs to the BFD thread.
  w->thread_ = std::thread([self] {
    auto work = boost::asio::make_work_guard(self->bfd_io_);
    self->bfd_io_.run();
  });
  speaker.add_observer(self);
  return w;
}

BfdWiring::~BfdWiring() {
  *alive_ = false;
  speaker_.remove_observer(this);
  stop_thread();
  driver_.reset();  // on this thread: the BFD thread has ended
}

void BfdWiring::stop_thread() {
  if (!thread_.joinable()) return;
  bfd_io_.stop();
  thread_.join();
}

template <typename F>
auto BfdWiring::on_bfd_thread(F f) const -> decltype(f()) {
  if (!thread_.joinable()) return f();
  auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
  auto result = task->get_future();
  boost::asio::post(bfd_io_, [task] { (*task)(); });
  return result.get();
}

void BfdWiring::shutdown() {
  on_bfd_thread([this] { driver_->shutdown(); });
}

void BfdWiring::hand_over() {
  if (handed_over_) return;
  handed_over_ = true;
  for (const auto& [address, session] : peer_sessions_)
    on_bfd_thread([&] { return driver_->remove_session(address, /*silently=*/true); });
  if (!peer_sessions_.empty())
    spdlog::info("bfd: {} BGP peers' sessions ended without a word: their BGP sessions are the other node's",
                 peer_sessions_.size());
  peer_sessions_.clear();
}

// The main loop runs this after the BFD thread held the peers' sessions: the replication
// says whether they may speak again (this node is still the primary) or not (fenced:
// hand_over() follows and ends them).
void BfdWiring::on_stall(uint64_t generation, uint64_t stalled_ns) {
  if (handed_over_) return;
  auto release = [this, generation](const std::string& why) {
    spdlog::info("bfd: {}: the BGP peers' sessions may speak again", why);
    on_bfd_thread([&] { return driver_->release_hold(generation); });
  };
  if (!role_check_) return release("no replication");
  spdlog::info("bfd: after a stall of {:.1f} ms: asking the replication whether this node is still the primary",
               double(stalled_ns) / 1e6);
  std::weak_ptr<bool> alive = alive_;
  role_check_([this, alive, release](bool still_primary, const std::string& why) {
    if (alive.expired() || handed_over_) return;
    if (still_primary) return release(why);
    spdlog::warn("bfd: the BGP peers' sessions stay silent: {}", why);
  });
}

std::vector<healthbpf::SessionHandover> BfdWiring::handover_states() const {
  std::vector<healthbpf::SessionHandover> out;
  if (peer_sessions_.empty()) return out;
  for (const auto& s : status().sessions) {
    if (!peer_sessions_.count(s.peer)) continue;
    out.push_back({s.peer, s.local_state == "Up", s.local_discriminator, s.remote_discriminator, s.remote_min_tx_us,
                   s.remote_min_rx_us, s.remote_detect_mult});
  }
  return out;
}

// Started at once, as this node's sessions (the speaker leaves standby only later in the
// same handler: reconcile() then finds them running). Waiting for that reconcile cost
// 34 ms in CI under ASan, and FRR's 150 ms detection time expired first.
void BfdWiring::resume(const std::vector<healthbpf::SessionHandover>& sessions) {
  if (handed_over_) return;
  const auto want = peer_sessions(speaker_.config(), /*standby=*/false);
  size_t started = 0;
  for (const auto& h : sessions) {
    auto w = want.find(h.peer);
    if (w == want.end() || peer_sessions_.count(h.peer)) continue;
    healthbpf::DriverPeer start = w->second;  // peer_sessions_ keeps the configured one
    start.resume = h;
    std::string why;
    if (!on_bfd_thread([&] { return driver_->add_session(start, why); })) {
      spdlog::error("bfd: peer {}: cannot carry on its BFD session: {}", h.peer, why);
      continue;
    }
    peer_sessions_[h.peer] = w->second;
    ++started;
  }
  if (started > 0)
    spdlog::info("bfd: {} BGP peers' sessions the other node had Up are carried on here with its discriminators",
                 started);
}

healthbpf::DriverStatus BfdWiring::status() const {
  return on_bfd_thread([this] { return driver_->status(); });
}

void BfdWiring::on_change(const healthbpf::StateChange& c) {
  if (pair_address_ && c.peer == *pair_address_) {
    const bool heard = c.up || c.remote_admin_down || c.diag == tandem::bfd::Diag::NeighborSignaledDown;
    if (on_pair_) on_pair_(c.up, heard, c.why());
    return;
  }
  if (on_peer_change_ && peer_sessions_.count(c.peer))
    for (const auto& h : handover_states())
      if (h.peer == c.peer) on_peer_change_(h);
  if (c.remote_admin_down) {
    // RFC 5882 §3.2: the remote's operator (or shutdown) took BFD down; the path may be fine.
    spdlog::info("bfd: peer {}: the remote is AdminDown; not a forwarding failure, the BGP session is left alone",
                 c.peer);
    return;
  }
  auto addr = wire::IpAddr::parse(c.peer);
  if (!addr) return;
  auto r = speaker_.peer_liveness(*addr, c.up, c.why());
  if (!r.ok()) spdlog::debug("bfd: peer {}: {}", c.peer, r.message);
}

void BfdWiring::on_peers_changed() {
  if (reconcile_posted_) return;
  reconcile_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    if (alive.expired()) return;
    reconcile_posted_ = false;
    std::string error;
    reconcile(error);  // logged there; the other sessions carry on
  });
}

bool BfdWiring::reconcile(std::string& error) {
  if (handed_over_) return true;
  const auto want = peer_sessions(speaker_.config(), speaker_.standby());
  for (auto it = peer_sessions_.begin(); it != peer_sessions_.end();) {
    auto w = want.find(it->first);
    if (w != want.end() && w->second == it->second) {
      ++it;
      continue;
    }
    spdlog::info("bfd: peer {}: {}", it->first, w == want.end() ? "no longer configured with bfd" : "BFD settings changed");
    on_bfd_thread([&] { return driver_->remove_session(it->first); });
    it = peer_sessions_.erase(it);
  }
  bool ok = true;
  for (const auto& [address, session] : want) {
    if (peer_sessions_.count(address)) continue;
    std::string why;
    if (!on_bfd_thread([&] { return driver_->add_session(session, why); })) {
      spdlog::error("bfd: peer {}: cannot start its BFD session: {}", address, why);
      error = why;
      ok = false;
      continue;
    }
    peer_sessions_[address] = session;
  }
  return ok;
}

std::function<std::optional<healthbpf::DriverStatus>()> BfdWiring::status_fn(const BfdWiring* w) {
  return [w]() -> std::optional<healthbpf::DriverStatus> {
    if (!w) return std::nullopt;
    return w->status();
  };
}

void BfdWiring::warn_reload(const config::Config& running, const config::Config& next) {
  if (running.bfd != next.bfd) spdlog::warn("config reload: [bfd] changes need a restart; ignored");
}

}  // namespace tandem::app
