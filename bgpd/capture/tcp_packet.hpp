// Synthesised Ethernet / IPv4 or IPv6 / TCP framing around a payload, so that packet
// tools (tshark, Wireshark) dissect BGP messages written to a pcapng file as if they
// had been captured on the wire: real addresses, ports and (when known) sequence
// numbers, correct IP and TCP checksums, no options.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::capture {

namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
}

using Mac = std::array<uint8_t, 6>;

struct TcpSegment {
  wire::IpAddr src, dst;  // IPv4 with IPv6: the IPv4 one is written IPv4-mapped
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = tcp_flag::kPsh | tcp_flag::kAck;
  uint16_t window = 65535;
  Mac src_mac{0x02, 0, 0, 0, 0, 0x01}, dst_mac{0x02, 0, 0, 0, 0, 0x02};  // locally administered
  std::span<const uint8_t> payload;
};

// The largest payload of one segment: IPv4's total length is 16 bits.
inline constexpr size_t kMaxSegmentPayload = 65535 - 20 - 20;

// One Ethernet frame; the payload is cut at kMaxSegmentPayload (see segments()).
std::vector<uint8_t> ethernet_frame(const TcpSegment& segment);

// The frames that carry `seg.payload` whole: one per kMaxSegmentPayload bytes, seq
// advancing (a BGP extended message of 65535 bytes needs two).
std::vector<std::vector<uint8_t>> ethernet_frames(const TcpSegment& segment);

// RFC 1071 one's-complement sum, folded and complemented. `initial`: a partial sum
// (e.g. of a pseudo-header), not complemented.
uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial = 0);

}  // namespace tandem::capture
