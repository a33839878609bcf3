#include "api/validate.hpp"

#include <fmt/format.h>

#include <set>
#include <tuple>

#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::api {
namespace {

std::string check_family(const std::string& field, int f, bool allow_unspecified) {
  if (f == v1::FAMILY_IPV4_UNICAST || f == v1::FAMILY_IPV6_UNICAST) return "";
  if (f == v1::FAMILY_UNSPECIFIED && allow_unspecified) return "";
  if (f == v1::FAMILY_UNSPECIFIED) return field + ": FAMILY_UNSPECIFIED is not allowed here";
  return fmt::format("{}: unknown family value {}", field, f);
}

std::string check_prefix(const std::string& field, const std::string& text) {
  if (text.empty()) return field + ": missing (e.g. \"198.51.100.0/24\")";
  auto p = wire::Prefix::parse(text);
  if (!p || text.find('/') == std::string::npos)
    return fmt::format("{}: '{}' is not a prefix (ADDRESS/LENGTH)", field, text);
  return "";
}

std::string check_v4(const std::string& field, const std::string& text) {
  auto a = wire::IpAddr::parse(text);
  if (!a || !a->is_v4()) return fmt::format("{}: '{}' is not an IPv4 dotted quad", field, text);
  return "";
}

}  // namespace

std::string validate_address(const std::string& field, const std::string& text) {
  if (text.empty()) return field + ": missing (an IPv4 or IPv6 address)";
  if (!wire::IpAddr::parse(text)) return fmt::format("{}: '{}' is not an IPv4 or IPv6 address", field, text);
  return "";
}

std::string validate(const v1::PeerConfig& c) {
  if (auto e = validate_address("peer.address", c.address()); !e.empty()) return e;
  if (c.remote_as() == 0) return "peer.remote_as: missing (the neighbour's AS number, 1..4294967295)";
  if (!c.local_address().empty()) {
    if (auto e = validate_address("peer.local_address", c.local_address()); !e.empty()) return e;
    if (wire::IpAddr::parse(c.local_address())->afi != wire::IpAddr::parse(c.address())->afi)
      return "peer.local_address: must be of the same family as peer.address";
  }
  if (c.has_hold_time()) {
    if (c.hold_time() > 65535) return fmt::format("peer.hold_time: must be between 0 and 65535, not {}", c.hold_time());
    if (c.hold_time() == 1 || c.hold_time() == 2) return "peer.hold_time: must be 0 or at least 3 (RFC 4271)";
  }
  if (c.has_connect_retry() && (c.connect_retry() < 1 || c.connect_retry() > 65535))
    return fmt::format("peer.connect_retry: must be between 1 and 65535, not {}", c.connect_retry());
  std::set<int> seen;
  for (int i = 0; i < c.families_size(); ++i) {
    if (auto e = check_family(fmt::format("peer.families[{}]", i), c.families(i), false); !e.empty()) return e;
    if (!seen.insert(c.families(i)).second)
      return fmt::format("peer.families[{}]: {} listed twice", i, v1::Family_Name(c.families(i)));
  }
  if (c.has_port() && (c.port() < 1 || c.port() > 65535))
    return fmt::format("peer.port: must be between 1 and 65535, not {}", c.port());
  for (auto [name, has, value, max] : {std::tuple{"bfd_desired_min_tx_ms", c.has_bfd_desired_min_tx_ms(), c.bfd_desired_min_tx_ms(), 60000u},
                                       std::tuple{"bfd_required_min_rx_ms", c.has_bfd_required_min_rx_ms(), c.bfd_required_min_rx_ms(), 60000u},
                                       std::tuple{"bfd_detect_mult", c.has_bfd_detect_mult(), c.bfd_detect_mult(), 255u}}) {
    if (!has) continue;
    if (!c.bfd()) return fmt::format("peer.{}: only applies with bfd = true", name);
    if (value < 1 || value > max) return fmt::format("peer.{}: must be between 1 and {}, not {}", name, max, value);
  }
  return "";
}

std::string validate(const v1::AddPeerRequest& r) {
  if (!r.has_peer()) return "peer: missing";
  return validate(r.peer());
}

std::string validate(const v1::ResetPeerRequest& r) {
  if (auto e = validate_address("address", r.address()); !e.empty()) return e;
  if (!v1::ResetPeerRequest::Kind_IsValid(r.kind())) return fmt::format("kind: unknown value {}", r.kind());
  return check_family("family", r.family(), true);
}

std::string validate(const v1::SetGlobalRequest& r) {
  if (r.update_fields_size() == 0)
    return "update_fields: name at least one of router_id, local_as, listen_addresses, port";
  static const std::set<std::string> known{"router_id", "local_as", "listen_addresses", "port"};
  std::set<std::string> seen;
  for (const auto& f : r.update_fields()) {
    if (!known.count(f))
      return fmt::format("update_fields: unknown field '{}' (router_id, local_as, listen_addresses, port)", f);
    if (!seen.insert(f).second) return fmt::format("update_fields: '{}' listed twice", f);
  }
  const auto& g = r.global();
  if (seen.count("router_id")) {
    auto a = wire::IpAddr::parse(g.router_id());
    if (!a || !a->is_v4() || a->v4_host_order() == 0)
      return fmt::format("global.router_id: '{}' is not a non-zero IPv4 dotted quad", g.router_id());
  }
  if (seen.count("local_as") && g.local_as() == 0) return "global.local_as: must be between 1 and 4294967295, not 0";
  if (seen.count("listen_addresses")) {
    std::set<std::string> addrs;
    for (int i = 0; i < g.listen_addresses_size(); ++i) {
      if (auto e = validate_address(fmt::format("global.listen_addresses[{}]", i), g.listen_addresses(i)); !e.empty())
        return e;
      if (!addrs.insert(wire::IpAddr::parse(g.listen_addresses(i))->to_string()).second)
        return fmt::format("global.listen_addresses[{}]: '{}' listed twice", i, g.listen_addresses(i));
    }
  }
  if (seen.count("port") && (g.port() < 1 || g.port() > 65535))
    return fmt::format("global.port: must be between 1 and 65535, not {}", g.port());
  return "";
}

std::string validate(const v1::ListRoutesRequest& r) {
  if (!v1::Table_IsValid(r.table())) return fmt::format("table: unknown value {}", r.table());
  if (auto e = check_family("family", r.family(), true); !e.empty()) return e;
  wire::Afi afi = r.family() == v1::FAMILY_IPV6_UNICAST ? wire::Afi::Ipv6 : wire::Afi::Ipv4;
  if (r.table() != v1::TABLE_LOC_RIB && r.peer().empty())
    return fmt::format("peer: required for {}", v1::Table_Name(r.table()));
  if (!r.peer().empty()) {
    if (auto e = validate_address("peer", r.peer()); !e.empty()) return e;
  }
  if (r.has_prefix_filter()) {
    const auto& pf = r.prefix_filter();
    if (auto e = check_prefix("prefix_filter.prefix", pf.prefix()); !e.empty()) return e;
    if (!v1::PrefixFilter::Match_IsValid(pf.match())) return fmt::format("prefix_filter.match: unknown value {}", pf.match());
    if (wire::Prefix::parse(pf.prefix())->afi() != afi)
      return fmt::format("prefix_filter.prefix: '{}' is not of family {}", pf.prefix(),
                         v1::Family_Name(afi == wire::Afi::Ipv6 ? v1::FAMILY_IPV6_UNICAST : v1::FAMILY_IPV4_UNICAST));
  }
  if (r.best_only() && r.table() != v1::TABLE_LOC_RIB) return "best_only: only applies to TABLE_LOC_RIB";
  if (r.batch_size() > kMaxBatchSize)
    return fmt::format("batch_size: must be at most {}, not {}", kMaxBatchSize, r.batch_size());
  return "";
}

std::string validate(const v1::PathAttributes& a, const std::string& prefix_text) {
  auto prefix = wire::Prefix::parse(prefix_text);
  if (!v1::Origin_IsValid(a.origin())) return fmt::format("attributes.origin: unknown value {}", a.origin());
  for (int i = 0; i < a.as_path_size(); ++i) {
    const auto& s = a.as_path(i);
    if (s.type() == v1::AsPathSegment::TYPE_UNSPECIFIED || !v1::AsPathSegment::Type_IsValid(s.type()))
      return fmt::format("attributes.as_path[{}].type: must be AS_SET, AS_SEQUENCE, CONFED_SEQUENCE or CONFED_SET", i);
    if (s.asns_size() == 0) return fmt::format("attributes.as_path[{}].asns: a segment needs at least one AS", i);
    if (s.asns_size() > 255) return fmt::format("attributes.as_path[{}].asns: at most 255 ASes per segment", i);
  }
  if (!a.next_hop().empty()) {
    auto nh = wire::IpAddr::parse(a.next_hop());
    if (!nh) return fmt::format("attributes.next_hop: '{}' is not an IPv4 or IPv6 address", a.next_hop());
    if (prefix && nh->afi != prefix->afi())
      return fmt::format("attributes.next_hop: '{}' is not of the family of prefix {}", a.next_hop(), prefix_text);
  }
  if (!a.next_hop_link_local().empty()) {
    auto ll = wire::IpAddr::parse(a.next_hop_link_local());
    if (!ll || !ll->is_v6() || !ll->is_link_local())
      return fmt::format("attributes.next_hop_link_local: '{}' is not an IPv6 link-local address (fe80::/10)",
                         a.next_hop_link_local());
    if (prefix && !prefix->addr.is_v6()) return "attributes.next_hop_link_local: only for IPv6 prefixes";
  }
  if (a.has_aggregator_as()) {
    if (auto e = check_v4("attributes.aggregator_address", a.aggregator_address()); !e.empty()) return e;
  } else if (!a.aggregator_address().empty()) {
    return "attributes.aggregator_address: set without attributes.aggregator_as";
  }
  if (!a.originator_id().empty()) {
    if (auto e = check_v4("attributes.originator_id", a.originator_id()); !e.empty()) return e;
  }
  for (int i = 0; i < a.cluster_list_size(); ++i) {
    if (auto e = check_v4(fmt::format("attributes.cluster_list[{}]", i), a.cluster_list(i)); !e.empty()) return e;
  }
  std::set<uint32_t> types;
  for (int i = 0; i < a.unknown_size(); ++i) {
    const auto& u = a.unknown(i);
    if (u.flags() > 255) return fmt::format("attributes.unknown[{}].flags: must be 0..255, not {}", i, u.flags());
    if (u.type() > 255) return fmt::format("attributes.unknown[{}].type: must be 0..255, not {}", i, u.type());
    // Types tandem interprets must be given in their own fields.
    static const std::set<uint32_t> interpreted{wire::attr::kOrigin,       wire::attr::kAsPath,
                                                wire::attr::kNextHop,      wire::attr::kMed,
                                                wire::attr::kLocalPref,    wire::attr::kAtomicAggregate,
                                                wire::attr::kAggregator,   wire::attr::kCommunities,
                                                wire::attr::kOriginatorId, wire::attr::kClusterList,
                                                wire::attr::kMpReach,  wire::attr::kMpUnreach,
                                                wire::attr::kExtCommunities, wire::attr::kAs4Path,
                                                wire::attr::kAs4Aggregator, wire::attr::kLargeCommunities};
    if (u.type() == 0 || interpreted.count(u.type()))
      return fmt::format("attributes.unknown[{}].type: {} is an attribute tandem interprets; use its own field", i,
                         u.type());
    if (!(u.flags() & wire::attr::kFlagOptional))
      return fmt::format("attributes.unknown[{}].flags: an unknown attribute must be optional (flag 0x80)", i);
    if (u.value().size() > 65535) return fmt::format("attributes.unknown[{}].value: longer than 65535 bytes", i);
    if (!types.insert(u.type()).second) return fmt::format("attributes.unknown[{}].type: {} given twice", i, u.type());
  }
  return "";
}

std::string validate(const v1::AddRouteRequest& r) {
  if (auto e = check_prefix("prefix", r.prefix()); !e.empty()) return e;
  return validate(r.attributes(), r.prefix());
}

std::string validate(const v1::DeleteRouteRequest& r) { return check_prefix("prefix", r.prefix()); }

std::string validate(const v1::WatchEventsRequest& r) {
  if (!r.peer_state() && !r.best_path()) return "peer_state, best_path: set at least one";
  if (!r.peer().empty()) return validate_address("peer", r.peer());
  return "";
}

}  // namespace tandem::api
