// Path attribute encoding in type-code order (RFC 4271 §4.3, §5; RFC 6793 towards
// 2-octet speakers).
#include <algorithm>

#include "bgpd/wire/buffer.hpp"
#include "bgpd/wire/internal.hpp"

namespace tandem::wire::detail {

namespace {

// Starts an attribute with a 2-octet length placeholder; returns where its value starts.
size_t begin_attr(std::vector<uint8_t>& out, uint8_t flags, uint8_t type) {
  out.push_back(static_cast<uint8_t>(flags | kExt));
  out.push_back(type);
  out.push_back(0);
  out.push_back(0);
  return out.size();
}

// Fixes the length: 1 octet (Extended Length clear) when the value fits 255 octets.
// A value that does not fit 65535 octets cannot be encoded: the attribute is dropped.
void end_attr(std::vector<uint8_t>& out, size_t value_at) {
  const size_t len = out.size() - value_at;
  if (len <= 255) {
    out[value_at - 4] = static_cast<uint8_t>(out[value_at - 4] & ~kExt);
    out[value_at - 2] = static_cast<uint8_t>(len);
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(value_at - 1));
  } else if (len <= 0xFFFF) {
    store_u16(out.data() + value_at - 2, static_cast<uint16_t>(len));
  } else {
    out.resize(value_at - 4);
  }
}

// Small fixed-size attribute with a 1-octet length.
void put_small(std::vector<uint8_t>& out, uint8_t flags, uint8_t type, uint8_t len) {
  out.push_back(flags);
  out.push_back(type);
  out.push_back(len);
}

bool is_confed(AsPathSegment::Type t) {
  return t == AsPathSegment::ConfedSequence || t == AsPathSegment::ConfedSet;
}

// AS_PATH / AS4_PATH value. Segments longer than 255 ASes are split; empty ones skipped.
void put_as_path_value(std::vector<uint8_t>& out, const AsPath& path, bool asn4, bool skip_confed) {
  for (const auto& seg : path.segments) {
    if (skip_confed && is_confed(seg.type)) continue;
    for (size_t i = 0; i < seg.asns.size(); i += 255) {
      const size_t n = std::min<size_t>(255, seg.asns.size() - i);
      out.push_back(static_cast<uint8_t>(seg.type));
      out.push_back(static_cast<uint8_t>(n));
      for (size_t k = i; k < i + n; ++k) {
        const uint32_t asn = seg.asns[k];
        if (asn4)
          put_u32(out, asn);
        else
          put_u16(out, static_cast<uint16_t>(asn > 0xFFFF ? kAsTrans : asn));
      }
    }
  }
}

bool needs_as4_path(const AsPath& path) {
  for (const auto& seg : path.segments) {
    if (is_confed(seg.type)) continue;
    for (uint32_t asn : seg.asns)
      if (asn > 0xFFFF) return true;
  }
  return false;
}

bool owned_type(uint8_t t) {
  return (t >= attr::kOrigin && t <= attr::kClusterList) ||
         (t >= attr::kMpReach && t <= attr::kAs4Aggregator) || t == attr::kLargeCommunities;
}

class UnknownEmitter {
 public:
  UnknownEmitter(const std::vector<RawAttribute>& u, std::vector<uint8_t>& out) : u_(u), out_(out) {}
  // Emits every passed-on unknown attribute whose type is below `type`.
  void flush_below(unsigned type) {
    while (i_ < u_.size() && u_[i_].type < type) emit(u_[i_++]);
  }

 private:
  void emit(const RawAttribute& a) {
    // Only optional transitive attributes are passed on, with Partial set (RFC 4271
    // §5: re-advertised unrecognized optional transitive attributes).
    if ((a.flags & kO) == 0 || (a.flags & kT) == 0 || owned_type(a.type)) return;
    const size_t at = begin_attr(out_, static_cast<uint8_t>(kO | kT | attr::kFlagPartial), a.type);
    put_bytes(out_, a.value.data(), a.value.size());
    end_attr(out_, at);
  }
  const std::vector<RawAttribute>& u_;
  std::vector<uint8_t>& out_;
  size_t i_ = 0;
};

}  // namespace

void encode_attributes_impl(const PathAttributes& a, const CodecOptions& opts, bool emit_next_hop,
                            std::vector<uint8_t>& out) {
  const bool asn4 = opts.four_octet_as;
  UnknownEmitter unknown(a.unknown, out);

  // ORIGIN and AS_PATH are mandatory: always emitted.
  put_small(out, kT, attr::kOrigin, 1);
  out.push_back(static_cast<uint8_t>(a.has_origin ? a.origin : Origin::Incomplete));

  unknown.flush_below(attr::kAsPath);
  size_t at = begin_attr(out, kT, attr::kAsPath);
  put_as_path_value(out, a.as_path, asn4, false);
  end_attr(out, at);

  unknown.flush_below(attr::kNextHop);
  if (emit_next_hop && a.next_hop && a.next_hop->is_v4()) {
    put_small(out, kT, attr::kNextHop, 4);
    put_u32(out, a.next_hop->v4_host_order());
  }
  unknown.flush_below(attr::kMed);
  if (a.med) {
    put_small(out, kO, attr::kMed, 4);
    put_u32(out, *a.med);
  }
  unknown.flush_below(attr::kLocalPref);
  // LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST never go to an external peer (RFC 4271
  // §5.1.5, RFC 4456 §8).
  if (a.local_pref && !opts.ebgp) {
    put_small(out, kT, attr::kLocalPref, 4);
    put_u32(out, *a.local_pref);
  }
  unknown.flush_below(attr::kAtomicAggregate);
  if (a.atomic_aggregate) put_small(out, kT, attr::kAtomicAggregate, 0);
  unknown.flush_below(attr::kAggregator);
  if (a.aggregator) {
    if (asn4) {
      put_small(out, kO | kT, attr::kAggregator, 8);
      put_u32(out, a.aggregator->asn);
    } else {
      put_small(out, kO | kT, attr::kAggregator, 6);
      put_u16(out, static_cast<uint16_t>(a.aggregator->asn > 0xFFFF ? kAsTrans : a.aggregator->asn));
    }
    put_u32(out, a.aggregator->address);
  }
  unknown.flush_below(attr::kCommunities);
  if (!a.communities.empty()) {
    at = begin_attr(out, kO | kT, attr::kCommunities);
    for (uint32_t c : a.communities) put_u32(out, c);
    end_attr(out, at);
  }
  unknown.flush_below(attr::kOriginatorId);
  if (a.originator_id && !opts.ebgp) {
    put_small(out, kO, attr::kOriginatorId, 4);
    put_u32(out, *a.originator_id);
  }
  unknown.flush_below(attr::kClusterList);
  if (!a.cluster_list.empty() && !opts.ebgp) {
    at = begin_attr(out, kO, attr::kClusterList);
    for (uint32_t c : a.cluster_list) put_u32(out, c);
    end_attr(out, at);
  }
  unknown.flush_below(attr::kExtCommunities);
  if (!a.ext_communities.empty()) {
    at = begin_attr(out, kO | kT, attr::kExtCommunities);
    for (uint64_t c : a.ext_communities) put_u64(out, c);
    end_attr(out, at);
  }
  unknown.flush_below(attr::kAs4Path);
  if (!asn4 && needs_as4_path(a.as_path)) {
    at = begin_attr(out, kO | kT, attr::kAs4Path);
    put_as_path_value(out, a.as_path, true, true);
    end_attr(out, at);
  }
  unknown.flush_below(attr::kAs4Aggregator);
  if (!asn4 && a.aggregator && a.aggregator->asn > 0xFFFF) {
    put_small(out, kO | kT, attr::kAs4Aggregator, 8);
    put_u32(out, a.aggregator->asn);
    put_u32(out, a.aggregator->address);
  }
  unknown.flush_below(attr::kLargeCommunities);
  if (!a.large_communities.empty()) {
    at = begin_attr(out, kO | kT, attr::kLargeCommunities);
    for (const auto& c : a.large_communities) {
      put_u32(out, c.global_admin);
      put_u32(out, c.local1);
      put_u32(out, c.local2);
    }
    end_attr(out, at);
  }
  unknown.flush_below(256);
}

}  // namespace tandem::wire::detail

namespace tandem::wire {

void encode_attributes(const PathAttributes& attrs, const CodecOptions& opts,
                       std::vector<uint8_t>& out) {
  detail::encode_attributes_impl(attrs, opts, true, out);
}

}  // namespace tandem::wire
