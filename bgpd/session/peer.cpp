#include "bgpd/session/peer.hpp"

#include <ifaddrs.h>
#include <algorithm>
#include <netinet/in.h>

#include <spdlog/spdlog.h>

#include "bgpd/session/family_list.hpp"
#include "bgpd/session/speaker.hpp"

namespace tandem::session {
namespace {

// Our address of the other family on the interface that holds `local`, so that a
// session over IPv4 can carry IPv6 routes with a proper IPv6 next hop (and back).
std::optional<wire::IpAddr> sibling_address(const wire::IpAddr& local, wire::Afi want) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::string ifname;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    std::optional<wire::IpAddr> a;
    if (i->ifa_addr->sa_family == AF_INET)
      a = wire::IpAddr::v4(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    else if (i->ifa_addr->sa_family == AF_INET6)
      a = wire::IpAddr::v6(reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr.s6_addr);
    if (a && *a == local) ifname = i->ifa_name;
  }
  std::optional<wire::IpAddr> found;
  for (ifaddrs* i = list; i && !ifname.empty() && !found; i = i->ifa_next) {
    if (!i->ifa_addr || ifname != i->ifa_name) continue;
    if (want == wire::Afi::Ipv4 && i->ifa_addr->sa_family == AF_INET) {
      found = wire::IpAddr::v4(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    } else if (want == wire::Afi::Ipv6 && i->ifa_addr->sa_family == AF_INET6) {
      auto a = wire::IpAddr::v6(reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr.s6_addr);
      static const wire::IpAddr kLoopback6 = *wire::IpAddr::parse("::1");
      if (!a.is_link_local() && a != kLoopback6) found = a;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

Peer::Peer(Speaker& speaker, rib::PeerId id, config::PeerConfig config)
    : speaker_(speaker), id_(id), config_(std::move(config)), name_(config_.address.to_string()) {}

Peer::~Peer() {
  if (gr_timer_) gr_timer_->cancel();
  if (hold_timer_) hold_timer_->cancel();
  if (outgoing_) outgoing_->close();
  if (incoming_) incoming_->close();
  if (contender_) contender_->close();
}

fsm::Config Peer::fsm_config(bool passive) const {
  const auto& g = speaker_.config();
  fsm::Config c;
  c.local_as = g.local_as;
  c.router_id = g.router_id;
  c.remote_as = config_.remote_as;
  c.hold_time = config_.hold_time;
  c.connect_retry_time = config_.connect_retry;
  c.passive = passive;
  c.families = config_.families;
  gr_capabilities(c);
  return c;
}

void Peer::start() {
  if (!config_.enabled) {
    spdlog::info("peer {}: disabled in the configuration, not starting", name_);
    return;
  }
  if (speaker_.standby()) {
    spdlog::info("peer {}: standby node: the session is mirrored from the primary, not dialled", name_);
    return;
  }
  spdlog::info("peer {}: starting (AS {}, {}, {}, families {})", name_, config_.remote_as,
               config_.remote_as == speaker_.config().local_as ? "iBGP" : "eBGP",
               config_.passive ? "passive" : "active", families_text(config_.families));
  if (!config_.passive) {
    outgoing_ = std::make_shared<Connection>(speaker_.io(), *this, fsm_config(false), true, std::nullopt,
                                             speaker_.tap());
    outgoing_->start();
  }
}

void Peer::stop(uint8_t cease_subcode, const std::string& reason) {
  stopping_ = true;
  spdlog::info("peer {}: stopping: {}", name_, reason);
  wire::Notification n = wire::make_shutdown_notification(cease_subcode, reason);
  for (auto* c : {outgoing_.get(), incoming_.get(), contender_.get()}) {
    if (!c) continue;
    auto st = c->state();
    if (st == fsm::State::Established && c == established_ && gr_n_bit_) {
      // RFC 8538 §3: with the N bit, any other Cease would make the peer keep our routes
      // as stale; the peer is going away for good, so wrap it in a Hard Reset (§5).
      // RFC 8538 §3.1: the data is the wrapped NOTIFICATION: ErrCode, Subcode, Data.
      wire::Notification hard{wire::err::kCease, wire::err::kHardReset, {n.code, n.subcode}};
      hard.data.insert(hard.data.end(), n.data.begin(), n.data.end());
      spdlog::info("peer {}: N bit negotiated: sending Cease/Hard Reset (wrapping {}) so that the peer removes our "
                   "routes at once (RFC 8538)", name_, n.describe());
      c->feed(fsm::ev::SendNotification{hard});
    } else if (st == fsm::State::OpenSent || st == fsm::State::OpenConfirm || st == fsm::State::Established)
      c->feed(fsm::ev::SendNotification{n});
    else
      c->feed(fsm::ev::ManualStop{reason});
  }
  if (gr_state_ != GrHelperState::None) gr_stop("peer stopped: " + reason);
  // Connections that were not open are done at once.
  for (auto* slot : {&outgoing_, &incoming_}) {
    if (*slot && (*slot)->state() == fsm::State::Idle && !(*slot)->endpoints()) {
      (*slot)->close();
      slot->reset();
    }
  }
}

bool Peer::idle() const { return !outgoing_ && !incoming_ && !contender_; }

void Peer::accept(tcp::socket socket) {
  if (stopping_ || !config_.enabled || liveness_down_ || held_down_ || speaker_.standby()) {
    spdlog::info("peer {}: incoming connection refused: {}", name_,
                 stopping_               ? "peer is stopping"
                 : !config_.enabled      ? "peer is disabled"
                 : liveness_down_        ? "its BFD session is down"
                 : speaker_.standby()    ? "this node is the standby"
                                         : "held down after exceeding max_prefixes");
    return;
  }
  // GTSM from the first byte after the handshake: a packet that crossed a router is
  // dropped by the kernel, so it never reaches the FSM. (The MD5 key came with the
  // listener: an unsigned or wrongly signed SYN was never accepted.)
  if (auto e = protect(socket.native_handle(), config_); !e.empty()) {
    spdlog::error("peer {}: incoming connection refused: {}", name_, e);
    return;
  }
  if (established_ && established_ == incoming_.get()) {
    // The session runs over the incoming connection: hold the new one apart until its
    // OPEN says whether the peer has restarted (RFC 4724 §4.2, on_open_received) or this
    // is a collision with the Established session (RFC 4271 §6.8: it is refused).
    if (contender_) contender_->close();
    spdlog::info("peer {}: incoming connection while Established: decided when its OPEN arrives", name_);
    contender_ = std::make_shared<Connection>(speaker_.io(), *this, fsm_config(true), false, std::move(socket),
                                              speaker_.tap());
    contender_->start();
    return;
  }
  if (established_) {
    spdlog::info("peer {}: incoming connection while Established: decided when its OPEN arrives", name_);
  }
  if (incoming_) {
    spdlog::info("peer {}: a new incoming connection replaces the previous one ({})", name_,
                 fsm::to_string(incoming_->state()));
    incoming_->close();
  }
  incoming_ = std::make_shared<Connection>(speaker_.io(), *this, fsm_config(true), false,
                                           std::move(socket), speaker_.tap());
  incoming_->start();
}

// RFC 4486: the peer sent more prefixes of a family than configured. The session ends
// with Cease/Maximum Number of Prefixes Reached (data: AFI, SAFI, the limit) and, unless
// a restart time is set, stays down until the operator resets or re-enables the peer.
std::optional<wire::WireError> Peer::check_prefix_limit() {
  for (auto f : session_families_) {
    size_t n = speaker_.rib().adj_in_count(id_, f, false);
    if (n <= config_.max_prefixes) continue;
    if (config_.max_prefixes_warning_only) {
      if (!contains(limit_warned_, f)) {
        limit_warned_.push_back(f);
        spdlog::warn("peer {}: {} prefixes of {} exceed max_prefixes {} (warning only)", name_, n, f.to_string(),
                     config_.max_prefixes);
      }
      continue;
    }
    wire::WireError e;
    e.code = wire::err::kCease;
    e.subcode = wire::err::kMaxPrefixes;
    const uint32_t limit = config_.max_prefixes;
    e.data = {static_cast<uint8_t>(static_cast<uint16_t>(f.afi) >> 8), static_cast<uint8_t>(static_cast<uint16_t>(f.afi)),
              static_cast<uint8_t>(f.safi), static_cast<uint8_t>(limit >> 24), static_cast<uint8_t>(limit >> 16),
              static_cast<uint8_t>(limit >> 8), static_cast<uint8_t>(limit)};
    e.reason = fmt::format("{} prefixes of {} exceed max_prefixes {}", n, f.to_string(), limit);
    if (gr_n_bit_) {
      // RFC 8538 §5: with the N bit, this Cease MUST be sent as a Hard Reset (wrapping
      // it), so that the peer does not keep our routes as stale.
      std::vector<uint8_t> inner{e.code, e.subcode};
      inner.insert(inner.end(), e.data.begin(), e.data.end());
      e.subcode = wire::err::kHardReset;
      e.data = std::move(inner);
    }
    spdlog::error("peer {}: {}: ending the session (RFC 4486){}", name_, e.reason,
                  config_.max_prefixes_restart
                      ? fmt::format(", reconnecting after {} s", config_.max_prefixes_restart)
                      : ", staying down until reset or re-enabled");
    hold_down(config_.max_prefixes_restart, "prefix limit");
    return e;
  }
  return std::nullopt;
}

// No connection (in or out) for `seconds` (0: until the peer is re-created).
void Peer::hold_down(uint32_t seconds, const std::string& why) {
  held_down_ = true;
  if (seconds == 0) return;
  if (!hold_timer_) hold_timer_ = std::make_unique<asio::steady_timer>(speaker_.io());
  hold_timer_->expires_after(std::chrono::seconds(seconds));
  hold_timer_->async_wait([this, why, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& e) {
    if (e || !alive.lock()) return;
    held_down_ = false;
    spdlog::info("peer {}: {} hold-down over: connecting again", name_, why);
    post_ensure_outgoing();
  });
}

void Peer::refresh_capabilities() {
  // The FSM reads its configuration when it sends an OPEN: harmless at any state.
  if (outgoing_) outgoing_->reconfigure(fsm_config(false));
}

void Peer::on_liveness(bool up, const std::string& why) {
  if (up) {
    if (!liveness_down_) return;
    liveness_down_ = false;
    spdlog::info("peer {}: BFD session up again ({}): connecting", name_, why);
    post_ensure_outgoing();
    return;
  }
  if (liveness_down_) return;
  liveness_down_ = true;
  // RFC 5882 §4.3: the forwarding path is gone; the session goes down now, as on a
  // transport failure (no NOTIFICATION could get through), instead of at the hold
  // timer; no new connection until the BFD session is up again.
  spdlog::warn("peer {}: BFD session down ({}): {}", name_, why,
               established_ ? "closing the BGP session now" : "no BGP session to close");
  last_error_ = "BFD down: " + why;
  if (established_) established_->feed(fsm::ev::TcpClosed{});
  for (auto* slot : {&outgoing_, &incoming_, &contender_})
    if (*slot) drop(**slot);
}

void Peer::output_ready() {
  if (established_) established_->output_ready();
}

PeerStatus Peer::status() const {
  PeerStatus s;
  s.address = config_.address;
  s.remote_as = config_.remote_as;
  s.description = config_.description;
  s.enabled = config_.enabled;
  const Connection* best = established_;
  for (auto* c : {outgoing_.get(), incoming_.get()})
    if (!best && c && c->state() != fsm::State::Idle) best = c;
  if (!best) best = outgoing_ ? outgoing_.get() : incoming_.get();
  if (best) s.state = best->state();
  s.last_error = last_error_;
  s.established_since = established_since_;
  if (established_) s.negotiated = established_->fsm().negotiated();
  s.counters = speaker_.rib().counters(id_);
  s.received_by_type = received_;
  s.sent_by_type = sent_;
  for (size_t t = 1; t < received_.size(); ++t) {
    s.messages_in += received_[t];
    s.messages_out += sent_[t];
  }
  s.established_transitions = established_transitions_;
  if (best) s.endpoints = best->endpoints();
  s.gr_state = gr_state_;
  s.gr_stale_families = gr_stale_families_;
  for (auto& [f, deadline] : llgr_deadlines_) s.llgr_stale_families.push_back(f);
  s.gr_notification = established_ != nullptr && gr_n_bit_;
  if (gr_state_ != GrHelperState::None) {
    auto left = std::chrono::ceil<std::chrono::seconds>(gr_deadline_ - std::chrono::steady_clock::now()).count();
    s.gr_timer_remaining_seconds = left > 0 ? static_cast<uint32_t>(left) : 0;
  }
  return s;
}

void Peer::count_received(wire::MessageType t, uint64_t n) {
  if (auto i = static_cast<size_t>(t); i < received_.size()) received_[i] += n;
}

void Peer::count_sent(wire::MessageType t, uint64_t n) {
  if (auto i = static_cast<size_t>(t); i < sent_.size()) sent_[i] += n;
}

bool Peer::soft_reset_in(const std::vector<wire::Family>& families, std::string& why) {
  if (!established_) {
    why = "peer " + name_ + " is not Established";
    return false;
  }
  const auto& n = established_->fsm().negotiated();
  if (!n || !(n->route_refresh || n->enhanced_route_refresh)) {
    why = "peer " + name_ + " did not negotiate the route refresh capability";
    return false;
  }
  std::vector<wire::Family> fs = families.empty() ? n->families : families;
  for (const auto& f : fs) {
    if (!n->has_family(f)) {
      why = "family " + f.to_string() + " was not negotiated with peer " + name_;
      return false;
    }
  }
  for (const auto& f : fs) {
    spdlog::info("peer {}: soft reset in: sending ROUTE-REFRESH for {}", name_, f.to_string());
    established_->send_route_refresh(f);
  }
  return true;
}

bool Peer::soft_reset_out(const std::vector<wire::Family>& families, std::string& why) {
  if (!established_) {
    why = "peer " + name_ + " is not Established";
    return false;
  }
  const auto& n = established_->fsm().negotiated();
  std::vector<wire::Family> fs = families.empty() && n ? n->families : families;
  for (const auto& f : fs) {
    if (!n || !n->has_family(f)) {
      why = "family " + f.to_string() + " was not negotiated with peer " + name_;
      return false;
    }
  }
  for (const auto& f : fs) {
    spdlog::info("peer {}: soft reset out: re-sending the Adj-RIB-Out for {}", name_, f.to_string());
    speaker_.rib().request_refresh(id_, f, false);
  }
  established_->output_ready();
  return true;
}

void Peer::on_state_changed(Connection& c, const fsm::act::StateChanged& ch) {
  spdlog::info("peer {}: state {} -> {} ({}; {})", name_, fsm::to_string(ch.from), fsm::to_string(ch.to),
               ch.reason, c.describe());
  speaker_.notify_peer_state(config_.address, ch.from, ch.to, ch.reason);
}

void Peer::on_open_received(Connection& c, const wire::Open& open) {
  if (established_ && established_ != &c) {
    if (!gr_restarted_peer() || !open.caps.graceful_restart) {
      spdlog::info("peer {}: OPEN on a second connection while Established: closing it (collision)", name_);
      c.feed(fsm::ev::CollisionLost{});
      return;
    }
    end_session_for_restart("OPEN with the graceful restart capability on a new connection");
    if (&c == contender_.get()) {
      // The old session's incoming connection is finished: the new one takes its slot.
      if (incoming_) drop(*incoming_);
      incoming_ = std::move(contender_);
    }
  }
  Connection* other = (&c == outgoing_.get()) ? incoming_.get() : outgoing_.get();
  if (!other) return;
  auto st = other->state();
  if (st != fsm::State::OpenSent && st != fsm::State::OpenConfirm) return;
  // Both connections have (or are about to have) exchanged OPENs: keep the one opened
  // by the speaker with the higher BGP identifier.
  bool keep_out = fsm::keep_outgoing_on_collision(speaker_.config().router_id, open.bgp_id);
  Connection* loser = keep_out ? incoming_.get() : outgoing_.get();
  spdlog::info("peer {}: connection collision (local id {}, remote id {}): keeping the {} connection", name_,
               wire::IpAddr::v4(speaker_.config().router_id).to_string(), wire::IpAddr::v4(open.bgp_id).to_string(),
               keep_out ? "outgoing" : "incoming");
  loser->feed(fsm::ev::CollisionLost{});
}

// RFC 4724 §4.2: a peer that negotiated graceful restart and connects again while we
// still consider its session Established has restarted (its old connection is dead but
// we have not noticed yet): the old session ends as if its TCP connection had closed
// (routes kept stale), instead of refusing the new connection until our hold timer.
bool Peer::gr_restarted_peer() const { return established_ && gr_enabled() && gr_peer_cap_.has_value(); }

void Peer::end_session_for_restart(const std::string& what) {
  spdlog::warn("peer {}: {} while the session is Established: the peer has restarted (RFC 4724 §4.2); closing the "
               "old session ({})", name_, what, established_->describe());
  established_->feed(fsm::ev::TcpClosed{});
}

rib::PeerInfo Peer::rib_info(Connection& c, const fsm::Negotiated& n) const {
  rib::PeerInfo info;
  info.id = id_;
  info.address = config_.address;
  info.remote_as = n.peer_as;
  info.router_id = n.peer_router_id;
  info.rr_client = config_.route_reflector_client;
  info.next_hop_self = config_.next_hop_self;
  info.codec = n.codec(config_.remote_as != speaker_.config().local_as);
  info.families = n.families;
  info.llgr = n.peer_llgr.has_value();
  info.max_as_path_length = config_.max_as_path_length;
  wire::IpAddr local = config_.local_address.value_or(c.endpoints() ? c.endpoints()->local : wire::IpAddr{});
  if (local.is_v4()) {
    info.local_v4 = local;
    info.local_v6 = sibling_address(local, wire::Afi::Ipv6);
  } else {
    info.local_v6 = local;
    info.local_v4 = sibling_address(local, wire::Afi::Ipv4);
  }
  return info;
}

void Peer::on_established(Connection& c, const fsm::Negotiated& n) {
  established_ = &c;
  established_since_ = std::chrono::system_clock::now();
  ++established_transitions_;
  last_error_.clear();
  rib::PeerInfo info = rib_info(c, n);
  spdlog::info(
      "peer {}: Established: AS {}, router id {}, hold {} s, families {}, 4-octet AS {}, route refresh {}, "
      "enhanced route refresh {}, extended message {}, next hop v4 {} v6 {}",
      name_, n.peer_as, wire::IpAddr::v4(n.peer_router_id).to_string(), n.hold_time, families_text(n.families),
      n.four_octet_as ? "yes" : "no", n.route_refresh ? "yes" : "no", n.enhanced_route_refresh ? "yes" : "no",
      n.extended_message ? "yes" : "no", info.local_v4 ? info.local_v4->to_string() : "-",
      info.local_v6 ? info.local_v6->to_string() : "-");
  // The other connection, if any, lost: RFC 4271 §6.8. An Idle one still has its
  // IdleHold/ConnectRetry timer running and would dial the peer again, which a GR peer
  // takes for our restart (RFC 4724 §4.2) and ends this session: drop it; a new
  // outgoing connection is made when this session ends.
  Connection* other = (&c == outgoing_.get()) ? incoming_.get() : outgoing_.get();
  if (other && other->state() != fsm::State::Idle) other->feed(fsm::ev::CollisionLost{});
  else if (other) drop(*other);
  down_notification_.reset();
  session_families_ = n.families;
  gr_on_established(c, n);
  speaker_.rib().peer_up(info);
  c.output_ready();
}

std::optional<wire::WireError> Peer::on_update(Connection& c, std::span<const uint8_t> body) {
  if (&c != established_) return std::nullopt;
  rib::IngestResult r = speaker_.rib().ingest_update(id_, body);
  if (r.session_error) {
    spdlog::error("peer {}: malformed UPDATE, resetting the session: {} ({})", name_, r.session_error->reason,
                  wire::describe_error_code(r.session_error->code, r.session_error->subcode));
    last_error_ = "malformed UPDATE: " + r.session_error->reason;
    return r.session_error;
  }
  for (const auto& d : r.discarded)
    spdlog::warn("peer {}: UPDATE attribute {} discarded (RFC 7606): {}", name_, d.type, d.reason);
  if (r.treat_as_withdraw)
    spdlog::warn("peer {}: UPDATE treat-as-withdraw ({} prefixes withdrawn): {}", name_, r.withdrawn, r.reason);
  else if (r.rejected > 0)
    spdlog::info("peer {}: UPDATE: {} prefixes rejected: {}", name_, r.rejected, r.reason);
  if (r.announced > 0 && config_.max_prefixes > 0)
    if (auto e = check_prefix_limit()) return e;
  if (r.end_of_rib) {
    auto counters = speaker_.rib().counters(id_);
    spdlog::info("peer {}: End-of-RIB received for {} ({} prefixes from this peer)", name_,
                 r.end_of_rib->to_string(), counters.received);
    if (gr_state_ == GrHelperState::WaitingEor) gr_end_of_rib(*r.end_of_rib);
    speaker_.deferral().end_of_rib(id_, *r.end_of_rib);
  }
  return std::nullopt;
}

void Peer::on_route_refresh(Connection& c, const wire::RouteRefresh& rr) {
  if (&c != established_) return;
  auto n = c.fsm().negotiated();
  if (!n || !n->has_family(rr.family)) {
    spdlog::warn("peer {}: ROUTE-REFRESH for {} which was not negotiated: ignored", name_, rr.family.to_string());
    return;
  }
  if (rr.subtype != wire::RouteRefresh::Normal) {
    // BoRR/EoRR from the peer concern its own re-advertisement; nothing to send.
    spdlog::info("peer {}: received {} for {}", name_,
                 rr.subtype == wire::RouteRefresh::BeginOfRefresh ? "BoRR" : "EoRR", rr.family.to_string());
    return;
  }
  spdlog::info("peer {}: ROUTE-REFRESH requested for {}: re-sending the Adj-RIB-Out{}", name_,
               rr.family.to_string(), n->enhanced_route_refresh ? " (enhanced, with BoRR/EoRR)" : "");
  speaker_.rib().request_refresh(id_, rr.family, n->enhanced_route_refresh);
  c.output_ready();
}

void Peer::on_notification(Connection& c, const wire::Notification& n, bool sent) {
  std::string text = n.describe();
  spdlog::warn("peer {}: NOTIFICATION {} {} ({})", name_, sent ? "sent" : "received", text, c.describe());
  if (&c == established_) down_notification_ = n;  // the session ends with it
  last_error_ = std::string(sent ? "sent " : "received ") + text;
}

void Peer::on_session_down(Connection& c, const std::string& reason) {
  if (&c != established_) return;
  spdlog::warn("peer {}: session down: {}", name_, reason);
  if (last_error_.empty()) last_error_ = reason;
  established_ = nullptr;
  established_since_.reset();
  limit_warned_.clear();
  refresh_capabilities();  // the outgoing connection re-dials with what we advertise now
  gr_session_down(reason);
  down_notification_.reset();
  post_ensure_outgoing();
}

void Peer::on_disconnected(Connection& c) {
  if (&c == established_) on_session_down(c, "transport closed");
  if (stopping_ || &c == incoming_.get() || &c == contender_.get()) {
    drop(c);
  } else if (&c == outgoing_.get()) {
    // The outgoing connection normally stays: its FSM re-dials on its IdleHold /
    // ConnectRetry timer. One that lost a collision (no timer) is dropped and made
    // again once no other connection is in progress.
    bool restarting = c.fsm().timer_armed(fsm::Timer::IdleHold) || c.fsm().timer_armed(fsm::Timer::ConnectRetry);
    if (established_ || !restarting) drop(c);
  }
  post_ensure_outgoing();
}

void Peer::post_ensure_outgoing() {
  // Never from inside a connection's own callback.
  asio::post(speaker_.io(), [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.lock()) ensure_outgoing();
  });
}

std::shared_ptr<Connection> Peer::attach_shadow(bool outgoing, const Endpoints& ep, const wire::Open& local,
                                                const wire::Open& remote, uint64_t inbound_offset,
                                                Connection::ShadowSink sink, std::string& why) {
  auto& slot = outgoing ? outgoing_ : incoming_;
  if (slot) {
    // The primary's earlier connection in this direction is over (its close may still be
    // on the way): end its shadow first so the session goes down and up as it did there.
    slot->shadow_closed();
    if (slot) drop(*slot);
  }
  auto c = Connection::make_shadow(speaker_.io(), *this, fsm_config(!outgoing), outgoing, ep, std::move(sink));
  slot = c;
  if (!c->restore_established(local, remote, inbound_offset, why)) {
    drop(*c);
    return nullptr;
  }
  spdlog::info("peer {}: shadow session Established ({}), mirroring the primary's from inbound offset {}", name_,
               c->describe(), inbound_offset);
  return c;
}

void Peer::reset_shadow(const std::string& why) {
  for (auto* slot : {&outgoing_, &incoming_})
    if (*slot && (*slot)->shadow()) drop(**slot);
  if (established_) {
    spdlog::info("peer {}: shadow session reset: {}", name_, why);
    established_ = nullptr;
    established_since_.reset();
  }
  gr_reset_state();
  gr_stale_families_.clear();
  speaker_.rib().peer_down(id_);
}

bool Peer::promote_shadow(int fd, std::span<const uint8_t> requeued, uint64_t outbound_end, std::string& why) {
  if (!established_ || !established_->shadow()) {
    why = "no Established shadow session";
    return false;
  }
  if (!established_->promote(fd, speaker_.tap(), requeued, outbound_end, why)) return false;
  spdlog::info("peer {}: took over the session ({}): the peer saw no change", name_, established_->describe());
  return true;
}

void Peer::start_after_promotion() {
  if (established_ || !config_.enabled || stopping_) return;
  start();
}

void Peer::ensure_outgoing() {
  if (stopping_ || config_.passive || !config_.enabled || outgoing_ || incoming_ || established_ || liveness_down_ ||
      held_down_ || speaker_.standby())
    return;
  outgoing_ = std::make_shared<Connection>(speaker_.io(), *this, fsm_config(false), true, std::nullopt,
                                           speaker_.tap());
  outgoing_->start();
}

void Peer::drop(Connection& c) {
  for (auto* slot : {&outgoing_, &incoming_, &contender_}) {
    if (slot->get() == &c) {
      auto keep = *slot;  // keep alive until we return to the caller's frame
      keep->close();
      asio::post(speaker_.io(), [keep] {});
      slot->reset();
    }
  }
}

size_t Peer::take_output(Connection& c, size_t max_bytes, std::vector<uint8_t>& out) {
  if (&c != established_) return 0;
  auto& rib = speaker_.rib();
  size_t before = rib.counters(id_).updates_out;
  size_t start = out.size();
  size_t n = rib.take_output(id_, max_bytes, out);
  sent_[static_cast<size_t>(wire::MessageType::Update)] += rib.counters(id_).updates_out - before;
  log_end_of_rib_sent(std::span<const uint8_t>(out).subspan(start));
  return n;
}

// End-of-RIB is the one outbound UPDATE worth a log line: it tells when the peer has our
// whole table (and, after our restart, that the selection deferral let it go). Only the
// message sizes are looked at: EoR is the only 23-byte UPDATE (IPv4) and the only
// 30-byte UPDATE made of an empty MP_UNREACH_NLRI (RFC 4724 §2).
void Peer::log_end_of_rib_sent(std::span<const uint8_t> bytes) {
  static const std::vector<uint8_t> kV4 = wire::encode_end_of_rib(wire::kIpv4Unicast);
  static const std::vector<uint8_t> kV6 = wire::encode_end_of_rib(wire::kIpv6Unicast);
  size_t pos = 0;
  while (pos + 19 <= bytes.size()) {
    size_t len = (static_cast<size_t>(bytes[pos + 16]) << 8) | bytes[pos + 17];
    if (len < 19 || pos + len > bytes.size()) break;
    auto msg = bytes.subspan(pos, len);
    for (const auto* eor : {&kV4, &kV6}) {
      if (len == eor->size() && std::equal(msg.begin(), msg.end(), eor->begin()))
        spdlog::info("peer {}: End-of-RIB sent for {} ({} prefixes advertised)", name_,
                     eor == &kV4 ? "ipv4-unicast" : "ipv6-unicast",
                     speaker_.rib().adj_out_count(id_, eor == &kV4 ? wire::kIpv4Unicast : wire::kIpv6Unicast));
    }
    pos += len;
  }
}

}  // namespace tandem::session
