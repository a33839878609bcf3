#include "apps/tandemctl/neighbor.hpp"

#include <optional>
#include <set>

#include <fmt/format.h>

#include "apps/tandemctl/output.hpp"
#include "tandem/v1/peer.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

constexpr std::size_t kMaxCommunication = 255;  // RFC 9003 octets

std::string communication(Args& args) {
  std::string text = args.value_of("communication");
  if (text.size() > kMaxCommunication) args.fail("communication longer than 255 bytes");
  return text;
}

// Fails on a keyword given twice.
void once(Args& args, std::set<std::string>& seen, const std::string& key) {
  if (!seen.insert(key).second) args.fail("'" + key + "' given twice");
}

tv1::AddPeerRequest parse_add_peer(Args& args) {
  tv1::AddPeerRequest request;
  auto& peer = *request.mutable_peer();
  peer.set_address(parse_address(args.next("neighbor address"), "neighbor address", args.topic()));
  std::set<std::string> seen;
  while (!args.empty()) {
    const std::string key = args.next("keyword");
    once(args, seen, key);
    if (key == "as") {
      peer.set_remote_as(parse_u32(args.value_of(key), "AS number", args.topic()));
    } else if (key == "description") {
      peer.set_description(args.value_of(key));
    } else if (key == "passive") {
      peer.set_passive(true);
    } else if (key == "local-address") {
      peer.set_local_address(parse_address(args.value_of(key), "local address", args.topic()));
    } else if (key == "families") {
      for (const auto& f : split(args.value_of(key), ',')) {
        auto family = parse_family(f, args.topic());
        for (int existing : peer.families()) {
          if (existing == family) args.fail("family '" + f + "' given twice");
        }
        peer.add_families(family);
      }
    } else if (key == "hold-time") {
      peer.set_hold_time(parse_u32(args.value_of(key), "hold time", args.topic(), 0, 65535));
    } else if (key == "connect-retry") {
      peer.set_connect_retry(parse_u32(args.value_of(key), "connect retry", args.topic(), 1, 65535));
    } else if (key == "port") {
      peer.set_port(parse_u32(args.value_of(key), "port", args.topic(), 1, 65535));
    } else if (key == "next-hop-self") {
      peer.set_next_hop_self(true);
    } else if (key == "rr-client") {
      peer.set_route_reflector_client(true);
    } else if (key == "disabled") {
      peer.set_enabled(false);
    } else if (key == "bfd") {
      peer.set_bfd(true);
    } else if (key == "bfd-tx") {
      peer.set_bfd_desired_min_tx_ms(parse_u32(args.value_of(key), "BFD transmit interval (ms)", args.topic(), 1, 60000));
    } else if (key == "bfd-rx") {
      peer.set_bfd_required_min_rx_ms(parse_u32(args.value_of(key), "BFD receive interval (ms)", args.topic(), 1, 60000));
    } else if (key == "bfd-mult") {
      peer.set_bfd_detect_mult(parse_u32(args.value_of(key), "BFD detect multiplier", args.topic(), 1, 255));
    } else {
      args.fail("unknown neighbor add option '" + key + "'");
    }
  }
  if (!seen.contains("as")) args.fail("missing 'as ASN'");
  for (const char* k : {"bfd-tx", "bfd-rx", "bfd-mult"})
    if (seen.contains(k) && !seen.contains("bfd")) args.fail(std::string("'") + k + "' needs 'bfd'");
  return request;
}

tv1::ResetPeerRequest parse_reset(Args& args) {
  tv1::ResetPeerRequest request;
  request.set_address(parse_address(args.next("neighbor address"), "neighbor address", args.topic()));
  std::set<std::string> seen;
  bool kind_given = false;
  while (!args.empty()) {
    const std::string key = args.next("keyword");
    std::optional<tv1::ResetPeerRequest::Kind> kind;
    if (key == "hard") kind = tv1::ResetPeerRequest::KIND_HARD;
    if (key == "soft-in") kind = tv1::ResetPeerRequest::KIND_SOFT_IN;
    if (key == "soft-out") kind = tv1::ResetPeerRequest::KIND_SOFT_OUT;
    if (key == "soft") kind = tv1::ResetPeerRequest::KIND_SOFT_BOTH;
    if (kind) {
      if (kind_given) args.fail("give one of hard, soft-in, soft-out, soft");
      kind_given = true;
      request.set_kind(*kind);
      continue;
    }
    once(args, seen, key);
    if (key == "family") {
      request.set_family(parse_family(args.value_of(key), args.topic()));
    } else if (key == "communication") {
      request.set_communication(communication(args));
    } else {
      args.fail("unknown neighbor reset option '" + key + "'");
    }
  }
  if (request.kind() != tv1::ResetPeerRequest::KIND_HARD && !request.communication().empty()) {
    args.fail("communication applies to a hard reset only");
  }
  if (request.kind() == tv1::ResetPeerRequest::KIND_HARD && request.family() != tv1::FAMILY_UNSPECIFIED) {
    args.fail("family applies to a soft reset only");
  }
  return request;
}

template <typename Request>
Request parse_address_and_communication(Args& args, bool allow_communication) {
  Request request;
  request.set_address(parse_address(args.next("neighbor address"), "neighbor address", args.topic()));
  if (!args.empty() && allow_communication) {
    const std::string key = args.next("keyword");
    if (key != "communication") args.fail("unexpected argument '" + key + "'");
    if constexpr (requires { request.set_communication(std::string()); }) {
      request.set_communication(communication(args));
    }
  }
  args.expect_end();
  return request;
}

std::string peer_uptime(const tv1::PeerState& state) {
  if (state.state() != tv1::SESSION_STATE_ESTABLISHED) return "never";
  return duration_text(state.uptime_seconds());
}

}  // namespace

Command parse_neighbor(Args& args) {
  args.set_topic("neighbor");
  if (args.empty()) return tv1::ListPeersRequest{};
  const std::string sub = args.next("neighbor command");
  if (sub == "help" || sub == "--help" || sub == "-h") return Help{"neighbor"};
  if (sub == "add") return parse_add_peer(args);
  if (sub == "del" || sub == "delete") {
    return parse_address_and_communication<tv1::DeletePeerRequest>(args, true);
  }
  if (sub == "enable") return parse_address_and_communication<tv1::EnablePeerRequest>(args, false);
  if (sub == "disable") return parse_address_and_communication<tv1::DisablePeerRequest>(args, true);
  if (sub == "reset") return parse_reset(args);
  if (is_ipv4(sub) || is_ipv6(sub)) {
    args.expect_end();
    tv1::GetPeerRequest request;
    request.set_address(sub);
    return request;
  }
  args.fail("unknown neighbor command or address '" + sub + "'");
}

void render_peers(const tv1::ListPeersResponse& response, std::ostream& out) {
  if (response.peers().empty()) {
    out << "No neighbors.\n";
    return;
  }
  Table table({"Peer", "AS", "State", "Up/Down", "Received", "Accepted", "Advertised", "Description"},
              {false, true, false, true, true, true, true, false});
  for (const auto& peer : response.peers()) {
    std::uint64_t received = 0, accepted = 0, advertised = 0;
    for (const auto& p : peer.state().prefixes()) {
      received += p.received();
      accepted += p.accepted();
      advertised += p.advertised();
    }
    std::string state = state_name(peer.state().state());
    if (peer.config().has_enabled() && !peer.config().enabled()) state += " (disabled)";
    table.add({peer.config().address(), std::to_string(peer.config().remote_as()), state,
               peer_uptime(peer.state()), std::to_string(received), std::to_string(accepted),
               std::to_string(advertised), peer.config().description()});
  }
  table.print(out);
}

void render_peer(const tv1::Peer& peer, std::ostream& out) {
  const auto& c = peer.config();
  const auto& s = peer.state();
  auto line = [&](std::string_view key, const std::string& value) {
    out << fmt::format("  {:<25}{}\n", std::string(key) + ":", value);
  };
  out << fmt::format("BGP neighbor {}, remote AS {}\n", c.address(), c.remote_as());
  out << "Configuration:\n";
  line("Description", c.description().empty() ? "-" : c.description());
  line("Enabled", yes_no(!c.has_enabled() || c.enabled()));
  line("Passive", yes_no(c.passive()));
  line("Local address", c.local_address().empty() ? "any" : c.local_address());
  line("Port", c.has_port() ? std::to_string(c.port()) : "179 (default)");
  line("Hold time", c.has_hold_time() ? std::to_string(c.hold_time()) : "default");
  line("Connect retry", c.has_connect_retry() ? std::to_string(c.connect_retry()) : "default");
  line("Families", c.families().empty() ? "default" : families_text(c.families()));
  line("Next hop self", yes_no(c.next_hop_self()));
  line("Route reflector client", yes_no(c.route_reflector_client()));
  line("BFD", !c.bfd() ? std::string("no")
                       : fmt::format("yes (tx {} ms, rx {} ms, x{})", c.has_bfd_desired_min_tx_ms() ? std::to_string(c.bfd_desired_min_tx_ms()) : "default",
                                     c.has_bfd_required_min_rx_ms() ? std::to_string(c.bfd_required_min_rx_ms()) : "default",
                                     c.has_bfd_detect_mult() ? std::to_string(c.bfd_detect_mult()) : "default"));

  out << "State:\n";
  line("State", state_name(s.state()));
  line("Uptime", peer_uptime(s));
  line("Established transitions", std::to_string(s.established_transitions()));
  if (!s.local_address().empty()) {
    line("Local endpoint", fmt::format("{} port {}", s.local_address(), s.local_port()));
  }
  if (s.remote_port() != 0) line("Remote port", std::to_string(s.remote_port()));
  line("Last error", s.last_error().empty() ? "-" : s.last_error());
  const char* gr_what = nullptr;
  switch (s.graceful_restart_state()) {
    case tv1::GRACEFUL_RESTART_STATE_HELPER_WAITING_RESTART: gr_what = "helper, waiting for the peer to restart"; break;
    case tv1::GRACEFUL_RESTART_STATE_HELPER_WAITING_EOR: gr_what = "helper, waiting for End-of-RIB"; break;
    case tv1::GRACEFUL_RESTART_STATE_HELPER_LONG_LIVED_STALE:
      gr_what = "helper, long-lived stale (LLGR), waiting for the peer to restart";
      break;
    default: break;
  }
  if (gr_what) {
    line("Graceful restart", fmt::format("{} ({} s left)", gr_what, s.restart_timer_remaining_seconds()));
    line("Stale families", families_text(s.graceful_restart_stale_families()));
    if (!s.long_lived_stale_families().empty())
      line("Long-lived stale families", families_text(s.long_lived_stale_families()));
  }

  if (s.has_negotiated()) {
    const auto& n = s.negotiated();
    out << "Negotiated capabilities:\n";
    line("Peer AS", std::to_string(n.peer_as()));
    line("Peer router ID", n.peer_router_id());
    line("Hold time", std::to_string(n.hold_time()));
    line("Keepalive time", std::to_string(n.keepalive_time()));
    line("Families", families_text(n.families()));
    line("Four-octet AS", yes_no(n.four_octet_as()));
    line("Route refresh", yes_no(n.route_refresh()));
    line("Enhanced route refresh", yes_no(n.enhanced_route_refresh()));
    line("Extended message", yes_no(n.extended_message()));
    line("Graceful restart", yes_no(n.graceful_restart()));
    line("GR notification (N bit)", yes_no(s.graceful_restart_notification()));
    line("Long-lived GR", yes_no(n.long_lived_graceful_restart()));
    line("ADD-PATH receive", n.add_path_receive().empty() ? "-" : families_text(n.add_path_receive()));
  }

  if (!s.prefixes().empty()) {
    out << "Prefixes:\n";
    bool any_stale = false;
    for (const auto& p : s.prefixes()) any_stale |= p.stale() > 0;
    if (any_stale) {  // graceful restart: show how many received routes are stale
      Table t({"  Family", "Received", "Accepted", "Advertised", "Stale"}, {false, true, true, true, true});
      for (const auto& p : s.prefixes()) {
        t.add({"  " + family_name(p.family()), std::to_string(p.received()), std::to_string(p.accepted()),
               std::to_string(p.advertised()), std::to_string(p.stale())});
      }
      t.print(out);
    } else {
      Table t({"  Family", "Received", "Accepted", "Advertised"}, {false, true, true, true});
      for (const auto& p : s.prefixes()) {
        t.add({"  " + family_name(p.family()), std::to_string(p.received()), std::to_string(p.accepted()),
               std::to_string(p.advertised())});
      }
      t.print(out);
    }
  }

  out << "Messages:\n";
  Table m({"  Type", "Sent", "Received"}, {false, true, true});
  const auto& in = s.messages_received();
  const auto& o = s.messages_sent();
  auto row = [&](const char* name, std::uint64_t sent, std::uint64_t received) {
    m.add({std::string("  ") + name, std::to_string(sent), std::to_string(received)});
  };
  row("Open", o.open(), in.open());
  row("Update", o.update(), in.update());
  row("Notification", o.notification(), in.notification());
  row("Keepalive", o.keepalive(), in.keepalive());
  row("Route refresh", o.route_refresh(), in.route_refresh());
  row("Total", o.total(), in.total());
  m.print(out);
}

namespace {

// A unary PeerService call.
template <typename Request, typename Response, typename Method>
Response peer_call(Context& ctx, const Request& request, Method method) {
  return call<tv1::PeerService, Response>(ctx, method, request);
}

// Prints the (empty) response as JSON under --json.
template <typename Response>
int done(Context& ctx, const Response& response) {
  if (ctx.options.json) ctx.out << to_json(response, true) << '\n';
  return 0;
}

}  // namespace

int execute(Context& ctx, const tv1::ListPeersRequest& request) {
  auto response = peer_call<tv1::ListPeersRequest, tv1::ListPeersResponse>(ctx, request,
                                                                       &tv1::PeerService::Stub::ListPeers);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_peers(response, ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::GetPeerRequest& request) {
  auto peer = peer_call<tv1::GetPeerRequest, tv1::Peer>(ctx, request, &tv1::PeerService::Stub::GetPeer);
  if (ctx.options.json) {
    ctx.out << to_json(peer, true) << '\n';
  } else {
    render_peer(peer, ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::AddPeerRequest& request) {
  return done(ctx, peer_call<tv1::AddPeerRequest, tv1::AddPeerResponse>(ctx, request,
                                                                  &tv1::PeerService::Stub::AddPeer));
}

int execute(Context& ctx, const tv1::DeletePeerRequest& request) {
  return done(ctx, peer_call<tv1::DeletePeerRequest, tv1::DeletePeerResponse>(
                       ctx, request, &tv1::PeerService::Stub::DeletePeer));
}

int execute(Context& ctx, const tv1::EnablePeerRequest& request) {
  return done(ctx, peer_call<tv1::EnablePeerRequest, tv1::EnablePeerResponse>(
                       ctx, request, &tv1::PeerService::Stub::EnablePeer));
}

int execute(Context& ctx, const tv1::DisablePeerRequest& request) {
  return done(ctx, peer_call<tv1::DisablePeerRequest, tv1::DisablePeerResponse>(
                       ctx, request, &tv1::PeerService::Stub::DisablePeer));
}

int execute(Context& ctx, const tv1::ResetPeerRequest& request) {
  return done(ctx, peer_call<tv1::ResetPeerRequest, tv1::ResetPeerResponse>(
                       ctx, request, &tv1::PeerService::Stub::ResetPeer));
}

}  // namespace tandemctl
