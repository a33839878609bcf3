// Attribute parsing for `tandemctl rib add`.
#include <gtest/gtest.h>

#include "apps/tandemctl/cli.hpp"
#include "apps/tandemctl/rib.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

tv1::AddRouteRequest add(std::vector<std::string> words) {
  words.insert(words.begin(), {"rib", "add"});
  return std::get<tv1::AddRouteRequest>(parse_invocation(words, nullptr).command);
}

TEST(CtlRibAdd, PrefixOnlyLeavesAttributesUnset) {
  auto r = add({"10.1.0.0/16"});
  EXPECT_EQ(r.prefix(), "10.1.0.0/16");
  const auto& a = r.attributes();
  EXPECT_EQ(a.next_hop(), "");
  EXPECT_EQ(a.origin(), tv1::ORIGIN_IGP);
  EXPECT_FALSE(a.has_med());
  EXPECT_FALSE(a.has_local_pref());
  EXPECT_EQ(a.as_path_size(), 0);
}

TEST(CtlRibAdd, AllAttributes) {
  auto r = add({"2001:db8:1::/48", "nexthop", "2001:db8::1", "origin", "incomplete", "med", "50", "local-pref",
                "200", "community", "65000:100,no-export,4294967295", "large-community",
                "65000:1:2,4200000000:3:4", "as-path", "65001 65002"});
  const auto& a = r.attributes();
  EXPECT_EQ(a.next_hop(), "2001:db8::1");
  EXPECT_EQ(a.origin(), tv1::ORIGIN_INCOMPLETE);
  EXPECT_EQ(a.med(), 50u);
  EXPECT_EQ(a.local_pref(), 200u);
  ASSERT_EQ(a.communities_size(), 3);
  EXPECT_EQ(a.communities(0), (65000u << 16) | 100u);
  EXPECT_EQ(a.communities(1), 0xFFFFFF01u);
  EXPECT_EQ(a.communities(2), 0xFFFFFFFFu);
  ASSERT_EQ(a.large_communities_size(), 2);
  EXPECT_EQ(a.large_communities(1).global_admin(), 4200000000u);
  EXPECT_EQ(a.large_communities(1).local_data1(), 3u);
  EXPECT_EQ(a.large_communities(1).local_data2(), 4u);
  ASSERT_EQ(a.as_path_size(), 1);
  EXPECT_EQ(a.as_path(0).type(), tv1::AsPathSegment::AS_SEQUENCE);
  EXPECT_EQ(std::vector<uint32_t>(a.as_path(0).asns().begin(), a.as_path(0).asns().end()),
            (std::vector<uint32_t>{65001, 65002}));
}

TEST(CtlRibAdd, ZeroMedIsSet) {
  auto a = add({"10.0.0.0/8", "med", "0", "origin", "egp"}).attributes();
  EXPECT_TRUE(a.has_med());
  EXPECT_EQ(a.med(), 0u);
  EXPECT_EQ(a.origin(), tv1::ORIGIN_EGP);
}

TEST(CtlRibAdd, AsPathWithSet) {
  tv1::PathAttributes a;
  parse_as_path("65001 65002 {65003 65004} 65005", "rib", a);
  ASSERT_EQ(a.as_path_size(), 3);
  EXPECT_EQ(a.as_path(0).type(), tv1::AsPathSegment::AS_SEQUENCE);
  EXPECT_EQ(a.as_path(0).asns_size(), 2);
  EXPECT_EQ(a.as_path(1).type(), tv1::AsPathSegment::AS_SET);
  EXPECT_EQ(a.as_path(1).asns(1), 65004u);
  EXPECT_EQ(a.as_path(2).type(), tv1::AsPathSegment::AS_SEQUENCE);
  EXPECT_EQ(a.as_path(2).asns(0), 65005u);
}

TEST(CtlRibAdd, EmptyAsPath) {
  tv1::PathAttributes a;
  parse_as_path("", "rib", a);
  EXPECT_EQ(a.as_path_size(), 0);
}

TEST(CtlRibAdd, AsPathErrors) {
  tv1::PathAttributes a;
  EXPECT_THROW(parse_as_path("{}", "rib", a), UsageError);
  EXPECT_THROW(parse_as_path("1 }", "rib", a), UsageError);
  EXPECT_THROW(parse_as_path("{1 {2}}", "rib", a), UsageError);
  EXPECT_THROW(parse_as_path("4294967296", "rib", a), UsageError);
}

TEST(CtlRibAdd, Communities) {
  EXPECT_EQ(parse_community("0:0", "rib"), 0u);
  EXPECT_EQ(parse_community("65535:65535", "rib"), 0xFFFFFFFFu);
  EXPECT_EQ(parse_community("graceful-shutdown", "rib"), 0xFFFF0000u);
  EXPECT_EQ(parse_community("blackhole", "rib"), 0xFFFF029Au);
  EXPECT_EQ(parse_community("no-advertise", "rib"), 0xFFFFFF02u);
  EXPECT_EQ(parse_community("no-export-subconfed", "rib"), 0xFFFFFF03u);
  EXPECT_EQ(parse_community("no-peer", "rib"), 0xFFFFFF04u);
  EXPECT_EQ(parse_community("4259840100", "rib"), 4259840100u);
  EXPECT_THROW(parse_community("1:65536", "rib"), UsageError);
  EXPECT_THROW(parse_community("1:", "rib"), UsageError);
  EXPECT_THROW(parse_community("", "rib"), UsageError);
  EXPECT_THROW(parse_community("1:2:3", "rib"), UsageError);
  EXPECT_THROW(parse_large_community("1:2:3:4", "rib"), UsageError);
  EXPECT_THROW(parse_large_community("1::3", "rib"), UsageError);
}

}  // namespace
}  // namespace tandemctl
