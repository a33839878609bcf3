#include "apps/tandemd/replication_wiring.hpp"

#include <spdlog/spdlog.h>

#include "bgpd/session/sock_destroy.hpp"
#include "replicator/channel/key.hpp"

namespace tandem::app {

namespace {

namespace repl = replicator::repl;

repl::BfdSession to_proto(const healthbpf::SessionHandover& h) {
  repl::BfdSession b;
  b.set_peer(h.peer);
  b.set_up(h.up);
  b.set_local_discriminator(h.local_discriminator);
  b.set_remote_discriminator(h.remote_discriminator);
  b.set_remote_min_tx_us(h.remote_min_tx_us);
  b.set_remote_min_rx_us(h.remote_min_rx_us);
  b.set_remote_detect_mult(h.remote_detect_mult);
  return b;
}

// Only what can be carried on: Up, both discriminators known, a detect mult a packet can hold.
std::optional<healthbpf::SessionHandover> from_proto(const repl::BfdSession& b) {
  if (!b.up() || b.local_discriminator() == 0 || b.remote_discriminator() == 0 || b.remote_detect_mult() == 0 ||
      b.remote_detect_mult() > 255 || !wire::IpAddr::parse(b.peer()))
    return std::nullopt;
  return healthbpf::SessionHandover{b.peer(), true, b.local_discriminator(), b.remote_discriminator(),
                                    b.remote_min_tx_us(), b.remote_min_rx_us(), b.remote_detect_mult()};
}

}  // namespace

std::unique_ptr<ReplicationWiring> ReplicationWiring::prepare(session::Speaker& speaker, const config::Config& cfg,
                                                              std::string& error) {
  const auto& ha = cfg.ha;
  if (!ha.enabled()) return nullptr;
  auto key = replicator::load_key(ha.key_file);
  if (!key.ok()) {
    error = "[ha] key_file: " + key.error;
    return nullptr;
  }
  std::unique_ptr<ReplicationWiring> w(new ReplicationWiring(speaker, ha, ha.epoch_file));
  if (!w->epoch_.load(error)) {
    error = "[ha] epoch_file: " + error;
    return nullptr;
  }
  if (!ha.vips.empty()) {
    w->vips_ = replicator::vip::VipSet::open(ha.vip_interface, ha.vips, error);
    if (!w->vips_) {
      error = "[ha] vips: " + error;
      return nullptr;
    }
  }
  w->open_guard();
  // Each session's unacknowledged output goes with it in a bulk sync (SentTail).
  speaker.set_keep_unacked_output(true);
  replicator::ChannelIdentity id;
  id.node_id = ha.node_id;
  id.key = std::move(key.key);
  id.software = std::string("tandemd ") + TANDEM_VERSION;
  if (ha.role == "primary") {
    // A primary takes a new term, so that any earlier primary is recognisably stale.
    const uint64_t term = w->epoch_.value() + 1;
    if (!w->epoch_.store(term, error)) {
      error = "[ha] epoch_file: " + error;
      return nullptr;
    }
    id.epoch = term;
    w->make_primary(std::move(id));
  } else {
    id.epoch = w->epoch_.value();
    speaker.set_standby(true);
    w->make_standby(std::move(id));
  }
  if (ha.heartbeat) {
    w->heartbeat_.state = "down";
    w->heartbeat_.why = "not Up yet";
  }
  spdlog::info("replication: node {} is the {} (term {})", ha.node_id, ha.role, w->epoch_.value());
  return w;
}

// The crash guard outlives this process (docs/ha.md, "The crash guard"). A node that
// starts as the standby finds the tuples its previous run protected: their sockets are
// gone or dying (orphans retransmit FIN for a while), so they are let go after 2 min.
void ReplicationWiring::open_guard() {
  if (!ha_.crash_guard || ha_.vip_interface.empty()) return;
  std::string error;
  guard_ = replicator::guard::EgressGuard::open({ha_.vip_interface}, ha_.crash_guard_pin_dir, error);
  if (!guard_) {
    spdlog::error("replication: crash guard unavailable ({}): should this process die, its kernel would reset the "
                  "peers' sessions before the standby takes them",
                  error);
    return;
  }
  const auto stale = guard_->protected_tuples();
  spdlog::info("replication: crash guard on {} (pinned in {}){}", ha_.vip_interface, ha_.crash_guard_pin_dir,
               stale.empty() ? "" : fmt::format("; {} connections of a previous run still guarded", stale.size()));
  if (stale.empty() || ha_.role != "standby") return;
  // A standby holds no session: these are the previous run's. Their orphaned sockets
  // (FIN_WAIT, FIN dropped) would block the 4-tuple of a later takeover on this node:
  // destroyed while still guarded (the RST that makes is dropped), then let go.
  size_t destroyed = 0;
  for (const auto& [local, remote] : stale) {
    std::string why;
    if (session::destroy_socket(local, remote, why)) ++destroyed;
    else if (!why.empty()) spdlog::warn("replication: destroying the orphan {}: {}", remote.to_string(), why);
    guard_->unprotect(local, remote, why);
  }
  spdlog::info("replication: crash guard: {} connections of the previous run let go ({} orphaned sockets destroyed)",
               stale.size(), destroyed);
}

namespace {
std::optional<std::pair<session::TcpEndpoint, session::TcpEndpoint>> tcp_endpoints(const session::Endpoints& ep) {
  auto local = session::TcpEndpoint::parse(ep.local.to_string(), ep.local_port);
  auto remote = session::TcpEndpoint::parse(ep.remote.to_string(), ep.remote_port);
  if (!local || !remote) return std::nullopt;
  return std::make_pair(*local, *remote);
}
}  // namespace

void ReplicationWiring::guard_connection(const session::Endpoints& ep, bool protect) {
  if (!guard_) return;
  auto tuple = tcp_endpoints(ep);
  if (!tuple) return;
  const auto& [local, remote] = *tuple;
  std::string why;
  if (!(protect ? guard_->protect(local, remote, why) : guard_->unprotect(local, remote, why)))
    spdlog::error("replication: crash guard: {} {}: {}", protect ? "protecting" : "releasing", remote.to_string(), why);
}

// The ACK hold (docs/ha.md): move the limit, then send the acknowledgment the kernel
// already sent once and the program held back, if the new limit lets it (or all of it
// on release): a kernel that acknowledged sends nothing more until more data arrives.
void ReplicationWiring::hold_acks(const session::Endpoints& ep, std::optional<uint32_t> limit, uint8_t rcv_wscale,
                                  const std::string& md5_key) {
  if (!guard_) return;
  auto tuple = tcp_endpoints(ep);
  if (!tuple) return;
  const auto& [local, remote] = *tuple;
  std::string why;
  std::optional<replicator::guard::EgressGuard::AckState> state;
  if (limit) {
    if (!guard_->hold_acks(local, remote, *limit, rcv_wscale, !md5_key.empty(), why))
      return ack_hold_failed(remote, why);
    state = guard_->ack_state(local, remote);  // read after the move: what it left owed
  } else {
    state = guard_->ack_state(local, remote);  // release_acks() drops it
    if (!guard_->release_acks(local, remote, why)) return ack_hold_failed(remote, why);
    spdlog::info("replication: ACK hold released for {}", remote.to_string());
  }
  if (!state) return;
  auto owed = replicator::guard::EgressGuard::owed_ack(*state, limit.value_or(state->ack_real), rcv_wscale);
  if (!owed) return;
  owed->md5_key = md5_key;
  if (!session::send_ack(local, remote, *owed, why)) ack_hold_failed(remote, "sending the held ACK: " + why);
}

void ReplicationWiring::ack_hold_failed(const session::TcpEndpoint& remote, const std::string& why) {
  // Once, then every 1000th: it fails the same way for every acknowledgment.
  if (ack_hold_errors_++ % 1000 == 0)
    spdlog::error("replication: ACK hold for {}: {} ({} failures so far)", remote.to_string(), why,
                  ack_hold_errors_);
}

void ReplicationWiring::make_primary(replicator::ChannelIdentity id) {
  id.role = replicator::repl::ROLE_PRIMARY;
  identity_ = id;
  primary_ = std::make_unique<replicator::PrimaryReplicator>(speaker_, ha_, std::move(id));
  if (vips_) primary_->set_release_vips([this](std::string& why) { return vips_->release(why); });
  primary_->set_guard([this](const session::Endpoints& ep, bool protect) { guard_connection(ep, protect); });
  primary_->set_ack_hold([this](const session::Endpoints& ep, std::optional<uint32_t> limit, uint8_t rcv_wscale,
                                const std::string& md5_key) { hold_acks(ep, limit, rcv_wscale, md5_key); });
  primary_->set_bfd_snapshot([this] {
    std::vector<repl::BfdSession> out;
    if (bfd_snapshot_)
      for (const auto& h : bfd_snapshot_()) out.push_back(to_proto(h));
    return out;
  });
  primary_->set_on_fenced([this](const std::string&) {
    if (beacon_) beacon_->announce(0);
    if (on_released_) on_released_();
    if (on_handed_over_) on_handed_over_();  // restart as the standby
  });
  speaker_.add_tap(primary_.get());
}

void ReplicationWiring::make_standby(replicator::ChannelIdentity id) {
  id.role = replicator::repl::ROLE_STANDBY;
  identity_ = id;
  standby_ = std::make_unique<replicator::StandbyReplicator>(speaker_, ha_, std::move(id), epoch_);
  if (vips_)
    standby_->set_vip_hooks({[this](std::string& why) { return vips_->claim(why); },
                             [this](std::string& why) { return vips_->announce_only(why); },
                             [this] { return vips_->link_up(); }});
  standby_->set_on_promoted([this](uint64_t term, const std::vector<std::pair<uint64_t, wire::IpAddr>>& live) {
    on_promoted(term, live);
  });
  standby_->set_on_live([this] { resume_bfd(); });
}

bool ReplicationWiring::start(std::string& error) {
  if (!start_beacon(error)) return false;
  if (primary_) return primary_->start(error);
  if (standby_) standby_->start();
  return true;
}

bool ReplicationWiring::start_beacon(std::string& error) {
  if (!ha_.witness_address) return true;
  replicator::witness::BeaconOptions o;
  o.interface = ha_.vip_interface;
  o.to = *ha_.witness_address;
  o.port = ha_.witness_port;
  o.every = std::chrono::milliseconds(ha_.heartbeat_interval_ms);
  o.key = identity_.key;
  beacon_ = std::make_unique<replicator::witness::TermBeacon>(
      speaker_.io(), std::move(o),
      [this](const replicator::witness::Beacon& b, const wire::IpAddr& from) { on_beacon(b, from); });
  if (!beacon_->start(error)) return false;
  if (primary_) beacon_->announce(identity_.epoch);
  if (standby_) standby_->set_primary_witness([this] { return beacon_->last_heard(); });
  return true;
}

// Two primaries can only meet here after a partition between the nodes: the one with
// the older term steps down (docs/ha.md, "Fencing").
void ReplicationWiring::on_beacon(const replicator::witness::Beacon& b, const wire::IpAddr& from) {
  if (!primary_ || primary_->fenced() || handed_over_) return;
  if (b.term > identity_.epoch) {
    beacon_->announce(0);
    primary_->fence(fmt::format("the node at {} announces term {} on the peers' segment, newer than this node's {}: "
                                "it took the sessions over while the two could not hear each other",
                                from.to_string(), b.term, identity_.epoch));
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_beacon_log_ < std::chrono::seconds(10)) return;
  last_beacon_log_ = now;
  if (b.term == identity_.epoch)
    spdlog::error("witness: the node at {} is primary in this node's own term {}: both started as the primary "
                  "with one term file's value? Neither steps down; fix the roles", from.to_string(), b.term);
  else
    spdlog::warn("witness: the node at {} still announces the older term {} (this node: {}); it steps down when it "
                 "hears this node's beacon",
                 from.to_string(), b.term, identity_.epoch);
}

bool ReplicationWiring::take_vips(std::string& error) {
  if (!vips_) return true;
  std::string why;
  if (primary_) {
    if (!vips_->claim(why)) {
      error = "claiming the VIPs (" + vips_->describe() + "): " + why;
      return false;
    }
    spdlog::info("replication: primary holds the VIPs {}", vips_->describe());
    return true;
  }
  // A standby never holds the VIPs (an old primary restarting as standby may still have
  // them after a crash): fenced off before anything else.
  if (!vips_->release(why)) spdlog::error("replication: releasing the VIPs {}: {}", vips_->describe(), why);
  return true;
}

void ReplicationWiring::bfd_changed(const healthbpf::SessionHandover& s) {
  if (primary_) primary_->bfd_changed(to_proto(s));
}

// The peers' BFD sessions the primary had: their detection time has run since its last
// packet, so they start the moment the VIPs are here (go_live), not after the promotion.
void ReplicationWiring::resume_bfd() {
  if (!bfd_resume_ || !standby_) return;
  BfdStates up;
  for (const auto& b : standby_->bfd_sessions())
    if (auto h = from_proto(b)) up.push_back(*h);
  bfd_resume_(up);
}

void ReplicationWiring::on_promoted(uint64_t term, const std::vector<std::pair<uint64_t, wire::IpAddr>>& live) {
  std::string error;
  if (!epoch_.store(term, error)) spdlog::error("replication: storing term {}: {}", term, error);
  if (!speaker_.promote(error)) spdlog::error("replication: opening the BGP listeners after the takeover: {}", error);
  // We are inside the standby replicator's handler: it is retired after this turn.
  std::shared_ptr<replicator::StandbyReplicator> old(standby_.release());
  old->stop();
  boost::asio::post(speaker_.io(), [old] {});
  replicator::ChannelIdentity id = identity_;
  id.epoch = term;
  make_primary(std::move(id));
  if (beacon_) beacon_->announce(term);
  for (const auto& [conn_id, peer] : live) primary_->adopt(conn_id, peer);
  if (!primary_->start(error)) spdlog::error("replication: cannot listen for a standby: {}", error);
  spdlog::info("replication: this node is the primary now (term {}), {} sessions taken over", term, live.size());
}

void ReplicationWiring::switchover(Done done) {
  if (!primary_) return done(false, "this node is not the primary");
  std::weak_ptr<bool> alive = alive_;
  primary_->switchover([this, alive, done](bool ok, const std::string& why) {
    if (alive.expired()) return;
    if (!ok) return done(false, why);
    handed_over_ = true;  // the new primary's beacon is expected now: not a reason to fence
    if (beacon_) beacon_->announce(0);
    if (on_released_) on_released_();
    wait_channel_idle(done, "sessions handed over to " + (status() ? status()->peer_node : std::string("the standby")) +
                                "; this node restarts as the standby", 200);
  });
}

void ReplicationWiring::confirm_primary(std::function<void(bool still_primary, const std::string& why)> done) {
  if (handed_over_) return done(false, "the sessions were handed over to the other node");
  if (!primary_) return done(true, "this node is the standby");
  primary_->confirm_primary(std::move(done));
}

void ReplicationWiring::wait_channel_idle(Done done, std::string message, int tries) {
  // The Commit must leave this process before it restarts.
  if (primary_->channel_idle() || tries <= 0) {
    done(true, message);
    if (on_handed_over_) on_handed_over_();
    return;
  }
  if (!idle_timer_) idle_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  idle_timer_->expires_after(std::chrono::milliseconds(5));
  std::weak_ptr<bool> alive = alive_;
  idle_timer_->async_wait([this, alive, done, message, tries](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    wait_channel_idle(done, message, tries - 1);
  });
}

// The speaker is gone by now: tandemd's Daemon declares this wiring before its speaker,
// so that the taps outlive the connections that report to them while the speaker is
// destroyed (before_close lets a FIN past the crash guard). The primary's tap is
// therefore not removed here: the speaker and its tap set no longer exist (UBSan in
// `make test-sanitize` caught a member call on the destroyed tap set).
ReplicationWiring::~ReplicationWiring() {
  *alive_ = false;
  beacon_.reset();
  if (primary_) primary_->stop();
  if (standby_) standby_->stop();
}

std::optional<replicator::ReplStatus> ReplicationWiring::status() const {
  std::optional<replicator::ReplStatus> st;
  if (primary_) st = primary_->status();
  if (standby_) st = standby_->status();
  if (!st) return st;
  st->heartbeat = heartbeat_.state;
  st->heartbeat_why = heartbeat_.why;
  st->heartbeat_losses = heartbeat_.losses;
  if (heartbeat_.changed)
    st->heartbeat_change_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - *heartbeat_.changed)
                                      .count();
  return st;
}

void ReplicationWiring::on_pair_liveness(bool up, bool primary_heard, const std::string& why) {
  const bool was_up = heartbeat_.state == "up";
  heartbeat_.state = up ? "up" : "down";
  heartbeat_.why = why;
  heartbeat_.changed = std::chrono::steady_clock::now();
  if (was_up && !up) ++heartbeat_.losses;
  const auto st = status();
  const std::string channel = st ? st->channel_state : "-";
  if (up)
    spdlog::info("replication: heartbeat with the other node is up ({}; channel {})", why, channel);
  else
    spdlog::warn("replication: heartbeat with the other node lost ({}; channel {}): the other node is dead, hung or "
                 "cut off from this one",
                 why, channel);
  if (standby_) standby_->on_primary_heartbeat(up, primary_heard, why);
  if (up) return;
  if (primary_ && vips_ && !vips_->link_up()) {
    // Cut off from the peers and from the standby: the standby takes over; this node
    // must never write on the sessions again (docs/ha.md, "Fencing").
    primary_->fence("this node's link to the peers (" + ha_.vip_interface + ") is down and the heartbeat is lost");
    return;
  }
}

std::function<std::optional<replicator::ReplStatus>()> ReplicationWiring::status_fn(const ReplicationWiring* w) {
  return [w]() -> std::optional<replicator::ReplStatus> { return w ? w->status() : std::nullopt; };
}

void ReplicationWiring::warn_reload(const config::Config& running, const config::Config& next) {
  if (running.ha != next.ha) spdlog::warn("config reload: [ha] changes need a restart; ignored");
}

std::string ReplicationWiring::check(const config::Config& cfg) {
  if (!cfg.ha.enabled()) return {};
  auto key = replicator::load_key(cfg.ha.key_file);
  return key.ok() ? std::string() : "[ha] key_file: " + key.error;
}

}  // namespace tandem::app
