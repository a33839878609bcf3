// Fuzz the BFD control packet codec (healthbpf/bfd_packet.hpp) and the user-space
// health table over it (healthbpf/soft_table.hpp). Byte 0 selects:
//   0: the rest is one datagram payload. decode() must agree with an independent reading
//      of the RFC 5880 §6.8.6 checks (same order as heartbeat.bpf.c); a decoded packet
//      re-encodes to the same 24 bytes (Length 24) and decodes back unchanged.
//   1: the rest is a script run against one SoftTable (records below). Counters only
//      grow, by exactly one reason per datagram; slots keep a valid key kind; events
//      name a slot and carry its snapshot.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/soft_table.hpp"

using namespace tandem;
using bfd::DecodeError;

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The reception checks, written from the RFC independently of bfd_packet.cpp.
DecodeError expected_error(std::span<const uint8_t> d) {
  if (d.size() < 24) return DecodeError::Truncated;
  const unsigned state = d[1] >> 6;
  if ((d[0] >> 5) != 1) return DecodeError::BadVersion;
  if (d[3] < 24 || d[3] > d.size()) return DecodeError::BadLength;
  if (d[2] == 0) return DecodeError::ZeroDetectMult;
  if (d[1] & 0x01) return DecodeError::Multipoint;
  if (be32(&d[4]) == 0) return DecodeError::ZeroMyDiscriminator;
  if (be32(&d[8]) == 0 && (state == 2 || state == 3)) return DecodeError::ZeroYourDiscriminator;
  if (d[1] & 0x04) return DecodeError::AuthNotSupported;
  return DecodeError::None;
}

void codec(std::span<const uint8_t> d) {
  const bfd::Decoded r = bfd::decode(d);
  FUZZ_CHECK(r.error == expected_error(d));
  FUZZ_CHECK(r.ok() == (r.error == DecodeError::None));
  (void)bfd::to_string(r.error);
  if (!r.ok()) return;
  const bfd::ControlPacket& p = r.packet;
  // Length and Detect Mult rules of an accepted packet.
  FUZZ_CHECK(d.size() >= bfd::kControlPacketSize && d[3] >= bfd::kControlPacketSize && d[3] <= d.size());
  FUZZ_CHECK(p.detect_mult != 0 && p.version == bfd::kVersion);
  FUZZ_CHECK(!p.multipoint && !p.authentication && p.my_discriminator != 0);
  FUZZ_CHECK(p.your_discriminator != 0 || p.state == bfd::State::Down || p.state == bfd::State::AdminDown);
  (void)bfd::to_string(p.state);
  (void)bfd::to_string(p.diag);
  // Round trip: the mandatory section comes back bit for bit, with Length 24.
  const auto b = bfd::encode(p);
  FUZZ_CHECK(b[3] == bfd::kControlPacketSize);
  FUZZ_CHECK(std::equal(b.begin(), b.begin() + 3, d.begin()));
  FUZZ_CHECK(std::equal(b.begin() + 4, b.end(), d.begin() + 4));
  const bfd::Decoded again = bfd::decode(b);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.packet == p);
}

// Script records (all fields optional at the end of the input):
//   op % 4 == 0: datagram: [ttl selector][source selector][len][len bytes of payload]
//                ttl: 255 unless the selector's top bit is set (then the selector itself);
//                source: one of 4 fixed addresses (bit 2 picks IPv6), for slot reuse.
//   op % 4 == 1: expire at the current time
//   op % 4 == 2: set_local_min_rx: [slot selector][us byte] (us * 1000)
//   op % 4 == 3: release: [slot selector]
//                slot selector b: odd and an event was seen: the slot of event
//                (b >> 1) % count; else slot (b >> 1) * 32.
// The clock advances by (op >> 2) ms before each record.
struct Reader {
  std::span<const uint8_t> in;
  uint8_t byte() {
    if (in.empty()) return 0;
    uint8_t b = in[0];
    in = in.subspan(1);
    return b;
  }
};

uint32_t pick_slot(uint8_t b, const std::vector<uint32_t>& used) {
  if ((b & 1) && !used.empty()) return used[(b >> 1) % used.size()];
  return static_cast<uint32_t>(b >> 1) * 32;
}

void check_table(const healthbpf::SoftTable& t, uint32_t touched_lo, uint32_t touched_hi) {
  for (uint32_t i = touched_lo; i < touched_hi; ++i) FUZZ_CHECK(t.slot(i).key.kind <= HB_KEY_ADDR);
}

void table(std::span<const uint8_t> rest) {
  healthbpf::SoftTable t;
  Reader r{rest};
  uint64_t now = 1'000'000'000;
  std::vector<hb_event> events;
  std::vector<uint32_t> used;  // slots events named
  healthbpf::Counters before = t.counters();
  while (!r.in.empty()) {
    const uint8_t op = r.byte();
    now += static_cast<uint64_t>(op >> 2) * 1'000'000;
    const size_t n_events = events.size();
    switch (op % 4) {
      case 0: {
        const uint8_t ttl_sel = r.byte();
        const int ttl = (ttl_sel & 0x80) ? ttl_sel : 255;
        const uint8_t src_sel = r.byte();
        uint8_t source[16] = {};
        if (src_sel & 4) {
          source[0] = 0x20;
          source[1] = 0x01;
          source[2] = 0x0d;
          source[3] = 0xb8;
          source[15] = static_cast<uint8_t>(1 + (src_sel & 3));
        } else {
          source[10] = source[11] = 0xff;
          source[12] = 192;
          source[14] = 2;
          source[15] = static_cast<uint8_t>(1 + (src_sel & 3));
        }
        const size_t len = std::min<size_t>(r.byte(), r.in.size());
        const std::span<const uint8_t> payload = r.in.first(len);
        r.in = r.in.subspan(len);
        t.on_datagram(payload, source, ttl, 7, now, events);
        const healthbpf::Counters& after = t.counters();
        // Exactly one reason counted for the datagram, plus at most one event.
        uint64_t reasons = 0;
        for (int c = 0; c < HB_CNT_MAX; ++c) {
          FUZZ_CHECK(after.values[c] >= before.values[c]);
          if (c != HB_CNT_EVENTS) reasons += after.values[c] - before.values[c];
        }
        FUZZ_CHECK(reasons == 1);
        FUZZ_CHECK(events.size() - n_events == after[HB_CNT_EVENTS] - before[HB_CNT_EVENTS]);
        FUZZ_CHECK(events.size() - n_events <= 1);
        const DecodeError e = ttl != 255 ? DecodeError::None : bfd::decode(payload).error;
        if (ttl != 255) FUZZ_CHECK(after[HB_CNT_BAD_TTL] == before[HB_CNT_BAD_TTL] + 1);
        else if (e != DecodeError::None)
          FUZZ_CHECK(after.values[static_cast<int>(e)] == before.values[static_cast<int>(e)] + 1);
        else FUZZ_CHECK(after[HB_CNT_VALID] + after[HB_CNT_TABLE_FULL] == before[HB_CNT_VALID] + before[HB_CNT_TABLE_FULL] + 1);
        break;
      }
      case 1: t.expire(now, events); break;
      case 2: {
        const uint32_t slot = pick_slot(r.byte(), used);
        t.set_local_min_rx(slot, uint32_t{r.byte()} * 1000);
        FUZZ_CHECK(t.slot(slot).local_min_rx_us % 1000 == 0);
        break;
      }
      case 3: {
        const uint32_t slot = pick_slot(r.byte(), used);
        t.release(slot);
        FUZZ_CHECK(t.slot(slot).key.kind == HB_KEY_FREE && t.slot(slot).local_min_rx_us == 0);
        break;
      }
    }
    const healthbpf::Counters& after = t.counters();
    for (int c = 0; c < HB_CNT_MAX; ++c) FUZZ_CHECK(after.values[c] >= before.values[c]);
    before = after;
    for (size_t i = n_events; i < events.size(); ++i) {
      const hb_event& ev = events[i];
      FUZZ_CHECK(ev.slot < HB_TABLE_SLOTS && ev.what != 0 && ev.ts_ns == now);
      FUZZ_CHECK(std::memcmp(&ev.snapshot, &t.slot(ev.slot), sizeof(hb_slot)) == 0);
      FUZZ_CHECK(ev.snapshot.key.kind == HB_KEY_DISC || ev.snapshot.key.kind == HB_KEY_ADDR);
      FUZZ_CHECK(ev.snapshot.packets > 0 && ev.snapshot.detect_mult != 0);
      if (ev.what & HB_EV_EXPIRED) FUZZ_CHECK(ev.snapshot.status & HB_STATUS_EXPIRED);
      used.push_back(ev.slot);
    }
    if (auto next = t.next_deadline()) FUZZ_CHECK(*next > 0);
  }
  for (uint32_t s : used) FUZZ_CHECK(t.slot(s).key.kind <= HB_KEY_ADDR);
  check_table(t, 0, HB_TABLE_SLOTS);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 2) {
    case 0: codec(rest); break;
    case 1: table(rest); break;
  }
  return 0;
}
