#include "apps/tandemctl/mrt_routes.hpp"

#include <algorithm>
#include <unordered_map>

#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/wire/message.hpp"
#include "proto/convert/path_attributes.hpp"

namespace tandemctl {

namespace wire = tandem::wire;
namespace mrt = tandem::mrt;
namespace tv1 = tandem::v1;

namespace {

// Attribute types the daemon interprets itself: never accepted as "unknown".
bool interpreted(uint8_t type) {
  switch (type) {
    case wire::attr::kOrigin: case wire::attr::kAsPath: case wire::attr::kNextHop: case wire::attr::kMed:
    case wire::attr::kLocalPref: case wire::attr::kAtomicAggregate: case wire::attr::kAggregator:
    case wire::attr::kCommunities: case wire::attr::kOriginatorId: case wire::attr::kClusterList:
    case wire::attr::kMpReach: case wire::attr::kMpUnreach: case wire::attr::kExtCommunities:
    case wire::attr::kAs4Path: case wire::attr::kAs4Aggregator: case wire::attr::kLargeCommunities:
    case 0:
      return true;
    default:
      return false;
  }
}

void take(const wire::Prefix& p, wire::PathAttributes attrs, std::vector<MrtRoute>& out, MrtRouteStats& stats) {
  stats.attributes_dropped += sanitize(attrs, p.afi());
  out.push_back(MrtRoute{p, std::move(attrs)});
  ++stats.routes;
}

std::optional<std::string> from_update(const mrt::Bgp4mpMessage& m, std::vector<MrtRoute>& out,
                                       MrtRouteStats& stats) {
  if (m.message.size() < wire::kHeaderLen) return "BGP message shorter than its header";
  auto h = wire::decode_header(m.message, wire::kMaxExtendedMessageLen);
  if (!h) return "BGP message header: " + h.error().reason;
  if (h->type != wire::MessageType::Update) {
    ++stats.skipped_records;
    return std::nullopt;
  }
  wire::CodecOptions o;
  o.four_octet_as = m.as4;
  o.extended_message = true;
  o.ebgp = false;  // keep every attribute (LOCAL_PREF...)
  o.add_path_rx_ipv4 = o.add_path_rx_ipv6 = m.add_path;
  auto u = wire::decode_update(std::span<const uint8_t>(m.message).subspan(wire::kHeaderLen), o);
  if (!u) return "UPDATE from " + m.peer.peer_ip.to_string() + " does not decode: " + u.error().reason;
  for (const auto& w : u->withdrawn) stats.withdrawals += w.prefixes.size();
  if (u->treat_as_withdraw) {
    for (const auto& a : u->announced) stats.withdrawals += a.prefixes.size();
    return std::nullopt;
  }
  for (const auto& a : u->announced) {
    wire::PathAttributes attrs = u->attrs;
    attrs.next_hop_link_local.reset();
    if (a.family.afi == wire::Afi::Ipv6 || !attrs.next_hop) attrs.next_hop = u->mp_next_hop;
    for (const auto& p : a.prefixes) take(p, attrs, out, stats);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> routes_of(const mrt::Record& r, std::vector<MrtRoute>& out, MrtRouteStats& stats,
                                     std::optional<wire::Prefix>& last_prefix) {
  if (const auto* rib = std::get_if<mrt::RibRecord>(&r.body)) {
    if (rib->entries.empty()) return std::nullopt;
    auto a = mrt::decode_rib_attributes(rib->entries.front().attributes, rib->prefix.afi());
    if (!a) return "RIB entry of " + rib->prefix.to_string() + ": " + a.error().reason;
    stats.other_paths += rib->entries.size() - 1;
    take(rib->prefix, std::move(*a), out, stats);
    return std::nullopt;
  }
  if (const auto* td = std::get_if<mrt::TableDumpEntry>(&r.body)) {
    if (last_prefix && *last_prefix == td->prefix) {
      ++stats.other_paths;
      return std::nullopt;
    }
    last_prefix = td->prefix;
    wire::CodecOptions o;
    o.four_octet_as = false;  // legacy TABLE_DUMP: 2-octet AS numbers
    o.ebgp = false;
    auto a = wire::decode_attributes(td->attributes, o);
    if (!a) return "TABLE_DUMP entry of " + td->prefix.to_string() + ": " + a.error().reason;
    wire::PathAttributes attrs = a->attrs;
    if (!attrs.next_hop) attrs.next_hop = a->mp_next_hop;
    take(td->prefix, std::move(attrs), out, stats);
    return std::nullopt;
  }
  if (const auto* m = std::get_if<mrt::Bgp4mpMessage>(&r.body)) return from_update(*m, out, stats);
  if (!std::holds_alternative<mrt::PeerIndexTable>(r.body)) ++stats.skipped_records;
  return std::nullopt;
}

std::size_t sanitize(wire::PathAttributes& a, wire::Afi afi) {
  std::size_t dropped = 0;
  if (a.next_hop && (a.next_hop->afi != afi || a.next_hop->is_unspecified())) {
    a.next_hop.reset();
    ++dropped;
  }
  if (a.next_hop_link_local && (afi != wire::Afi::Ipv6 || !a.next_hop_link_local->is_link_local())) {
    a.next_hop_link_local.reset();
    ++dropped;
  }
  std::erase_if(a.as_path.segments, [](const wire::AsPathSegment& s) { return s.asns.empty(); });
  dropped += std::erase_if(a.unknown, [](const wire::RawAttribute& u) {
    return interpreted(u.type) || (u.flags & wire::attr::kFlagOptional) == 0 ||
           (u.flags & wire::attr::kFlagTransitive) == 0;
  });
  return dropped;
}

void NextHopRewrite::apply(MrtRoute& r) const {
  const bool v4_route = r.prefix.afi() == wire::Afi::Ipv4;
  if (v4_route ? self_v4 : self_v6) {
    r.attrs.next_hop.reset();
    r.attrs.next_hop_link_local.reset();
  } else if (const auto& nh = v4_route ? v4 : v6) {
    r.attrs.next_hop = *nh;
    r.attrs.next_hop_link_local.reset();
  }
}

void add_routes(std::span<const MrtRoute> routes, tv1::InjectRoutesRequest& out) {
  // Groups of this call by attribute set (and family: a group holds one family).
  struct Key {
    const wire::PathAttributes* attrs;
    wire::Afi afi;
    bool operator==(const Key& k) const { return afi == k.afi && *attrs == *k.attrs; }
  };
  struct Hash {
    size_t operator()(const Key& k) const { return k.attrs->hash() ^ static_cast<size_t>(k.afi); }
  };
  std::unordered_map<Key, tv1::InjectRouteGroup*, Hash> groups;
  for (const auto& r : routes) {
    auto [it, fresh] = groups.try_emplace(Key{&r.attrs, r.prefix.afi()}, nullptr);
    if (fresh) {
      it->second = out.add_groups();
      tandem::proto_convert::path_attributes_to_proto(r.attrs, *it->second->mutable_attributes());
    }
    it->second->add_prefixes(r.prefix.to_string());
  }
}

std::optional<MrtRouteReader> MrtRouteReader::open(const std::string& path, std::string& error) {
  auto r = mrt::FileReader::open(path);
  if (!r) {
    error = r.error().reason;
    return std::nullopt;
  }
  return MrtRouteReader(std::move(r).value());
}

bool MrtRouteReader::next(std::vector<MrtRoute>& out, std::size_t max) {
  std::size_t taken = 0;
  auto move_carry = [&] {
    const std::size_t n = std::min(carry_.size(), max - taken);
    out.insert(out.end(), std::make_move_iterator(carry_.begin()),
               std::make_move_iterator(carry_.begin() + static_cast<std::ptrdiff_t>(n)));
    carry_.erase(carry_.begin(), carry_.begin() + static_cast<std::ptrdiff_t>(n));
    taken += n;
  };
  move_carry();
  while (taken < max && !done_) {
    auto rec = reader_.next();
    if (!rec) {
      done_ = true;
      break;
    }
    ++stats_.records;
    if (!*rec) {
      const auto& e = rec->error();
      ++stats_.malformed;
      if (!stats_.first_error) stats_.first_error = e;
      if (e.fatal) {
        stats_.fatal = true;
        stats_.fatal_error = e;
        done_ = true;
      }
      continue;
    }
    if (auto why = routes_of(rec->value(), carry_, stats_, last_prefix_)) {
      ++stats_.malformed;
      if (!stats_.first_error) stats_.first_error = mrt::MrtError{rec->value().offset, *why, false};
    }
    move_carry();
  }
  return !(done_ && carry_.empty());
}

}  // namespace tandemctl
