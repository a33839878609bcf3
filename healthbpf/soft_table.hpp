// The health table kept in user space, for the fallback receive path: the same slot
// layout, hash, bounded probing and update rule (bpf/heartbeat_abi.h) as the XDP
// program, and the same events. Detection expiry is checked by expire(), which the
// owner calls at next_deadline() (the kernel path uses bpf_timer instead).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/health_source.hpp"

namespace tandem::healthbpf {

class SoftTable {
 public:
  SoftTable() : slots_(HB_TABLE_SLOTS) {}

  // One received datagram payload from `source` (16-byte address, IPv4 mapped) with
  // its TTL / hop limit. Validates like the XDP program; appends events to `out`.
  void on_datagram(std::span<const uint8_t> payload, const uint8_t (&source)[16], int ttl,
                   uint32_t ifindex, uint64_t now_ns, std::vector<hb_event>& out);
  // Emit EXPIRED for armed slots whose detection time has passed.
  void expire(uint64_t now_ns, std::vector<hb_event>& out);
  // Earliest pending detection deadline, if any slot is armed and not expired.
  std::optional<uint64_t> next_deadline() const;

  const hb_slot& slot(uint32_t index) const { return slots_[index & (HB_TABLE_SLOTS - 1)]; }
  void set_local_min_rx(uint32_t index, uint32_t us);
  void release(uint32_t index);
  void count(hb_counter c) { ++counters_.values[c]; }
  const Counters& counters() const { return counters_; }

 private:
  hb_slot* lookup(const hb_key& key, uint32_t& index, bool& is_new);
  void push(uint32_t index, uint32_t what, uint64_t now_ns, std::vector<hb_event>& out);

  std::vector<hb_slot> slots_;
  std::vector<uint32_t> armed_;  // indexes with local_min_rx_us != 0
  Counters counters_;
};

}  // namespace tandem::healthbpf
