// Rib::list_routes: resumable batch-wise listing of the Loc-RIB and the Adj-RIBs, with
// prefix and peer filters, and a cursor that stays correct when the table changes
// (including resizes) between batches.
#include <map>
#include <set>
#include <string>

#include "rib_test_util.hpp"

namespace rib_test {
namespace {

Prefix v4_prefix(uint32_t i) {
  // 10.0.0.0/24, 10.0.1.0/24, ...: distinct /24s.
  Prefix p;
  p.addr = wire::IpAddr::v4(0x0A000000u + (i << 8));
  p.len = 24;
  return p;
}

std::vector<rib::ListedRoute> list_all(const Rib& rib, const rib::ListQuery& q, size_t batch) {
  std::vector<rib::ListedRoute> out;
  rib::ListCursor c;
  while (!c.done) rib.list_routes(q, c, batch, out);
  return out;
}

class Listing : public ::testing::Test {
 protected:
  Rib rib{config()};
  PeerInfo a = ebgp(1, 65001, "10.9.0.1", 0x01010101);
  PeerInfo b = ebgp(2, 65002, "10.9.0.2", 0x02020202);
  void SetUp() override {
    rib.peer_up(a);
    rib.peer_up(b);
  }
};

TEST_F(Listing, LocRibInBatchesListsEveryPrefixOnce) {
  for (uint32_t i = 0; i < 1000; ++i) rib.originate(v4_prefix(i), attrs({}, "192.0.2.1"));
  rib::ListQuery q;
  rib::ListCursor c;
  std::set<Prefix> seen;
  size_t batches = 0;
  while (!c.done) {
    std::vector<rib::ListedRoute> out;
    size_t n = rib.list_routes(q, c, 64, out);
    EXPECT_LE(n, 64u);
    EXPECT_EQ(n, out.size());
    for (auto& r : out) {
      EXPECT_TRUE(seen.insert(r.prefix).second) << r.prefix.to_string();
      EXPECT_EQ(r.peer, rib::kLocalPeer);
      EXPECT_TRUE(r.best);
      ASSERT_NE(r.attrs, nullptr);
    }
    ++batches;
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_GE(batches, 1000u / 64);
}

TEST_F(Listing, AllPathsBestOnlyAndPeerFilter) {
  announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  announce(rib, b, {P("10.1.0.0/16")}, attrs({65002, 65009}));
  rib::ListQuery q;
  auto all = list_all(rib, q, 1);  // a batch keeps a prefix's paths together
  EXPECT_EQ(all.size(), 3u);
  q.best_only = true;
  auto best = list_all(rib, q, 100);
  ASSERT_EQ(best.size(), 2u);
  for (auto& r : best) {
    EXPECT_TRUE(r.best);
    EXPECT_EQ(r.peer, 1u);  // shorter AS path
  }
  q.best_only = false;
  q.peer = 2;
  auto from_b = list_all(rib, q, 100);
  ASSERT_EQ(from_b.size(), 1u);
  EXPECT_EQ(from_b[0].prefix, P("10.1.0.0/16"));
  EXPECT_FALSE(from_b[0].best);
  q.peer = 77;  // unknown peer: nothing
  EXPECT_TRUE(list_all(rib, q, 100).empty());
}

TEST_F(Listing, AdjRibInIncludesIneligiblePaths) {
  announce(rib, a, {P("10.1.0.0/16")}, attrs({65001}));
  announce(rib, a, {P("10.3.0.0/16")}, attrs({65001, 65000}));  // AS loop: stored, not eligible
  rib::ListQuery q;
  q.table = rib::ListTable::AdjRibIn;
  q.peer = 1;
  auto in = list_all(rib, q, 10);
  std::map<Prefix, bool> eligible;
  for (auto& r : in) eligible[r.prefix] = r.eligible;
  EXPECT_EQ(rib.adj_in_count(1, wire::kIpv4Unicast, false), in.size());
  EXPECT_TRUE(eligible.count(P("10.1.0.0/16")));
  EXPECT_TRUE(eligible[P("10.1.0.0/16")]);
  // The Loc-RIB never shows an ineligible path.
  rib::ListQuery loc;
  for (auto& r : list_all(rib, loc, 10)) EXPECT_TRUE(r.eligible);
  q.peer.reset();  // Adj-RIB-In needs a peer
  EXPECT_TRUE(list_all(rib, q, 10).empty());
}

TEST_F(Listing, AdjRibOutOfAPeer) {
  announce(rib, a, {P("10.1.0.0/16"), P("10.2.0.0/16")}, attrs({65001}));
  // Drain b's output so that its Adj-RIB-Out is populated.
  std::vector<uint8_t> bytes;
  while (rib.take_output(2, 1 << 20, bytes) > 0) {
  }
  rib::ListQuery q;
  q.table = rib::ListTable::AdjRibOut;
  q.peer = 2;
  auto out = list_all(rib, q, 1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(rib.adj_out_count(2, wire::kIpv4Unicast), 2u);
  for (auto& r : out) {
    ASSERT_NE(r.attrs, nullptr);
    EXPECT_EQ(r.attrs->as_path.to_string(), "65000 65001");
  }
  q.match = rib::PrefixMatch::Exact;
  q.prefix = P("10.2.0.0/16");
  out = list_all(rib, q, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].prefix, P("10.2.0.0/16"));
}

TEST_F(Listing, PrefixFilters) {
  for (const char* p : {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.2.0.0/16", "11.0.0.0/8"})
    rib.originate(P(p), attrs({}));
  auto names = [&](rib::PrefixMatch m, const char* p) {
    rib::ListQuery q;
    q.match = m;
    q.prefix = P(p);
    std::set<std::string> s;
    for (auto& r : list_all(rib, q, 2)) s.insert(r.prefix.to_string());
    return s;
  };
  EXPECT_EQ(names(rib::PrefixMatch::Exact, "10.1.2.0/24"), (std::set<std::string>{"10.1.2.0/24"}));
  EXPECT_TRUE(names(rib::PrefixMatch::Exact, "10.1.3.0/24").empty());
  EXPECT_EQ(names(rib::PrefixMatch::Longer, "10.1.0.0/16"),
            (std::set<std::string>{"10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"}));
  EXPECT_EQ(names(rib::PrefixMatch::Shorter, "10.1.2.0/24"),
            (std::set<std::string>{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"}));
  EXPECT_EQ(names(rib::PrefixMatch::Shorter, "10.1.2.200/32"),
            (std::set<std::string>{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"}));
}

TEST_F(Listing, Ipv6Family) {
  rib.originate(P("2001:db8:1::/48"), attrs({}, "2001:db8::1"));
  rib.originate(P("10.1.0.0/16"), attrs({}));
  rib::ListQuery q;
  q.family = wire::kIpv6Unicast;
  auto out = list_all(rib, q, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].prefix, P("2001:db8:1::/48"));
  EXPECT_EQ(rib.path_count(wire::kIpv6Unicast), 1u);
  EXPECT_EQ(rib.path_count(wire::kIpv4Unicast), 1u);
}

// Routes present during the whole listing are listed exactly once, even when other
// routes are added (growing the table and its index many times over) and removed
// (leaving holes that new routes reuse) between batches.
TEST_F(Listing, ModificationsBetweenBatches) {
  constexpr uint32_t kStable = 5000;
  for (uint32_t i = 0; i < kStable; ++i) rib.originate(v4_prefix(i), attrs({}));
  // Churning routes: some removed during the listing, some added.
  for (uint32_t i = kStable; i < kStable + 2000; ++i) rib.originate(v4_prefix(i), attrs({}));
  rib::ListQuery q;
  rib::ListCursor c;
  std::map<Prefix, int> count;
  uint32_t next_new = 100000;
  uint32_t next_del = kStable;
  size_t index_before = 0;  // table size at the end
  while (!c.done) {
    std::vector<rib::ListedRoute> out;
    rib.list_routes(q, c, 97, out);
    for (auto& r : out) ++count[r.prefix];
    // Between batches: remove 10 churning routes (holes that new routes reuse), add 90
    // new ones (fewer than a batch, so the listing ends; the table still grows from
    // 7000 to > 50000 entries: several resizes of the index and the entry array).
    for (int k = 0; k < 10 && next_del < kStable + 2000; ++k) rib.withdraw_local(v4_prefix(next_del++));
    for (int k = 0; k < 90; ++k) rib.originate(v4_prefix(next_new++), attrs({}));
    index_before = rib.prefix_count(wire::kIpv4Unicast);
    ASSERT_LT(next_new, 1000000u) << "the listing does not end";
  }
  EXPECT_GT(index_before, 50000u);
  for (uint32_t i = 0; i < kStable; ++i) {
    auto it = count.find(v4_prefix(i));
    ASSERT_NE(it, count.end()) << "stable route " << v4_prefix(i).to_string() << " not listed";
    EXPECT_EQ(it->second, 1) << v4_prefix(i).to_string();
  }
  for (auto& [p, n] : count) EXPECT_EQ(n, 1) << p.to_string() << " listed more than once";
}

// A filter that matches almost nothing does not make one call scan the whole table.
TEST_F(Listing, ScanIsBoundedPerCall) {
  for (uint32_t i = 0; i < 200000; ++i) rib.originate(v4_prefix(i), attrs({}));
  rib::ListQuery q;
  q.match = rib::PrefixMatch::Longer;
  q.prefix = P("10.255.255.0/24");  // the last prefix only ... (i = 0xFFFF)
  rib::ListCursor c;
  std::vector<rib::ListedRoute> out;
  size_t calls = 0;
  while (!c.done) {
    rib.list_routes(q, c, 1000, out);
    ++calls;
  }
  EXPECT_GT(calls, 1u);
  EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace rib_test
