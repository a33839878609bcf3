// BGP4MP encoding: byte-exact against the RFC 6396 layout, and round trips through the
// in-memory reader.
#include <gtest/gtest.h>

#include "bgpd/mrt/constants.hpp"
#include "bgpd/mrt/decode.hpp"
#include "bgpd/mrt/encode.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;

Bgp4mpPeer v4_peer() {
  return Bgp4mpPeer{65001, 4200000000u, 0, ip("192.0.2.1"), ip("192.0.2.2")};
}
Bgp4mpPeer v6_peer() {
  return Bgp4mpPeer{65002, 65000, 7, ip("2001:db8::1"), ip("2001:db8::2")};
}

Record decode_one(const Bytes& b) {
  MemoryReader r(b);
  auto rec = r.next();
  EXPECT_TRUE(rec.has_value());
  EXPECT_TRUE(rec->ok()) << rec->error().to_string();
  EXPECT_FALSE(r.next().has_value());
  return rec->value();
}

// RFC 6396 §2 common header, §4.4.3 BGP4MP_MESSAGE_AS4, computed by hand.
TEST(MrtEncode, MessageAs4Ipv4ByteExact) {
  const Bytes keepalive = wire::encode_keepalive();
  const Bytes got = encode_bgp4mp_message(Timestamp{1600000000, 0}, v4_peer(), keepalive);
  Bytes want = {
      0x5F, 0x5E, 0x10, 0x00,  // timestamp 1600000000
      0x00, 0x10,              // type 16 BGP4MP
      0x00, 0x04,              // subtype 4 BGP4MP_MESSAGE_AS4
      0x00, 0x00, 0x00, 0x27,  // length 39
      0x00, 0x00, 0xFD, 0xE9,  // peer AS 65001
      0xFA, 0x56, 0xEA, 0x00,  // local AS 4200000000
      0x00, 0x00,              // interface index
      0x00, 0x01,              // AFI IPv4
      192, 0, 2, 1,            // peer IP
      192, 0, 2, 2,            // local IP
  };
  want.insert(want.end(), 16, 0xFF);
  want.insert(want.end(), {0x00, 0x13, 0x04});
  EXPECT_EQ(got, want);
}

TEST(MrtEncode, StateChangeAs4Ipv6ByteExact) {
  const Bytes got = encode_bgp4mp_state_change(Timestamp{1, 0}, v6_peer(), FsmState::OpenConfirm,
                                               FsmState::Established);
  const Bytes want = cat({u32(1), u16(16), u16(5), u32(48), u32(65002), u32(65000), u16(7), u16(2),
                          {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                          {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
                          u16(5), u16(6)});
  EXPECT_EQ(got, want);
}

// BGP4MP_ET: the microsecond field follows the header and counts in the length.
TEST(MrtEncode, ExtendedTimestamp) {
  const Bytes keepalive = wire::encode_keepalive();
  const Bytes got = encode_bgp4mp_message(Timestamp{1600000000, 123456}, v4_peer(), keepalive, true);
  ASSERT_EQ(got.size(), 12u + 4u + 39u);
  EXPECT_EQ(Bytes(got.begin() + 4, got.begin() + 16),
            cat({u16(17), u16(4), u32(43), u32(123456)}));
  const Record r = decode_one(got);
  EXPECT_EQ(r.type, type::kBgp4mpEt);
  EXPECT_EQ(r.time, (Timestamp{1600000000, 123456}));
  ASSERT_TRUE(std::holds_alternative<Bgp4mpMessage>(r.body));
  EXPECT_EQ(std::get<Bgp4mpMessage>(r.body).message, keepalive);
}

TEST(MrtEncode, TimestampFromTimePoint) {
  const auto t = std::chrono::system_clock::time_point{std::chrono::microseconds{1600000000123456LL}};
  EXPECT_EQ(Timestamp::from(t), (Timestamp{1600000000, 123456}));
}

TEST(MrtEncode, MessageRoundTripBothFamilies) {
  wire::PathAttributes a;
  a.has_origin = true;
  a.origin = wire::Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments.push_back({wire::AsPathSegment::Sequence, {65001, 4200000001u}});
  a.next_hop = ip("2001:db8::1");
  const std::vector<wire::Prefix> pfxs = {pfx("2001:db8:100::/48")};
  const auto msgs = wire::encode_announcements(a, wire::kIpv6Unicast, pfxs, wire::CodecOptions{});
  ASSERT_EQ(msgs.size(), 1u);
  for (const Bgp4mpPeer& peer : {v4_peer(), v6_peer()}) {
    for (bool et : {false, true}) {
      const Record r = decode_one(encode_bgp4mp_message(Timestamp{42, 7}, peer, msgs[0], et));
      EXPECT_EQ(r.subtype, bgp4mp::kMessageAs4);
      EXPECT_EQ(r.time.seconds, 42u);
      ASSERT_TRUE(std::holds_alternative<Bgp4mpMessage>(r.body));
      const auto& m = std::get<Bgp4mpMessage>(r.body);
      EXPECT_EQ(m.peer, peer);
      EXPECT_TRUE(m.as4);
      EXPECT_FALSE(m.local);
      EXPECT_EQ(m.message, msgs[0]);
    }
  }
}

// A sent message is BGP4MP_MESSAGE_AS4_LOCAL (subtype 7), same peer/local fields.
TEST(MrtEncode, SentMessageIsLocalSubtype) {
  const Bytes ka = wire::encode_keepalive();
  const Bytes b = encode_bgp4mp_message(Timestamp{3, 0}, v4_peer(), ka, false, Direction::Sent);
  EXPECT_EQ(Bytes(b.begin() + 4, b.begin() + 8), cat({u16(16), u16(7)}));
  const Record r = decode_one(b);
  const auto& m = std::get<Bgp4mpMessage>(r.body);
  EXPECT_TRUE(m.local);
  EXPECT_TRUE(m.as4);
  EXPECT_EQ(m.peer, v4_peer());
  EXPECT_EQ(m.message, ka);
}

TEST(MrtEncode, StateChangeRoundTrip) {
  const Record r = decode_one(
      encode_bgp4mp_state_change(Timestamp{5, 0}, v4_peer(), FsmState::Idle, FsmState::Connect));
  ASSERT_TRUE(std::holds_alternative<Bgp4mpStateChange>(r.body));
  const auto& s = std::get<Bgp4mpStateChange>(r.body);
  EXPECT_EQ(s.peer, v4_peer());
  EXPECT_EQ(s.old_state, 1);
  EXPECT_EQ(s.new_state, 2);
}

// A local address of the other family is written as zeros of the peer's family.
TEST(MrtEncode, MixedFamilyLocalAddressZeroed) {
  Bgp4mpPeer p = v4_peer();
  p.local_ip = ip("2001:db8::2");
  const Record r = decode_one(
      encode_bgp4mp_state_change(Timestamp{5, 0}, p, FsmState::Idle, FsmState::Connect));
  EXPECT_EQ(std::get<Bgp4mpStateChange>(r.body).peer.local_ip, ip("0.0.0.0"));
}

// The 2-octet (RFC 6396 §4.4.1/§4.4.2) forms written by older collectors decode too.
TEST(MrtDecode, TwoOctetMessageAndStateChange) {
  const Bytes keepalive = wire::encode_keepalive();
  Bytes body = cat({u16(65001), u16(65000), u16(0), u16(1), {10, 0, 0, 1}, {10, 0, 0, 2}});
  Bytes msg = cat({u32(9), u16(16), u16(1), u32(static_cast<uint32_t>(body.size() + keepalive.size())),
                   body, keepalive});
  Bytes st = cat({u32(9), u16(16), u16(0), u32(static_cast<uint32_t>(body.size() + 4)), body,
                  u16(3), u16(1)});
  const Bytes both = cat({msg, st});
  MemoryReader r(both);
  auto a = r.next();
  ASSERT_TRUE(a && a->ok()) << a->error().to_string();
  const auto& m = std::get<Bgp4mpMessage>(a->value().body);
  EXPECT_FALSE(m.as4);
  EXPECT_EQ(m.peer.peer_as, 65001u);
  EXPECT_EQ(m.message, keepalive);
  auto b = r.next();
  ASSERT_TRUE(b && b->ok());
  EXPECT_EQ(b->value().offset, msg.size());
  const auto& s = std::get<Bgp4mpStateChange>(b->value().body);
  EXPECT_FALSE(s.as4);
  EXPECT_EQ(s.old_state, 3);
  EXPECT_FALSE(r.next().has_value());
}

TEST(MrtDecode, UnknownTypeKeptAsOther) {
  const Bytes rec = cat({u32(1), u16(99), u16(1), u32(3), {1, 2, 3}});
  const Record r = decode_one(rec);
  ASSERT_TRUE(std::holds_alternative<OtherRecord>(r.body));
  EXPECT_EQ(std::get<OtherRecord>(r.body).body, (Bytes{1, 2, 3}));
}

}  // namespace
}  // namespace tandem::mrt
