// The health table as both receive paths present it: the XDP program with its BPF
// maps (health_table.hpp) and the user-space UDP receiver over the same table logic
// (udp_receiver.hpp). The daemon codes against this interface only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/bpf/heartbeat_abi.h"

namespace tandem::healthbpf {

struct Counters {
  std::array<uint64_t, HB_CNT_MAX> values{};
  uint64_t operator[](hb_counter c) const { return values[c]; }
};
const char* to_string(hb_counter c);

// The packet a slot's remote fields were taken from (as seen by the session FSM).
bfd::ControlPacket to_packet(const hb_slot& slot);
// "disc 42" or "addr 192.0.2.1 disc 7", for logs.
std::string to_string(const hb_key& key);
hb_key disc_key(uint32_t your_discriminator);
// `address` is IPv4 or IPv6 text; nullopt when it does not parse.
std::optional<hb_key> addr_key(const std::string& address, uint32_t remote_my_discriminator);

// A reply the XDP program sends for a session in steady state (heartbeat_abi.h,
// struct hb_reply; docs/healthbpf.md "Transmission in the kernel").
struct KernelReply {
  std::array<uint8_t, HB_REPLY_PACKET> packet{};  // our encoded control packet
  uint16_t source_port = 0;                        // host order
  uint64_t min_gap_ns = 0;                         // 75% of the transmit interval
  uint64_t last_tx_ns = 0;                         // our last packet before arming
};
// What the program did for one armed entry.
struct KernelReplyCounts {
  uint64_t sent = 0;        // packets sent since the entry was armed
  uint64_t last_tx_ns = 0;  // the newest of them (or the arming's last_tx_ns)
};

class HealthSource {
 public:
  virtual ~HealthSource() = default;
  // "xdp-native", "xdp-generic" or "user-space".
  virtual std::string path() const = 0;
  // A copy of slot `index` (< HB_TABLE_SLOTS).
  virtual hb_slot slot(uint32_t index) const = 0;
  // Where `key` lives, if it has a slot (same bounded probing as the writers).
  std::optional<uint32_t> find(const hb_key& key) const;
  // Our Required Min RX for the session in this slot; non-zero arms detection of it.
  virtual void set_local_min_rx(uint32_t index, uint32_t us) = 0;
  // Free a slot (session deleted, or an address-keyed slot that is no longer used).
  virtual void release(uint32_t index) = 0;
  // Readable when process() has work; -1 if none.
  virtual int fd() const = 0;
  // Consume pending input and events; calls on_event for each. Returns the count.
  virtual size_t process(uint64_t now_ns, const std::function<void(const hb_event&)>& on_event) = 0;
  // When process() must run even if fd() stays quiet (user-space detection), if ever.
  virtual std::optional<uint64_t> next_deadline() const = 0;
  virtual Counters counters() const = 0;

  // Kernel replies: only the XDP path can send them.
  virtual bool can_reply() const { return false; }
  virtual void arm_reply(uint32_t /*index*/, const KernelReply& /*reply*/) {}
  // Stops the replies of slot `index`; returns what they did.
  virtual KernelReplyCounts disarm_reply(uint32_t /*index*/) { return {}; }
  virtual KernelReplyCounts reply_counts(uint32_t /*index*/) const { return {}; }
  // The program answers only until `until_ns` (CLOCK_MONOTONIC): a daemon that stops
  // renewing (hung, killed) falls silent to its peers as it would without replies.
  virtual void renew_lease(uint64_t /*until_ns*/) {}
};

// CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(), so table times compare.
uint64_t monotonic_ns();

}  // namespace tandem::healthbpf
