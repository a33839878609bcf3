// Micro-benchmarks of the RIB: ingest of a full IPv4 table (1M prefixes in ~200k
// distinct attribute sets, AS paths of 3-8 hops, 0-10 communities) from UPDATE bodies
// as a peer would pack them, and export of that table to a new eBGP peer.
//
// Reported counters: routes/s (items_per_second), heap bytes per route (malloc'd bytes
// held by the RIB after ingest, from mallinfo2), RSS bytes per route (resident set
// growth during the first ingest: everything included, malloc overhead and
// fragmentation too), attribute sets.
//
//   build-rib-rel/bench/micro/rib_ingest_bench --benchmark_filter=Ingest
// Environment: TANDEM_BENCH_PREFIXES / TANDEM_BENCH_SETS override the table size.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/message.hpp"

namespace {

using namespace tandem;

constexpr uint32_t kLocalAs = 65000;
constexpr uint32_t kPeerAs = 64700;

size_t env_size(const char* name, size_t dflt) {
  const char* v = std::getenv(name);
  return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : dflt;
}

size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * 4096;
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

rib::PeerInfo export_peer() {
  rib::PeerInfo p;
  p.id = 2;
  p.address = wire::IpAddr::v4(0xC0000202);
  p.remote_as = 64800;
  p.router_id = 0xC0000202;
  p.local_v4 = wire::IpAddr::v4(0xC00002FE);
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
struct Table {
  size_t prefixes = 0;
  size_t sets = 0;        // attribute sets that carry at least one prefix
  std::vector<uint8_t> bytes;
  std::vector<std::pair<size_t, size_t>> bodies;  // offset, length
};

const Table& table() {
  static const Table built = [] {
    Table t;
    const size_t n_prefixes = env_size("TANDEM_BENCH_PREFIXES", 1000000);
    const size_t n_sets = env_size("TANDEM_BENCH_SETS", 200000);
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
  }();
  return built;
}

void ingest_all(rib::Rib& r, const Table& t) {
  for (const auto& [off, len] : t.bodies) {
    auto res = r.ingest_update(1, std::span<const uint8_t>(t.bytes.data() + off, len));
    benchmark::DoNotOptimize(res.announced);
  }
}

void report(benchmark::State& state, const Table& t, double heap_per_route,
            double rss_per_route, size_t sets) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * t.prefixes));
  state.counters["heap_B_per_route"] = heap_per_route;
  state.counters["rss_B_per_route"] = rss_per_route;
  state.counters["attr_sets"] = static_cast<double>(sets);
  state.counters["prefixes"] = static_cast<double>(t.prefixes);
}

// Ingest of the whole table into an empty RIB.
void BM_IngestFullTable(benchmark::State& state) {
  const Table& t = table();
  const bool with_listener = state.range(0) != 0;
  double heap_pr = 0, rss_pr = 0;
  size_t sets = 0;
  bool first = true;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    size_t heap0 = heap_in_use();
    size_t rss0 = rss_bytes();
    auto r = std::make_unique<rib::Rib>(rib_config());
    size_t changes = 0;
    if (with_listener) {
      r->set_best_change_listener([&](const rib::BestChange& c) {
        changes += c.new_best != nullptr ? 1 : 0;
      });
    }
    r->peer_up(source_peer());
    state.ResumeTiming();

    ingest_all(*r, t);

    state.PauseTiming();
    if (r->loc_rib_size(wire::kIpv4Unicast) != t.prefixes) {
      state.SkipWithError("Loc-RIB size differs from the table");
    }
    heap_pr = static_cast<double>(heap_in_use() - heap0) / static_cast<double>(t.prefixes);
    if (first) {
      rss_pr = static_cast<double>(rss_bytes() - rss0) / static_cast<double>(t.prefixes);
      first = false;
    }
    sets = r->attribute_sets();
    benchmark::DoNotOptimize(changes);
    r.reset();
    state.ResumeTiming();
  }
  report(state, t, heap_pr, rss_pr, sets);
}
BENCHMARK(BM_IngestFullTable)->Arg(0)->Arg(1)->ArgName("best_listener")
    ->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Re-ingest of the same table over itself (every UPDATE is an attribute-cache hit and
// every prefix an unchanged implicit withdraw).
void BM_ReingestSameTable(benchmark::State& state) {
  const Table& t = table();
  rib::Rib r(rib_config());
  r.peer_up(source_peer());
  ingest_all(r, t);
  for (auto _ : state) ingest_all(r, t);
  report(state, t, 0, 0, r.attribute_sets());
}
BENCHMARK(BM_ReingestSameTable)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Export of the loaded table to a new eBGP peer: peer_up, then take_output until done.
void BM_ExportFullTable(benchmark::State& state) {
  const Table& t = table();
  rib::Rib r(rib_config());
  r.peer_up(source_peer());
  ingest_all(r, t);
  size_t bytes = 0, updates = 0;
  std::vector<uint8_t> out;
  for (auto _ : state) {
    r.peer_up(export_peer());
    bytes = 0;
    for (;;) {
      out.clear();
      size_t n = r.take_output(2, 1 << 16, out);
      if (n == 0) break;
      bytes += n;
    }
    state.PauseTiming();
    updates = r.counters(2).updates_out;
    if (r.counters(2).advertised != t.prefixes) state.SkipWithError("not everything exported");
    r.peer_down(2);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * t.prefixes));
  state.counters["updates"] = static_cast<double>(updates);
  state.counters["MB_out"] = static_cast<double>(bytes) / 1e6;
  state.counters["prefixes_per_update"] =
      static_cast<double>(t.prefixes) / static_cast<double>(updates ? updates : 1);
}
BENCHMARK(BM_ExportFullTable)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Ingest with a second (eBGP) peer Established: every best change lands in its dirty
// set; then its whole output is taken (the daemon's steady state when a full table
// arrives). Time covers both.
void BM_IngestAndExportToPeer(benchmark::State& state) {
  const Table& t = table();
  size_t updates = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto r = std::make_unique<rib::Rib>(rib_config());
    r->peer_up(source_peer());
    r->peer_up(export_peer());
    std::vector<uint8_t> out;
    state.ResumeTiming();
    ingest_all(*r, t);
    for (;;) {
      out.clear();
      if (r->take_output(2, 1 << 16, out) == 0) break;
    }
    state.PauseTiming();
    updates = r->counters(2).updates_out;
    if (r->counters(2).advertised != t.prefixes) state.SkipWithError("not everything exported");
    r.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * t.prefixes));
  state.counters["updates"] = static_cast<double>(updates);
  state.counters["prefixes_per_update"] =
      static_cast<double>(t.prefixes) / static_cast<double>(updates ? updates : 1);
}
BENCHMARK(BM_IngestAndExportToPeer)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
