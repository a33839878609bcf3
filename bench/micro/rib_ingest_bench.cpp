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
#include <vector>

#include "bench/micro/synthetic_table.hpp"
#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/message.hpp"

namespace {

using namespace tandem;
using namespace tandem::bench;

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

const Table& table() {
  static const Table built = [] {
    Table t = make_table(200000);
    std::fprintf(stderr, "table: %zu prefixes, %zu attribute sets, %zu UPDATEs, %.1f MB\n", t.prefixes, t.sets,
                 t.bodies.size(), t.bytes.size() / 1e6);
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
