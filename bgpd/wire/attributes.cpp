// AsPath and PathAttributes helpers: selection length, loop check, formatting, hashing.
#include <algorithm>

#include "bgpd/wire/attributes.hpp"

namespace tandem::wire {

size_t AsPath::asn_count() const {
  size_t n = 0;
  for (const auto& s : segments) n += s.asns.size();
  return n;
}

size_t AsPath::selection_length() const {
  size_t n = 0;
  for (const auto& s : segments) {
    switch (s.type) {
      case AsPathSegment::Sequence: n += s.asns.size(); break;
      case AsPathSegment::Set: n += s.asns.empty() ? 0 : 1; break;
      case AsPathSegment::ConfedSequence:
      case AsPathSegment::ConfedSet: break;
    }
  }
  return n;
}

bool AsPath::contains(uint32_t asn) const {
  for (const auto& s : segments)
    if (std::find(s.asns.begin(), s.asns.end(), asn) != s.asns.end()) return true;
  return false;
}

uint32_t AsPath::neighbor_as() const {
  for (const auto& s : segments) {
    if (s.type == AsPathSegment::Sequence && !s.asns.empty()) return s.asns.front();
  }
  return 0;
}

uint32_t AsPath::origin_as() const {
  if (segments.empty() || segments.back().asns.empty()) return 0;
  return segments.back().asns.back();
}

void AsPath::prepend(uint32_t asn, unsigned count) {
  if (count == 0) return;
  if (segments.empty() || segments.front().type != AsPathSegment::Sequence) {
    segments.insert(segments.begin(), AsPathSegment{AsPathSegment::Sequence, {}});
  }
  auto& a = segments.front().asns;
  a.insert(a.begin(), count, asn);
}

std::string AsPath::to_string() const {
  std::string out;
  for (const auto& s : segments) {
    if (!out.empty()) out += ' ';
    const char* open = "";
    const char* close = "";
    char sep = ' ';
    switch (s.type) {
      case AsPathSegment::Sequence: break;
      case AsPathSegment::Set: open = "{"; close = "}"; sep = ','; break;
      case AsPathSegment::ConfedSequence: open = "("; close = ")"; break;
      case AsPathSegment::ConfedSet: open = "["; close = "]"; sep = ','; break;
    }
    out += open;
    for (size_t i = 0; i < s.asns.size(); ++i) {
      if (i > 0) out += sep;
      out += std::to_string(s.asns[i]);
    }
    out += close;
  }
  return out;
}

namespace {
inline size_t combine(size_t h, size_t v) {
  return (h ^ v) * 0x9ddfea08eb382d69ULL + 0x632be59bd9b4e019ULL + (h >> 29);
}
template <class T>
inline size_t hash_vec(const std::vector<T>& v, size_t seed) {
  return v.empty() ? combine(seed, 0x51) : hash_bytes(v.data(), v.size() * sizeof(T), seed);
}
}  // namespace

size_t PathAttributes::hash() const {
  size_t h = static_cast<size_t>(origin) | (size_t{has_origin} << 2) | (size_t{has_as_path} << 3) |
             (size_t{atomic_aggregate} << 4);
  for (const auto& s : as_path.segments) {
    h = combine(h, s.type);
    h = hash_vec(s.asns, h);
  }
  if (next_hop) h = combine(h, std::hash<IpAddr>{}(*next_hop));
  if (next_hop_link_local) h = combine(h, std::hash<IpAddr>{}(*next_hop_link_local) + 1);
  h = combine(h, med ? (uint64_t{*med} << 1 | 1) : 0);
  h = combine(h, local_pref ? (uint64_t{*local_pref} << 1 | 1) : 0);
  if (aggregator) h = combine(h, (uint64_t{aggregator->asn} << 32 | aggregator->address) + 7);
  h = hash_vec(communities, h);
  h = combine(h, originator_id ? (uint64_t{*originator_id} << 1 | 1) : 0);
  h = hash_vec(cluster_list, h);
  h = hash_vec(ext_communities, h);
  h = hash_vec(large_communities, h);
  for (const auto& u : unknown) {
    h = combine(h, (size_t{u.flags} << 8) | u.type);
    h = hash_vec(u.value, h);
  }
  return h;
}

bool PathAttributes::has_community(uint32_t c) const {
  return std::find(communities.begin(), communities.end(), c) != communities.end();
}

}  // namespace tandem::wire
