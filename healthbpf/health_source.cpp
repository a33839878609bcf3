#include "healthbpf/health_source.hpp"

#include <arpa/inet.h>
#include <time.h>

#include <cstring>

namespace tandem::healthbpf {

const char* to_string(hb_counter c) {
  switch (c) {
    case HB_CNT_VALID: return "valid";
    case HB_CNT_TRUNCATED: return "truncated";
    case HB_CNT_BAD_VERSION: return "bad_version";
    case HB_CNT_BAD_LENGTH: return "bad_length";
    case HB_CNT_ZERO_MULT: return "zero_detect_mult";
    case HB_CNT_MULTIPOINT: return "multipoint";
    case HB_CNT_ZERO_MY_DISC: return "zero_my_discriminator";
    case HB_CNT_ZERO_YOUR_DISC: return "zero_your_discriminator";
    case HB_CNT_AUTH: return "authentication";
    case HB_CNT_BAD_TTL: return "bad_ttl";
    case HB_CNT_TABLE_FULL: return "table_full";
    case HB_CNT_EVENTS: return "events";
    case HB_CNT_EVENTS_LOST: return "events_lost";
    case HB_CNT_EXPIRED: return "expired";
    case HB_CNT_REPLIES: return "replies";
    case HB_CNT_MAX: break;
  }
  return "?";
}

bfd::ControlPacket to_packet(const hb_slot& s) {
  bfd::ControlPacket p;
  p.diag = static_cast<bfd::Diag>(s.remote_diag);
  p.state = static_cast<bfd::State>(s.remote_state & 3);
  p.poll = (s.flags & HB_FLAG_P) != 0;
  p.final = (s.flags & HB_FLAG_F) != 0;
  p.control_plane_independent = (s.flags & HB_FLAG_C) != 0;
  p.authentication = (s.flags & HB_FLAG_A) != 0;
  p.demand = (s.flags & HB_FLAG_D) != 0;
  p.multipoint = (s.flags & HB_FLAG_M) != 0;
  p.detect_mult = s.detect_mult;
  p.my_discriminator = s.remote_disc;
  p.your_discriminator = s.key.kind == HB_KEY_DISC ? s.key.disc : 0;
  p.desired_min_tx_us = s.remote_min_tx_us;
  p.required_min_rx_us = s.remote_min_rx_us;
  p.required_min_echo_rx_us = s.remote_echo_rx_us;
  return p;
}

std::string to_string(const hb_key& k) {
  if (k.kind == HB_KEY_DISC) return "disc " + std::to_string(k.disc);
  if (k.kind != HB_KEY_ADDR) return "free";
  char buf[INET6_ADDRSTRLEN] = {};
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(k.addr, kMapped, 12) == 0) inet_ntop(AF_INET, &k.addr[12], buf, sizeof buf);
  else inet_ntop(AF_INET6, k.addr, buf, sizeof buf);
  return std::string("addr ") + buf + " disc " + std::to_string(k.disc);
}

hb_key disc_key(uint32_t your_discriminator) {
  hb_key k{};
  k.kind = HB_KEY_DISC;
  k.disc = your_discriminator;
  return k;
}

std::optional<hb_key> addr_key(const std::string& address, uint32_t remote_my_discriminator) {
  hb_key k{};
  k.kind = HB_KEY_ADDR;
  k.disc = remote_my_discriminator;
  if (inet_pton(AF_INET, address.c_str(), &k.addr[12]) == 1) {
    k.addr[10] = k.addr[11] = 0xff;
    return k;
  }
  if (inet_pton(AF_INET6, address.c_str(), k.addr) == 1) return k;
  return std::nullopt;
}

std::optional<uint32_t> HealthSource::find(const hb_key& key) const {
  uint32_t h = hb_hash(&key);
  for (uint32_t i = 0; i < HB_PROBE_MAX; ++i) {
    uint32_t idx = (h + i) & (HB_TABLE_SLOTS - 1);
    hb_slot s = slot(idx);
    if (s.key.kind != HB_KEY_FREE && hb_key_equal(&s.key, &key)) return idx;
  }
  return std::nullopt;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

}  // namespace tandem::healthbpf
