// Micro-benchmarks of bulk sync's snapshot side: replicator::RibChunker cutting one
// peer's Adj-RIB-In (1M IPv4 routes over ~100k distinct attribute sets, ingested from
// UPDATEs packed as a peer would pack them) into chunks of at most 1024 routes, each a
// run of re-encoded UPDATEs (what PrimaryReplicator::snapshot_step sends per chunk).
//
//   BM_ChunkNext          one RibChunker::next(rib, 1024): the event-loop cost of one
//                         chunk (the chunker restarts when the table is done)
//   BM_ChunkNextSerialize the same plus the Envelope serialization the primary does
//                         before handing the chunk to the channel (no encryption, no I/O)
//   BM_WholeSnapshot      next() until nullopt: the whole 1M-route snapshot; counters
//                         give the slowest chunk and the 99th percentile of chunk times
//
//   build-bench/bench/micro/snapshot_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Environment: TANDEM_BENCH_PREFIXES / TANDEM_BENCH_SETS override the table size.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/message.hpp"
#include "replicator/snapshot.hpp"

namespace {

using namespace tandem;

constexpr uint32_t kLocalAs = 65000;
constexpr uint32_t kPeerAs = 64700;
constexpr size_t kRoutesPerChunk = 1024;  // as replicator/primary.cpp kRoutesPerChunk
constexpr uint64_t kConnectionId = 7;

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

// The table as UPDATE bodies (same generator as rib_ingest_bench, 100k sets by default).
struct Table {
  size_t prefixes = 0;
  size_t sets = 0;
  std::vector<uint8_t> bytes;
  std::vector<std::pair<size_t, size_t>> bodies;  // offset, length
};

Table make_table() {
  Table t;
  const size_t n_prefixes = env_size("TANDEM_BENCH_PREFIXES", 1000000);
  const size_t n_sets = env_size("TANDEM_BENCH_SETS", 100000);
  std::mt19937_64 rng(0x7A4D3E11);

  std::vector<wire::PathAttributes> sets(n_sets);
  for (auto& a : sets) {
    a.has_origin = true;
    uint64_t r = rng();
    a.origin = (r % 10) < 8 ? wire::Origin::Igp
                            : ((r % 10) == 8 ? wire::Origin::Egp : wire::Origin::Incomplete);
    a.has_as_path = true;
    wire::AsPathSegment seg;
    seg.type = wire::AsPathSegment::Sequence;
    size_t hops = 3 + rng() % 6;  // 3..8
    seg.asns.push_back(kPeerAs);
    for (size_t i = 1; i < hops; ++i) {
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

  std::unordered_set<uint64_t> seen;
  seen.reserve(n_prefixes * 2);
  std::vector<std::vector<wire::Prefix>> by_set(n_sets);
  size_t made = 0;
  while (made < n_prefixes) {
    uint64_t r = rng();
    unsigned pick = static_cast<unsigned>(r % 100);
    uint8_t len = pick < 60   ? 24
                  : pick < 80 ? static_cast<uint8_t>(22 + (r >> 8) % 2)
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
  return t;
}

// The loaded RIB (built once, shared by every benchmark).
struct Loaded {
  std::unique_ptr<rib::Rib> rib;
  size_t prefixes = 0;
  size_t sets = 0;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded x;
    Table t = make_table();
    x.rib = std::make_unique<rib::Rib>(rib_config());
    x.rib->peer_up(source_peer());
    for (const auto& [off, len] : t.bodies)
      x.rib->ingest_update(1, std::span<const uint8_t>(t.bytes.data() + off, len));
    x.prefixes = t.prefixes;
    x.sets = x.rib->attribute_sets();
    std::fprintf(stderr, "table: %zu prefixes, %zu attribute sets (RIB), %zu UPDATEs, %.1f MB; "
                 "Adj-RIB-In of peer 1: %zu\n",
                 t.prefixes, x.sets, t.bodies.size(), t.bytes.size() / 1e6,
                 x.rib->adj_in_count(1, wire::kIpv4Unicast, false));
    return x;
  }();
  return l;
}

std::unique_ptr<replicator::RibChunker> new_chunker() {
  return std::make_unique<replicator::RibChunker>(
      kConnectionId, 1, std::vector<wire::Family>{wire::kIpv4Unicast}, source_peer().codec);
}

// One chunk per iteration; when the table is exhausted the chunker restarts (untimed).
template <bool kSerialize>
void chunk_next(benchmark::State& state) {
  const Loaded& l = loaded();
  const rib::Rib& r = *l.rib;
  auto chunker = new_chunker();
  size_t routes = 0, bytes = 0, chunks = 0;
  std::string wire_bytes;
  for (auto _ : state) {
    auto c = chunker->next(r, kRoutesPerChunk);
    if (!c) {
      state.PauseTiming();
      chunker = new_chunker();
      state.ResumeTiming();
      c = chunker->next(r, kRoutesPerChunk);
    }
    if constexpr (kSerialize) {
      replicator::repl::Envelope e;
      *e.mutable_rib_chunk() = std::move(*c);
      wire_bytes.clear();
      e.SerializeToString(&wire_bytes);
      bytes += wire_bytes.size();
      routes += e.rib_chunk().routes();
    } else {
      routes += c->routes();
      bytes += c->updates().size();
    }
    ++chunks;
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<int64_t>(routes));
  state.counters["routes_per_chunk"] = static_cast<double>(routes) / static_cast<double>(chunks);
  state.counters["bytes_per_chunk"] = static_cast<double>(bytes) / static_cast<double>(chunks);
}

void BM_ChunkNext(benchmark::State& state) { chunk_next<false>(state); }
BENCHMARK(BM_ChunkNext)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_ChunkNextSerialize(benchmark::State& state) { chunk_next<true>(state); }
BENCHMARK(BM_ChunkNextSerialize)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The whole snapshot of the peer: next() until nullopt.
void BM_WholeSnapshot(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const Loaded& l = loaded();
  const rib::Rib& r = *l.rib;
  size_t routes = 0, chunks = 0, bytes = 0;
  double max_us = 0, p99_us = 0, p50_us = 0;
  std::vector<double> times;
  for (auto _ : state) {
    auto chunker = new_chunker();
    routes = chunks = bytes = 0;
    times.clear();
    for (;;) {
      const auto t0 = Clock::now();
      auto c = chunker->next(r, kRoutesPerChunk);
      const auto t1 = Clock::now();
      if (!c) break;
      times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      routes += c->routes();
      bytes += c->updates().size();
      ++chunks;
      benchmark::DoNotOptimize(c);
    }
    state.PauseTiming();
    if (routes != l.prefixes || chunker->adj_in_routes() != l.prefixes)
      state.SkipWithError("snapshot does not hold every route");
    std::sort(times.begin(), times.end());
    if (!times.empty()) {
      max_us = times.back();
      p99_us = times[times.size() * 99 / 100];
      p50_us = times[times.size() / 2];
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * routes));
  state.counters["chunks"] = static_cast<double>(chunks);
  state.counters["MB_updates"] = static_cast<double>(bytes) / 1e6;
  state.counters["chunk_p50_us"] = p50_us;
  state.counters["chunk_p99_us"] = p99_us;
  state.counters["chunk_max_us"] = max_us;
  state.counters["prefixes"] = static_cast<double>(l.prefixes);
  state.counters["attr_sets"] = static_cast<double>(l.sets);
}
BENCHMARK(BM_WholeSnapshot)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
