#include <gtest/gtest.h>

#include <unordered_set>

#include "bgpd/wire/types.hpp"
#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {

TEST(Family, ToStringAndParse) {
  EXPECT_EQ(kIpv4Unicast.to_string(), "ipv4-unicast");
  EXPECT_EQ(kIpv6Unicast.to_string(), "ipv6-unicast");
  EXPECT_EQ(Family::parse("ipv4-unicast"), kIpv4Unicast);
  EXPECT_EQ(Family::parse("ipv6-unicast"), kIpv6Unicast);
  EXPECT_FALSE(Family::parse("l2vpn-evpn").has_value());
  EXPECT_LT(kIpv4Unicast, kIpv6Unicast);
}

TEST(IpAddr, V4) {
  auto a = IpAddr::v4(0xC0000201);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.to_string(), "192.0.2.1");
  EXPECT_EQ(a.v4_host_order(), 0xC0000201u);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(IpAddr::parse("192.0.2.1"), a);
  EXPECT_FALSE(IpAddr::parse("192.0.2.256").has_value());
  EXPECT_FALSE(IpAddr::parse("").has_value());
  EXPECT_TRUE(IpAddr::parse("169.254.1.1")->is_link_local());
  EXPECT_FALSE(a.is_link_local());
  EXPECT_TRUE(IpAddr::v4(0).is_unspecified());
}

TEST(IpAddr, V6) {
  auto a = *IpAddr::parse("2001:db8::1");
  EXPECT_TRUE(a.is_v6());
  EXPECT_EQ(a.to_string(), "2001:db8::1");
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(IpAddr::v6(a.bytes.data()), a);
  EXPECT_TRUE(IpAddr::parse("fe80::1")->is_link_local());
  EXPECT_FALSE(a.is_link_local());
  EXPECT_TRUE(IpAddr::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddr::parse("2001:db8::g").has_value());
}

TEST(Prefix, MasksHostBits) {
  Prefix p(IpAddr::v4(0x0A0102FF), 8);
  EXPECT_EQ(p.to_string(), "10.0.0.0/8");
  Prefix q(*IpAddr::parse("2001:db8:ffff::1"), 36);
  EXPECT_EQ(q.to_string(), "2001:db8:f000::/36");
  Prefix clamped(IpAddr::v4(0x0A000001), 40);
  EXPECT_EQ(clamped.len, 32);
  EXPECT_EQ(Prefix::parse("10.1.2.3/16")->to_string(), "10.1.0.0/16");
  EXPECT_EQ(Prefix::parse("10.1.2.3")->len, 32);
  EXPECT_FALSE(Prefix::parse("10.0.0.0/33").has_value());
  EXPECT_FALSE(Prefix::parse("10.0.0.0/").has_value());
  EXPECT_FALSE(Prefix::parse("10.0.0.0/8x").has_value());
}

TEST(Prefix, Contains) {
  auto p8 = *Prefix::parse("10.0.0.0/8");
  EXPECT_TRUE(p8.contains(*Prefix::parse("10.1.0.0/16")));
  EXPECT_TRUE(p8.contains(p8));
  EXPECT_FALSE(p8.contains(*Prefix::parse("11.0.0.0/16")));
  EXPECT_FALSE(Prefix::parse("10.1.0.0/16")->contains(p8));
  EXPECT_FALSE(p8.contains(*Prefix::parse("::/0")));
  EXPECT_TRUE(Prefix::parse("0.0.0.0/0")->contains(p8));
}

TEST(Hash, DistinguishesPrefixes) {
  std::unordered_set<Prefix> set;
  for (uint32_t i = 0; i < 1000; ++i) set.insert(Prefix(IpAddr::v4(i << 8), 24));
  set.insert(Prefix(IpAddr::v4(0), 16));
  EXPECT_EQ(set.size(), 1001u);
  EXPECT_NE(hash_bytes("abc", 3), hash_bytes("abd", 3));
  EXPECT_NE(hash_bytes("abc", 3, 1), hash_bytes("abc", 3, 2));
}

}  // namespace
}  // namespace tandem::wire
