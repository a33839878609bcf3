#include "healthbpf/soft_table.hpp"

#include <gtest/gtest.h>

namespace tandem::healthbpf {
namespace {

constexpr uint64_t kMs = 1'000'000;
const uint8_t kSrc[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2};

std::array<uint8_t, 24> pkt(bfd::State st, uint32_t my, uint32_t your, bool poll = false) {
  bfd::ControlPacket p;
  p.state = st;
  p.my_discriminator = my;
  p.your_discriminator = your;
  p.desired_min_tx_us = 10'000;
  p.required_min_rx_us = 10'000;
  p.poll = poll;
  return bfd::encode(p);
}

TEST(SoftTable, KeysByAddressUntilYourDiscriminatorIsKnownThenByIt) {
  SoftTable t;
  std::vector<hb_event> ev;
  t.on_datagram(pkt(bfd::State::Down, 7, 0), kSrc, 255, 0, kMs, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_NEW});
  EXPECT_EQ(ev[0].snapshot.key.kind, uint32_t{HB_KEY_ADDR});
  EXPECT_EQ(to_string(ev[0].snapshot.key), "addr 192.0.2.2 disc 7");
  EXPECT_EQ(ev[0].slot, hb_hash(&ev[0].snapshot.key) & (HB_TABLE_SLOTS - 1));
  ev.clear();
  t.on_datagram(pkt(bfd::State::Init, 7, 42), kSrc, 255, 0, 2 * kMs, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].snapshot.key.kind, uint32_t{HB_KEY_DISC});
  EXPECT_EQ(ev[0].snapshot.key.disc, 42u);
  EXPECT_EQ(ev[0].snapshot.remote_state, 2);
}

TEST(SoftTable, SteadyStateProducesNoEvents) {
  SoftTable t;
  std::vector<hb_event> ev;
  for (int i = 0; i < 100; ++i) t.on_datagram(pkt(bfd::State::Up, 7, 42), kSrc, 255, 0, i * kMs, ev);
  EXPECT_EQ(ev.size(), 1u);  // NEW only
  EXPECT_EQ(t.counters()[HB_CNT_VALID], 100u);
  t.on_datagram(pkt(bfd::State::Up, 7, 42, true), kSrc, 255, 0, 200 * kMs, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].what, uint32_t{HB_EV_POLL});
  t.on_datagram(pkt(bfd::State::Down, 7, 42), kSrc, 255, 0, 201 * kMs, ev);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2].what, uint32_t{HB_EV_STATE});
}

TEST(SoftTable, CountsBadTtlAndMalformedWithoutTouchingSlots) {
  SoftTable t;
  std::vector<hb_event> ev;
  t.on_datagram(pkt(bfd::State::Up, 7, 42), kSrc, 254, 0, kMs, ev);
  auto bad = pkt(bfd::State::Up, 7, 42);
  bad[2] = 0;
  t.on_datagram(bad, kSrc, 255, 0, kMs, ev);
  t.on_datagram(std::span<const uint8_t>(bad.data(), 10), kSrc, 255, 0, kMs, ev);
  EXPECT_TRUE(ev.empty());
  EXPECT_EQ(t.counters()[HB_CNT_BAD_TTL], 1u);
  EXPECT_EQ(t.counters()[HB_CNT_ZERO_MULT], 1u);
  EXPECT_EQ(t.counters()[HB_CNT_TRUNCATED], 1u);
  EXPECT_EQ(t.counters()[HB_CNT_VALID], 0u);
}

TEST(SoftTable, ProbesBoundedlyOnCollisions) {
  SoftTable t;
  std::vector<hb_event> ev;
  // Discriminators d and d + k*HB_TABLE_SLOTS*... need not collide; find real ones.
  hb_key base = disc_key(1);
  uint32_t h0 = hb_hash(&base) & (HB_TABLE_SLOTS - 1);
  std::vector<uint32_t> same;
  for (uint32_t d = 1; same.size() < HB_PROBE_MAX + 1 && d < 50'000'000; ++d) {
    hb_key k = disc_key(d);
    if ((hb_hash(&k) & (HB_TABLE_SLOTS - 1)) == h0) same.push_back(d);
  }
  ASSERT_EQ(same.size(), size_t{HB_PROBE_MAX + 1});
  for (uint32_t d : same) t.on_datagram(pkt(bfd::State::Up, 7, d), kSrc, 255, 0, kMs, ev);
  EXPECT_EQ(ev.size(), size_t{HB_PROBE_MAX});
  EXPECT_EQ(t.counters()[HB_CNT_TABLE_FULL], 1u);
  for (size_t i = 0; i < HB_PROBE_MAX; ++i)
    EXPECT_EQ(ev[i].slot, (h0 + i) & (HB_TABLE_SLOTS - 1));
  // Freeing one slot of the window makes room, and existing keys stay found.
  t.release(ev[3].slot);
  ev.clear();
  t.on_datagram(pkt(bfd::State::Up, 7, same.back()), kSrc, 255, 0, 2 * kMs, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].slot, (h0 + 3) & (HB_TABLE_SLOTS - 1));
  ev.clear();
  t.on_datagram(pkt(bfd::State::Up, 7, same[5]), kSrc, 255, 0, 3 * kMs, ev);
  EXPECT_TRUE(ev.empty());  // still its old slot, no NEW
}

TEST(SoftTable, ExpiresAnArmedSlotAfterTheDetectionTimeAndRecovers) {
  SoftTable t;
  std::vector<hb_event> ev;
  t.on_datagram(pkt(bfd::State::Up, 7, 42), kSrc, 255, 0, 100 * kMs, ev);
  uint32_t slot = ev[0].slot;
  EXPECT_FALSE(t.next_deadline());
  t.set_local_min_rx(slot, 20'000);  // detection = 3 x max(20, 10) ms
  ASSERT_TRUE(t.next_deadline());
  EXPECT_EQ(*t.next_deadline(), 160 * kMs);
  ev.clear();
  t.expire(159 * kMs, ev);
  EXPECT_TRUE(ev.empty());
  t.expire(160 * kMs, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_EXPIRED});
  t.expire(170 * kMs, ev);
  EXPECT_EQ(ev.size(), 1u);  // once
  t.on_datagram(pkt(bfd::State::Up, 7, 42), kSrc, 255, 0, 200 * kMs, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].what, uint32_t{HB_EV_RECOVERED});
}

TEST(SoftTable, SlotConvertsBackToThePacket) {
  SoftTable t;
  std::vector<hb_event> ev;
  t.on_datagram(pkt(bfd::State::Up, 7, 42, true), kSrc, 255, 0, kMs, ev);
  bfd::ControlPacket p = to_packet(ev[0].snapshot);
  EXPECT_EQ(p, bfd::decode(pkt(bfd::State::Up, 7, 42, true)).packet);
}

}  // namespace
}  // namespace tandem::healthbpf
