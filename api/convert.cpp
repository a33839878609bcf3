#include "api/convert.hpp"

#include "proto/convert/path_attributes.hpp"

#include <chrono>

namespace tandem::api {

v1::Family to_proto(wire::Family f) {
  if (f == wire::kIpv4Unicast) return v1::FAMILY_IPV4_UNICAST;
  if (f == wire::kIpv6Unicast) return v1::FAMILY_IPV6_UNICAST;
  return v1::FAMILY_UNSPECIFIED;
}

std::optional<wire::Family> from_proto(v1::Family f) {
  switch (f) {
    case v1::FAMILY_IPV4_UNICAST: return wire::kIpv4Unicast;
    case v1::FAMILY_IPV6_UNICAST: return wire::kIpv6Unicast;
    default: return std::nullopt;
  }
}

v1::SessionState to_proto(fsm::State s) {
  switch (s) {
    case fsm::State::Idle: return v1::SESSION_STATE_IDLE;
    case fsm::State::Connect: return v1::SESSION_STATE_CONNECT;
    case fsm::State::Active: return v1::SESSION_STATE_ACTIVE;
    case fsm::State::OpenSent: return v1::SESSION_STATE_OPEN_SENT;
    case fsm::State::OpenConfirm: return v1::SESSION_STATE_OPEN_CONFIRM;
    case fsm::State::Established: return v1::SESSION_STATE_ESTABLISHED;
  }
  return v1::SESSION_STATE_UNSPECIFIED;
}

void to_proto(const wire::PathAttributes& a, v1::PathAttributes& out) {
  proto_convert::path_attributes_to_proto(a, out);
}

wire::PathAttributes from_proto(const v1::PathAttributes& a) { return proto_convert::path_attributes_from_proto(a); }

void to_proto(const config::PeerConfig& c, v1::PeerConfig& out) {
  out.set_address(c.address.to_string());
  out.set_remote_as(c.remote_as);
  out.set_description(c.description);
  if (c.local_address) out.set_local_address(c.local_address->to_string());
  out.set_passive(c.passive);
  out.set_hold_time(c.hold_time);
  out.set_connect_retry(c.connect_retry);
  for (const auto& f : c.families) out.add_families(to_proto(f));
  out.set_next_hop_self(c.next_hop_self);
  out.set_route_reflector_client(c.route_reflector_client);
  out.set_port(c.port);
  out.set_enabled(c.enabled);
  out.set_bfd(c.bfd);
  if (c.bfd_desired_min_tx_ms) out.set_bfd_desired_min_tx_ms(*c.bfd_desired_min_tx_ms);
  if (c.bfd_required_min_rx_ms) out.set_bfd_required_min_rx_ms(*c.bfd_required_min_rx_ms);
  if (c.bfd_detect_mult) out.set_bfd_detect_mult(*c.bfd_detect_mult);
}

config::PeerConfig from_proto(const v1::PeerConfig& c) {
  config::PeerConfig p;
  p.address = *wire::IpAddr::parse(c.address());
  p.remote_as = c.remote_as();
  p.description = c.description();
  if (!c.local_address().empty()) p.local_address = wire::IpAddr::parse(c.local_address());
  p.passive = c.passive();
  if (c.has_hold_time()) p.hold_time = static_cast<uint16_t>(c.hold_time());
  if (c.has_connect_retry()) p.connect_retry = static_cast<uint16_t>(c.connect_retry());
  if (c.families_size() > 0) {
    p.families.clear();
    for (int i = 0; i < c.families_size(); ++i) p.families.push_back(*from_proto(c.families(i)));
  }
  p.next_hop_self = c.next_hop_self();
  p.route_reflector_client = c.route_reflector_client();
  if (c.has_port()) p.port = static_cast<uint16_t>(c.port());
  if (c.has_enabled()) p.enabled = c.enabled();
  p.bfd = c.bfd();
  if (c.has_bfd_desired_min_tx_ms()) p.bfd_desired_min_tx_ms = c.bfd_desired_min_tx_ms();
  if (c.has_bfd_required_min_rx_ms()) p.bfd_required_min_rx_ms = c.bfd_required_min_rx_ms();
  if (c.has_bfd_detect_mult()) p.bfd_detect_mult = static_cast<uint8_t>(c.bfd_detect_mult());
  return p;
}

namespace {

void counters_to_proto(const std::array<uint64_t, 6>& by_type, v1::MessageCounters& out) {
  using T = wire::MessageType;
  auto at = [&](T t) { return by_type[static_cast<size_t>(t)]; };
  out.set_open(at(T::Open));
  out.set_update(at(T::Update));
  out.set_notification(at(T::Notification));
  out.set_keepalive(at(T::Keepalive));
  out.set_route_refresh(at(T::RouteRefresh));
  uint64_t total = 0;
  for (size_t i = 1; i < by_type.size(); ++i) total += by_type[i];
  out.set_total(total);
}

}  // namespace

void to_proto(const session::PeerStatus& s, const rib::Rib& rib, rib::PeerId id, v1::PeerState& out) {
  out.set_state(to_proto(s.state));
  if (s.established_since && s.state == fsm::State::Established) {
    auto now = std::chrono::system_clock::now();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(now - *s.established_since).count();
    out.set_uptime_seconds(up > 0 ? static_cast<uint64_t>(up) : 0);
    out.set_established_unix_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(s.established_since->time_since_epoch()).count());
  }
  if (s.negotiated) {
    const auto& n = *s.negotiated;
    auto* o = out.mutable_negotiated();
    o->set_peer_as(n.peer_as);
    o->set_peer_router_id(wire::IpAddr::v4(n.peer_router_id).to_string());
    o->set_hold_time(n.hold_time);
    o->set_keepalive_time(n.keepalive);
    for (const auto& f : n.families) o->add_families(to_proto(f));
    o->set_four_octet_as(n.four_octet_as);
    o->set_route_refresh(n.route_refresh);
    o->set_enhanced_route_refresh(n.enhanced_route_refresh);
    o->set_extended_message(n.extended_message);
    o->set_graceful_restart(n.peer_graceful_restart.has_value());
    o->set_long_lived_graceful_restart(n.peer_llgr.has_value());
    for (const auto& f : n.add_path_rx) o->add_add_path_receive(to_proto(f));
  }
  for (wire::Family f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) {
    auto* pc = out.add_prefixes();
    pc->set_family(to_proto(f));
    pc->set_received(rib.adj_in_count(id, f, false));
    pc->set_accepted(rib.adj_in_count(id, f, true));
    pc->set_advertised(rib.adj_out_count(id, f));
    pc->set_stale(rib.stale_count(id, f));
  }
  counters_to_proto(s.received_by_type, *out.mutable_messages_received());
  counters_to_proto(s.sent_by_type, *out.mutable_messages_sent());
  out.set_last_error(s.last_error);
  out.set_established_transitions(s.established_transitions);
  if (s.endpoints) {
    out.set_local_address(s.endpoints->local.to_string());
    out.set_local_port(s.endpoints->local_port);
    out.set_remote_port(s.endpoints->remote_port);
  }
  switch (s.gr_state) {
    case session::GrHelperState::None:
      out.set_graceful_restart_state(v1::GRACEFUL_RESTART_STATE_NONE);
      break;
    case session::GrHelperState::WaitingRestart:
      out.set_graceful_restart_state(v1::GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART);
      break;
    case session::GrHelperState::WaitingEor:
      out.set_graceful_restart_state(v1::GRACEFUL_RESTART_STATE_HELPER_WAITING_EOR);
      break;
    case session::GrHelperState::LongLivedStale:
      out.set_graceful_restart_state(v1::GRACEFUL_RESTART_STATE_HELPER_LONG_LIVED_STALE);
      break;
  }
  out.set_restart_timer_remaining_seconds(s.gr_timer_remaining_seconds);
  for (const auto& f : s.gr_stale_families) out.add_graceful_restart_stale_families(to_proto(f));
  for (const auto& f : s.llgr_stale_families) out.add_long_lived_stale_families(to_proto(f));
  out.set_graceful_restart_notification(s.gr_notification);
}

void to_proto(const rib::ListedRoute& r, wire::Family family, const std::string& peer_address, v1::Route& out) {
  out.set_prefix(r.prefix.to_string());
  out.set_family(to_proto(family));
  out.set_peer(peer_address);
  out.set_best(r.best);
  out.set_eligible(r.eligible);
  if (r.attrs) to_proto(*r.attrs, *out.mutable_attributes());
}

}  // namespace tandem::api
