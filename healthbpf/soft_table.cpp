#include "healthbpf/soft_table.hpp"

#include <algorithm>
#include <cstring>

namespace tandem::healthbpf {

hb_slot* SoftTable::lookup(const hb_key& key, uint32_t& index, bool& is_new) {
  uint32_t h = hb_hash(&key);
  hb_slot* free_slot = nullptr;
  for (uint32_t i = 0; i < HB_PROBE_MAX; ++i) {
    uint32_t idx = (h + i) & (HB_TABLE_SLOTS - 1);
    hb_slot& s = slots_[idx];
    if (s.key.kind == HB_KEY_FREE) {
      if (!free_slot) {
        free_slot = &s;
        index = idx;
      }
      continue;
    }
    if (hb_key_equal(&s.key, &key)) {
      index = idx;
      is_new = false;
      return &s;
    }
  }
  if (!free_slot) return nullptr;
  free_slot->key = key;
  free_slot->packets = 0;
  free_slot->status = 0;
  is_new = true;
  return free_slot;
}

void SoftTable::push(uint32_t index, uint32_t what, uint64_t now_ns, std::vector<hb_event>& out) {
  hb_event e{};
  e.ts_ns = now_ns;
  e.slot = index;
  e.what = what;
  e.snapshot = slots_[index];
  out.push_back(e);
  count(HB_CNT_EVENTS);
}

void SoftTable::on_datagram(std::span<const uint8_t> payload, const uint8_t (&source)[16],
                            int ttl, uint32_t ifindex, uint64_t now_ns,
                            std::vector<hb_event>& out) {
  if (ttl != 255) {  // RFC 5881 §5 (GTSM)
    count(HB_CNT_BAD_TTL);
    return;
  }
  bfd::Decoded d = bfd::decode(payload);
  if (!d.ok()) {
    count(static_cast<hb_counter>(d.error));
    return;
  }
  const bfd::ControlPacket& p = d.packet;
  hb_key key{};
  if (p.your_discriminator != 0) {
    key.kind = HB_KEY_DISC;
    key.disc = p.your_discriminator;
  } else {
    key.kind = HB_KEY_ADDR;
    key.disc = p.my_discriminator;
    std::memcpy(key.addr, source, 16);
  }
  uint32_t index = 0;
  bool is_new = false;
  hb_slot* s = lookup(key, index, is_new);
  if (!s) {
    count(HB_CNT_TABLE_FULL);
    return;
  }
  hb_obs o{};
  o.remote_disc = p.my_discriminator;
  o.min_tx_us = p.desired_min_tx_us;
  o.min_rx_us = p.required_min_rx_us;
  o.echo_rx_us = p.required_min_echo_rx_us;
  o.ifindex = ifindex;
  o.state = static_cast<uint8_t>(p.state);
  o.diag = static_cast<uint8_t>(p.diag);
  o.detect_mult = p.detect_mult;
  o.flags = static_cast<uint8_t>((p.poll ? HB_FLAG_P : 0) | (p.final ? HB_FLAG_F : 0) |
                                 (p.control_plane_independent ? HB_FLAG_C : 0) |
                                 (p.demand ? HB_FLAG_D : 0));
  uint32_t what = hb_apply(s, &o, now_ns, is_new ? 1 : 0);
  count(HB_CNT_VALID);
  if (what) push(index, what, now_ns, out);
}

void SoftTable::expire(uint64_t now_ns, std::vector<hb_event>& out) {
  for (uint32_t index : armed_) {
    hb_slot& s = slots_[index];
    uint64_t detect = hb_detect_ns(&s);
    if (s.key.kind == HB_KEY_FREE || detect == 0 || (s.status & HB_STATUS_EXPIRED) ||
        s.packets == 0 || now_ns < s.last_rx_ns + detect)
      continue;
    s.status |= HB_STATUS_EXPIRED;
    count(HB_CNT_EXPIRED);
    push(index, HB_EV_EXPIRED, now_ns, out);
  }
}

std::optional<uint64_t> SoftTable::next_deadline() const {
  std::optional<uint64_t> next;
  for (uint32_t index : armed_) {
    const hb_slot& s = slots_[index];
    uint64_t detect = hb_detect_ns(&s);
    if (s.key.kind == HB_KEY_FREE || detect == 0 || (s.status & HB_STATUS_EXPIRED) ||
        s.packets == 0)
      continue;
    uint64_t at = s.last_rx_ns + detect;
    if (!next || at < *next) next = at;
  }
  return next;
}

void SoftTable::set_local_min_rx(uint32_t index, uint32_t us) {
  index &= HB_TABLE_SLOTS - 1;
  slots_[index].local_min_rx_us = us;
  auto it = std::find(armed_.begin(), armed_.end(), index);
  if (us != 0 && it == armed_.end()) armed_.push_back(index);
  if (us == 0 && it != armed_.end()) armed_.erase(it);
}

void SoftTable::release(uint32_t index) {
  set_local_min_rx(index, 0);
  slots_[index & (HB_TABLE_SLOTS - 1)] = hb_slot{};
}

}  // namespace tandem::healthbpf
