// One-line text of a BGP message, for live capture (`tandemctl capture`, pcapng
// comments). Uses tandem's own decoders (bgpd/wire); never throws or aborts on input: a
// message that does not decode is described as such.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "bgpd/wire/attributes.hpp"

namespace tandem::capture {

struct SummaryOptions {
  wire::CodecOptions codec;   // the session's (4-octet AS, ADD-PATH receive...)
  size_t max_prefixes = 3;    // prefixes listed per section before "..."
};

// `message`: the whole message, header included. Examples:
//   "OPEN as 4200000200 hold 90 id 192.0.2.3 caps mp(ipv4-unicast) rr 4as gr(120s) "
//   "UPDATE announce 2 [10.1.0.0/24 10.1.1.0/24] withdraw 0 nh 192.0.2.2 path 65002 ..."
//   "UPDATE End-of-RIB ipv6-unicast", "NOTIFICATION Cease/Administrative Reset",
//   "KEEPALIVE", "ROUTE-REFRESH ipv4-unicast"
std::string summarize(std::span<const uint8_t> message, const SummaryOptions& options);

// The path attributes in a short form: "nh 192.0.2.2 path 65002 65003 origin igp med 5
// lp 100 comm 65000:1,no-export lcomm 1:2:3".
std::string attributes_text(const wire::PathAttributes& attrs);

}  // namespace tandem::capture
