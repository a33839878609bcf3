// Reading one peer's table out of `bgpdump -m` text (plain or gzip, through zlib), and
// the distribution summary of any table.
//
// Line format (bgpdump 1.6): TABLE_DUMP2|time|B|peer_ip|peer_as|prefix|as_path|origin|
// next_hop|local_pref|med|communities|AG/NAG|aggregator_as aggregator_ip|
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench/ingest/table.hpp"

namespace tandem::bench {
namespace {

using wire::AsPathSegment;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "4777 2516 {4134,4847} 18245" (also "asdot" 1.2 notation, which bgpdump prints for
// 4-octet ASNs in some versions).
bool parse_asn(std::string_view tok, uint32_t& asn) {
  size_t dot = tok.find('.');
  if (dot == std::string_view::npos) return parse_uint(tok, asn);
  uint32_t hi = 0, lo = 0;
  if (!parse_uint(tok.substr(0, dot), hi) || !parse_uint(tok.substr(dot + 1), lo)) return false;
  if (hi > 0xFFFF || lo > 0xFFFF) return false;
  asn = (hi << 16) | lo;
  return true;
}

bool parse_as_path(std::string_view text, wire::AsPath& path) {
  for (std::string_view tok : split(text, ' ')) {
    if (tok.empty()) continue;
    if (tok.front() == '{' || tok.front() == '(' || tok.front() == '[') {
      // AS_SET {a,b}; confederation segments cannot come from an eBGP peer: skip them.
      bool set = tok.front() == '{';
      std::string_view inner = tok.substr(1, tok.size() >= 2 ? tok.size() - 2 : 0);
      AsPathSegment seg;
      seg.type = AsPathSegment::Set;
      for (std::string_view a : split(inner, ',')) {
        uint32_t asn = 0;
        if (!parse_asn(a, asn)) return false;
        seg.asns.push_back(asn);
      }
      if (set && !seg.asns.empty()) path.segments.push_back(std::move(seg));
      continue;
    }
    uint32_t asn = 0;
    if (!parse_asn(tok, asn)) return false;
    if (path.segments.empty() || path.segments.back().type != AsPathSegment::Sequence ||
        path.segments.back().asns.size() >= 255) {
      path.segments.push_back(AsPathSegment{AsPathSegment::Sequence, {}});
    }
    path.segments.back().asns.push_back(asn);
  }
  return true;
}

bool parse_community(std::string_view tok, wire::PathAttributes& a) {
  if (tok == "no-export") return a.communities.push_back(wire::community::kNoExport), true;
  if (tok == "no-advertise") return a.communities.push_back(wire::community::kNoAdvertise), true;
  if (tok == "no-export-subconfed" || tok == "local-AS") {
    return a.communities.push_back(wire::community::kNoExportSubconfed), true;
  }
  auto parts = split(tok, ':');
  if (parts.size() == 2) {
    uint32_t hi = 0, lo = 0;
    if (!parse_uint(parts[0], hi) || !parse_uint(parts[1], lo) || hi > 0xFFFF || lo > 0xFFFF) {
      return false;
    }
    a.communities.push_back((hi << 16) | lo);
    return true;
  }
  if (parts.size() == 3) {
    wire::LargeCommunity l;
    if (!parse_uint(parts[0], l.global_admin) || !parse_uint(parts[1], l.local1) ||
        !parse_uint(parts[2], l.local2)) {
      return false;
    }
    a.large_communities.push_back(l);
    return true;
  }
  return false;
}

// Fields 6.. of a line (as_path .. aggregator) into attributes; the first AS (the table
// peer's) becomes ours.
bool parse_attributes(const std::vector<std::string_view>& f, uint32_t peer_as,
                      const TableFileOptions& opts, wire::PathAttributes& a) {
  a.has_origin = true;
  if (f[7] == "IGP") a.origin = wire::Origin::Igp;
  else if (f[7] == "EGP") a.origin = wire::Origin::Egp;
  else a.origin = wire::Origin::Incomplete;
  if (!parse_as_path(f[6], a.as_path)) return false;
  auto& segs = a.as_path.segments;
  if (!segs.empty() && segs[0].type == AsPathSegment::Sequence && !segs[0].asns.empty() &&
      segs[0].asns[0] == peer_as) {
    segs[0].asns[0] = opts.local_as;
  } else if (!segs.empty() && segs[0].type == AsPathSegment::Sequence && segs[0].asns.size() < 255) {
    segs[0].asns.insert(segs[0].asns.begin(), opts.local_as);
  } else {
    segs.insert(segs.begin(), AsPathSegment{AsPathSegment::Sequence, {opts.local_as}});
  }
  a.has_as_path = true;
  a.next_hop = opts.next_hop;
  uint32_t med = 0;
  // bgpdump prints 0 for an absent MED; a real MED of 0 is indistinguishable.
  if (parse_uint(f[10], med) && med != 0) a.med = med;
  for (std::string_view tok : split(f[11], ' ')) {
    if (!tok.empty() && !parse_community(tok, a)) return false;
  }
  std::sort(a.communities.begin(), a.communities.end());
  a.communities.erase(std::unique(a.communities.begin(), a.communities.end()), a.communities.end());
  std::sort(a.large_communities.begin(), a.large_communities.end());
  a.atomic_aggregate = f[12] == "AG";
  if (!f[13].empty()) {
    auto parts = split(f[13], ' ');
    uint32_t asn = 0;
    auto ip = parts.size() == 2 ? wire::IpAddr::parse(parts[1]) : std::nullopt;
    if (parts.size() == 2 && parse_asn(parts[0], asn) && ip && ip->is_v4()) {
      a.aggregator = wire::Aggregator{asn, ip->v4_host_order()};
    }
  }
  return true;
}

struct Entry {
  uint32_t peer;
  uint32_t key;  // interned "as_path|origin|...|aggregator" text
  wire::Prefix prefix;
};

}  // namespace

bool read_bgpdump_table(const TableFileOptions& opts, Table& out, std::string& error) {
  gzFile gz = gzopen(opts.path.c_str(), "rb");
  if (!gz) {
    error = "cannot open " + opts.path;
    return false;
  }
  gzbuffer(gz, 1 << 20);
  std::vector<std::string> peers;
  std::vector<uint32_t> peer_as;
  std::unordered_map<std::string, uint32_t> peer_index;
  std::vector<std::string> keys;
  std::unordered_map<std::string, uint32_t> key_index;
  std::vector<Entry> entries;
  std::string line;
  char buf[65536];
  size_t skipped = 0;
  while (gzgets(gz, buf, sizeof buf)) {
    line.assign(buf);
    while (!line.empty() && line.back() != '\n' && gzgets(gz, buf, sizeof buf)) line += buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    auto f = split(line, '|');
    if (f.size() < 14 || (f[2] != "B" && f[2] != "A")) {
      ++skipped;
      continue;
    }
    auto prefix = wire::Prefix::parse(f[5]);
    if (!prefix || !prefix->addr.is_v4()) {
      ++skipped;
      continue;
    }
    std::string peer(f[3]);
    auto [pit, pnew] = peer_index.try_emplace(peer, static_cast<uint32_t>(peers.size()));
    if (pnew) {
      peers.push_back(peer);
      uint32_t as = 0;
      (void)parse_asn(f[4], as);
      peer_as.push_back(as);
    }
    std::string key;
    for (size_t i = 6; i <= 13; ++i) {
      if (i == 8 || i == 9) continue;  // next hop, local pref: not sent over eBGP
      key.append(f[i]);
      key.push_back('|');
    }
    auto [kit, knew] = key_index.try_emplace(std::move(key), static_cast<uint32_t>(keys.size()));
    if (knew) keys.push_back(kit->first);
    entries.push_back(Entry{pit->second, kit->second, *prefix});
  }
  int errnum = 0;
  const char* zerr = gzerror(gz, &errnum);
  std::string zmsg = errnum < 0 ? zerr : "";
  gzclose(gz);
  if (!zmsg.empty()) {
    error = opts.path + ": " + zmsg;
    return false;
  }
  if (peers.empty()) {
    error = opts.path + ": no IPv4 RIB entries (is it `bgpdump -m` output?)";
    return false;
  }

  uint32_t chosen = 0;
  if (!opts.peer.empty()) {
    auto it = peer_index.find(opts.peer);
    if (it == peer_index.end()) {
      error = opts.path + ": no peer " + opts.peer;
      return false;
    }
    chosen = it->second;
  } else {
    std::vector<size_t> count(peers.size());
    for (const Entry& e : entries) ++count[e.peer];
    chosen = static_cast<uint32_t>(std::max_element(count.begin(), count.end()) - count.begin());
  }

  // Group the chosen peer's prefixes by attribute set, sets in order of first appearance.
  std::unordered_map<uint32_t, size_t> set_of_key;
  std::set<wire::Prefix> seen;
  std::vector<uint32_t> set_keys;
  out.sets.clear();
  out.prefix_count = 0;
  for (const Entry& e : entries) {
    if (e.peer != chosen) continue;
    if (opts.max_prefixes && out.prefix_count >= opts.max_prefixes) break;
    if (!seen.insert(e.prefix).second) continue;  // duplicate line
    auto [it, fresh] = set_of_key.try_emplace(e.key, out.sets.size());
    if (fresh) {
      out.sets.emplace_back();
      set_keys.push_back(e.key);
    }
    out.sets[it->second].prefixes.push_back(e.prefix);
    ++out.prefix_count;
  }
  std::string bad;
  for (size_t i = 0; i < out.sets.size(); ++i) {
    std::string_view k = keys[set_keys[i]];
    // Rebuild the field vector the parser expects (indices 6..13).
    std::vector<std::string_view> f(14);
    auto parts = split(k, '|');
    size_t idx[] = {6, 7, 10, 11, 12, 13};
    for (size_t j = 0; j < 6 && j < parts.size(); ++j) f[idx[j]] = parts[j];
    if (!parse_attributes(f, peer_as[chosen], opts, out.sets[i].attrs)) bad = std::string(k);
  }
  if (!bad.empty()) {
    error = opts.path + ": cannot parse attributes '" + bad + "'";
    return false;
  }
  out.source = opts.path + " peer " + peers[chosen] + " AS" + std::to_string(peer_as[chosen]);
  (void)skipped;
  if (out.prefix_count == 0) {
    error = opts.path + ": no IPv4 prefixes for peer " + peers[chosen];
    return false;
  }
  return true;
}

std::string describe_table(const Table& t) {
  std::map<unsigned, size_t> lengths, path_lengths, ncomm, set_buckets_sets, set_buckets_pfx;
  size_t med = 0, large = 0, atomic = 0, aggr = 0, igp = 0, egp = 0, incomplete = 0, as4 = 0,
         asns = 0;
  std::set<std::vector<uint32_t>> paths;
  std::set<uint32_t> origins;
  std::set<std::vector<uint32_t>> community_lists;
  size_t path_hops_weighted = 0;
  for (const RouteSet& s : t.sets) {
    size_t n = s.prefixes.size();
    for (const auto& p : s.prefixes) ++lengths[p.len];
    size_t hops = 0;
    std::vector<uint32_t> flat;
    for (const auto& seg : s.attrs.as_path.segments) {
      hops += seg.type == AsPathSegment::Set ? 1 : seg.asns.size();
      for (uint32_t a : seg.asns) {
        flat.push_back(a);
        ++asns;
        if (a > 0xFFFF) ++as4;
      }
    }
    if (!flat.empty()) origins.insert(flat.back());
    paths.insert(flat);
    path_lengths[static_cast<unsigned>(hops)] += n;
    path_hops_weighted += hops * n;
    ++ncomm[static_cast<unsigned>(s.attrs.communities.size())];
    if (!s.attrs.communities.empty()) community_lists.insert(s.attrs.communities);
    if (s.attrs.med) ++med;
    if (!s.attrs.large_communities.empty()) ++large;
    if (s.attrs.atomic_aggregate) ++atomic;
    if (s.attrs.aggregator) ++aggr;
    switch (s.attrs.origin) {
      case wire::Origin::Igp: ++igp; break;
      case wire::Origin::Egp: ++egp; break;
      case wire::Origin::Incomplete: ++incomplete; break;
    }
    unsigned b = n == 0 ? 0 : static_cast<unsigned>(std::log2(static_cast<double>(n)));
    ++set_buckets_sets[b];
    set_buckets_pfx[b] += n;
  }
  auto hist = [](const std::map<unsigned, size_t>& m) {
    std::string s = "{";
    for (const auto& [k, v] : m) {
      if (s.size() > 1) s += ",";
      s += '"';  // appends only: GCC 12 -O3 misreports -Wrestrict on operator+ chains
      s += std::to_string(k);
      s += "\":";
      s += std::to_string(v);
    }
    return s + "}";
  };
  double np = static_cast<double>(std::max<size_t>(1, t.prefix_count));
  char mean[64];
  snprintf(mean, sizeof mean, "%.2f", static_cast<double>(path_hops_weighted) / np);
  std::string s = "{\"prefixes\":" + std::to_string(t.prefix_count) +
                  ",\"attribute_sets\":" + std::to_string(t.sets.size()) +
                  ",\"distinct_as_paths\":" + std::to_string(paths.size()) +
                  ",\"origin_ases\":" + std::to_string(origins.size()) +
                  ",\"prefix_lengths\":" + hist(lengths) +
                  ",\"path_hops_per_prefix\":" + hist(path_lengths) +
                  ",\"mean_path_hops\":" + mean +
                  ",\"sets_by_log2_size\":" + hist(set_buckets_sets) +
                  ",\"prefixes_by_log2_set_size\":" + hist(set_buckets_pfx) +
                  ",\"communities_per_set\":" + hist(ncomm) +
                  ",\"distinct_community_lists\":" + std::to_string(community_lists.size()) +
                  ",\"sets_with_med\":" + std::to_string(med) +
                  ",\"sets_with_large_communities\":" + std::to_string(large) +
                  ",\"sets_atomic_aggregate\":" + std::to_string(atomic) +
                  ",\"sets_with_aggregator\":" + std::to_string(aggr) +
                  ",\"origin_igp_egp_incomplete\":[" + std::to_string(igp) + "," +
                  std::to_string(egp) + "," + std::to_string(incomplete) + "]" +
                  ",\"asns_in_paths\":" + std::to_string(asns) +
                  ",\"four_octet_asns_in_paths\":" + std::to_string(as4) + "}";
  return s;
}

}  // namespace tandem::bench
