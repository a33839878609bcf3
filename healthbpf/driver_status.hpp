// What the BFD driver (driver.hpp) reports to the management API: plain values, no
// libbpf, no Asio, so that the API library and its tests need only this header.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tandem::healthbpf {

struct SessionStatus {
  std::string peer;              // remote address
  std::string local_address;     // empty: chosen by the kernel
  uint32_t local_discriminator = 0;
  uint32_t remote_discriminator = 0;  // 0 while unknown
  std::string local_state;       // "AdminDown", "Down", "Init", "Up"
  std::string remote_state;
  std::string local_diag;        // RFC 5880 §4.1 text of bfd.LocalDiag
  std::string remote_diag;
  uint32_t desired_min_tx_us = 0;   // configured
  uint32_t required_min_rx_us = 0;
  uint32_t detect_mult = 0;
  uint32_t remote_min_tx_us = 0;    // as last received
  uint32_t remote_min_rx_us = 0;
  uint32_t remote_detect_mult = 0;
  uint64_t tx_interval_us = 0;      // negotiated transmit interval (before jitter), 0: not sending
  uint64_t rx_interval_us = 0;      // negotiated receive interval: max(our min rx, remote min tx)
  uint64_t detect_time_us = 0;      // remote detect mult x rx interval, 0 before any packet
  int64_t last_rx_age_ms = -1;      // since the last valid packet, -1: never
  uint64_t packets_in = 0;          // valid packets counted in the session's table slots
  uint64_t packets_out = 0;         // ours, from user space and the XDP program
  uint64_t packets_out_kernel = 0;  // of which the XDP program sent (kernel replies)
  bool kernel_replies = false;      // the XDP program answers for this session now
  uint64_t send_errors = 0;
  uint64_t up_transitions = 0;
  uint64_t down_transitions = 0;
  int64_t last_change_age_ms = -1;  // since the last state change, -1: never changed
};

// A BGP peer's BFD session as the other node of an HA pair needs it to carry the session
// on with the same discriminators (docs/ha.md, "BFD sessions move with the BGP sessions").
struct SessionHandover {
  std::string peer;
  bool up = false;
  uint32_t local_discriminator = 0;
  uint32_t remote_discriminator = 0;
  uint32_t remote_min_tx_us = 0;
  uint32_t remote_min_rx_us = 0;
  uint32_t remote_detect_mult = 0;
  bool operator==(const SessionHandover&) const = default;
};

struct DriverStatus {
  std::string path;                 // "xdp-native", "xdp-generic" or "user-space"
  std::vector<std::string> interfaces;  // XDP attachments: "eth0", or "eth0 (xdp-generic)" when not `path`
  std::vector<std::string> reply_interfaces;  // where the XDP program may answer for us
  std::vector<std::pair<std::string, uint64_t>> counters;  // receive-path counters by name
  uint64_t unknown_events = 0;      // table events for no configured session
  std::vector<SessionStatus> sessions;
};

}  // namespace tandem::healthbpf
