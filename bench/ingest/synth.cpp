// A synthetic IPv4 table that looks like a real full feed (deterministic for a seed).
//
// Shape, taken from the real 2010 RIS table (one full-feed peer: 323,485 prefixes in
// 59,509 attribute sets) and today's table for the prefix-length mix:
//  - prefix lengths: about 62% /24, then /22, /23, /21, /20, /19, /16, /18, /17 ... /8,
//    random non-bogon addresses (so, as in real tables, some prefixes cover others);
//  - attribute sets: 0.184 sets per prefix; the number of prefixes per set follows the
//    2010 table's skew (53% of sets carry one prefix, a few carry thousands);
//  - AS paths walk a synthetic provider graph (16 real tier-1 ASNs, then tier-2/3/4
//    transit and stub origins with realistic 2- and 4-octet ASNs): 2-9 hops with the
//    blaster's own AS first, some origin prepending;
//  - 0-10 communities (mostly tagged by the tier-1 the route came through), large
//    communities on ~8% of sets, MED on ~20%, origin IGP 91% / INCOMPLETE 8.6% / EGP,
//    ATOMIC_AGGREGATE and AGGREGATOR on a few percent (as in the 2010 table).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench/ingest/rng.hpp"
#include "bench/ingest/table.hpp"

namespace tandem::bench {
namespace {

using wire::AsPathSegment;
using wire::IpAddr;
using wire::Prefix;

// Prefix-length mix per 100,000 prefixes; /24 takes the rest (about 62%).
struct LengthWeight {
  uint8_t len;
  uint32_t per_100k;
};
constexpr LengthWeight kLengthMix[] = {
    {8, 2},      {9, 1},      {10, 3},     {11, 8},    {12, 20},   {13, 60},
    {14, 120},   {15, 200},   {16, 1400},  {17, 800},  {18, 1300}, {19, 2600},
    {20, 4400},  {21, 5000},  {22, 12000}, {23, 10000},
};

// Address ranges no real table announces (RFC 6890 and multicast/class E).
struct Range {
  uint32_t addr;
  uint8_t len;
};
constexpr Range kBogons[] = {
    {0x00000000, 8},  {0x0A000000, 8},  {0x64400000, 10}, {0x7F000000, 8},
    {0xA9FE0000, 16}, {0xAC100000, 12}, {0xC0000000, 24}, {0xC0000200, 24},
    {0xC0586300, 24}, {0xC0A80000, 16}, {0xC6120000, 15}, {0xC6336400, 24},
    {0xCB007100, 24}, {0xE0000000, 3},
};

bool overlaps_bogon(uint32_t addr, uint8_t len) {
  for (const Range& b : kBogons) {
    uint8_t m = std::min(len, b.len);
    if (m == 0 || ((addr ^ b.addr) >> (32 - m)) == 0) return true;
  }
  return false;
}

uint32_t mask_of(uint8_t len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

// Distinct random prefixes with the length mix above, sorted by address.
std::vector<std::pair<uint32_t, uint8_t>> generate_prefixes(size_t n, Rng& rng) {
  std::vector<std::pair<uint8_t, size_t>> counts;
  size_t assigned = 0;
  for (const LengthWeight& w : kLengthMix) {
    size_t c = static_cast<size_t>(std::llround(static_cast<double>(n) * w.per_100k / 100000.0));
    c = std::min(c, n - assigned);
    counts.emplace_back(w.len, c);
    assigned += c;
  }
  counts.emplace_back(24, n - assigned);

  std::unordered_set<uint64_t> seen;
  seen.reserve(n * 2);
  std::vector<std::pair<uint32_t, uint8_t>> out;
  out.reserve(n);
  size_t carry = 0;  // prefixes a short length could not place (space exhausted)
  for (auto [len, count] : counts) {
    if (len == 24) count += carry;
    size_t failures = 0;
    for (size_t i = 0; i < count;) {
      uint32_t a = static_cast<uint32_t>(rng.next() >> 32) & mask_of(len);
      uint64_t key = (uint64_t{a} << 8) | len;
      if (overlaps_bogon(a, len) || seen.count(key)) {
        if (++failures > 100000) {
          if (len == 24) break;  // the /24 space is full: stop short
          carry += count - i;
          break;
        }
        continue;
      }
      failures = 0;
      seen.insert(key);
      out.emplace_back(a, len);
      ++i;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Prefixes per attribute set: the 2010 table's histogram in log2 buckets (number of
// sets with 1, 2-3, 4-7, ... 2048-4095 prefixes), power law inside a bucket.
constexpr std::array<double, 12> kSetSizeBuckets = {31297, 13779, 7166, 3868, 1939, 855,
                                                    354,   165,   65,   13,   7,   1};
constexpr double kInBucketExponent = 2.1;  // matches the 2010 per-bucket means

class SetSizeSampler {
 public:
  SetSizeSampler() {
    double total_sets = 0;
    for (double c : kSetSizeBuckets) total_sets += c;
    size_t max_size = (size_t{1} << kSetSizeBuckets.size()) - 1;
    cdf_.resize(max_size);
    double acc = 0;
    for (size_t b = 0; b < kSetSizeBuckets.size(); ++b) {
      size_t lo = size_t{1} << b, hi = (size_t{1} << (b + 1)) - 1;
      double norm = 0;
      for (size_t s = lo; s <= hi; ++s) norm += std::pow(static_cast<double>(s), -kInBucketExponent);
      for (size_t s = lo; s <= hi; ++s) {
        acc += kSetSizeBuckets[b] / total_sets *
               std::pow(static_cast<double>(s), -kInBucketExponent) / norm;
        cdf_[s - 1] = acc;
      }
    }
  }
  size_t draw(Rng& rng) const {
    double u = rng.unit() * cdf_.back();
    return static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()) + 1;
  }

 private:
  std::vector<double> cdf_;
};

// ---- the AS graph ----

constexpr uint32_t kTier1[] = {174,  701,  1299, 2914, 3257, 3320, 3356,  3491,
                               5511, 6453, 6461, 6762, 6830, 7018, 12956, 6939};
constexpr size_t kTier1Count = std::size(kTier1);

struct AsNode {
  uint32_t asn = 0;
  uint8_t tier = 1;  // 1..4, 5 = stub
  uint8_t nprov = 0;
  std::array<uint32_t, 3> prov{};  // node indices
  uint32_t router_id = 0;          // for AGGREGATOR
};

class AsGraph {
 public:
  AsGraph(size_t sets, Rng& rng) {
    auto scaled = [&](double f, size_t min) {
      return std::max(min, static_cast<size_t>(static_cast<double>(sets) * f));
    };
    size_t n2 = scaled(0.003, 8), n3 = scaled(0.02, 16), n4 = scaled(0.03, 16),
           n5 = scaled(0.5, 32);
    for (uint32_t asn : kTier1) used_.insert(asn);
    used_.insert(wire::kAsTrans);
    for (size_t i = 0; i < kTier1Count; ++i) add(kTier1[i], 1, rng);
    first_[2] = nodes_.size();
    for (size_t i = 0; i < n2; ++i) add(draw_asn(rng, 0.0), 2, rng);
    first_[3] = nodes_.size();
    for (size_t i = 0; i < n3; ++i) add(draw_asn(rng, 0.02), 3, rng);
    first_[4] = nodes_.size();
    for (size_t i = 0; i < n4; ++i) add(draw_asn(rng, 0.15), 4, rng);
    first_[5] = nodes_.size();
    for (size_t i = 0; i < n5; ++i) add(draw_asn(rng, 0.40), 5, rng);
    first_[6] = nodes_.size();
    first_[1] = 0;
  }

  const AsNode& node(size_t i) const { return nodes_[i]; }

  // An origin for one attribute set: mostly stubs (skewed: a few originate a lot),
  // sometimes transit ASes originating their own space.
  size_t draw_origin(Rng& rng) const {
    double u = rng.unit();
    int tier = u < 0.01 ? 1 : u < 0.03 ? 2 : u < 0.07 ? 3 : u < 0.12 ? 4 : 5;
    return pick_in_tier(tier, rng, tier == 5 ? 1.4 : 1.3);
  }

  // Origin first, up to its tier-1.
  void chain_up(size_t origin, Rng& rng, std::vector<uint32_t>& chain) const {
    chain.clear();
    size_t cur = origin;
    chain.push_back(nodes_[cur].asn);
    while (nodes_[cur].tier > 1) {
      const AsNode& n = nodes_[cur];
      size_t p = n.prov[n.nprov > 1 && rng.chance(0.45) ? 1 + rng.below(n.nprov - 1) : 0];
      cur = p;
      chain.push_back(nodes_[cur].asn);
    }
  }

 private:
  size_t pick_in_tier(int tier, Rng& rng, double skew) const {
    size_t lo = first_[tier], hi = first_[tier + 1];
    double u = std::pow(rng.unit(), skew);
    return lo + std::min(hi - lo - 1, static_cast<size_t>(u * static_cast<double>(hi - lo)));
  }

  int provider_tier(int tier, Rng& rng) const {
    double u = rng.unit();
    switch (tier) {
      case 2: return 1;
      case 3: return u < 0.7 ? 2 : 1;
      case 4: return u < 0.8 ? 3 : 2;
      default: return u < 0.12 ? 1 : u < 0.57 ? 2 : u < 0.87 ? 3 : 4;
    }
  }

  void add(uint32_t asn, int tier, Rng& rng) {
    AsNode n;
    n.asn = asn;
    n.tier = static_cast<uint8_t>(tier);
    n.router_id = static_cast<uint32_t>(rng.next() >> 32) | 0x01000000u;
    if (tier > 1) {
      double u = rng.unit();
      n.nprov = u < 0.45 ? 1 : u < 0.8 ? 2 : 3;
      for (uint8_t i = 0; i < n.nprov; ++i) {
        n.prov[i] = static_cast<uint32_t>(pick_in_tier(provider_tier(tier, rng), rng, 1.5));
      }
      std::sort(n.prov.begin(), n.prov.begin() + n.nprov);
      n.nprov = static_cast<uint8_t>(std::unique(n.prov.begin(), n.prov.begin() + n.nprov) -
                                     n.prov.begin());
    }
    nodes_.push_back(n);
  }

  // Public ASNs: 2-octet (1..64495) or, with probability p4, 4-octet (131072..~400k, the
  // range RIRs have assigned); all distinct.
  uint32_t draw_asn(Rng& rng, double p4) {
    bool four = rng.chance(p4) || used2_ > 60000;
    for (;;) {
      uint32_t asn = four ? 131072 + static_cast<uint32_t>(rng.below(270000 + used4_ * 2))
                          : 1 + static_cast<uint32_t>(rng.below(64495));
      if (!used_.insert(asn).second) continue;
      (four ? used4_ : used2_)++;
      return asn;
    }
  }

  std::vector<AsNode> nodes_;
  std::array<size_t, 7> first_{};
  std::unordered_set<uint32_t> used_;
  size_t used2_ = 0, used4_ = 0;
};

// Compact identity of an attribute set, to keep sets distinct.
std::string set_key(const wire::PathAttributes& a) {
  std::string k;
  auto put = [&k](uint32_t v) { k.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(static_cast<uint32_t>(a.origin));
  for (const auto& s : a.as_path.segments) {
    put(0xFFFFFFF0u | s.type);
    for (uint32_t asn : s.asns) put(asn);
  }
  put(0xFFFFFFFFu);
  put(a.med ? *a.med : 0xFFFFFFFFu);
  put(a.med ? 1 : 0);
  put(a.atomic_aggregate ? 1 : 0);
  if (a.aggregator) {
    put(a.aggregator->asn);
    put(a.aggregator->address);
  }
  put(0xFFFFFFFEu);
  for (uint32_t c : a.communities) put(c);
  put(0xFFFFFFFDu);
  for (const auto& l : a.large_communities) {
    put(l.global_admin);
    put(l.local1);
    put(l.local2);
  }
  return k;
}

constexpr uint32_t kMedValues[] = {0, 1, 10, 20, 50, 100, 200, 1000};

// A deterministic value from a few integers (community profiles are functions of the
// AS and a profile number, so the same profile always reads the same).
uint64_t mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull ^
               (c + 0x94D049BB133111EBull) * 0xD6E8FEB86659FD93ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A community value as the AS would set it: customer/peer type, location (region,
// country, city) and action families, a few values each.
uint16_t tag_value(uint32_t asn, uint64_t h) {
  uint32_t family = static_cast<uint32_t>(h % 5);
  uint32_t v = static_cast<uint32_t>((h >> 8) % 97);
  uint32_t base = static_cast<uint32_t>(mix(asn, 7) % 50);
  switch (family) {
    case 0: return static_cast<uint16_t>(100 + base + v % 4);     // relationship
    case 1: return static_cast<uint16_t>(1000 + 10 * (v % 30));   // region
    case 2: return static_cast<uint16_t>(2000 + v * 3);           // city
    case 3: return static_cast<uint16_t>(3000 + v % 60);          // country
    default: return static_cast<uint16_t>(65000 + v % 20);        // action
  }
}

// The communities the AS the route came in through (path[1]) tags a route with: one of
// that AS's "profiles" (where and how the route was learned), 1-7 values. Profiles are
// shared by many routes, so community lists repeat as in real tables (distinct lists
// ~30-40% of attribute sets).
void add_profile(uint32_t asn, uint32_t profile, std::vector<uint32_t>& out) {
  uint64_t h = mix(asn, profile, 1);
  size_t n = 1 + h % 7;
  for (size_t i = 0; i < n; ++i) out.push_back((asn << 16) | tag_value(asn, mix(asn, profile, 2 + i)));
}

struct Draw {
  const AsGraph& g;
  const SynthOptions& opts;
  Rng& rng;
  size_t profiles_per_as;
  std::unordered_set<std::string> paths;  // to prefer new AS paths (as in real tables)
  std::vector<uint32_t> chain;

  wire::AsPath path(size_t& origin) {
    wire::AsPath p;
    for (int attempt = 0;; ++attempt) {
      origin = g.draw_origin(rng);
      g.chain_up(origin, rng, chain);
      size_t prepend = 0;
      if (rng.chance(0.12)) {
        double u = rng.unit();
        prepend = u < 0.7 ? 1 : u < 0.9 ? 2 : 3;
      }
      prepend = std::min(prepend, 9 - std::min<size_t>(9, chain.size() + 1));
      AsPathSegment seg;
      seg.type = AsPathSegment::Sequence;
      seg.asns.push_back(opts.local_as);
      for (size_t i = chain.size(); i-- > 0;) seg.asns.push_back(chain[i]);
      for (size_t i = 0; i < prepend; ++i) seg.asns.push_back(chain[0]);
      std::string key(reinterpret_cast<const char*>(seg.asns.data()), seg.asns.size() * 4);
      // About 85% of a real peer's attribute sets have an AS path of their own.
      if (paths.insert(key).second || attempt >= 8 || rng.chance(0.2)) {
        p.segments.push_back(std::move(seg));
        return p;
      }
    }
  }

  wire::PathAttributes attributes() {
    wire::PathAttributes a;
    a.has_origin = true;
    double u = rng.unit();
    a.origin = u < 0.91 ? wire::Origin::Igp : u < 0.996 ? wire::Origin::Incomplete : wire::Origin::Egp;
    size_t origin = 0;
    a.as_path = path(origin);
    a.has_as_path = true;
    a.next_hop = opts.next_hop;

    const std::vector<uint32_t>& hops = a.as_path.segments[0].asns;
    uint32_t entry = hops.size() > 1 ? hops[1] : opts.local_as;
    if (rng.chance(0.70) && entry <= 0xFFFF) {
      // Profile number skewed: a few common profiles, a long tail.
      uint32_t profile = static_cast<uint32_t>(std::pow(rng.unit(), 2.0) *
                                               static_cast<double>(profiles_per_as));
      add_profile(entry, profile, a.communities);
      // Some routes also carry communities of the origin or a transit AS on the way.
      if (rng.chance(0.4)) {
        uint32_t asn = hops[1 + rng.below(hops.size() - 1)];
        size_t n = 1 + rng.below(3);
        for (size_t i = 0; i < n; ++i) {
          if (asn <= 0xFFFF) {
            a.communities.push_back((asn << 16) | tag_value(asn, mix(asn, rng.below(12), 99)));
          }
        }
      }
    }
    std::sort(a.communities.begin(), a.communities.end());
    a.communities.erase(std::unique(a.communities.begin(), a.communities.end()), a.communities.end());
    if (a.communities.size() > 10) a.communities.resize(10);

    if (rng.chance(0.08)) {
      // Large communities (RFC 8092), mostly from 4-octet ASes on the path.
      uint32_t asn = hops[1 + rng.below(hops.size() - 1)];
      for (uint32_t h : hops) {
        if (h > 0xFFFF && rng.chance(0.7)) asn = h;
      }
      size_t n = 1 + rng.below(3);
      for (size_t i = 0; i < n; ++i) {
        uint64_t h = mix(asn, rng.below(10), 5);
        a.large_communities.push_back(wire::LargeCommunity{
            asn, static_cast<uint32_t>(1 + h % 10), static_cast<uint32_t>((h >> 16) % 1000)});
      }
      std::sort(a.large_communities.begin(), a.large_communities.end());
      a.large_communities.erase(std::unique(a.large_communities.begin(), a.large_communities.end()),
                                a.large_communities.end());
    }
    if (rng.chance(0.20)) {
      a.med = rng.chance(0.7) ? kMedValues[rng.below(std::size(kMedValues))]
                              : static_cast<uint32_t>(rng.below(10000));
    }
    if (rng.chance(0.056)) a.atomic_aggregate = true;
    if (rng.chance(0.075)) a.aggregator = wire::Aggregator{g.node(origin).asn, g.node(origin).router_id};
    return a;
  }
};

}  // namespace

Table generate_table(const SynthOptions& opts) {
  Rng rng(opts.seed);
  Table t;
  t.source = "synthetic seed=" + std::to_string(opts.seed);
  auto prefixes = generate_prefixes(opts.prefixes, rng);

  // Set sizes until every prefix has a set.
  SetSizeSampler sampler;
  std::vector<size_t> sizes;
  for (size_t left = prefixes.size(); left > 0;) {
    size_t s = std::min(left, sampler.draw(rng));
    sizes.push_back(s);
    left -= s;
  }
  // Sets sit at random places of the address space, and are sent in random order.
  for (size_t i = sizes.size(); i > 1; --i) std::swap(sizes[i - 1], sizes[rng.below(i)]);

  AsGraph graph(sizes.size(), rng);
  std::unordered_set<std::string> keys;
  keys.reserve(sizes.size() * 2);
  Draw draw{graph, opts, rng, std::max<size_t>(8, sizes.size() / 250), {}, {}};
  t.sets.resize(sizes.size());
  size_t next = 0;
  uint32_t tiebreak = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RouteSet& rs = t.sets[i];
    for (int attempt = 0;; ++attempt) {
      rs.attrs = draw.attributes();
      if (attempt >= 20) rs.attrs.med = 100000 + tiebreak++;  // force distinctness
      if (keys.insert(set_key(rs.attrs)).second) break;
    }
    rs.prefixes.reserve(sizes[i]);
    for (size_t k = 0; k < sizes[i]; ++k, ++next) {
      rs.prefixes.emplace_back(IpAddr::v4(prefixes[next].first), prefixes[next].second);
    }
  }
  for (size_t i = t.sets.size(); i > 1; --i) std::swap(t.sets[i - 1], t.sets[rng.below(i)]);
  t.prefix_count = prefixes.size();
  return t;
}

}  // namespace tandem::bench
