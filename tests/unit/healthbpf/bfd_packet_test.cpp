#include "healthbpf/bfd_packet.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::bfd {
namespace {

ControlPacket sample() {
  ControlPacket p;
  p.diag = Diag::NeighborSignaledDown;
  p.state = State::Up;
  p.poll = true;
  p.control_plane_independent = true;
  p.detect_mult = 5;
  p.my_discriminator = 0x01020304;
  p.your_discriminator = 0xa0b0c0d0;
  p.desired_min_tx_us = 10'000;
  p.required_min_rx_us = 20'000;
  p.required_min_echo_rx_us = 0x11223344;
  return p;
}

std::vector<uint8_t> bytes(const ControlPacket& p) {
  auto a = encode(p);
  return {a.begin(), a.end()};
}

TEST(BfdPacket, EncodesEveryFieldAtItsRfcPosition) {
  auto b = bytes(sample());
  ASSERT_EQ(b.size(), 24u);
  EXPECT_EQ(b[0], (1 << 5) | 3);        // version 1, diag 3
  EXPECT_EQ(b[1], (3 << 6) | 0x20 | 0x08);  // Up, P, C
  EXPECT_EQ(b[2], 5);
  EXPECT_EQ(b[3], 24);
  EXPECT_EQ((std::vector<uint8_t>{b.begin() + 4, b.begin() + 8}),
            (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ((std::vector<uint8_t>{b.begin() + 8, b.begin() + 12}),
            (std::vector<uint8_t>{0xa0, 0xb0, 0xc0, 0xd0}));
  EXPECT_EQ(b[12], 0x00);
  EXPECT_EQ(b[14], 0x27);  // 10000 = 0x2710
  EXPECT_EQ(b[15], 0x10);
  EXPECT_EQ(b[18], 0x4e);  // 20000 = 0x4e20
  EXPECT_EQ(b[19], 0x20);
  EXPECT_EQ(b[20], 0x11);
  EXPECT_EQ(b[23], 0x44);
}

TEST(BfdPacket, RoundTripsEveryFlagAndState) {
  for (int state = 0; state < 4; ++state) {
    for (int flag = 0; flag < 5; ++flag) {
      ControlPacket p = sample();
      p.state = static_cast<State>(state);
      p.poll = flag == 0;
      p.final = flag == 1;
      p.control_plane_independent = flag == 2;
      p.demand = flag == 3;
      p.diag = static_cast<Diag>(state + flag);
      if (p.state == State::AdminDown || p.state == State::Down) p.your_discriminator = 0;
      Decoded d = decode(bytes(p));
      ASSERT_TRUE(d.ok()) << to_string(d.error);
      EXPECT_EQ(d.packet, p);
    }
  }
}

TEST(BfdPacket, AcceptsTrailingBytesBeyondLength) {
  auto b = bytes(sample());
  b.push_back(0xee);
  EXPECT_TRUE(decode(b).ok());
}

TEST(BfdPacket, KeepsUnknownDiagnosticValues) {
  auto b = bytes(sample());
  b[0] = (1 << 5) | 31;
  Decoded d = decode(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(static_cast<int>(d.packet.diag), 31);
  EXPECT_STREQ(to_string(d.packet.diag), "Unknown Diagnostic");
}

struct Rejection {
  const char* name;
  void (*mutate)(std::vector<uint8_t>&);
  DecodeError error;
};

TEST(BfdPacket, RejectsEachMalformation) {
  const Rejection cases[] = {
      {"empty", [](std::vector<uint8_t>& b) { b.clear(); }, DecodeError::Truncated},
      {"23 bytes", [](std::vector<uint8_t>& b) { b.resize(23); }, DecodeError::Truncated},
      {"version 0", [](std::vector<uint8_t>& b) { b[0] &= 0x1f; }, DecodeError::BadVersion},
      {"version 2", [](std::vector<uint8_t>& b) { b[0] = (2 << 5) | (b[0] & 0x1f); },
       DecodeError::BadVersion},
      {"length 23", [](std::vector<uint8_t>& b) { b[3] = 23; }, DecodeError::BadLength},
      {"length 0", [](std::vector<uint8_t>& b) { b[3] = 0; }, DecodeError::BadLength},
      {"length beyond datagram", [](std::vector<uint8_t>& b) { b[3] = 25; },
       DecodeError::BadLength},
      {"detect mult 0", [](std::vector<uint8_t>& b) { b[2] = 0; }, DecodeError::ZeroDetectMult},
      {"multipoint", [](std::vector<uint8_t>& b) { b[1] |= 0x01; }, DecodeError::Multipoint},
      {"my discriminator 0", [](std::vector<uint8_t>& b) { b[4] = b[5] = b[6] = b[7] = 0; },
       DecodeError::ZeroMyDiscriminator},
      {"your discriminator 0 while Up",
       [](std::vector<uint8_t>& b) { b[8] = b[9] = b[10] = b[11] = 0; },
       DecodeError::ZeroYourDiscriminator},
      {"your discriminator 0 while Init",
       [](std::vector<uint8_t>& b) {
         b[1] = static_cast<uint8_t>((2 << 6) | (b[1] & 0x3f));
         b[8] = b[9] = b[10] = b[11] = 0;
       },
       DecodeError::ZeroYourDiscriminator},
      {"authentication", [](std::vector<uint8_t>& b) { b[1] |= 0x04; },
       DecodeError::AuthNotSupported},
      {"authentication with a 26-byte length",
       [](std::vector<uint8_t>& b) {
         b[1] |= 0x04;
         b[3] = 26;
         b.push_back(1);
         b.push_back(2);
       },
       DecodeError::AuthNotSupported},
  };
  for (const Rejection& c : cases) {
    auto b = bytes(sample());
    c.mutate(b);
    Decoded d = decode(b);
    EXPECT_EQ(d.error, c.error) << c.name << ": got " << to_string(d.error);
    EXPECT_FALSE(d.ok()) << c.name;
  }
}

TEST(BfdPacket, YourDiscriminatorZeroIsFineWhileDownOrAdminDown) {
  for (State s : {State::Down, State::AdminDown}) {
    ControlPacket p = sample();
    p.state = s;
    p.your_discriminator = 0;
    EXPECT_TRUE(decode(bytes(p)).ok()) << to_string(s);
  }
}

TEST(BfdPacket, NamesEveryDecodeError) {
  for (int e = 0; e <= static_cast<int>(DecodeError::AuthNotSupported); ++e)
    EXPECT_STRNE(to_string(static_cast<DecodeError>(e)), "?");
}

}  // namespace
}  // namespace tandem::bfd
