// Path attribute section decoding with RFC 7606 error classification.
//
// Classification summary (RFC 7606 §3, §4, §5, §7; RFC 6793 §6; RFC 7607; RFC 8092 §6):
//   attribute header/length overruns the section  -> treat-as-withdraw (§4), except
//                                                     MP_REACH/MP_UNREACH -> session reset
//   flags (Optional/Transitive) wrong              -> the attribute's own malformed action (§3a)
//   duplicate MP_REACH/MP_UNREACH                  -> session reset, Malformed Attribute List
//   other duplicates                               -> keep the first, discard the rest (§3g)
//   missing ORIGIN/AS_PATH (/NEXT_HOP for IPv4 NLRI) with NLRI present -> treat-as-withdraw
//   ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST,
//   EXTENDED_COMMUNITIES, LARGE_COMMUNITIES malformed -> treat-as-withdraw
//   ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR malformed -> attribute discard
//   LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST from an eBGP peer       -> attribute discard
//   AS4_PATH / AS4_AGGREGATOR from a 4-octet speaker                  -> attribute discard
//   MP_REACH/MP_UNREACH malformed (incl. next-hop length, NLRI)       -> session reset
//     (RFC 7606 §7.11 allows "AFI/SAFI disable" instead; tandem resets the session)
//   unrecognized well-known attribute              -> session reset (RFC 4271 §6.3)
//   unknown optional non-transitive                -> dropped, recorded as discarded
#include <algorithm>

#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/error_util.hpp"
#include "bgpd/wire/internal.hpp"

namespace tandem::wire::detail {

namespace {

struct Spec {
  bool known = false;
  uint8_t flags = 0;  // expected Optional|Transitive bits
  ErrorAction action = ErrorAction::TreatAsWithdraw;  // what "malformed" means for it
};

constexpr Spec spec_for(uint8_t type) {
  using A = ErrorAction;
  switch (type) {
    case attr::kOrigin:
    case attr::kAsPath:
    case attr::kNextHop:
    case attr::kLocalPref: return {true, kT, A::TreatAsWithdraw};
    case attr::kAtomicAggregate: return {true, kT, A::AttributeDiscard};
    case attr::kMed:
    case attr::kOriginatorId:
    case attr::kClusterList: return {true, kO, A::TreatAsWithdraw};
    case attr::kAggregator:
    case attr::kAs4Path:
    case attr::kAs4Aggregator: return {true, kO | kT, A::AttributeDiscard};
    case attr::kCommunities:
    case attr::kExtCommunities:
    case attr::kLargeCommunities: return {true, kO | kT, A::TreatAsWithdraw};
    case attr::kMpReach:
    case attr::kMpUnreach: return {true, kO, A::SessionReset};
    default: return {};
  }
}

const char* attr_name(uint8_t type) {
  switch (type) {
    case attr::kOrigin: return "ORIGIN";
    case attr::kAsPath: return "AS_PATH";
    case attr::kNextHop: return "NEXT_HOP";
    case attr::kMed: return "MULTI_EXIT_DISC";
    case attr::kLocalPref: return "LOCAL_PREF";
    case attr::kAtomicAggregate: return "ATOMIC_AGGREGATE";
    case attr::kAggregator: return "AGGREGATOR";
    case attr::kCommunities: return "COMMUNITIES";
    case attr::kOriginatorId: return "ORIGINATOR_ID";
    case attr::kClusterList: return "CLUSTER_LIST";
    case attr::kMpReach: return "MP_REACH_NLRI";
    case attr::kMpUnreach: return "MP_UNREACH_NLRI";
    case attr::kExtCommunities: return "EXTENDED_COMMUNITIES";
    case attr::kAs4Path: return "AS4_PATH";
    case attr::kAs4Aggregator: return "AS4_AGGREGATOR";
    case attr::kLargeCommunities: return "LARGE_COMMUNITY";
    default: return nullptr;
  }
}

std::string describe_attr(uint8_t type) {
  if (const char* n = attr_name(type)) return n;
  return "attribute type " + std::to_string(type);
}

std::optional<Family> known_family(uint16_t afi, uint8_t safi) {
  if (safi != static_cast<uint8_t>(Safi::Unicast)) return std::nullopt;
  if (afi == static_cast<uint16_t>(Afi::Ipv4)) return kIpv4Unicast;
  if (afi == static_cast<uint16_t>(Afi::Ipv6)) return kIpv6Unicast;
  return std::nullopt;
}

// Parses AS_PATH / AS4_PATH segments. Returns nullptr on success, else why it is malformed
// (RFC 7606 §7.2 rules, plus RFC 7607 for AS 0).
const char* parse_as_path(std::span<const uint8_t> v, size_t asn_size, bool allow_confed,
                          AsPath& out) {
  const uint8_t* p = v.data();
  const size_t n = v.size();
  size_t nseg = 0;
  for (size_t pos = 0; pos < n; ++nseg) {
    if (n - pos < 2) return "segment header truncated (one octet left)";
    const uint8_t type = p[pos];
    const size_t count = p[pos + 1];
    if (type < AsPathSegment::Set || type > AsPathSegment::ConfedSet) return "unknown segment type";
    if (!allow_confed && (type == AsPathSegment::ConfedSequence || type == AsPathSegment::ConfedSet))
      return "confederation segment not allowed";
    if (count == 0) return "segment of length zero";
    pos += 2;
    if (n - pos < count * asn_size) return "segment overruns the attribute";
    pos += count * asn_size;
  }
  out.segments.reserve(nseg);
  for (size_t pos = 0; pos < n;) {
    AsPathSegment& seg = out.segments.emplace_back();
    seg.type = static_cast<AsPathSegment::Type>(p[pos]);
    const size_t count = p[pos + 1];
    pos += 2;
    seg.asns.resize(count);
    for (size_t i = 0; i < count; ++i, pos += asn_size) {
      const uint32_t asn = asn_size == 4 ? load_u32(p + pos) : load_u16(p + pos);
      if (asn == 0) return "contains AS 0";
      seg.asns[i] = asn;
    }
  }
  return nullptr;
}

bool is_bad_ipv4_next_hop(uint32_t a) {
  const uint32_t first = a >> 24;
  // 0/8 (incl. 0.0.0.0), loopback, multicast / class E / broadcast.
  return first == 0 || first == 127 || first >= 224;
}

class Parser {
 public:
  Parser(const CodecOptions& opts, const AttributeContext& ctx, Update& u)
      : opts_(opts), ctx_(ctx), u_(u), a_(u.attrs) {}

  std::optional<WireError> run(std::span<const uint8_t> bytes);

 private:
  // Records an error with the given action; true when the session must be reset.
  bool fail(ErrorAction action, uint8_t type, uint8_t subcode, std::span<const uint8_t> raw,
            const std::string& what) {
    std::string reason = describe_attr(type) + ": " + what;
    switch (action) {
      case ErrorAction::SessionReset:
        reset_ = session_reset(err::kUpdate, subcode, std::move(reason), to_vec(raw));
        return true;
      case ErrorAction::TreatAsWithdraw:
        if (!u_.treat_as_withdraw) {
          u_.treat_as_withdraw = true;
          u_.treat_as_withdraw_reason = std::move(reason);
          u_.treat_as_withdraw_subcode = subcode;
        }
        return false;
      case ErrorAction::AttributeDiscard:
        u_.discarded.push_back(DiscardedAttribute{type, std::move(reason), subcode});
        return false;
    }
    return false;
  }
  bool length_error(ErrorAction action, uint8_t type, std::span<const uint8_t> raw, size_t len,
                    const char* expected) {
    return fail(action, type, err::kAttributeLengthError, raw,
                "bad attribute length " + std::to_string(len) + " (expected " + expected + ")");
  }

  // Each returns true when the session must be reset.
  bool on_attribute(uint8_t flags, uint8_t type, std::span<const uint8_t> v,
                    std::span<const uint8_t> raw);
  bool on_mp_reach(std::span<const uint8_t> v, std::span<const uint8_t> raw);
  bool on_mp_unreach(std::span<const uint8_t> v, std::span<const uint8_t> raw);
  void finish();

  const CodecOptions& opts_;
  const AttributeContext& ctx_;
  Update& u_;
  PathAttributes& a_;
  std::optional<WireError> reset_;

  unsigned count_ = 0;
  std::optional<IpAddr> classic_next_hop_;
  AsPath as4_path_;
  bool has_as4_path_ = false;
  std::optional<Aggregator> as4_aggregator_;
  bool mp_reach_nlri_ = false;  // MP_REACH carried at least one prefix
  std::optional<Family> mp_unreach_family_;
  bool mp_unreach_empty_ = false;
  bool unknown_sorted_ = true;
};

std::optional<WireError> Parser::run(std::span<const uint8_t> bytes) {
  uint64_t seen[4] = {0, 0, 0, 0};
  const uint8_t* const base = bytes.data();
  const size_t n = bytes.size();
  size_t pos = 0;
  while (pos < n) {
    const size_t rem = n - pos;
    const uint8_t* h = base + pos;
    // RFC 7606 §4: too few octets for an attribute header, or an attribute length that
    // overruns the section: treat-as-withdraw (the NLRI field is still located by the
    // Total Path Attribute Length).
    if (rem < 3) {
      fail(ErrorAction::TreatAsWithdraw, rem >= 2 ? h[1] : 0, err::kMalformedAttributeList,
           {h, rem}, "attribute header truncated (" + std::to_string(rem) + " octets left)");
      break;
    }
    const uint8_t flags = h[0];
    const uint8_t type = h[1];
    const bool ext = (flags & attr::kFlagExtendedLength) != 0;
    const size_t hdr = ext ? 4 : 3;
    if (rem < hdr) {
      fail(ErrorAction::TreatAsWithdraw, type, err::kAttributeLengthError, {h, rem},
           "extended length field truncated");
      break;
    }
    const size_t len = ext ? load_u16(h + 2) : h[2];
    if (rem - hdr < len) {
      // The MP attributes carry NLRI: when they cannot be parsed, treat-as-withdraw is
      // impossible (§3j, §5) and the session must be reset.
      const ErrorAction action = (type == attr::kMpReach || type == attr::kMpUnreach)
                                     ? ErrorAction::SessionReset
                                     : ErrorAction::TreatAsWithdraw;
      if (fail(action, type, err::kAttributeLengthError, {h, rem},
               "attribute length " + std::to_string(len) + " overruns the attribute section (" +
                   std::to_string(rem - hdr) + " octets left)"))
        return std::move(reset_);
      break;
    }
    const std::span<const uint8_t> value(h + hdr, len);
    const std::span<const uint8_t> raw(h, hdr + len);
    pos += hdr + len;
    ++count_;

    uint64_t& word = seen[type >> 6];
    const uint64_t bit = uint64_t{1} << (type & 63);
    if (word & bit) {
      if (type == attr::kMpReach || type == attr::kMpUnreach) {
        reset_ = session_reset(err::kUpdate, err::kMalformedAttributeList,
                               describe_attr(type) + " appears more than once");
        return std::move(reset_);
      }
      fail(ErrorAction::AttributeDiscard, type, err::kMalformedAttributeList, raw,
           "duplicate attribute discarded");
      continue;
    }
    word |= bit;
    if (on_attribute(flags, type, value, raw)) return std::move(reset_);
  }
  finish();
  return std::nullopt;
}

bool Parser::on_attribute(uint8_t flags, uint8_t type, std::span<const uint8_t> v,
                          std::span<const uint8_t> raw) {
  using A = ErrorAction;
  const size_t len = v.size();
  const uint8_t* p = v.data();

  // Attributes the receiver must ignore whatever their content.
  if (opts_.ebgp && (type == attr::kLocalPref || type == attr::kOriginatorId ||
                     type == attr::kClusterList)) {
    fail(A::AttributeDiscard, type, 0, raw, "received from an external peer, discarded");
    return false;
  }
  if (opts_.four_octet_as && (type == attr::kAs4Path || type == attr::kAs4Aggregator)) {
    fail(A::AttributeDiscard, type, 0, raw, "received from a 4-octet AS speaker, discarded");
    return false;
  }

  const Spec spec = spec_for(type);
  if (!spec.known) {
    if ((flags & attr::kFlagOptional) == 0) {
      reset_ = session_reset(err::kUpdate, err::kUnrecognizedWellKnownAttribute,
                             "unrecognized well-known attribute type " + std::to_string(type),
                             to_vec(raw));
      return true;
    }
    if ((flags & attr::kFlagTransitive) == 0) {
      fail(A::AttributeDiscard, type, 0, raw, "unrecognized optional non-transitive, dropped");
      return false;
    }
    if (!a_.unknown.empty() && a_.unknown.back().type > type) unknown_sorted_ = false;
    a_.unknown.push_back(RawAttribute{
        static_cast<uint8_t>(flags & (attr::kFlagOptional | attr::kFlagTransitive | attr::kFlagPartial)),
        type, to_vec(v)});
    return false;
  }
  if ((flags & (kO | kT)) != spec.flags) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string what = "flags 0x";
    what += kHex[flags >> 4];
    what += kHex[flags & 15];
    what += " conflict with the attribute type";
    return fail(spec.action, type, err::kAttributeFlagsError, raw, what);
  }

  switch (type) {
    case attr::kOrigin:
      if (len != 1) return length_error(A::TreatAsWithdraw, type, raw, len, "1");
      if (p[0] > 2)
        return fail(A::TreatAsWithdraw, type, err::kInvalidOriginAttribute, raw,
                    "undefined value " + std::to_string(p[0]));
      a_.origin = static_cast<Origin>(p[0]);
      a_.has_origin = true;
      return false;

    case attr::kAsPath: {
      AsPath path;
      if (const char* why = parse_as_path(v, opts_.four_octet_as ? 4 : 2, true, path))
        return fail(A::TreatAsWithdraw, type, err::kMalformedAsPath, raw, why);
      a_.as_path = std::move(path);
      a_.has_as_path = true;
      return false;
    }

    case attr::kNextHop:
      if (len != 4) return length_error(A::TreatAsWithdraw, type, raw, len, "4");
      classic_next_hop_ = IpAddr::v4(load_u32(p));
      return false;

    case attr::kMed:
      if (len != 4) return length_error(A::TreatAsWithdraw, type, raw, len, "4");
      a_.med = load_u32(p);
      return false;

    case attr::kLocalPref:
      if (len != 4) return length_error(A::TreatAsWithdraw, type, raw, len, "4");
      a_.local_pref = load_u32(p);
      return false;

    case attr::kAtomicAggregate:
      if (len != 0) return length_error(A::AttributeDiscard, type, raw, len, "0");
      a_.atomic_aggregate = true;
      return false;

    case attr::kAggregator: {
      const size_t want = opts_.four_octet_as ? 8 : 6;
      if (len != want)
        return length_error(A::AttributeDiscard, type, raw, len, opts_.four_octet_as ? "8" : "6");
      Aggregator ag;
      ag.asn = opts_.four_octet_as ? load_u32(p) : load_u16(p);
      ag.address = load_u32(p + want - 4);
      if (ag.asn == 0)
        return fail(A::AttributeDiscard, type, err::kOptionalAttributeError, raw, "AS 0 (RFC 7607)");
      a_.aggregator = ag;
      return false;
    }

    case attr::kCommunities:
      if (len == 0 || len % 4 != 0)
        return length_error(A::TreatAsWithdraw, type, raw, len, "a non-zero multiple of 4");
      a_.communities.resize(len / 4);
      for (size_t i = 0; i < len / 4; ++i) a_.communities[i] = load_u32(p + 4 * i);
      return false;

    case attr::kOriginatorId:
      if (len != 4) return length_error(A::TreatAsWithdraw, type, raw, len, "4");
      a_.originator_id = load_u32(p);
      return false;

    case attr::kClusterList:
      if (len == 0 || len % 4 != 0)
        return length_error(A::TreatAsWithdraw, type, raw, len, "a non-zero multiple of 4");
      a_.cluster_list.resize(len / 4);
      for (size_t i = 0; i < len / 4; ++i) a_.cluster_list[i] = load_u32(p + 4 * i);
      return false;

    case attr::kMpReach: return on_mp_reach(v, raw);
    case attr::kMpUnreach: return on_mp_unreach(v, raw);

    case attr::kExtCommunities:
      if (len == 0 || len % 8 != 0)
        return length_error(A::TreatAsWithdraw, type, raw, len, "a non-zero multiple of 8");
      a_.ext_communities.resize(len / 8);
      for (size_t i = 0; i < len / 8; ++i)
        a_.ext_communities[i] = (uint64_t{load_u32(p + 8 * i)} << 32) | load_u32(p + 8 * i + 4);
      return false;

    case attr::kAs4Path: {
      // Only reached from a 2-octet speaker. RFC 6793 §6: malformed -> attribute discard.
      AsPath path;
      if (const char* why = parse_as_path(v, 4, false, path))
        return fail(A::AttributeDiscard, type, err::kMalformedAsPath, raw, why);
      as4_path_ = std::move(path);
      has_as4_path_ = true;
      return false;
    }

    case attr::kAs4Aggregator: {
      if (len != 8) return length_error(A::AttributeDiscard, type, raw, len, "8");
      Aggregator ag{load_u32(p), load_u32(p + 4)};
      if (ag.asn == 0)
        return fail(A::AttributeDiscard, type, err::kOptionalAttributeError, raw, "AS 0 (RFC 7607)");
      as4_aggregator_ = ag;
      return false;
    }

    case attr::kLargeCommunities:
      if (len == 0 || len % 12 != 0)
        return length_error(A::TreatAsWithdraw, type, raw, len, "a non-zero multiple of 12");
      a_.large_communities.resize(len / 12);
      for (size_t i = 0; i < len / 12; ++i) {
        const uint8_t* q = p + 12 * i;
        a_.large_communities[i] = LargeCommunity{load_u32(q), load_u32(q + 4), load_u32(q + 8)};
      }
      return false;

    default: return false;  // not reached: every known type is handled above
  }
}

bool Parser::on_mp_reach(std::span<const uint8_t> v, std::span<const uint8_t> raw) {
  using A = ErrorAction;
  const uint8_t type = attr::kMpReach;
  if (v.size() < 5) return length_error(A::SessionReset, type, raw, v.size(), "at least 5");
  const uint16_t afi = load_u16(v.data());
  const uint8_t safi = v[2];
  const size_t nh_len = v[3];
  if (v.size() < 5 + nh_len)
    return fail(A::SessionReset, type, err::kOptionalAttributeError, raw,
                "next hop length " + std::to_string(nh_len) + " overruns the attribute");
  const auto fam = known_family(afi, safi);
  if (!fam) {
    // Not a family tandem negotiates: nothing to install, ignore it.
    return fail(A::AttributeDiscard, type, 0, raw,
                "unsupported AFI/SAFI " + std::to_string(afi) + "/" + std::to_string(safi));
  }
  const uint8_t* nh = v.data() + 4;
  if (fam->afi == Afi::Ipv4) {
    if (nh_len != 4)
      return fail(A::SessionReset, type, err::kOptionalAttributeError, raw,
                  "IPv4 next hop length " + std::to_string(nh_len) + " (expected 4)");
    u_.mp_next_hop = IpAddr::v4(load_u32(nh));
  } else {
    if (nh_len != 16 && nh_len != 32)
      return fail(A::SessionReset, type, err::kOptionalAttributeError, raw,
                  "IPv6 next hop length " + std::to_string(nh_len) + " (expected 16 or 32)");
    u_.mp_next_hop = IpAddr::v6(nh);
    if (nh_len == 32) u_.mp_next_hop_link_local = IpAddr::v6(nh + 16);
  }
  // One reserved octet (formerly SNPA count) follows the next hop.
  const auto nlri = v.subspan(5 + nh_len);
  if (nlri.empty()) return false;
  const bool add_path = fam->afi == Afi::Ipv4 ? opts_.add_path_rx_ipv4 : opts_.add_path_rx_ipv6;
  const size_t idx = nlri_set_index(u_.announced, *fam);
  auto r = decode_prefixes(nlri, fam->afi, add_path, u_.announced[idx].prefixes);
  if (!r) {
    return fail(A::SessionReset, type, err::kOptionalAttributeError, raw,
                "NLRI: " + r.error().reason);
  }
  mp_reach_nlri_ = true;
  return false;
}

bool Parser::on_mp_unreach(std::span<const uint8_t> v, std::span<const uint8_t> raw) {
  using A = ErrorAction;
  const uint8_t type = attr::kMpUnreach;
  if (v.size() < 3) return length_error(A::SessionReset, type, raw, v.size(), "at least 3");
  const uint16_t afi = load_u16(v.data());
  const uint8_t safi = v[2];
  const auto withdrawn = v.subspan(3);
  mp_unreach_family_ = Family{static_cast<Afi>(afi), static_cast<Safi>(safi)};
  mp_unreach_empty_ = withdrawn.empty();
  const auto fam = known_family(afi, safi);
  if (!fam) {
    if (withdrawn.empty()) return false;  // End-of-RIB of a family we do not use
    return fail(A::AttributeDiscard, type, 0, raw,
                "unsupported AFI/SAFI " + std::to_string(afi) + "/" + std::to_string(safi));
  }
  if (withdrawn.empty()) return false;
  const bool add_path = fam->afi == Afi::Ipv4 ? opts_.add_path_rx_ipv4 : opts_.add_path_rx_ipv6;
  const size_t idx = nlri_set_index(u_.withdrawn, *fam);
  auto r = decode_prefixes(withdrawn, fam->afi, add_path, u_.withdrawn[idx].prefixes);
  if (!r)
    return fail(A::SessionReset, type, err::kOptionalAttributeError, raw,
                "withdrawn NLRI: " + r.error().reason);
  return false;
}

void Parser::finish() {
  // RFC 6793 §4.2.3: from a 2-octet speaker, rebuild 4-octet AS_PATH and AGGREGATOR.
  if (!opts_.four_octet_as) {
    bool use_as4 = true;
    if (a_.aggregator && a_.aggregator->asn != kAsTrans) {
      // AGGREGATOR holds a real AS: AS4_AGGREGATOR and AS4_PATH are to be ignored.
      use_as4 = false;
      if (as4_aggregator_)
        u_.discarded.push_back({attr::kAs4Aggregator,
                                "AS4_AGGREGATOR: ignored, AGGREGATOR does not carry AS_TRANS", 0});
      if (has_as4_path_)
        u_.discarded.push_back(
            {attr::kAs4Path, "AS4_PATH: ignored, AGGREGATOR does not carry AS_TRANS", 0});
    } else if (as4_aggregator_) {
      if (a_.aggregator) {
        a_.aggregator = *as4_aggregator_;
      } else {
        u_.discarded.push_back(
            {attr::kAs4Aggregator, "AS4_AGGREGATOR: ignored, no AGGREGATOR present", 0});
      }
    }
    if (use_as4 && has_as4_path_ && a_.has_as_path) {
      if (as4_path_.selection_length() > a_.as_path.selection_length()) {
        u_.discarded.push_back(
            {attr::kAs4Path, "AS4_PATH: ignored, longer than AS_PATH (RFC 6793 4.2.3)", 0});
      } else {
        a_.as_path = reconcile_as4_path(a_.as_path, as4_path_);
      }
    }
  }

  // RFC 7606 §3d / RFC 4271 §6.3: well-known mandatory attributes, needed only when the
  // UPDATE announces something.
  const bool announces = ctx_.ipv4_nlri_present || mp_reach_nlri_;
  if (announces && !u_.treat_as_withdraw) {
    const char* missing = nullptr;
    if (!a_.has_origin) {
      missing = "ORIGIN";
    } else if (!a_.has_as_path) {
      missing = "AS_PATH";
    } else if (ctx_.ipv4_nlri_present && !classic_next_hop_) {
      missing = "NEXT_HOP";
    }
    if (missing != nullptr) {
      u_.treat_as_withdraw = true;
      u_.treat_as_withdraw_subcode = err::kMissingWellKnownAttribute;
      u_.treat_as_withdraw_reason = std::string("missing well-known attribute ") + missing;
    }
  }
  if (ctx_.ipv4_nlri_present && classic_next_hop_ && !u_.treat_as_withdraw &&
      is_bad_ipv4_next_hop(classic_next_hop_->v4_host_order())) {
    u_.treat_as_withdraw = true;
    u_.treat_as_withdraw_subcode = err::kInvalidNextHopAttribute;
    u_.treat_as_withdraw_reason = "NEXT_HOP: invalid address " + classic_next_hop_->to_string();
  }

  // The route's effective next hop.
  if (ctx_.ipv4_nlri_present || !u_.mp_next_hop) {
    a_.next_hop = classic_next_hop_;
  } else {
    a_.next_hop = u_.mp_next_hop;
    a_.next_hop_link_local = u_.mp_next_hop_link_local;
  }

  if (!unknown_sorted_) {
    std::stable_sort(a_.unknown.begin(), a_.unknown.end(),
                     [](const RawAttribute& x, const RawAttribute& y) { return x.type < y.type; });
  }

  // End-of-RIB for a non-IPv4 family (RFC 4724 §2): only an empty MP_UNREACH_NLRI.
  if (ctx_.classic_fields_empty && count_ == 1 && mp_unreach_family_ && mp_unreach_empty_)
    u_.end_of_rib = mp_unreach_family_;
}

}  // namespace

std::optional<WireError> decode_attribute_section(std::span<const uint8_t> bytes,
                                                  const CodecOptions& opts,
                                                  const AttributeContext& ctx, Update& u) {
  Parser parser(opts, ctx, u);
  return parser.run(bytes);
}

}  // namespace tandem::wire::detail
