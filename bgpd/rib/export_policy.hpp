// Export rules (RFC 4271 §9.2, RFC 4456 route reflection, RFC 1997 well-known
// communities): whether the best route of a prefix may be advertised to a peer, and
// the attributes it is advertised with.
#pragma once

#include <cstdint>
#include <optional>

#include "bgpd/rib/attr_store.hpp"
#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::rib {

// The peer the route was learned from.
struct ExportSource {
  bool local = false;      // locally originated (kLocalPeer)
  bool ebgp = false;
  bool rr_client = false;
  uint32_t router_id = 0;  // becomes ORIGINATOR_ID when reflecting
};

// The peer the route is advertised to.
struct ExportTarget {
  bool ebgp = false;
  bool rr_client = false;
  bool next_hop_self = false;
  std::optional<wire::IpAddr> local_v4;
  std::optional<wire::IpAddr> local_v6;
  bool llgr = false;  // advertised the LLGR capability (may receive LLGR_STALE routes)
};

struct ExportContext {
  uint32_t local_as = 0;
  uint32_t cluster_id = 0;
};

// Community and split-horizon rules (the "not back to the source peer" rule is the
// caller's: it needs peer identity).
//  - NO_ADVERTISE: to nobody; NO_EXPORT: not to eBGP peers;
//  - iBGP-learned to iBGP only when the source or the target is a route-reflector client;
//  - LLGR_STALE routes only to peers that advertised the LLGR capability (RFC 9494 §4.6).
bool export_allowed(const AttrInfo& info, const ExportSource& src, const ExportTarget& dst);

// The attributes to advertise, or nullopt when the route cannot be advertised to this
// peer (no usable next hop for the family).
//  - to eBGP: prepend our AS; next hop = our address for the family (when known);
//    no LOCAL_PREF; MED only if the AS_PATH was empty before prepending; no
//    ORIGINATOR_ID / CLUSTER_LIST;
//  - to iBGP: LOCAL_PREF set (100 when absent), MED kept, next hop kept unless
//    next-hop-self; reflected routes get ORIGINATOR_ID (if absent) and our cluster id
//    prepended to CLUSTER_LIST;
//  - locally originated routes without a next hop get our address;
//  - unknown attributes: only optional transitive ones are passed on; the IPv6
//    link-local next hop is never passed on.
std::optional<wire::PathAttributes> export_attributes(const wire::PathAttributes& attrs,
                                                      wire::Family family,
                                                      const ExportSource& src,
                                                      const ExportTarget& dst,
                                                      const ExportContext& ctx);

}  // namespace tandem::rib
