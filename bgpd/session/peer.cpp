#include "bgpd/session/peer.hpp"

#include <ifaddrs.h>
#include <algorithm>
#include <netinet/in.h>

#include <spdlog/spdlog.h>

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

std::string families_text(const std::vector<wire::Family>& fs) {
  std::string s;
  for (auto& f : fs) {
    if (!s.empty()) s += ',';
    s += f.to_string();
  }
  return s.empty() ? "none" : s;
}

bool contains(const std::vector<wire::Family>& fs, wire::Family f) {
  return std::find(fs.begin(), fs.end(), f) != fs.end();
}

}  // namespace

const char* to_string(GrHelperState s) {
  switch (s) {
    case GrHelperState::None: return "none";
    case GrHelperState::WaitingRestart: return "helper-waiting-restart";
    case GrHelperState::WaitingEor: return "helper-waiting-eor";
  }
  return "?";
}

Peer::Peer(Speaker& speaker, rib::PeerId id, config::PeerConfig config)
    : speaker_(speaker), id_(id), config_(std::move(config)), name_(config_.address.to_string()) {}

Peer::~Peer() {
  if (gr_timer_) gr_timer_->cancel();
  if (outgoing_) outgoing_->close();
  if (incoming_) incoming_->close();
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
  if (gr_enabled()) {
    // RFC 4724 §3: no <AFI, SAFI> listed = we do not preserve our forwarding state across
    // our own restart (tandem is not a restarting speaker yet) but act as a helper.
    // Restart State is 0: we never claim to have restarted.
    wire::GracefulRestartCap gr;
    gr.restart_state = false;
    gr.notification = g.graceful_restart.notification;
    gr.restart_time = g.graceful_restart.restart_time;
    c.graceful_restart = gr;
  }
  return c;
}

bool Peer::gr_enabled() const {
  return config_.graceful_restart.value_or(speaker_.config().graceful_restart.enabled);
}

void Peer::start() {
  if (!config_.enabled) {
    spdlog::info("peer {}: disabled in the configuration, not starting", name_);
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
  for (auto* c : {outgoing_.get(), incoming_.get()}) {
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

bool Peer::idle() const { return !outgoing_ && !incoming_; }

void Peer::accept(tcp::socket socket) {
  if (stopping_ || !config_.enabled) {
    spdlog::info("peer {}: incoming connection refused: peer is {}", name_, stopping_ ? "stopping" : "disabled");
    return;
  }
  if (established_) {
    // RFC 4271 §6.8: a connection that collides with an Established one is closed.
    // Let its FSM say so with Cease/Connection Collision Resolution after the OPEN.
    spdlog::info("peer {}: incoming connection while Established: will be refused after its OPEN", name_);
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
  Connection* other = (&c == outgoing_.get()) ? incoming_.get() : outgoing_.get();
  if (established_ && established_ != &c) {
    spdlog::info("peer {}: OPEN on a second connection while Established: closing it (collision)", name_);
    c.feed(fsm::ev::CollisionLost{});
    return;
  }
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
  // The other connection, if any, lost: RFC 4271 §6.8.
  Connection* other = (&c == outgoing_.get()) ? incoming_.get() : outgoing_.get();
  if (other && other->state() != fsm::State::Idle) other->feed(fsm::ev::CollisionLost{});
  down_notification_.reset();
  session_families_ = n.families;
  gr_peer_cap_ = n.peer_graceful_restart;
  const auto& ours = c.fsm().local_open().caps.graceful_restart;
  gr_n_bit_ = ours && gr_peer_cap_ && ours->notification && gr_peer_cap_->notification;
  if (gr_peer_cap_) {
    std::string fams;
    for (const auto& af : gr_peer_cap_->families)
      fams += fmt::format("{}{}(F={})", fams.empty() ? "" : ",", af.family.to_string(), af.forwarding_state ? 1 : 0);
    spdlog::info("peer {}: graceful restart: peer advertised restart time {} s, R={}, N={}, families {}; we {}; "
                 "N bit negotiated: {}", name_, gr_peer_cap_->restart_time, gr_peer_cap_->restart_state ? 1 : 0,
                 gr_peer_cap_->notification ? 1 : 0, fams.empty() ? "none" : fams,
                 ours ? "advertised it (helper)" : "did not advertise it (disabled)", gr_n_bit_ ? "yes" : "no");
  }
  // Decide about the routes kept from the previous session before the peer is up
  // again, so that routes about to be removed are never exported.
  if (gr_state_ != GrHelperState::None) gr_reestablished(n);
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
  if (r.end_of_rib) {
    auto counters = speaker_.rib().counters(id_);
    spdlog::info("peer {}: End-of-RIB received for {} ({} prefixes from this peer)", name_,
                 r.end_of_rib->to_string(), counters.received);
    if (gr_state_ == GrHelperState::WaitingEor) gr_end_of_rib(*r.end_of_rib);
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
  gr_session_down(reason);
  down_notification_.reset();
  post_ensure_outgoing();
}

// ---- graceful restart, helper role (RFC 4724 §4.2, RFC 8538) ----

std::vector<wire::Family> Peer::gr_families_to_keep(const std::optional<wire::Notification>& n,
                                                    std::string& why) const {
  if (stopping_) {
    why = "the peer is being stopped or removed";
    return {};
  }
  if (!gr_enabled()) {
    why = "graceful restart is disabled for this peer in our configuration";
    return {};
  }
  if (!gr_peer_cap_) {
    why = "the peer did not advertise the graceful restart capability";
    return {};
  }
  if (n) {
    if (n->code == wire::err::kCease && n->subcode == wire::err::kHardReset) {
      why = "the session ended with Cease/Hard Reset (RFC 8538 §3)";
      return {};
    }
    if (!gr_n_bit_) {
      why = "the session ended with a NOTIFICATION (" + n->describe() +
            ") and the N bit was not negotiated by both sides (RFC 4724 §4.2, RFC 8538 §2)";
      return {};
    }
  }
  if (gr_peer_cap_->restart_time == 0) {
    why = "the peer advertised a restart time of 0 s";
    return {};
  }
  std::vector<wire::Family> keep;
  for (const auto& af : gr_peer_cap_->families)
    if (contains(session_families_, af.family) && !contains(keep, af.family)) keep.push_back(af.family);
  if (keep.empty()) {
    why = "the peer's graceful restart capability lists no address family of this session";
    return {};
  }
  why = n ? "the session ended with " + n->describe() + " and both sides negotiated the N bit (RFC 8538 §4)"
          : "the session ended without a NOTIFICATION (RFC 4724 §4.2)";
  return keep;
}

void Peer::gr_session_down(const std::string& reason) {
  auto& rib = speaker_.rib();
  std::string why;
  std::vector<wire::Family> keep = gr_families_to_keep(down_notification_, why);
  if (keep.empty()) {
    size_t stale = 0;
    for (auto f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) stale += rib.stale_count(id_, f);
    auto counters = rib.counters(id_);
    spdlog::info("peer {}: graceful restart: not helping ({}): removing all {} routes of the peer{}", name_, why,
                 counters.received, stale ? fmt::format(" ({} of them already stale)", stale) : "");
    if (gr_timer_) gr_timer_->cancel();
    ++gr_timer_gen_;
    gr_state_ = GrHelperState::None;
    gr_stale_families_.clear();
    rib.peer_down(id_);
    return;
  }
  std::vector<wire::Family> dropped;
  for (auto f : session_families_)
    if (!contains(keep, f)) dropped.push_back(f);
  bool again = gr_state_ != GrHelperState::None;
  rib.peer_down_graceful(id_, keep);
  gr_stale_families_ = keep;
  gr_state_ = GrHelperState::WaitingRestart;
  size_t stale = 0;
  for (auto f : keep) stale += rib.stale_count(id_, f);
  spdlog::warn("peer {}: graceful restart: helping ({}; {}): keeping {} routes of {} as stale for the peer's "
               "restart time of {} s{}{}",
               name_, reason, why, stale, families_text(keep), gr_peer_cap_->restart_time,
               dropped.empty() ? "" : "; removing its routes of " + families_text(dropped) +
                                          " at once (not in its graceful restart capability)",
               again ? "; it went down again before its End-of-RIB: routes stay stale, restart timer re-armed" : "");
  gr_arm(gr_peer_cap_->restart_time);
}

void Peer::gr_reestablished(const fsm::Negotiated& n) {
  if (gr_timer_) gr_timer_->cancel();
  ++gr_timer_gen_;
  if (!gr_enabled() || !n.peer_graceful_restart) {
    gr_stop(!gr_enabled() ? "session re-established, but graceful restart is now disabled for this peer"
                          : "session re-established without the graceful restart capability (RFC 4724 §4.2)");
    return;
  }
  const auto& cap = *n.peer_graceful_restart;
  std::vector<wire::Family> remaining;
  for (auto f : gr_stale_families_) {
    const wire::GracefulRestartCap::Af* af = nullptr;
    for (const auto& a : cap.families)
      if (a.family == f) af = &a;
    if (!af) {
      gr_sweep(f, "the re-established session's graceful restart capability does not list the family "
                  "(RFC 4724 §4.2)");
    } else if (!af->forwarding_state) {
      gr_sweep(f, "the peer did not preserve its forwarding state (Forwarding State bit 0 in its new OPEN, "
                  "RFC 4724 §4.2)");
    } else if (!n.has_family(f)) {
      gr_sweep(f, "the family was not negotiated on the re-established session");
    } else {
      remaining.push_back(f);
    }
  }
  gr_stale_families_ = remaining;
  if (remaining.empty()) {
    gr_state_ = GrHelperState::None;
    return;
  }
  gr_state_ = GrHelperState::WaitingEor;
  uint32_t stale_time = speaker_.config().graceful_restart.stale_time;
  size_t stale = 0;
  for (auto f : remaining) stale += speaker_.rib().stale_count(id_, f);
  spdlog::info("peer {}: graceful restart: session re-established (R={}): keeping {} stale routes of {} until the "
               "peer's End-of-RIB, at most {} s (stale_time)",
               name_, cap.restart_state ? 1 : 0, stale, families_text(remaining), stale_time);
  gr_arm(stale_time);
}

void Peer::gr_end_of_rib(wire::Family f) {
  if (!contains(gr_stale_families_, f)) return;
  gr_sweep(f, "End-of-RIB received (RFC 4724 §4.2)");
  std::erase(gr_stale_families_, f);
  if (gr_stale_families_.empty()) {
    if (gr_timer_) gr_timer_->cancel();
    ++gr_timer_gen_;
    gr_state_ = GrHelperState::None;
    spdlog::info("peer {}: graceful restart: complete", name_);
  }
}

void Peer::gr_sweep(wire::Family f, const std::string& why) {
  size_t removed = speaker_.rib().sweep_stale(id_, f);
  size_t kept = speaker_.rib().counters(id_).received;
  spdlog::info("peer {}: graceful restart: {}: removed {} stale routes of {} (not re-announced); {} routes of the "
               "peer remain", name_, why, removed, f.to_string(), kept);
}

void Peer::gr_stop(const std::string& why) {
  if (gr_timer_) gr_timer_->cancel();
  ++gr_timer_gen_;
  size_t removed = 0;
  for (auto f : gr_stale_families_) removed += speaker_.rib().sweep_stale(id_, f);
  spdlog::info("peer {}: graceful restart: {}: removed {} stale routes of {}", name_, why, removed,
               families_text(gr_stale_families_));
  gr_stale_families_.clear();
  gr_state_ = GrHelperState::None;
}

void Peer::gr_arm(uint32_t seconds) {
  if (!gr_timer_) gr_timer_ = std::make_unique<asio::steady_timer>(speaker_.io());
  uint64_t gen = ++gr_timer_gen_;
  gr_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  gr_timer_->expires_at(gr_deadline_);
  gr_timer_->async_wait([this, gen, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& e) {
    if (e || !alive.lock() || gen != gr_timer_gen_) return;
    gr_timer_expired();
  });
}

void Peer::gr_timer_expired() {
  if (gr_state_ == GrHelperState::WaitingRestart) {
    gr_stop(fmt::format("restart timer ({} s) expired before the session came back (RFC 4724 §4.2)",
                        gr_peer_cap_ ? gr_peer_cap_->restart_time : 0));
  } else if (gr_state_ == GrHelperState::WaitingEor) {
    gr_stop(fmt::format("no End-of-RIB within stale_time ({} s)", speaker_.config().graceful_restart.stale_time));
  }
}

void Peer::on_disconnected(Connection& c) {
  if (&c == established_) on_session_down(c, "transport closed");
  if (stopping_ || &c == incoming_.get()) {
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

void Peer::ensure_outgoing() {
  if (stopping_ || config_.passive || !config_.enabled || outgoing_ || incoming_ || established_) return;
  outgoing_ = std::make_shared<Connection>(speaker_.io(), *this, fsm_config(false), true, std::nullopt,
                                           speaker_.tap());
  outgoing_->start();
}

void Peer::drop(Connection& c) {
  for (auto* slot : {&outgoing_, &incoming_}) {
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
  size_t n = rib.take_output(id_, max_bytes, out);
  sent_[static_cast<size_t>(wire::MessageType::Update)] += rib.counters(id_).updates_out - before;
  return n;
}

}  // namespace tandem::session
