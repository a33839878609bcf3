#include "apps/tandemd/bfd_wiring.hpp"

#include <spdlog/spdlog.h>

namespace tandem::app {

healthbpf::DriverOptions bfd_driver_options(const config::Config& cfg) {
  healthbpf::DriverOptions o;
  const auto& b = cfg.bfd;
  o.receive_path = b.receive_path;
  o.interfaces = b.interfaces;
  o.xdp_mode = b.xdp_mode;
  for (const auto& p : cfg.peers) {
    if (!p.bfd) continue;
    healthbpf::DriverPeer d;
    d.address = p.address.to_string();
    if (p.local_address) d.local_address = p.local_address->to_string();
    d.desired_min_tx_us = p.bfd_desired_min_tx_ms.value_or(b.desired_min_tx_ms) * 1000;
    d.required_min_rx_us = p.bfd_required_min_rx_ms.value_or(b.required_min_rx_ms) * 1000;
    d.detect_mult = p.bfd_detect_mult.value_or(b.detect_mult);
    o.peers.push_back(std::move(d));
  }
  return o;
}

std::unique_ptr<BfdWiring> BfdWiring::start(boost::asio::io_context& io, session::Speaker& speaker,
                                            const config::Config& cfg, std::string& error) {
  std::unique_ptr<BfdWiring> w(new BfdWiring());
  session::Speaker* sp = &speaker;
  w->driver_ = healthbpf::Driver::create(
      io, bfd_driver_options(cfg),
      [sp](const healthbpf::StateChange& c) {
        auto addr = wire::IpAddr::parse(c.peer);
        if (!addr) return;
        auto r = sp->peer_liveness(*addr, c.up, c.why());
        if (!r.ok()) spdlog::debug("bfd: peer {}: {}", c.peer, r.message);
      },
      error);
  if (!w->driver_) return nullptr;
  w->driver_->start();
  size_t n = 0;
  for (const auto& p : cfg.peers) n += p.bfd ? 1 : 0;
  if (n == 0) spdlog::info("bfd: enabled, but no peer has bfd = true");
  return w;
}

BfdWiring::~BfdWiring() = default;

std::function<std::optional<healthbpf::DriverStatus>()> BfdWiring::status_fn(const BfdWiring* w) {
  return [w]() -> std::optional<healthbpf::DriverStatus> {
    if (!w) return std::nullopt;
    return w->status();
  };
}

void BfdWiring::warn_reload(const config::Config& running, const config::Config& next) {
  bool changed = running.bfd != next.bfd;
  for (const auto& p : next.peers) {
    const auto* old = running.find_peer(p.address);
    bool was = old && old->bfd;
    if (was != p.bfd || (old && (old->bfd_desired_min_tx_ms != p.bfd_desired_min_tx_ms ||
                                 old->bfd_required_min_rx_ms != p.bfd_required_min_rx_ms ||
                                 old->bfd_detect_mult != p.bfd_detect_mult)))
      changed = true;
  }
  for (const auto& p : running.peers)
    if (p.bfd && !next.find_peer(p.address)) changed = true;
  if (changed) spdlog::warn("config reload: [bfd] and per-peer bfd changes need a restart; ignored");
}

}  // namespace tandem::app
