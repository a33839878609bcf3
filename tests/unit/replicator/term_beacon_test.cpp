// The term beacon (replicator/witness): its codec, and a live beacon on loopback in a
// private network namespace fed by a plain UDP socket.
#include "replicator/witness/term_beacon.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/unit/private_netns.hpp"

namespace tandem::replicator::witness {
namespace {

const std::vector<uint8_t> kKey(32, 0x5a);

TEST(TermBeaconCodec, RoundTrips) {
  const Beacon b{42, 0x1122334455667788ULL, 1'700'000'000'000'000'000ULL};
  const auto bytes = encode_beacon(b, kKey);
  ASSERT_EQ(bytes.size(), kBeaconSize);
  std::string why;
  auto back = decode_beacon(bytes, kKey, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, b);
}

TEST(TermBeaconCodec, RejectsWhatIsNotAnAuthenticBeacon) {
  const auto good = encode_beacon({7, 1, 2}, kKey);
  std::string why;
  EXPECT_FALSE(decode_beacon(good, std::vector<uint8_t>(32, 0x5b), why));  // another pair's key
  EXPECT_NE(why.find("MAC"), std::string::npos) << why;
  for (size_t i : {size_t{9}, size_t{16}, size_t{20}, kBeaconSize - 1}) {  // term, sender, MAC tampered
    auto bad = good;
    bad[i] ^= 1;
    EXPECT_FALSE(decode_beacon(bad, kKey, why)) << "byte " << i;
  }
  auto magic = good;
  magic[0] = 'X';
  EXPECT_FALSE(decode_beacon(magic, kKey, why));
  EXPECT_NE(why.find("magic"), std::string::npos) << why;
  auto version = good;
  version[8] = 2;
  EXPECT_FALSE(decode_beacon(version, kKey, why));
  EXPECT_NE(why.find("version"), std::string::npos) << why;
  EXPECT_FALSE(decode_beacon(std::span(good).first(kBeaconSize - 1), kKey, why));
  EXPECT_NE(why.find("size"), std::string::npos) << why;
  EXPECT_FALSE(decode_beacon({}, kKey, why));
}

// One beacon bound to lo, "the other node" at 127.0.0.1 (its own beacons come back and
// are ignored); valid, forged and wrongly sourced datagrams sent at it.
class TermBeaconLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::enter_private_netns("ip addr add 127.0.0.2/8 dev lo"); !why.empty()) GTEST_SKIP() << why;
  }
  void send_from(const char* src, const std::vector<uint8_t>& bytes) {
    using boost::asio::ip::udp;
    udp::socket s(io_, udp::v4());
    s.bind(udp::endpoint(boost::asio::ip::make_address(src), 0));
    s.send_to(boost::asio::buffer(bytes), udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), kPort));
  }
  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }
  static constexpr uint16_t kPort = 47180;
  boost::asio::io_context io_;
};

TEST_F(TermBeaconLive, HearsTheOtherNodeIgnoresItselfAndRejectsForgeries) {
  std::vector<Beacon> heard;
  BeaconOptions o{"lo", *wire::IpAddr::parse("127.0.0.1"), kPort, std::chrono::milliseconds(5), kKey};
  TermBeacon beacon(io_, o, [&](const Beacon& b, const wire::IpAddr&) { heard.push_back(b); });
  std::string error;
  ASSERT_TRUE(beacon.start(error)) << error;
  beacon.announce(3);  // sent to 127.0.0.1: its own, ignored
  run_for(std::chrono::milliseconds(60));
  EXPECT_GE(beacon.counters().sent, 5u);
  EXPECT_TRUE(heard.empty());
  EXPECT_FALSE(beacon.last_heard());

  send_from("127.0.0.1", encode_beacon({9, 77, 0}, kKey));
  run_for(std::chrono::milliseconds(30));
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].term, 9u);
  EXPECT_EQ(heard[0].sender, 77u);
  EXPECT_TRUE(beacon.last_heard());

  send_from("127.0.0.1", encode_beacon({10, 77, 0}, std::vector<uint8_t>(32, 1)));  // wrong key
  send_from("127.0.0.2", encode_beacon({11, 77, 0}, kKey));                         // not the other node
  send_from("127.0.0.1", {1, 2, 3});
  run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(heard.size(), 1u);
  EXPECT_EQ(beacon.counters().rejected, 3u);

  beacon.announce(0);  // stops sending
  const auto sent = beacon.counters().sent;
  run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(beacon.counters().sent, sent);
}

TEST_F(TermBeaconLive, NoSuchInterfaceIsAClearError) {
  BeaconOptions o{"nosuch0", *wire::IpAddr::parse("127.0.0.1"), kPort, std::chrono::milliseconds(5), kKey};
  TermBeacon beacon(io_, o, [](const Beacon&, const wire::IpAddr&) {});
  std::string error;
  EXPECT_FALSE(beacon.start(error));
  EXPECT_NE(error.find("nosuch0"), std::string::npos) << error;
}

}  // namespace
}  // namespace tandem::replicator::witness
