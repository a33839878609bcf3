// The synthetic full IPv4 table the micro-benchmarks share: PREFIXES distinct prefixes
// (mostly /24) over SETS attribute sets (AS paths of 3-8 hops, 0-10 communities, MED on
// 30%), encoded as UPDATE bodies the way a peer packs them (one run per set, sets in
// random order), from a fixed seed. TANDEM_BENCH_PREFIXES / TANDEM_BENCH_SETS override
// the defaults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "bgpd/rib/rib.hpp"

namespace tandem::bench {

inline constexpr uint32_t kLocalAs = 65000;
inline constexpr uint32_t kPeerAs = 64700;

size_t env_size(const char* name, size_t dflt);
rib::PeerInfo source_peer();  // id 1, 192.0.2.1, eBGP, 4-octet AS, IPv4 unicast
rib::RibConfig rib_config();

struct Table {
  size_t prefixes = 0;
  size_t sets = 0;  // attribute sets that carry at least one prefix
  std::vector<uint8_t> bytes;                      // whole messages
  std::vector<std::pair<size_t, size_t>> bodies;   // offset, length of each UPDATE body
};

Table make_table(size_t default_sets);

}  // namespace tandem::bench
