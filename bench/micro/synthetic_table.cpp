#include "bench/micro/synthetic_table.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unordered_set>

#include "bgpd/wire/message.hpp"

namespace tandem::bench {

size_t env_size(const char* name, size_t dflt) {
  const char* v = std::getenv(name);
  return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : dflt;
}

rib::PeerInfo source_peer() {
  rib::PeerInfo p;
  p.id = 1;
  p.address = wire::IpAddr::v4(0xC0000201);  // 192.0.2.1
  p.remote_as = kPeerAs;
  p.router_id = 0xC0000201;
  p.codec.ebgp = true;
  p.codec.four_octet_as = true;
  p.families = {wire::kIpv4Unicast};
  return p;
}

rib::RibConfig rib_config() {
  rib::RibConfig c;
  c.local_as = kLocalAs;
  c.router_id = 0x0A000001;
  return c;
}

// The generated table, encoded as UPDATE bodies (headers stripped) in one buffer.
Table make_table(size_t default_sets) {
  Table t;
  const size_t n_prefixes = env_size("TANDEM_BENCH_PREFIXES", 1000000);
  const size_t n_sets = env_size("TANDEM_BENCH_SETS", default_sets);
  std::mt19937_64 rng(0x7A4D3E11);

  // Attribute sets.
  std::vector<wire::PathAttributes> sets(n_sets);
  for (auto& a : sets) {
    a.has_origin = true;
    uint64_t r = rng();
    a.origin = (r % 10) < 8 ? wire::Origin::Igp : ((r % 10) == 8 ? wire::Origin::Egp
                                                                  : wire::Origin::Incomplete);
    a.has_as_path = true;
    wire::AsPathSegment seg;
    seg.type = wire::AsPathSegment::Sequence;
    size_t hops = 3 + rng() % 6;  // 3..8
    seg.asns.push_back(kPeerAs);
    for (size_t i = 1; i < hops; ++i) {
      // Mostly 2-octet ASNs, some 4-octet; never ours, never 0.
      uint32_t asn = (rng() % 5 == 0) ? static_cast<uint32_t>(131072 + rng() % 300000)
                                      : static_cast<uint32_t>(1 + rng() % 64000);
      if (asn == kLocalAs) asn = 1;
      seg.asns.push_back(asn);
    }
    a.as_path.segments.push_back(std::move(seg));
    a.next_hop = wire::IpAddr::v4(0xC0000201);
    if (rng() % 10 < 3) a.med = static_cast<uint32_t>(rng() % 1000);
    size_t nc = rng() % 11;  // 0..10
    for (size_t i = 0; i < nc; ++i) {
      uint32_t hi = a.as_path.segments[0].asns[rng() % a.as_path.segments[0].asns.size()];
      a.communities.push_back(((hi & 0xFFFF) << 16) | static_cast<uint32_t>(rng() % 1000));
    }
    std::sort(a.communities.begin(), a.communities.end());
    a.communities.erase(std::unique(a.communities.begin(), a.communities.end()),
                        a.communities.end());
  }

  // Distinct prefixes: mostly /24, then /22-/23, /16-/21, a few shorter.
  std::unordered_set<uint64_t> seen;
  seen.reserve(n_prefixes * 2);
  std::vector<std::vector<wire::Prefix>> by_set(n_sets);
  size_t made = 0;
  while (made < n_prefixes) {
    uint64_t r = rng();
    unsigned pick = static_cast<unsigned>(r % 100);
    uint8_t len = pick < 60 ? 24 : pick < 80 ? static_cast<uint8_t>(22 + (r >> 8) % 2)
                : pick < 97 ? static_cast<uint8_t>(16 + (r >> 8) % 6)
                            : static_cast<uint8_t>(8 + (r >> 8) % 8);
    uint32_t addr = static_cast<uint32_t>(rng());
    uint32_t first = addr >> 24;
    if (first == 0 || first == 127 || first >= 224 || first == 10) continue;
    addr &= len == 0 ? 0 : ~(0xFFFFFFFFu >> len);
    uint64_t key = (static_cast<uint64_t>(addr) << 8) | len;
    if (!seen.insert(key).second) continue;
    by_set[rng() % n_sets].push_back(wire::Prefix(wire::IpAddr::v4(addr), len));
    ++made;
  }

  // Encode: one group of UPDATEs per attribute set (as a peer packs its Adj-RIB-Out),
  // groups in random order.
  std::vector<size_t> order(n_sets);
  for (size_t i = 0; i < n_sets; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const wire::CodecOptions codec = source_peer().codec;
  for (size_t s : order) {
    if (by_set[s].empty()) continue;
    ++t.sets;
    for (auto& m : wire::encode_announcements(sets[s], wire::kIpv4Unicast, by_set[s], codec)) {
      t.bodies.emplace_back(t.bytes.size() + wire::kHeaderLen, m.size() - wire::kHeaderLen);
      t.bytes.insert(t.bytes.end(), m.begin(), m.end());
    }
  }
  t.prefixes = made;
  std::fprintf(stderr, "table: %zu prefixes, %zu attribute sets, %zu UPDATEs, %.1f MB\n",
               t.prefixes, t.sets, t.bodies.size(), t.bytes.size() / 1e6);
  return t;
}

}  // namespace tandem::bench
