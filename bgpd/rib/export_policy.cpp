#include "bgpd/rib/export_policy.hpp"

#include <algorithm>

namespace tandem::rib {

bool export_allowed(const AttrInfo& info, const ExportSource& src, const ExportTarget& dst) {
  if (info.no_advertise) return false;
  if (dst.ebgp && info.no_export) return false;
  if (info.llgr_stale && !dst.llgr) return false;
  if (!src.local && !src.ebgp && !dst.ebgp && !src.rr_client && !dst.rr_client) return false;
  return true;
}

std::optional<wire::PathAttributes> export_attributes(const wire::PathAttributes& attrs,
                                                      wire::Family family,
                                                      const ExportSource& src,
                                                      const ExportTarget& dst,
                                                      const ExportContext& ctx) {
  wire::PathAttributes x = attrs;
  const bool v4 = family.afi == wire::Afi::Ipv4;
  const std::optional<wire::IpAddr>& local = v4 ? dst.local_v4 : dst.local_v6;

  if (dst.ebgp) {
    const bool was_empty = x.as_path.empty();
    x.as_path.prepend(ctx.local_as);
    x.has_as_path = true;
    if (local) x.next_hop = *local;
    x.local_pref.reset();
    if (!was_empty) x.med.reset();
    x.originator_id.reset();
    x.cluster_list.clear();
  } else {
    if (!x.local_pref) x.local_pref = 100;
    if (!src.local && !src.ebgp) {  // reflecting an iBGP-learned route
      if (!x.originator_id) x.originator_id = src.router_id;
      x.cluster_list.insert(x.cluster_list.begin(), ctx.cluster_id);
    }
    if (dst.next_hop_self && local) x.next_hop = *local;
  }
  if (src.local && !x.next_hop && local) x.next_hop = *local;
  if (src.local && !x.has_origin) {
    x.origin = wire::Origin::Igp;
    x.has_origin = true;
  }
  x.has_as_path = true;
  x.next_hop_link_local.reset();
  std::erase_if(x.unknown, [](const wire::RawAttribute& u) {
    return (u.flags & wire::attr::kFlagOptional) == 0 || (u.flags & wire::attr::kFlagTransitive) == 0;
  });

  if (!x.next_hop) return std::nullopt;
  if (v4 ? !x.next_hop->is_v4() : !x.next_hop->is_v6()) return std::nullopt;
  return x;
}

}  // namespace tandem::rib
