// MRT record types, subtypes and limits (RFC 6396 §4, RFC 8050 subtypes are only
// recognised so that their records can be skipped).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::mrt {

namespace type {
inline constexpr uint16_t kTableDump = 12, kTableDumpV2 = 13, kBgp4mp = 16, kBgp4mpEt = 17;
}

namespace bgp4mp {
inline constexpr uint16_t kStateChange = 0, kMessage = 1, kMessageAs4 = 4, kStateChangeAs4 = 5,
                          kMessageLocal = 6, kMessageAs4Local = 7, kMessageAddpath = 8,
                          kMessageAs4Addpath = 9, kMessageLocalAddpath = 10,
                          kMessageAs4LocalAddpath = 11;
}

namespace table_dump_v2 {
inline constexpr uint16_t kPeerIndexTable = 1, kRibIpv4Unicast = 2, kRibIpv4Multicast = 3,
                          kRibIpv6Unicast = 4, kRibIpv6Multicast = 5, kRibGeneric = 6;
// PEER_INDEX_TABLE peer type bits.
inline constexpr uint8_t kPeerTypeIpv6 = 0x01, kPeerTypeAs4 = 0x02;
}

namespace table_dump {
inline constexpr uint16_t kAfiIpv4 = 1, kAfiIpv6 = 2;
}

// Common header: timestamp (4), type (2), subtype (2), length (4).
inline constexpr size_t kHeaderLen = 12;
// Records longer than this are refused by the reader (a corrupt length would otherwise
// make it allocate up to 4 GiB). Real records are far below: a BGP message is <= 64 KiB.
inline constexpr size_t kMaxRecordLen = size_t{1} << 20;

}  // namespace tandem::mrt
