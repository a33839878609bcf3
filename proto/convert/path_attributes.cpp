#include "proto/convert/path_attributes.hpp"

#include <algorithm>

namespace tandem::proto_convert {

void path_attributes_to_proto(const wire::PathAttributes& a, v1::PathAttributes& out) {
  // A route without ORIGIN goes on the wire as INCOMPLETE (wire::encode_attributes).
  out.set_origin(a.has_origin ? static_cast<v1::Origin>(static_cast<int>(a.origin)) : v1::ORIGIN_INCOMPLETE);
  for (const auto& seg : a.as_path.segments) {
    auto* s = out.add_as_path();
    s->set_type(static_cast<v1::AsPathSegment::Type>(static_cast<int>(seg.type)));
    for (uint32_t asn : seg.asns) s->add_asns(asn);
  }
  if (a.next_hop) out.set_next_hop(a.next_hop->to_string());
  if (a.next_hop_link_local) out.set_next_hop_link_local(a.next_hop_link_local->to_string());
  if (a.med) out.set_med(*a.med);
  if (a.local_pref) out.set_local_pref(*a.local_pref);
  out.set_atomic_aggregate(a.atomic_aggregate);
  if (a.aggregator) {
    out.set_aggregator_as(a.aggregator->asn);
    out.set_aggregator_address(wire::IpAddr::v4(a.aggregator->address).to_string());
  }
  for (uint32_t c : a.communities) out.add_communities(c);
  for (uint64_t c : a.ext_communities) out.add_ext_communities(c);
  for (const auto& lc : a.large_communities) {
    auto* l = out.add_large_communities();
    l->set_global_admin(lc.global_admin);
    l->set_local_data1(lc.local1);
    l->set_local_data2(lc.local2);
  }
  if (a.originator_id) out.set_originator_id(wire::IpAddr::v4(*a.originator_id).to_string());
  for (uint32_t c : a.cluster_list) out.add_cluster_list(wire::IpAddr::v4(c).to_string());
  for (const auto& u : a.unknown) {
    auto* x = out.add_unknown();
    x->set_flags(u.flags);
    x->set_type(u.type);
    x->set_value(std::string(u.value.begin(), u.value.end()));
  }
}

wire::PathAttributes path_attributes_from_proto(const v1::PathAttributes& a) {
  wire::PathAttributes out;
  out.origin = static_cast<wire::Origin>(static_cast<int>(a.origin()));
  out.has_origin = true;
  out.has_as_path = true;
  for (const auto& seg : a.as_path()) {
    wire::AsPathSegment s;
    s.type = static_cast<wire::AsPathSegment::Type>(static_cast<int>(seg.type()));
    s.asns.assign(seg.asns().begin(), seg.asns().end());
    out.as_path.segments.push_back(std::move(s));
  }
  if (!a.next_hop().empty()) out.next_hop = wire::IpAddr::parse(a.next_hop());
  if (!a.next_hop_link_local().empty()) out.next_hop_link_local = wire::IpAddr::parse(a.next_hop_link_local());
  if (a.has_med()) out.med = a.med();
  if (a.has_local_pref()) out.local_pref = a.local_pref();
  out.atomic_aggregate = a.atomic_aggregate();
  if (a.has_aggregator_as()) {
    wire::Aggregator ag;
    ag.asn = a.aggregator_as();
    if (auto ip = wire::IpAddr::parse(a.aggregator_address())) ag.address = ip->v4_host_order();
    out.aggregator = ag;
  }
  out.communities.assign(a.communities().begin(), a.communities().end());
  out.ext_communities.assign(a.ext_communities().begin(), a.ext_communities().end());
  for (const auto& l : a.large_communities())
    out.large_communities.push_back(wire::LargeCommunity{l.global_admin(), l.local_data1(), l.local_data2()});
  if (!a.originator_id().empty()) {
    if (auto ip = wire::IpAddr::parse(a.originator_id())) out.originator_id = ip->v4_host_order();
  }
  for (const auto& c : a.cluster_list()) {
    if (auto ip = wire::IpAddr::parse(c)) out.cluster_list.push_back(ip->v4_host_order());
  }
  for (const auto& u : a.unknown()) {
    wire::RawAttribute r;
    r.flags = static_cast<uint8_t>(u.flags());
    r.type = static_cast<uint8_t>(u.type());
    r.value.assign(u.value().begin(), u.value().end());
    out.unknown.push_back(std::move(r));
  }
  std::sort(out.unknown.begin(), out.unknown.end(),
            [](const wire::RawAttribute& x, const wire::RawAttribute& y) { return x.type < y.type; });
  return out;
}

}  // namespace tandem::proto_convert
