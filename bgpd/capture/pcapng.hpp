// A pcapng (draft-ietf-opsawg-pcapng) file writer: one section, one Ethernet interface
// with nanosecond timestamps, Enhanced Packet Blocks with an optional comment
// (opt_comment). Pure: writes to a std::ostream; no capture, no sockets. Multi-byte
// fields are little-endian (the section's byte-order magic says so).
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::capture {

inline constexpr uint16_t kLinkTypeEthernet = 1;

// The blocks, whole (type, lengths, body, options, padding). For tests and the writer.
std::vector<uint8_t> section_header_block(std::string_view application);
std::vector<uint8_t> interface_description_block(uint16_t link_type, std::string_view name);
std::vector<uint8_t> enhanced_packet_block(uint32_t interface_id, int64_t unix_nanos,
                                           std::span<const uint8_t> frame, std::string_view comment);

class PcapngWriter {
 public:
  // Writes the section header and the interface description at once.
  PcapngWriter(std::ostream& out, std::string_view application);
  // One packet (an Ethernet frame) at `unix_nanos`; the comment is left out when empty.
  // Each packet is flushed: the file is complete after every call.
  void packet(int64_t unix_nanos, std::span<const uint8_t> frame, std::string_view comment);
  bool good() const { return out_.good(); }
  uint64_t packets() const { return packets_; }

 private:
  void write(const std::vector<uint8_t>& block);
  std::ostream& out_;
  uint64_t packets_ = 0;
};

}  // namespace tandem::capture
