// Path attributes of TABLE_DUMP_V2 RIB entries. RFC 6396 §4.3.4: the MP_REACH_NLRI
// attribute there holds only the next-hop length and the next hop (no AFI/SAFI, no
// NLRI). These helpers convert between that form and tandem's wire codec.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bgpd/wire/message.hpp"

namespace tandem::mrt {

// The attribute bytes of a RIB entry for a route of `afi` with these attributes: 4-octet
// AS_PATH, LOCAL_PREF etc. kept (the view of the RIB, not of an eBGP peer), NEXT_HOP for
// IPv4, the abbreviated MP_REACH_NLRI (next hop, + link-local when set) for IPv6.
std::vector<uint8_t> encode_rib_attributes(const wire::PathAttributes& attrs, wire::Afi afi);

// Rewrites an abbreviated MP_REACH_NLRI into the full form (AFI/SAFI, next hop,
// reserved octet, no NLRI) so wire::decode_attributes accepts the bytes. A full form
// written by older dumpers is kept as it is. Other attributes are copied unchanged.
std::vector<uint8_t> expand_rib_attributes(std::span<const uint8_t> attrs, wire::Afi afi);

// Decodes RIB entry attributes (4-octet AS) with tandem's codec; attrs.next_hop is the
// NEXT_HOP (IPv4) or the MP_REACH next hop (IPv6).
wire::Result<wire::PathAttributes> decode_rib_attributes(std::span<const uint8_t> attrs,
                                                         wire::Afi afi);

}  // namespace tandem::mrt
