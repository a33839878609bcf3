// One-line summaries of BGP messages: every type, End-of-RIB, prefixes cut at the
// limit, malformed input described (never thrown).
#include <gtest/gtest.h>

#include "bgpd/capture/summary.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::capture {
namespace {

wire::Prefix pfx(const char* s) { return *wire::Prefix::parse(s); }

TEST(CaptureSummary, Open) {
  wire::Open o;
  o.hold_time = 90;
  o.bgp_id = 0xC0000203;
  o.caps.four_octet_as = 4200000200;
  o.caps.multiprotocol = {wire::kIpv4Unicast, wire::kIpv6Unicast};
  o.caps.route_refresh = true;
  wire::GracefulRestartCap gr;
  gr.restart_time = 120;
  o.caps.graceful_restart = gr;
  EXPECT_EQ(summarize(wire::encode_open(o), {}),
            "OPEN as 4200000200 hold 90 id 192.0.2.3 caps mp(ipv4-unicast,ipv6-unicast) rr 4as gr(120s)");
}

TEST(CaptureSummary, UpdateWithAttributesAndManyPrefixes) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.origin = wire::Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments.push_back({wire::AsPathSegment::Sequence, {65002, 65003}});
  a.next_hop = wire::IpAddr::parse("192.0.2.2");
  a.med = 5;
  a.communities = {0xFDE80001, wire::community::kNoExport};
  a.large_communities = {{1, 2, 3}};
  std::vector<wire::Prefix> ps = {pfx("10.1.0.0/24"), pfx("10.1.1.0/24"), pfx("10.1.2.0/24"), pfx("10.1.3.0/24")};
  auto msgs = wire::encode_announcements(a, wire::kIpv4Unicast, ps, wire::CodecOptions{});
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(summarize(msgs[0], {}),
            "UPDATE announce 4 [10.1.0.0/24 10.1.1.0/24 10.1.2.0/24 ...] withdraw 0 nh 192.0.2.2 path 65002 65003 "
            "origin igp med 5 comm 65000:1,no-export lcomm 1:2:3");
  SummaryOptions one;
  one.max_prefixes = 1;
  EXPECT_NE(summarize(msgs[0], one).find("announce 4 [10.1.0.0/24 ...]"), std::string::npos);
}

TEST(CaptureSummary, Ipv6AndWithdrawalsAndEndOfRib) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.has_as_path = true;
  a.next_hop = wire::IpAddr::parse("2001:db8::2");
  std::vector<wire::Prefix> ps = {pfx("2001:db8:1::/48")};
  auto msgs = wire::encode_announcements(a, wire::kIpv6Unicast, ps, wire::CodecOptions{});
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(summarize(msgs[0], {}),
            "UPDATE announce 1 [2001:db8:1::/48] withdraw 0 nh 2001:db8::2 path - origin incomplete");
  const std::vector<wire::Prefix> gone = {pfx("10.0.0.0/8")};
  auto wd = wire::encode_withdrawals(wire::kIpv4Unicast, gone, wire::CodecOptions{});
  ASSERT_EQ(wd.size(), 1u);
  EXPECT_EQ(summarize(wd[0], {}), "UPDATE announce 0 withdraw 1 [10.0.0.0/8]");
  EXPECT_EQ(summarize(wire::encode_end_of_rib(wire::kIpv6Unicast), {}), "UPDATE End-of-RIB ipv6-unicast");
  EXPECT_EQ(summarize(wire::encode_end_of_rib(wire::kIpv4Unicast), {}), "UPDATE End-of-RIB ipv4-unicast");
}

TEST(CaptureSummary, NotificationKeepaliveRouteRefresh) {
  EXPECT_EQ(summarize(wire::encode_keepalive(), {}), "KEEPALIVE");
  auto n = wire::make_shutdown_notification(4, "maintenance");
  EXPECT_EQ(summarize(wire::encode_notification(n), {}).rfind("NOTIFICATION Cease/", 0), 0u);
  wire::RouteRefresh rr;
  rr.family = wire::kIpv6Unicast;
  EXPECT_EQ(summarize(wire::encode_route_refresh(rr), {}), "ROUTE-REFRESH ipv6-unicast");
  rr.subtype = wire::RouteRefresh::BeginOfRefresh;
  EXPECT_EQ(summarize(wire::encode_route_refresh(rr), {}), "ROUTE-REFRESH ipv6-unicast begin");
}

TEST(CaptureSummary, MalformedInputIsDescribed) {
  EXPECT_EQ(summarize(std::vector<uint8_t>(5, 0xFF), {}), "(truncated message, 5 bytes)");
  std::vector<uint8_t> bad(19, 0xFF);
  bad[16] = 0;
  bad[17] = 19;
  bad[18] = 9;  // no such type
  EXPECT_EQ(summarize(bad, {}).rfind("(malformed header", 0), 0u);
  auto ka = wire::encode_keepalive();
  ka.push_back(0);  // longer than its header says
  EXPECT_EQ(summarize(ka, {}), "(length 19 in a 20-byte message)");
  // An UPDATE whose attribute section overruns the message.
  std::vector<uint8_t> u(23, 0xFF);
  u[16] = 0;
  u[17] = 23;
  u[18] = 2;
  u[19] = 0;
  u[20] = 0;     // no withdrawn routes
  u[21] = 0x10;  // 4096 bytes of attributes, none present
  u[22] = 0;
  EXPECT_EQ(summarize(u, {}).rfind("UPDATE (malformed: ", 0), 0u);
  // Random bytes behind a valid header never throw.
  std::vector<uint8_t> r(200);
  for (int t = 1; t <= 5; ++t) {
    for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<uint8_t>(i * 37 + static_cast<size_t>(t));
    std::fill(r.begin(), r.begin() + 16, 0xFF);
    r[16] = 0;
    r[17] = 200;
    r[18] = static_cast<uint8_t>(t);
    EXPECT_FALSE(summarize(r, {}).empty());
  }
}

}  // namespace
}  // namespace tandem::capture
