// bgp_blaster's route tables: a synthetic, realistic IPv4 table (generate_table) or one
// peer's routes out of a `bgpdump -m` text dump (read_bgpdump_table). Both produce the
// same thing: attribute sets, each with the prefixes that carry it, ready to encode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bgpd/wire/attributes.hpp"
#include "bgpd/wire/types.hpp"

namespace tandem::bench {

struct RouteSet {
  wire::PathAttributes attrs;
  std::vector<wire::Prefix> prefixes;
};

struct Table {
  std::vector<RouteSet> sets;  // in the order they are sent
  size_t prefix_count = 0;
  std::string source;  // "synthetic seed=1" or "FILE peer 202.249.2.20 AS4777"
};

struct SynthOptions {
  size_t prefixes = 1'000'000;
  uint64_t seed = 1;
  uint32_t local_as = 65001;  // first AS of every path
  wire::IpAddr next_hop;
};
Table generate_table(const SynthOptions& opts);

struct TableFileOptions {
  std::string path;        // bgpdump -m text, plain or gzip
  std::string peer;        // peer address to take; empty: the peer with most prefixes
  size_t max_prefixes = 0; // 0: all of that peer's IPv4 prefixes
  uint32_t local_as = 65001;
  wire::IpAddr next_hop;
};
// Returns false (with `error` set) when the file cannot be read or holds no usable route.
bool read_bgpdump_table(const TableFileOptions& opts, Table& out, std::string& error);

// Distribution summary (prefix lengths, set sizes, path lengths, communities...), one
// JSON object, for checking that a table looks realistic.
std::string describe_table(const Table& t);

}  // namespace tandem::bench
