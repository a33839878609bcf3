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
#include <string>
#include <vector>

#include "bench/micro/synthetic_table.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/message.hpp"
#include "replicator/snapshot.hpp"

namespace {

using namespace tandem;
using namespace tandem::bench;

constexpr size_t kRoutesPerChunk = 1024;  // as replicator/primary.cpp kRoutesPerChunk
constexpr uint64_t kConnectionId = 7;

// The loaded RIB (built once, shared by every benchmark).
struct Loaded {
  std::unique_ptr<rib::Rib> rib;
  size_t prefixes = 0;
  size_t sets = 0;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded x;
    Table t = make_table(100000);
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
