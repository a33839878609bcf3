// Inbound: UPDATE decoding with the raw-attribute cache, inbound policy, and applying
// announcements/withdrawals to the Loc-RIB.
//
// Fast path. A full table arrives as a few hundred thousand distinct attribute blocks.
// The interned set created from an UPDATE remembers the raw attribute bytes it came
// from (prefixed with a byte of the codec options that influence decoding), so an
// UPDATE whose attribute bytes were seen before is not decoded again: its NLRI are
// parsed here directly and applied with the cached set.
//  - IPv4: the key is the attribute bytes, valid only for UPDATEs with classic NLRI
//    and no MP_REACH/MP_UNREACH.
//  - IPv6 (MP_REACH_NLRI for ipv6-unicast, nothing else reachable/unreachable): the key
//    is the attribute bytes with MP_REACH_NLRI's NLRI cut out (AFI, SAFI and next hop
//    stay in), so UPDATEs that differ only in their prefixes share it.
// Anything else, any cache miss, and anything the fast path does not parse cleanly
// goes through wire::decode_update (the authoritative RFC 7606 classification); a
// clean decode of one of the two shapes above then seeds the cache.
#include <algorithm>

#include "bgpd/rib/rib_impl.hpp"
#include "bgpd/wire/nlri.hpp"

namespace tandem::rib {

namespace {

constexpr uint8_t kKeyFourOctet = 0x01, kKeyCodecEbgp = 0x02, kKeyAddPath = 0x04,
                  kKeyExtMsg = 0x08, kKeyPeerEbgp = 0x10, kKeyMpIpv6 = 0x20;

// Parse a run of prefixes straight into compact keys. False on anything irregular
// (the caller then lets the wire decoder classify it).
bool parse_v4(std::span<const uint8_t> b, bool add_path, std::vector<V4::Key>& out) {
  out.clear();
  return wire::for_each_encoded_prefix(b, 32, add_path, [&](const uint8_t* p, unsigned nb, unsigned len) {
           uint32_t a = 0;
           for (unsigned i = 0; i < nb; ++i) a |= static_cast<uint32_t>(p[i]) << (24 - 8 * i);
           out.push_back(V4::Key{V4::mask(a, len), static_cast<uint8_t>(len)});
         }).ok();
}

bool parse_v6(std::span<const uint8_t> b, bool add_path, std::vector<V6::Key>& out) {
  out.clear();
  return wire::for_each_encoded_prefix(b, 128, add_path, [&](const uint8_t* p, unsigned nb, unsigned len) {
           V6::Key k;
           std::copy(p, p + nb, k.addr.begin());
           k.len = static_cast<uint8_t>(len);
           k.addr = V6::mask(k.addr, len);
           out.push_back(k);
         }).ok();
}

// Where the MP attributes are in an attribute block.
struct AttrScan {
  bool ok = false;  // well-formed TLVs
  int reach = 0;    // MP_REACH_NLRI count
  int unreach = 0;  // MP_UNREACH_NLRI count
  size_t reach_begin = 0, reach_end = 0;  // whole attribute (header included)
  size_t reach_value = 0;                 // start of its value
};

AttrScan scan_attributes(std::span<const uint8_t> a) {
  AttrScan s;
  size_t i = 0;
  while (i < a.size()) {
    if (a.size() - i < 3) return s;
    uint8_t flags = a[i];
    uint8_t type = a[i + 1];
    size_t hdr, len;
    if (flags & wire::attr::kFlagExtendedLength) {
      if (a.size() - i < 4) return s;
      hdr = 4;
      len = (static_cast<size_t>(a[i + 2]) << 8) | a[i + 3];
    } else {
      hdr = 3;
      len = a[i + 2];
    }
    if (a.size() - i - hdr < len) return s;
    if (type == wire::attr::kMpReach) {
      ++s.reach;
      s.reach_begin = i;
      s.reach_value = i + hdr;
      s.reach_end = i + hdr + len;
    } else if (type == wire::attr::kMpUnreach) {
      ++s.unreach;
    }
    i += hdr + len;
  }
  s.ok = true;
  return s;
}

bool martian_v4(const wire::IpAddr& a) {
  uint32_t v = a.v4_host_order();
  return v == 0 || (v >> 24) == 127 || (v >> 28) >= 0xE;
}

bool martian_v6(const wire::IpAddr& a) {
  static constexpr uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (a.is_unspecified()) return true;
  if (std::equal(a.bytes.begin(), a.bytes.end(), kLoopback)) return true;
  return a.bytes[0] == 0xFF;  // multicast
}

}  // namespace

Verdict Rib::Impl::check_inbound(const PeerSlot& ps, AttrId attr, wire::Afi afi) const {
  Verdict v;
  if (&ps == &slots[0]) return v;
  const PathAttributes& a = store.get(attr);
  const AttrInfo in = store.info(attr);
  if (ps.info.max_as_path_length != 0 && a.as_path.asn_count() > ps.info.max_as_path_length) {
    v.eligible = false;
    v.reason = "AS_PATH longer than the peer's max_as_path_length";
    return v;
  }
  if (ps.ebgp) {
    if (in.neighbor_as != ps.info.remote_as) {
      v.withdraw = true;
      v.eligible = false;
      v.reason = "first AS in AS_PATH is not the peer's AS";
      return v;
    }
    if (a.as_path.contains(cfg.local_as)) {
      v.eligible = false;
      v.reason = "AS_PATH contains our AS (loop)";
      return v;
    }
  } else {
    if (in.has_originator_id && in.originator_id == cfg.router_id) {
      v.eligible = false;
      v.reason = "ORIGINATOR_ID is our router id (reflection loop)";
      return v;
    }
    if (std::find(a.cluster_list.begin(), a.cluster_list.end(), cluster_id) !=
        a.cluster_list.end()) {
      v.eligible = false;
      v.reason = "CLUSTER_LIST contains our cluster id (reflection loop)";
      return v;
    }
  }
  if (!a.next_hop) {
    v.eligible = false;
    v.reason = "no next hop";
  } else if (a.next_hop->is_v4() ? martian_v4(*a.next_hop) : martian_v6(*a.next_hop)) {
    v.eligible = false;
    v.reason = "invalid next hop";
  }
  (void)afi;
  return v;
}

AttrId Rib::Impl::intern_for_family(wire::Update& u, wire::Family f, bool ebgp,
                                    std::span<const uint8_t> key, bool may_move) {
  PathAttributes& base = u.attrs;
  std::optional<wire::IpAddr> nh, ll;
  if (f.afi == wire::Afi::Ipv4) {
    if (base.next_hop && base.next_hop->is_v4()) {
      nh = base.next_hop;
    } else {
      nh = u.mp_next_hop ? u.mp_next_hop : base.next_hop;
    }
  } else if (u.mp_next_hop) {
    nh = u.mp_next_hop;
    ll = u.mp_next_hop_link_local;
  } else {
    nh = base.next_hop;
    ll = base.next_hop_link_local;
  }
  const bool strip_lp = ebgp && base.local_pref.has_value();
  const bool as_is = nh == base.next_hop && ll == base.next_hop_link_local && !strip_lp;
  if (as_is && !may_move) {
    return key.empty() ? store.intern(base) : store.intern_with_key(base, key);
  }
  if (may_move) {  // normalise in place, then move into the store if new
    base.next_hop = nh;
    base.next_hop_link_local = ll;
    if (strip_lp) base.local_pref.reset();
    return key.empty() ? store.intern(std::move(base)) : store.intern_with_key(std::move(base), key);
  }
  PathAttributes x = base;
  x.next_hop = nh;
  x.next_hop_link_local = ll;
  if (strip_lp) x.local_pref.reset();
  return key.empty() ? store.intern(std::move(x)) : store.intern_with_key(std::move(x), key);
}

void Rib::Impl::apply(uint16_t slot, wire::Update& u, IngestResult& r,
                      std::span<const uint8_t> cache_key) {
  PeerSlot& ps = slots[slot];
  r.discarded = std::move(u.discarded);
  r.end_of_rib = u.end_of_rib;

  auto family_ok = [&](const wire::Family& f) {
    if (slot == 0) return f == wire::kIpv4Unicast || f == wire::kIpv6Unicast;
    return (f == wire::kIpv4Unicast && ps.fam_v4) || (f == wire::kIpv6Unicast && ps.fam_v6);
  };
  auto withdraw_set = [&](const wire::NlriSet& set) {
    if (!family_ok(set.family)) {
      r.ignored += set.prefixes.size();
      if (!set.prefixes.empty()) r.reason = "family not negotiated: " + set.family.to_string();
      return;
    }
    for (const wire::Prefix& p : set.prefixes) {
      bool done;
      if (set.family.afi == wire::Afi::Ipv4) {
        auto k = V4::from_prefix(p);
        done = withdraw<V4>(k.addr, k.len, slot);
      } else {
        auto k = V6::from_prefix(p);
        done = withdraw<V6>(k.addr, k.len, slot);
      }
      if (done) ++r.withdrawn;
    }
  };

  for (const wire::NlriSet& set : u.withdrawn) withdraw_set(set);
  if (u.treat_as_withdraw) {
    r.treat_as_withdraw = true;
    r.reason = u.treat_as_withdraw_reason;
    for (const wire::NlriSet& set : u.announced) withdraw_set(set);
    return;
  }

  // The cache key is only valid for a clean decode of the expected shape.
  bool cacheable = !cache_key.empty() && r.discarded.empty() && u.announced.size() == 1 &&
                   !u.announced[0].prefixes.empty() &&
                   std::all_of(u.withdrawn.begin(), u.withdrawn.end(),
                               [](const wire::NlriSet& s) { return s.prefixes.empty(); });
  if (cacheable) {
    const bool mp_key = (cache_key[0] & kKeyMpIpv6) != 0;
    cacheable = mp_key ? (u.announced[0].family == wire::kIpv6Unicast && u.mp_next_hop)
                       : (u.announced[0].family == wire::kIpv4Unicast && !u.mp_next_hop);
  }

  for (const wire::NlriSet& set : u.announced) {
    if (!family_ok(set.family)) {
      r.ignored += set.prefixes.size();
      if (!set.prefixes.empty()) r.reason = "family not negotiated: " + set.family.to_string();
      continue;
    }
    if (set.prefixes.empty()) continue;
    AttrId a = intern_for_family(u, set.family, slot != 0 && ps.ebgp,
                                 cacheable ? cache_key : std::span<const uint8_t>{},
                                 u.announced.size() == 1);
    Verdict v = check_inbound(ps, a, set.family.afi);
    if (set.family.afi == wire::Afi::Ipv4) {
      v4_nlri.clear();
      for (const wire::Prefix& p : set.prefixes) v4_nlri.push_back(V4::from_prefix(p));
      apply_keys<V4>(v4_nlri, slot, a, v, r);
    } else {
      v6_nlri.clear();
      for (const wire::Prefix& p : set.prefixes) v6_nlri.push_back(V6::from_prefix(p));
      apply_keys<V6>(v6_nlri, slot, a, v, r);
    }
    store.unref(a);
  }
}

template <class F>
void Rib::Impl::apply_keys(const std::vector<typename F::Key>& keys, uint16_t slot, AttrId a,
                           const Verdict& v, IngestResult& r) {
  auto& loc = fam<F>().loc;
  // Start the index-slot cache misses of the whole UPDATE in parallel.
  for (const auto& k : keys) loc.prefetch(k.addr, k.len);
  if (v.withdraw) {
    r.treat_as_withdraw = true;
    r.reason = v.reason;
    for (const auto& k : keys) {
      if (withdraw<F>(k.addr, k.len, slot)) ++r.withdrawn;
    }
    return;
  }
  const uint8_t fl = v.eligible ? kPathEligible : 0;
  for (const auto& k : keys) {
    if (announce<F>(k.addr, k.len, slot, a, fl) && v.eligible) {
      ++r.announced;
    } else {
      ++r.rejected;
    }
  }
  if (!v.eligible) r.reason = v.reason;
}

IngestResult Rib::Impl::ingest(PeerId peer, std::span<const uint8_t> body) {
  IngestResult r;
  uint16_t slot = 0;
  PeerSlot* ps = find_slot(peer, &slot);
  if (ps == nullptr || !ps->up || slot == 0) {
    r.reason = "peer is not established";
    return r;
  }
  ++ps->updates_in;
  const wire::CodecOptions& co = ps->info.codec;
  uint8_t cbyte = static_cast<uint8_t>((co.four_octet_as ? kKeyFourOctet : 0) |
                                       (co.ebgp ? kKeyCodecEbgp : 0) |
                                       (co.extended_message ? kKeyExtMsg : 0) |
                                       (ps->ebgp ? kKeyPeerEbgp : 0));
  std::span<const uint8_t> cache_key;

  auto sec = wire::split_update(body);
  if (sec.ok() && !sec->attributes.empty()) {
    const auto& s = *sec;
    if (!s.nlri.empty() && ps->fam_v4) {
      // ---- IPv4 classic NLRI ----
      key_buf.clear();
      key_buf.push_back(static_cast<uint8_t>(cbyte | (co.add_path_rx_ipv4 ? kKeyAddPath : 0)));
      key_buf.insert(key_buf.end(), s.attributes.begin(), s.attributes.end());
      // Start the cache misses early: the raw-key index slot now, the Loc-RIB index
      // slots of every prefix once parsed (on a cache miss they are warm by the time
      // the decoded UPDATE is applied).
      const uint64_t rh = AttrStore::raw_hash(key_buf);
      store.prefetch_raw(rh);
      const bool parsed = parse_v4(s.withdrawn, co.add_path_rx_ipv4, v4_wd) &&
                          parse_v4(s.nlri, co.add_path_rx_ipv4, v4_nlri);
      if (parsed) {
        for (const V4::Key& k : v4_nlri) v4.loc.prefetch(k.addr, k.len);
      }
      AttrId a = store.find_raw(key_buf, rh);
      if (a != kNoAttr && parsed) {
        store.ref(a);  // withdrawals below could otherwise free it
        for (const V4::Key& k : v4_wd) {
          if (withdraw<V4>(k.addr, k.len, slot)) ++r.withdrawn;
        }
        Verdict v = check_inbound(*ps, a, wire::Afi::Ipv4);
        apply_keys<V4>(v4_nlri, slot, a, v, r);
        store.unref(a);
        return r;
      }
      AttrScan scan = scan_attributes(s.attributes);
      const bool classic_only = scan.ok && scan.reach == 0 && scan.unreach == 0;
      if (classic_only) cache_key = key_buf;
      if (classic_only && parsed) {
        // Cache miss on the common shape: decode only the attributes (the prefix
        // fields were parsed above with the decoder's own rules).
        auto ua = wire::decode_attributes(s.attributes, co, /*ipv4_nlri_present=*/true);
        if (!ua.ok()) {
          r.session_error = ua.error();
          return r;
        }
        wire::Update& u = *ua;
        if (u.announced.empty() && u.withdrawn.empty()) {
          r.discarded = std::move(u.discarded);
          for (const V4::Key& k : v4_wd) {
            if (withdraw<V4>(k.addr, k.len, slot)) ++r.withdrawn;
          }
          if (u.treat_as_withdraw) {
            r.treat_as_withdraw = true;
            r.reason = u.treat_as_withdraw_reason;
            for (const V4::Key& k : v4_nlri) {
              if (withdraw<V4>(k.addr, k.len, slot)) ++r.withdrawn;
            }
            return r;
          }
          AttrId na = intern_for_family(u, wire::kIpv4Unicast, ps->ebgp,
                                        r.discarded.empty() ? cache_key
                                                            : std::span<const uint8_t>{},
                                        /*may_move=*/true);
          Verdict v = check_inbound(*ps, na, wire::Afi::Ipv4);
          apply_keys<V4>(v4_nlri, slot, na, v, r);
          store.unref(na);
          return r;
        }
      }
    } else if (s.nlri.empty() && s.withdrawn.empty() && ps->fam_v6) {
      // ---- IPv6 via MP_REACH_NLRI ----
      AttrScan scan = scan_attributes(s.attributes);
      if (scan.ok && scan.reach == 1 && scan.unreach == 0) {
        std::span<const uint8_t> val =
            s.attributes.subspan(scan.reach_value, scan.reach_end - scan.reach_value);
        if (val.size() >= 5 && val[0] == 0 && val[1] == 2 && val[2] == 1 &&
            val.size() >= 5u + val[3]) {
          const size_t nh_end = 4u + val[3];  // AFI, SAFI, length, next hop
          key_buf.clear();
          key_buf.push_back(static_cast<uint8_t>(cbyte | kKeyMpIpv6 |
                                                 (co.add_path_rx_ipv6 ? kKeyAddPath : 0)));
          key_buf.insert(key_buf.end(), s.attributes.begin(),
                         s.attributes.begin() + static_cast<std::ptrdiff_t>(scan.reach_begin));
          key_buf.push_back(s.attributes[scan.reach_begin]);
          key_buf.push_back(wire::attr::kMpReach);
          key_buf.insert(key_buf.end(), val.begin(),
                         val.begin() + static_cast<std::ptrdiff_t>(nh_end));
          key_buf.insert(key_buf.end(),
                         s.attributes.begin() + static_cast<std::ptrdiff_t>(scan.reach_end),
                         s.attributes.end());
          std::span<const uint8_t> nlri = val.subspan(nh_end + 1);  // skip reserved octet
          const uint64_t rh = AttrStore::raw_hash(key_buf);
          store.prefetch_raw(rh);
          const bool parsed = parse_v6(nlri, co.add_path_rx_ipv6, v6_nlri) && !v6_nlri.empty();
          if (parsed) {
            for (const V6::Key& k : v6_nlri) v6.loc.prefetch(k.addr, k.len);
          }
          AttrId a = store.find_raw(key_buf, rh);
          if (a != kNoAttr && parsed) {
            store.ref(a);
            Verdict v = check_inbound(*ps, a, wire::Afi::Ipv6);
            apply_keys<V6>(v6_nlri, slot, a, v, r);
            store.unref(a);
            return r;
          }
          cache_key = key_buf;
        }
      }
    }
  }

  // ---- slow path: full decode ----
  auto u = wire::decode_update(body, co);
  if (!u.ok()) {
    r.session_error = u.error();
    return r;
  }
  apply(slot, *u, r, cache_key);
  return r;
}

}  // namespace tandem::rib
