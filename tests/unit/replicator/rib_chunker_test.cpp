// RibChunker: a session's Adj-RIB-In / Adj-RIB-Out cut into bounded chunks of whole
// UPDATE messages; a second RIB that ingests the Adj-RIB-In chunks ends up with the same
// Adj-RIB-In (equal digests).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../rib/rib_test_util.hpp"
#include "bgpd/mrt/framer.hpp"
#include "bgpd/rib/digest.hpp"
#include "replicator/advertised_table.hpp"
#include "replicator/snapshot.hpp"

namespace rib_test {
namespace {

namespace repl = tandem::v1::repl;
using tandem::replicator::AdvertisedTable;
using tandem::replicator::RibChunker;

constexpr uint64_t kConnId = 4242;
constexpr size_t kMaxRoutes = 700;

std::vector<Prefix> v4_prefixes(int first, int count, int second_octet = 0) {
  std::vector<Prefix> out;
  char buf[64];
  for (int i = first; i < first + count; ++i) {
    std::snprintf(buf, sizeof buf, "%d.%d.%d.0/24", 10 + second_octet, i / 256, i % 256);
    out.push_back(P(buf));
  }
  return out;
}
std::vector<Prefix> v6_prefixes(int first, int count, unsigned base = 0x2001) {
  std::vector<Prefix> out;
  char buf[64];
  for (int i = first; i < first + count; ++i) {
    std::snprintf(buf, sizeof buf, "%x:db8:%x::/48", base, i);
    out.push_back(P(buf));
  }
  return out;
}

// Several attribute sets per family. iBGP sets carry LOCAL_PREF / ORIGINATOR_ID /
// CLUSTER_LIST (which the eBGP encoding leaves out).
std::vector<PathAttributes> attribute_sets(const PeerInfo& from, bool v6) {
  const char* nh = v6 ? "2001:db8::1" : "192.0.2.1";
  const bool ibgp = !from.codec.ebgp;
  std::vector<uint32_t> head;
  if (!ibgp) head.push_back(from.remote_as);
  auto path = [&](std::vector<uint32_t> rest) {
    auto p = head;
    p.insert(p.end(), rest.begin(), rest.end());
    return p;
  };
  std::vector<PathAttributes> sets;
  sets.push_back(attrs(path({}), nh));
  auto a = attrs(path({65010, 4200000001u}), nh);  // a 4-octet AS (AS4_PATH for 2-octet peers)
  a.med = 50;
  sets.push_back(a);
  auto b = attrs(path({65020, 65021, 65022}), nh);
  b.communities = {0xFDE80001, 0xFDE80002};
  b.large_communities = {{4200000000u, 1, 2}};
  b.origin = wire::Origin::Incomplete;
  sets.push_back(b);
  auto c = attrs(path({65030}), nh);
  c.ext_communities = {0x0002FDE800000064ull};
  c.atomic_aggregate = true;
  c.aggregator = wire::Aggregator{65030, 0x0A0A0A0A};
  if (v6) c.next_hop_link_local = A("fe80::1");
  sets.push_back(c);
  if (ibgp) {
    for (auto& s : sets) s.local_pref = 100;
    sets[1].local_pref = 200;
    auto d = attrs(path({65040}), nh);
    d.local_pref = 150;
    d.originator_id = 0x0B0B0B0B;
    d.cluster_list = {0x0C0C0C0C};
    sets.push_back(d);
  }
  return sets;
}

// Announce `prefixes` from `from`, spreading them over the attribute sets.
void announce_spread(Rib& rib, const PeerInfo& from, const std::vector<Prefix>& prefixes, bool v6) {
  auto sets = attribute_sets(from, v6);
  std::vector<std::vector<Prefix>> groups(sets.size());
  for (size_t i = 0; i < prefixes.size(); ++i) groups[i % sets.size()].push_back(prefixes[i]);
  for (size_t i = 0; i < sets.size(); ++i) {
    auto r = announce(rib, from, groups[i], sets[i]);
    ASSERT_FALSE(r.session_error);
    ASSERT_EQ(r.announced, groups[i].size()) << r.reason;
  }
}

struct Chunks {
  std::vector<repl::RibChunk> all;
  size_t adj_in_routes = 0, adj_out_routes = 0;
};

Chunks run_chunker(const Rib& rib, PeerId peer, const wire::CodecOptions& codec, size_t max_routes) {
  Chunks out;
  RibChunker ch(kConnId, peer, {wire::kIpv4Unicast, wire::kIpv6Unicast}, codec);
  for (int guard = 0; guard < 100000; ++guard) {
    auto c = ch.next(rib, max_routes);
    if (!c) break;
    out.all.push_back(std::move(*c));
  }
  EXPECT_FALSE(ch.next(rib, max_routes).has_value());  // stays done
  out.adj_in_routes = ch.adj_in_routes();
  out.adj_out_routes = ch.adj_out_routes();
  return out;
}

// The whole BGP messages of a chunk, split with the MRT framer; each chunk must hold
// whole messages only.
std::vector<std::vector<uint8_t>> messages_of(const repl::RibChunk& c) {
  std::vector<std::vector<uint8_t>> msgs;
  tandem::mrt::MessageFramer framer(65535);
  const auto* data = reinterpret_cast<const uint8_t*>(c.updates().data());
  EXPECT_TRUE(framer.feed(std::span<const uint8_t>(data, c.updates().size()),
                          [&](std::span<const uint8_t> m) { msgs.emplace_back(m.begin(), m.end()); }));
  EXPECT_EQ(framer.buffered(), 0u) << "a chunk ends in the middle of a message";
  return msgs;
}

// Every chunk's bounds and labels; the tables come in order (Adj-RIB-In v4, v6, then
// Adj-RIB-Out v4, v6), and the chunks of each add up to the table's size.
void check_chunk_fields(const Chunks& chunks, const Rib& rib, PeerId peer, size_t max_routes) {
  int last_stage = -1;
  size_t per_stage[4] = {0, 0, 0, 0};
  for (const auto& c : chunks.all) {
    EXPECT_EQ(c.connection_id(), kConnId);
    EXPECT_GT(c.routes(), 0u);
    EXPECT_LE(c.routes(), max_routes);
    EXPECT_FALSE(c.updates().empty());
    EXPECT_EQ(c.safi(), 1u);
    ASSERT_TRUE(c.afi() == 1u || c.afi() == 2u) << c.afi();
    ASSERT_TRUE(c.table() == repl::TABLE_ADJ_RIB_IN || c.table() == repl::TABLE_ADJ_RIB_OUT);
    const int stage = (c.table() == repl::TABLE_ADJ_RIB_OUT ? 2 : 0) + (c.afi() == 2u ? 1 : 0);
    EXPECT_GE(stage, last_stage) << "chunks out of order";
    last_stage = stage;
    per_stage[stage] += c.routes();

    // routes = the prefixes the chunk's UPDATEs announce, of the chunk's family only.
    size_t announced = 0;
    for (const auto& m : messages_of(c)) {
      auto h = wire::decode_header(m, 65535);
      ASSERT_TRUE(h.ok());
      ASSERT_EQ(h->type, wire::MessageType::Update);
      EXPECT_LE(m.size(), wire::kMaxMessageLen);  // no extended messages negotiated
      auto u = wire::decode_update(std::span<const uint8_t>(m).subspan(wire::kHeaderLen),
                                   wire::CodecOptions{});
      ASSERT_TRUE(u.ok()) << u.error().reason;
      EXPECT_TRUE(u->withdrawn.empty());
      for (const auto& set : u->announced) {
        EXPECT_EQ(static_cast<uint32_t>(set.family.afi), c.afi());
        announced += set.prefixes.size();
      }
    }
    EXPECT_EQ(announced, c.routes());
  }
  EXPECT_EQ(per_stage[0], rib.adj_in_count(peer, wire::kIpv4Unicast, false));
  EXPECT_EQ(per_stage[1], rib.adj_in_count(peer, wire::kIpv6Unicast, false));
  EXPECT_EQ(per_stage[2], rib.adj_out_count(peer, wire::kIpv4Unicast));
  EXPECT_EQ(per_stage[3], rib.adj_out_count(peer, wire::kIpv6Unicast));
  EXPECT_EQ(chunks.adj_in_routes, per_stage[0] + per_stage[1]);
  EXPECT_EQ(chunks.adj_out_routes, per_stage[2] + per_stage[3]);
}

// Ingest every Adj-RIB-In chunk into `rib` for `peer`, as the standby does.
void ingest_adj_in(Rib& rib, PeerId peer, const Chunks& chunks) {
  for (const auto& c : chunks.all) {
    if (c.table() != repl::TABLE_ADJ_RIB_IN) continue;
    size_t announced = 0;
    for (const auto& m : messages_of(c)) {
      auto r = rib.ingest_update(peer, body_of(m));
      ASSERT_FALSE(r.session_error) << r.reason;
      EXPECT_FALSE(r.treat_as_withdraw) << r.reason;
      EXPECT_EQ(r.rejected, 0u) << r.reason;
      announced += r.announced;
    }
    EXPECT_EQ(announced, c.routes());
  }
}

class RibChunkerRoundTrip : public ::testing::TestWithParam<int> {
 protected:
  static PeerInfo make_peer() {
    switch (GetParam()) {
      case 0:
        return ebgp(1, 65001, "10.9.0.1", 0x01010101);
      case 1:
        return ibgp(1, "10.9.0.1", 0x01010101);
      default: {
        auto p = ebgp(1, 65001, "10.9.0.1", 0x01010101);
        p.codec.four_octet_as = false;  // AS_TRANS + AS4_PATH on the wire
        return p;
      }
    }
  }
};

TEST_P(RibChunkerRoundTrip, AdjRibInRoundTripsThroughChunks) {
  const PeerInfo src = make_peer();
  Rib primary(config());
  primary.peer_up(src);
  announce_spread(primary, src, v4_prefixes(0, 5000), false);
  announce_spread(primary, src, v6_prefixes(0, 300), true);
  // Some churn: withdrawals and re-announcements with another path.
  withdraw(primary, src, v4_prefixes(1000, 100));
  announce(primary, src, v4_prefixes(1000, 50), attribute_sets(src, false)[1]);
  withdraw(primary, src, v6_prefixes(0, 20));
  const size_t v4 = 5000 - 50, v6 = 280;
  ASSERT_EQ(primary.adj_in_count(src.id, wire::kIpv4Unicast, false), v4);
  ASSERT_EQ(primary.adj_in_count(src.id, wire::kIpv6Unicast, false), v6);

  Chunks chunks = run_chunker(primary, src.id, src.codec, kMaxRoutes);
  check_chunk_fields(chunks, primary, src.id, kMaxRoutes);
  EXPECT_EQ(chunks.adj_in_routes, v4 + v6);
  EXPECT_EQ(chunks.adj_out_routes, 0u);  // nobody else: nothing exported to src
  EXPECT_GE(chunks.all.size(), (v4 + kMaxRoutes - 1) / kMaxRoutes + 1);

  // The standby: the same neighbour under another PeerId.
  PeerInfo mirror = src;
  mirror.id = 9;
  Rib standby(config());
  standby.peer_up(mirror);
  ingest_adj_in(standby, mirror.id, chunks);

  for (auto f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) {
    auto a = rib::digest_adj_in(primary, src.id, f);
    auto b = rib::digest_adj_in(standby, mirror.id, f);
    EXPECT_EQ(a, b) << "family afi " << static_cast<int>(f.afi) << ": " << rib::to_hex(a) << " vs " << rib::to_hex(b);
    EXPECT_EQ(standby.adj_in_count(mirror.id, f, false), primary.adj_in_count(src.id, f, false));
  }
  EXPECT_EQ(rib::digest_adj_in(standby, mirror.id, wire::kIpv4Unicast).routes, v4);
  EXPECT_EQ(rib::digest_adj_in(standby, mirror.id, wire::kIpv6Unicast).routes, v6);
}

INSTANTIATE_TEST_SUITE_P(Peers, RibChunkerRoundTrip, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == 0 ? "Ebgp" : i.param == 1 ? "Ibgp" : "TwoOctetAs");
                         });

// A bulk sync while the primary keeps the peer's routes stale until its End-of-RIB
// (graceful restart): the chunks say which routes are stale, the standby marks the same
// ones, and the End-of-RIB sweeps the same routes on both (bench/chaos, bug 6: the
// standby had taken them as fresh and kept them for good).
TEST(RibChunker, StaleRoutesStayStaleOnTheStandby) {
  const PeerInfo src = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  Rib primary(config());
  primary.peer_up(src);
  announce_spread(primary, src, v4_prefixes(0, 3000), false);
  announce_spread(primary, src, v6_prefixes(0, 200), true);
  primary.peer_down_graceful(src.id);  // the peer restarts: everything kept, stale
  primary.peer_up(src);
  // Re-announced since: fresh again (another path for some).
  announce(primary, src, v4_prefixes(0, 1000), attribute_sets(src, false)[0]);
  announce(primary, src, v4_prefixes(1000, 500), attribute_sets(src, false)[2]);
  announce(primary, src, v6_prefixes(0, 50), attribute_sets(src, true)[1]);
  ASSERT_EQ(primary.stale_count(src.id, wire::kIpv4Unicast), 1500u);
  ASSERT_EQ(primary.stale_count(src.id, wire::kIpv6Unicast), 150u);

  Chunks chunks = run_chunker(primary, src.id, src.codec, kMaxRoutes);
  PeerInfo mirror = src;
  mirror.id = 9;
  Rib standby(config());
  standby.peer_up(mirror);
  ingest_adj_in(standby, mirror.id, chunks);
  size_t marked = 0;
  for (const auto& c : chunks.all) {
    if (c.stale_nlri().empty()) continue;
    EXPECT_EQ(c.table(), repl::TABLE_ADJ_RIB_IN) << "only received routes are stale";
    std::vector<Prefix> stale;
    const auto* data = reinterpret_cast<const uint8_t*>(c.stale_nlri().data());
    ASSERT_TRUE(wire::decode_prefixes(std::span<const uint8_t>(data, c.stale_nlri().size()),
                                      static_cast<wire::Afi>(c.afi()), false, stale));
    marked += standby.mark_stale(mirror.id, stale);
  }
  EXPECT_EQ(marked, 1650u);
  EXPECT_EQ(standby.stale_count(mirror.id, wire::kIpv4Unicast), 1500u);
  EXPECT_EQ(standby.stale_count(mirror.id, wire::kIpv6Unicast), 150u);
  EXPECT_EQ(standby.mark_stale(mirror.id, v4_prefixes(0, 1)), 1u) << "marking again still finds the path";
  EXPECT_EQ(standby.stale_count(mirror.id, wire::kIpv4Unicast), 1501u) << "a fresh path marked";
  announce(standby, mirror, v4_prefixes(0, 1), attribute_sets(src, false)[0]);  // fresh again

  // The peer's End-of-RIB: both sweep what is still stale, and agree.
  EXPECT_EQ(primary.sweep_stale(src.id), 1650u);
  EXPECT_EQ(standby.sweep_stale(mirror.id), 1650u);
  for (auto f : {wire::kIpv4Unicast, wire::kIpv6Unicast})
    EXPECT_EQ(rib::digest_adj_in(primary, src.id, f), rib::digest_adj_in(standby, mirror.id, f));
  EXPECT_EQ(standby.adj_in_count(mirror.id, wire::kIpv4Unicast, false), 1500u);
  EXPECT_EQ(standby.adj_in_count(mirror.id, wire::kIpv6Unicast, false), 50u);
}

TEST(RibChunker, EmptyTablesGiveNoChunk) {
  Rib rib(config());
  auto src = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  rib.peer_up(src);
  RibChunker ch(kConnId, src.id, {wire::kIpv4Unicast, wire::kIpv6Unicast}, src.codec);
  EXPECT_FALSE(ch.next(rib, kMaxRoutes).has_value());
  EXPECT_EQ(ch.adj_in_routes(), 0u);
  EXPECT_EQ(ch.adj_out_routes(), 0u);
}

TEST(RibChunker, OneRoutePerChunk) {
  Rib rib(config());
  auto src = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  rib.peer_up(src);
  announce_spread(rib, src, v4_prefixes(0, 7), false);
  announce_spread(rib, src, v6_prefixes(0, 3), true);
  Chunks chunks = run_chunker(rib, src.id, src.codec, 1);
  check_chunk_fields(chunks, rib, src.id, 1);
  EXPECT_EQ(chunks.all.size(), 10u);
}

TEST(RibChunker, OnlyTheRequestedFamilies) {
  Rib rib(config());
  auto src = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  rib.peer_up(src);
  announce_spread(rib, src, v4_prefixes(0, 100), false);
  announce_spread(rib, src, v6_prefixes(0, 100), true);
  RibChunker ch(kConnId, src.id, {wire::kIpv6Unicast}, src.codec);
  size_t routes = 0;
  while (auto c = ch.next(rib, kMaxRoutes)) {
    EXPECT_EQ(c->afi(), 2u);
    routes += c->routes();
  }
  EXPECT_EQ(routes, 100u);
  EXPECT_EQ(ch.adj_in_routes(), 100u);
}

// Adj-RIB-Out: a second neighbour's routes are exported to src; the Adj-RIB-Out chunks
// describe what src was sent (compared as AdvertisedTables of the two streams).
TEST(RibChunker, AdjRibOutChunksMatchWhatThePeerWasSent) {
  Rib rib(config());
  auto src = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  auto other = ebgp(2, 65002, "10.9.0.2", 0x02020202);
  rib.peer_up(src);
  rib.peer_up(other);
  announce_spread(rib, src, v4_prefixes(0, 1500), false);
  announce_spread(rib, src, v6_prefixes(0, 100), true);
  announce_spread(rib, other, v4_prefixes(0, 2000, 100), false);     // 110.x.y.0/24
  announce_spread(rib, other, v6_prefixes(0, 150, 0x2a00), true);    // 2a00:db8:x::/48

  // What src is sent (the Adj-RIB-Out is filled as the output is taken).
  AdvertisedTable sent(src.codec);
  std::string why;
  for (int guard = 0; guard < 100000; ++guard) {
    std::vector<uint8_t> bytes;
    if (rib.take_output(src.id, 1 << 16, bytes) == 0) break;
    ASSERT_TRUE(sent.feed(bytes, why)) << why;
  }
  ASSERT_FALSE(rib.has_output(src.id));
  ASSERT_EQ(rib.adj_out_count(src.id, wire::kIpv4Unicast), 2000u);
  ASSERT_EQ(rib.adj_out_count(src.id, wire::kIpv6Unicast), 150u);
  ASSERT_EQ(sent.size(), 2150u);

  Chunks chunks = run_chunker(rib, src.id, src.codec, kMaxRoutes);
  check_chunk_fields(chunks, rib, src.id, kMaxRoutes);
  EXPECT_EQ(chunks.adj_in_routes, 1600u);
  EXPECT_EQ(chunks.adj_out_routes, 2150u);

  AdvertisedTable from_chunks(src.codec);
  for (const auto& c : chunks.all) {
    if (c.table() != repl::TABLE_ADJ_RIB_OUT) continue;
    const auto* data = reinterpret_cast<const uint8_t*>(c.updates().data());
    ASSERT_TRUE(from_chunks.feed(std::span<const uint8_t>(data, c.updates().size()), why)) << why;
  }
  std::vector<std::string> ex;
  EXPECT_EQ(AdvertisedTable::diff(sent, from_chunks, ex, 5), 0u) << (ex.empty() ? "" : ex[0]);
  EXPECT_EQ(from_chunks.size(), 2150u);

  // The other neighbour's Adj-RIB-In is not in src's chunks.
  Chunks other_chunks = run_chunker(rib, other.id, other.codec, kMaxRoutes);
  EXPECT_EQ(other_chunks.adj_in_routes, 2150u);
}

}  // namespace
}  // namespace rib_test
