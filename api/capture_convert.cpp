#include "api/capture_convert.hpp"

#include "api/convert.hpp"
#include "bgpd/capture/summary.hpp"

namespace tandem::api {

namespace {

void to_proto(const session::Endpoints& e, v1::CaptureEndpoints& out) {
  out.set_local_address(e.local.to_string());
  out.set_local_port(e.local_port);
  out.set_remote_address(e.remote.to_string());
  out.set_remote_port(e.remote_port);
}

v1::GracefulRestartState gr_to_proto(session::GrHelperState s) {
  switch (s) {
    case session::GrHelperState::None: return v1::GRACEFUL_RESTART_STATE_NONE;
    case session::GrHelperState::WaitingRestart: return v1::GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART;
    case session::GrHelperState::WaitingEor: return v1::GRACEFUL_RESTART_STATE_HELPER_WAITING_EOR;
    case session::GrHelperState::LongLivedStale: return v1::GRACEFUL_RESTART_STATE_HELPER_LONG_LIVED_STALE;
  }
  return v1::GRACEFUL_RESTART_STATE_UNSPECIFIED;
}

// How to decode the message's NLRI and AS numbers: the session's options once
// negotiated (ADD-PATH path ids only in what the peer sends), the defaults before.
capture::SummaryOptions summary_options(const CaptureItem& item) {
  capture::SummaryOptions o;
  if (item.session && item.session->negotiated) {
    o.codec = item.session->negotiated->codec(false);
    if (item.direction == session::Direction::Outbound) o.codec.add_path_rx_ipv4 = o.codec.add_path_rx_ipv6 = false;
  }
  return o;
}

}  // namespace

void to_proto(const fsm::Negotiated& n, v1::NegotiatedCapabilities& o) {
  o.set_peer_as(n.peer_as);
  o.set_peer_router_id(wire::IpAddr::v4(n.peer_router_id).to_string());
  o.set_hold_time(n.hold_time);
  o.set_keepalive_time(n.keepalive);
  for (const auto& f : n.families) o.add_families(to_proto(f));
  o.set_four_octet_as(n.four_octet_as);
  o.set_route_refresh(n.route_refresh);
  o.set_enhanced_route_refresh(n.enhanced_route_refresh);
  o.set_extended_message(n.extended_message);
  o.set_graceful_restart(n.peer_graceful_restart.has_value());
  o.set_long_lived_graceful_restart(n.peer_llgr.has_value());
  for (const auto& f : n.add_path_rx) o.add_add_path_receive(to_proto(f));
}

void to_proto(const SessionSnapshot& s, v1::CaptureSessionState& out) {
  out.set_state(to_proto(s.state));
  out.set_outgoing(s.outgoing);
  if (s.negotiated) to_proto(*s.negotiated, *out.mutable_negotiated());
  out.set_graceful_restart_state(gr_to_proto(s.gr_state));
  for (const auto& f : s.gr_stale_families) out.add_graceful_restart_stale_families(to_proto(f));
  out.set_replication_role(s.repl_role);
  out.set_replication_sync(s.repl_sync);
}

void to_proto(const CaptureItem& item, bool include_data, v1::CaptureRecord& out) {
  out.set_time_unix_nanos(item.time_unix_nanos);
  switch (item.kind) {
    case CaptureItem::Kind::Message: {
      auto* m = out.mutable_message();
      m->set_direction(item.direction == session::Direction::Inbound ? v1::CAPTURE_DIRECTION_RECEIVED
                                                                     : v1::CAPTURE_DIRECTION_SENT);
      m->set_peer(item.peer.to_string());
      m->set_connection_id(item.connection_id);
      to_proto(item.endpoints, *m->mutable_endpoints());
      const uint8_t type = item.bytes.size() > 18 ? item.bytes[18] : 0;
      m->set_type_code(type);
      m->set_type(type >= 1 && type <= 5 ? static_cast<v1::BgpMessageType>(type) : v1::BGP_MESSAGE_TYPE_UNSPECIFIED);
      m->set_length(static_cast<uint32_t>(item.bytes.size()));
      m->set_summary(capture::summarize(item.bytes, summary_options(item)));
      m->set_stream_offset(item.offset);
      m->set_tcp_seq_known(item.seq_known);
      if (item.seq_known) {
        m->set_tcp_seq(item.seq);
      } else {
        m->set_tcp_seq_unknown(item.seq_unknown ? *item.seq_unknown : "unknown");
      }
      m->set_tcp_ack_known(item.ack_known);
      if (item.ack_known) m->set_tcp_ack(item.ack);
      if (item.session) to_proto(*item.session, *m->mutable_session());
      if (include_data) m->set_data(item.bytes.data(), item.bytes.size());
      break;
    }
    case CaptureItem::Kind::StateChange: {
      auto* s = out.mutable_state_change();
      s->set_peer(item.peer.to_string());
      s->set_from(to_proto(item.from));
      s->set_to(to_proto(item.to));
      s->set_reason(item.reason);
      break;
    }
    case CaptureItem::Kind::Connection: {
      auto* c = out.mutable_connection();
      c->set_peer(item.peer.to_string());
      c->set_connection_id(item.connection_id);
      c->set_opened(item.opened);
      to_proto(item.endpoints, *c->mutable_endpoints());
      break;
    }
  }
}

}  // namespace tandem::api
