// Rib::resend_prefixes: after an unplanned takeover the peer may hold, for some prefixes,
// something other than what the new primary's Adj-RIB-Out says. Each such prefix is sent
// again: the current route, or a withdrawal where the Loc-RIB has none.
#include <algorithm>

#include "tests/unit/rib/rib_test_util.hpp"

namespace rib_test {
namespace {

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

struct Resend : ::testing::Test {
  Rib rib{config()};
  PeerInfo src = ebgp(1, 65001, "10.9.0.1", 1);
  PeerInfo dst = ebgp(2, 65002, "10.9.0.2", 2);
  void SetUp() override {
    rib.peer_up(src);
    rib.peer_up(dst);
  }
};

TEST_F(Resend, AnnouncesWhatTheLocRibHasAndWithdrawsWhatItLacks) {
  announce(rib, src, {P("10.1.0.0/24"), P("10.2.0.0/24")}, attrs({65001}));
  announce(rib, src, {P("2001:db8:1::/48")}, attrs({65001}, "2001:db8::1"));
  drain(rib, dst);
  ASSERT_FALSE(rib.has_output(2));

  // 10.1/24: sent already, the peer may hold another path; 10.7/24: never in our
  // Loc-RIB, the dead primary may have announced it; 2001:db8:9::/48 likewise, IPv6.
  const std::vector<Prefix> unsure = {P("10.1.0.0/24"), P("10.7.0.0/24"), P("2001:db8:1::/48"),
                                      P("2001:db8:9::/48")};
  rib.resend_prefixes(2, unsure);
  ASSERT_TRUE(rib.has_output(2));
  auto got = drain(rib, dst);
  auto table = got.table();
  ASSERT_EQ(got.announced.size(), 2u);
  EXPECT_TRUE(table.count(P("10.1.0.0/24")));
  EXPECT_TRUE(table.count(P("2001:db8:1::/48")));
  EXPECT_EQ(got.withdrawn.size(), 2u);
  EXPECT_TRUE(contains(got.withdrawn, P("10.7.0.0/24")));
  EXPECT_TRUE(contains(got.withdrawn, P("2001:db8:9::/48")));
  EXPECT_FALSE(table.count(P("10.2.0.0/24")));  // not in question: not sent again

  // The Adj-RIB-Out holds the re-sent routes again: a later withdrawal goes out once,
  // and the withdrawn unknowns stay forgotten.
  withdraw(rib, src, {P("10.1.0.0/24")});
  got = drain(rib, dst);
  EXPECT_EQ(got.withdrawn, std::vector<Prefix>{P("10.1.0.0/24")});
  EXPECT_TRUE(got.announced.empty());
  rib.request_refresh(2, wire::kIpv4Unicast, false);
  got = drain(rib, dst);
  ASSERT_EQ(got.announced.size(), 1u);
  EXPECT_EQ(got.announced[0].first, P("10.2.0.0/24"));
}

TEST_F(Resend, ARouteWithdrawnBeforeItWasSentAgainIsWithdrawn) {
  announce(rib, src, {P("10.1.0.0/24")}, attrs({65001}));
  drain(rib, dst);
  rib.resend_prefixes(2, std::vector<Prefix>{P("10.1.0.0/24")});
  withdraw(rib, src, {P("10.1.0.0/24")});  // before the peer's output was taken
  auto got = drain(rib, dst);
  EXPECT_TRUE(got.announced.empty());
  EXPECT_EQ(got.withdrawn, std::vector<Prefix>{P("10.1.0.0/24")});
}

TEST_F(Resend, DuringARouteRefreshEveryPrefixStillGetsItsAnswer) {
  std::vector<Prefix> ps;
  for (int i = 0; i < 3000; ++i) ps.push_back(Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24));
  announce(rib, src, ps, attrs({65001}));
  drain(rib, dst);
  rib.request_refresh(2, wire::kIpv4Unicast, false);
  std::vector<uint8_t> first;
  ASSERT_GT(rib.take_output(2, 4096, first), 0u);  // the refresh has begun
  rib.resend_prefixes(2, std::vector<Prefix>{ps[2999], P("10.250.0.0/24")});
  Received rest = drain(rib, dst);
  EXPECT_TRUE(rest.table().count(ps[2999]));
  EXPECT_TRUE(contains(rest.withdrawn, P("10.250.0.0/24")));
}

TEST_F(Resend, WhileOutputIsHeldTheReleaseStillWithdraws) {
  rib.hold_output(wire::kIpv4Unicast);
  PeerInfo late = ebgp(3, 65003, "10.9.0.3", 3);
  rib.peer_up(late);
  announce(rib, src, {P("10.1.0.0/24")}, attrs({65001}));
  rib.resend_prefixes(3, std::vector<Prefix>{P("10.1.0.0/24"), P("10.7.0.0/24")});
  rib.release_output(wire::kIpv4Unicast);
  auto got = drain(rib, late);
  EXPECT_TRUE(got.table().count(P("10.1.0.0/24")));
  EXPECT_EQ(got.withdrawn, std::vector<Prefix>{P("10.7.0.0/24")});
  EXPECT_TRUE(contains(got.eor, wire::kIpv4Unicast));
}

TEST_F(Resend, APeerThatIsNotUpIsIgnored) {
  rib.resend_prefixes(9, std::vector<Prefix>{P("10.1.0.0/24")});
  rib.peer_down(2);
  rib.resend_prefixes(2, std::vector<Prefix>{P("10.1.0.0/24")});
  EXPECT_FALSE(rib.has_output(2));
}

}  // namespace
}  // namespace rib_test
