// BGP messages (RFC 4271 §4): header framing, OPEN, UPDATE, NOTIFICATION, KEEPALIVE,
// ROUTE-REFRESH (RFC 2918/7313). Encoders return whole messages, header included.
// Decoders take the message body (after the 19-byte header) and never abort.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/capabilities.hpp"
#include "bgpd/wire/result.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::wire {

enum class MessageType : uint8_t {
  Open = 1,
  Update = 2,
  Notification = 3,
  Keepalive = 4,
  RouteRefresh = 5,
};
const char* to_string(MessageType t);

inline constexpr size_t kHeaderLen = 19;
inline constexpr size_t kMaxMessageLen = 4096;
inline constexpr size_t kMaxExtendedMessageLen = 65535;

struct Header {
  uint16_t length = 0;  // whole message, header included
  MessageType type = MessageType::Keepalive;
};

// Validate marker, length (19..max_len, and the per-type minimum) and type.
// `bytes` must hold at least kHeaderLen bytes.
Result<Header> decode_header(std::span<const uint8_t> bytes, size_t max_len);

// ---- OPEN ----
struct Open {
  uint8_t version = 4;
  uint16_t my_as = 0;  // 2-octet field (AS_TRANS when the real AS is > 65535)
  uint16_t hold_time = 90;
  uint32_t bgp_id = 0;  // host order
  Capabilities caps;
  // The sender's AS: the 4-octet capability value when present, else my_as.
  uint32_t asn() const { return caps.four_octet_as.value_or(my_as); }
  bool operator==(const Open&) const = default;
};
Result<Open> decode_open(std::span<const uint8_t> body);
// Sets my_as from caps.four_octet_as (AS_TRANS if it does not fit in 2 octets) when
// my_as is 0. Uses RFC 9072 extended parameters when the capabilities exceed 255 bytes.
std::vector<uint8_t> encode_open(const Open& open);

// ---- NOTIFICATION ----
struct Notification {
  uint8_t code = 0;
  uint8_t subcode = 0;
  std::vector<uint8_t> data;
  // "Cease/Administrative Shutdown: maintenance" (RFC 8203 shutdown text when present).
  std::string describe() const;
  bool operator==(const Notification&) const = default;
};
Result<Notification> decode_notification(std::span<const uint8_t> body);
std::vector<uint8_t> encode_notification(const Notification& n);
// Cease / Administrative Shutdown or Reset with an RFC 8203 shutdown communication.
Notification make_shutdown_notification(uint8_t subcode, std::string_view text);

// ---- KEEPALIVE ----
std::vector<uint8_t> encode_keepalive();

// ---- ROUTE-REFRESH ----
struct RouteRefresh {
  enum Subtype : uint8_t { Normal = 0, BeginOfRefresh = 1, EndOfRefresh = 2 };
  Family family;
  Subtype subtype = Normal;
  bool operator==(const RouteRefresh&) const = default;
};
// Errors: ROUTE-REFRESH Message Error / Invalid Message Length (RFC 7313 §5).
// An unknown AFI/SAFI or subtype is not an error: `ok()` with a family the caller
// ignores (the caller checks negotiated families).
Result<RouteRefresh> decode_route_refresh(std::span<const uint8_t> body);
std::vector<uint8_t> encode_route_refresh(const RouteRefresh& rr);

// ---- UPDATE ----

// The three sections of an UPDATE body, located but not decoded (cheap): lets a
// receiver look up the raw attribute bytes in a cache before decoding them.
struct UpdateSections {
  std::span<const uint8_t> withdrawn;   // IPv4 withdrawn routes
  std::span<const uint8_t> attributes;  // path attribute bytes
  std::span<const uint8_t> nlri;        // IPv4 NLRI
};
Result<UpdateSections> split_update(std::span<const uint8_t> body);

struct NlriSet {
  Family family;
  std::vector<Prefix> prefixes;
  bool operator==(const NlriSet&) const = default;
};

struct Update {
  // Withdrawals and announcements per family; IPv4 entries merge the classic fields and
  // MP_(UN)REACH for IPv4. Empty vectors when absent.
  std::vector<NlriSet> withdrawn;
  std::vector<NlriSet> announced;
  PathAttributes attrs;  // attrs.next_hop filled from NEXT_HOP or MP_REACH per family:
                         // when both IPv4 and IPv6 are announced in one UPDATE, see
                         // mp_next_hop
  std::optional<IpAddr> mp_next_hop;             // from MP_REACH (global)
  std::optional<IpAddr> mp_next_hop_link_local;  // from MP_REACH (IPv6 link-local)

  // RFC 7606 outcome that did not reset the session:
  bool treat_as_withdraw = false;          // every announced prefix must be withdrawn
  std::string treat_as_withdraw_reason;    // why (for the log)
  uint8_t treat_as_withdraw_subcode = 0;   // UPDATE error subcode of that first error
  std::vector<DiscardedAttribute> discarded;  // attributes dropped, with reasons

  // End-of-RIB marker (RFC 4724 §2): an UPDATE with nothing but an empty withdrawal
  // (IPv4) or an empty MP_UNREACH for the family.
  std::optional<Family> end_of_rib;
};

// Decode a whole UPDATE body. A SessionReset error means: send the NOTIFICATION in the
// error and close. TreatAsWithdraw and AttributeDiscard outcomes are reported inside
// the returned Update. Choices where RFC 7606 leaves one: a malformed MP_REACH/MP_UNREACH
// (incl. a bad next-hop length) resets the session (no AFI/SAFI disable); an attribute
// whose length overruns the attribute section is treat-as-withdraw unless it is
// MP_REACH/MP_UNREACH (session reset). MP_REACH/MP_UNREACH of a family other than
// IPv4/IPv6 unicast are ignored (recorded in `discarded`). AS 0 (RFC 7607) in AS_PATH is
// treat-as-withdraw, in AGGREGATOR/AS4_* attribute discard.
Result<Update> decode_update(std::span<const uint8_t> body, const CodecOptions& opts);

// Decode only the path attributes (e.g. on a cache miss after split_update). MP_REACH
// and MP_UNREACH NLRI are returned in `update`; classic NLRI/withdrawn are not touched.
// This form assumes the UPDATE carries no classic IPv4 NLRI (the mandatory-attribute
// checks then only concern MP_REACH_NLRI); pass ipv4_nlri_present to check them for the
// classic NLRI field as well (NEXT_HOP mandatory, attrs.next_hop from NEXT_HOP).
Result<Update> decode_attributes(std::span<const uint8_t> attributes, const CodecOptions& opts);
Result<Update> decode_attributes(std::span<const uint8_t> attributes, const CodecOptions& opts,
                                 bool ipv4_nlri_present);

// Decode a run of prefixes (RFC 4271 §4.3 encoding) of one family, appending to out.
// Errors are classified per RFC 7606 §5.3 by the caller's context (NLRI field ->
// SessionReset; MP_REACH NLRI -> SessionReset or AFI/SAFI disable).
Result<size_t> decode_prefixes(std::span<const uint8_t> bytes, Afi afi, bool add_path,
                               std::vector<Prefix>& out);
void encode_prefix(const Prefix& p, std::vector<uint8_t>& out);

// Encode the path attributes alone (no NLRI), in type order, as they go on the wire
// towards a speaker with these options: 2-octet AS_PATH + AS4_PATH when
// !opts.four_octet_as; NEXT_HOP for IPv4 NLRI; MP_REACH is not included. ORIGIN and
// AS_PATH are always written (ORIGIN INCOMPLETE when !has_origin); LOCAL_PREF,
// ORIGINATOR_ID and CLUSTER_LIST are left out when opts.ebgp; unknown attributes are
// passed on only when optional transitive, with the Partial bit set.
void encode_attributes(const PathAttributes& attrs, const CodecOptions& opts,
                       std::vector<uint8_t>& out);

// Pack announcements of many prefixes sharing one attribute set into as few UPDATE
// messages as fit opts.max_message_size(). IPv4 unicast uses the classic NLRI field;
// IPv6 uses MP_REACH_NLRI (placed first, RFC 7606 §5.1) with attrs.next_hop (+ link-local
// when set). Prefixes of another family are skipped. Returns no message when the
// attributes alone do not fit the maximum message size.
std::vector<std::vector<uint8_t>> encode_announcements(const PathAttributes& attrs, Family family,
                                                       std::span<const Prefix> prefixes,
                                                       const CodecOptions& opts);
// Pack withdrawals (classic field for IPv4, MP_UNREACH_NLRI for IPv6).
std::vector<std::vector<uint8_t>> encode_withdrawals(Family family,
                                                     std::span<const Prefix> prefixes,
                                                     const CodecOptions& opts);
std::vector<uint8_t> encode_end_of_rib(Family family);

// RFC 6793 §4.2.3: merge AS4_PATH into a 2-octet AS_PATH received from a speaker that
// does not support 4-octet AS numbers. Exposed for tests.
AsPath reconcile_as4_path(const AsPath& as_path, const AsPath& as4_path);

}  // namespace tandem::wire
