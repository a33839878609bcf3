// Table digests: equal for equal tables whatever the order of arrival or the PeerIds,
// different when any route differs, back to the old value after undoing a change.
#include "bgpd/rib/digest.hpp"
#include "rib_test_util.hpp"

namespace rib_test {
namespace {

using rib::TableDigest;

// One node: the same three neighbours, with PeerIds chosen by the caller (they differ
// between nodes in real life).
struct Node {
  Rib rib{config()};
  PeerInfo a, b, c;
  Node(PeerId ia, PeerId ib, PeerId ic)
      : a(ebgp(ia, 65001, "10.9.0.1", 0x01010101)),
        b(ebgp(ib, 65002, "10.9.0.2", 0x02020202)),
        c(ibgp(ic, "10.9.0.3", 0x03030303)) {
    for (const PeerInfo* p : {&a, &b, &c}) rib.peer_up(*p);
  }
  std::optional<wire::IpAddr> address(PeerId id) const {
    for (const PeerInfo* p : {&a, &b, &c})
      if (p->id == id) return p->address;
    return std::nullopt;
  }
  TableDigest loc(wire::Family f = wire::kIpv4Unicast) const {
    return rib::digest_loc_rib(rib, f, [this](PeerId id) { return address(id); });
  }
  TableDigest in_a(wire::Family f = wire::kIpv4Unicast) const { return rib::digest_adj_in(rib, a.id, f); }
  TableDigest out_c(wire::Family f = wire::kIpv4Unicast) { drain(rib, c); return rib::digest_adj_out(rib, c.id, f); }
};

PathAttributes with_med(std::vector<uint32_t> path, uint32_t med) {
  PathAttributes x = attrs(std::move(path));
  x.med = med;
  return x;
}

// The same routes, in two orders.
void feed_forward(Node& n) {
  announce(n.rib, n.a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  announce(n.rib, n.b, {P("10.1.0.0/16")}, attrs({65002, 65010}));
  announce(n.rib, n.a, {P("10.3.0.0/16")}, with_med({65001, 65020}, 5));
  announce(n.rib, n.b, {P("10.4.0.0/16")}, attrs({65002}));
  n.rib.originate(P("10.5.0.0/16"), attrs({}, nullptr));
}
void feed_backward(Node& n) {
  n.rib.originate(P("10.5.0.0/16"), attrs({}, nullptr));
  announce(n.rib, n.b, {P("10.4.0.0/16")}, attrs({65002}));
  announce(n.rib, n.a, {P("10.3.0.0/16")}, with_med({65001, 65020}, 5));
  announce(n.rib, n.b, {P("10.1.0.0/16")}, attrs({65002, 65010}));
  announce(n.rib, n.a, {P("10.2.0.0/16")}, attrs({65001}));
  announce(n.rib, n.a, {P("10.1.0.0/16")}, attrs({65001}));
}

TEST(Digest, SameRoutesInAnyOrderAndPeerIdsGiveEqualDigests) {
  Node x(1, 2, 3), y(7, 5, 9);
  feed_forward(x);
  feed_backward(y);
  EXPECT_EQ(x.loc(), y.loc());
  EXPECT_EQ(x.loc().routes, 5u);
  EXPECT_EQ(x.in_a(), y.in_a());
  EXPECT_EQ(x.in_a().routes, 3u);
  TableDigest ox = x.out_c(), oy = y.out_c();
  EXPECT_EQ(ox, oy);
  EXPECT_EQ(ox.routes, 5u);
  EXPECT_EQ(rib::to_hex(x.loc()), rib::to_hex(y.loc()));
  EXPECT_EQ(rib::to_hex(x.loc()).size(), 16u);
}

TEST(Digest, OneDifferentAttributeChangesTheDigests) {
  Node x(1, 2, 3), y(1, 2, 3);
  feed_forward(x);
  feed_forward(y);
  ASSERT_EQ(x.in_a(), y.in_a());
  announce(y.rib, y.a, {P("10.3.0.0/16")}, with_med({65001, 65020}, 6));
  EXPECT_NE(x.in_a(), y.in_a());
  EXPECT_EQ(x.in_a().routes, y.in_a().routes);
  EXPECT_NE(x.loc(), y.loc());
  EXPECT_NE(x.out_c(), y.out_c());

  // A community instead of the MED.
  PathAttributes with_community = with_med({65001, 65020}, 5);
  with_community.communities = {0xFDE90001};
  announce(y.rib, y.a, {P("10.3.0.0/16")}, with_community);
  EXPECT_NE(x.in_a(), y.in_a());
  EXPECT_NE(x.loc(), y.loc());
  // Undone: equal again.
  announce(y.rib, y.a, {P("10.3.0.0/16")}, with_med({65001, 65020}, 5));
  EXPECT_EQ(x.in_a(), y.in_a());
  EXPECT_EQ(x.loc(), y.loc());
  EXPECT_EQ(x.out_c(), y.out_c());
}

TEST(Digest, LocRibCoversTheBestPathsPeer) {
  Node x(1, 2, 3);
  announce(x.rib, x.a, {P("10.1.0.0/16")}, attrs({65001, 65009}));
  TableDigest d = x.loc();
  EXPECT_EQ(d.routes, 1u);
  // The same route from a neighbour at another address is another Loc-RIB.
  auto elsewhere = rib::digest_loc_rib(x.rib, wire::kIpv4Unicast,
                                       [](PeerId) { return std::optional(A("10.9.0.99")); });
  EXPECT_NE(elsewhere, d);
  EXPECT_EQ(elsewhere.routes, 1u);
  // An unknown peer is neither a known address nor a local route.
  auto unknown = rib::digest_loc_rib(x.rib, wire::kIpv4Unicast, [](PeerId) { return std::nullopt; });
  EXPECT_NE(unknown, d);
  Node z(1, 2, 3);
  z.rib.originate(P("10.1.0.0/16"), attrs({65001, 65009}));
  EXPECT_EQ(z.loc().routes, 1u);
  EXPECT_NE(z.loc(), unknown);
  EXPECT_NE(z.loc(), d);
  // The Adj-RIB-In digest does not depend on who the peer is.
  Node y(4, 5, 6);
  announce(y.rib, y.a, {P("10.1.0.0/16")}, attrs({65001, 65009}));
  EXPECT_EQ(y.in_a(), x.in_a());
}

TEST(Digest, WithdrawGoesBackToTheEarlierDigest) {
  Node x(1, 2, 3);
  feed_forward(x);
  TableDigest loc = x.loc(), in = x.in_a(), out = x.out_c();
  announce(x.rib, x.a, {P("10.8.0.0/16")}, attrs({65001}));
  EXPECT_NE(x.loc(), loc);
  EXPECT_NE(x.in_a(), in);
  EXPECT_NE(x.out_c(), out);
  EXPECT_EQ(x.in_a().routes, in.routes + 1);
  withdraw(x.rib, x.a, {P("10.8.0.0/16")});
  EXPECT_EQ(x.loc(), loc);
  EXPECT_EQ(x.in_a(), in);
  EXPECT_EQ(x.out_c(), out);
}

TEST(Digest, EmptyTablesAndFamilies) {
  Node x(1, 2, 3);
  EXPECT_EQ(x.loc(), TableDigest{});
  EXPECT_EQ(x.in_a(), TableDigest{});
  EXPECT_EQ(x.out_c(), TableDigest{});
  EXPECT_EQ(rib::to_hex(x.loc()), "0000000000000000");
  feed_forward(x);
  // IPv6 tables stay empty; an unknown peer has empty Adj-RIBs.
  EXPECT_EQ(x.loc(wire::kIpv6Unicast).routes, 0u);
  EXPECT_EQ(rib::digest_adj_in(x.rib, 42, wire::kIpv4Unicast), TableDigest{});
  EXPECT_EQ(rib::digest_adj_out(x.rib, 42, wire::kIpv4Unicast), TableDigest{});
  announce(x.rib, x.a, {P("2001:db8:1::/48")}, attrs({65001}, "2001:db8::1"));
  EXPECT_EQ(x.loc(wire::kIpv6Unicast).routes, 1u);
  EXPECT_EQ(x.in_a(wire::kIpv6Unicast).routes, 1u);
}

TEST(Digest, RouteHashIsFixed) {
  // Part of the digest's definition: the two nodes may run different builds, so the
  // value must not depend on the process. A change here changes the wire meaning.
  uint64_t h = rib::route_hash(P("10.1.0.0/16"), attrs({65001}));
  EXPECT_EQ(h, 0x9bdbeb21845c78a5ULL);
  EXPECT_NE(h, rib::route_hash(P("10.1.0.0/17"), attrs({65001})));
  PathAttributes no_origin = attrs({65001});
  no_origin.has_origin = false;
  no_origin.origin = wire::Origin::Incomplete;
  PathAttributes incomplete = attrs({65001});
  incomplete.origin = wire::Origin::Incomplete;
  EXPECT_NE(rib::route_hash(P("10.1.0.0/16"), no_origin), rib::route_hash(P("10.1.0.0/16"), incomplete));
}

// The API computes digests a few routes per visit to the event loop: the sum over the
// slices is the digest of the whole table, for every table, whatever the slice size.
TEST(Digest, SlicesAddUpToTheWholeTable) {
  Node x(1, 2, 3);
  feed_forward(x);
  drain(x.rib, x.c);
  auto address = [&x](PeerId id) { return x.address(id); };
  auto sliced = [&](rib::SlicedDigest d, size_t per_step) {
    size_t steps = 0;
    while (!d.step(x.rib, per_step, address)) ++steps;
    EXPECT_TRUE(d.done());
    return std::make_pair(d.digest(), steps);
  };
  for (size_t per_step : {1u, 2u, 1000u}) {
    auto [loc, loc_steps] = sliced(rib::SlicedDigest::loc_rib(wire::kIpv4Unicast), per_step);
    EXPECT_EQ(loc, x.loc()) << per_step;
    EXPECT_EQ(sliced(rib::SlicedDigest::adj_in(x.a.id, wire::kIpv4Unicast), per_step).first, x.in_a()) << per_step;
    EXPECT_EQ(sliced(rib::SlicedDigest::adj_out(x.c.id, wire::kIpv4Unicast), per_step).first, x.out_c())
        << per_step;
    if (per_step == 1) {
      EXPECT_GE(loc_steps, x.loc().routes - 1) << "one route per step";
    }
  }
  EXPECT_EQ(x.loc().routes, 5u);
  // An unknown peer: done at once, nothing counted.
  auto none = rib::SlicedDigest::adj_in(42, wire::kIpv4Unicast);
  EXPECT_TRUE(none.step(x.rib, 1));
  EXPECT_EQ(none.digest(), TableDigest{});
}

// A table that changes between slices: the listing goes on from where it was (no route
// counted twice, none left out of those that stayed), and the digest of the quiet table
// afterwards is the exact one.
TEST(Digest, TableChangingBetweenSlicesStillEnds) {
  Node x(1, 2, 3);
  feed_forward(x);
  auto d = rib::SlicedDigest::loc_rib(wire::kIpv4Unicast);
  EXPECT_FALSE(d.step(x.rib, 1));
  announce(x.rib, x.a, {P("10.6.0.0/16"), P("10.7.0.0/16")}, attrs({65001}));
  withdraw(x.rib, x.b, {P("10.4.0.0/16")});
  while (!d.step(x.rib, 1)) {
  }
  EXPECT_GE(d.digest().routes, 4u);
  EXPECT_LE(d.digest().routes, 7u);
  EXPECT_EQ(x.loc().routes, 6u);
}

}  // namespace
}  // namespace rib_test
