#include "bgpd/capture/pcapng.hpp"

namespace tandem::capture {

namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A, kInterfaceDescription = 1, kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0, kOptComment = 1, kShbUserAppl = 4, kIfName = 2, kIfTsresol = 9;

void u16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void u32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void pad4(std::vector<uint8_t>& b) {
  while (b.size() % 4) b.push_back(0);
}
// An option: code, length, value padded to 32 bits. Longer values are cut at 65535.
void option(std::vector<uint8_t>& b, uint16_t code, std::span<const uint8_t> value) {
  const size_t n = value.size() > 0xFFFF ? 0xFFFF : value.size();
  u16(b, code);
  u16(b, static_cast<uint16_t>(n));
  b.insert(b.end(), value.begin(), value.begin() + static_cast<std::ptrdiff_t>(n));
  pad4(b);
}
void option(std::vector<uint8_t>& b, uint16_t code, std::string_view text) {
  option(b, code, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}
void end_of_options(std::vector<uint8_t>& b) {
  u16(b, kOptEnd);
  u16(b, 0);
}
// Block type, then the body; the total length goes in twice (after the type and last).
std::vector<uint8_t> begin_block(uint32_t type) {
  std::vector<uint8_t> b;
  u32(b, type);
  u32(b, 0);  // total length, set by finish_block
  return b;
}
std::vector<uint8_t> finish_block(std::vector<uint8_t> b) {
  pad4(b);
  const auto total = static_cast<uint32_t>(b.size() + 4);
  for (int i = 0; i < 4; ++i) b[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(total >> (8 * i));
  u32(b, total);
  return b;
}

}  // namespace

std::vector<uint8_t> section_header_block(std::string_view application) {
  auto b = begin_block(kSectionHeader);
  u32(b, kByteOrderMagic);
  u16(b, 1);  // major version
  u16(b, 0);  // minor version
  u32(b, 0xFFFFFFFF);  // section length: unknown (-1, 64 bits)
  u32(b, 0xFFFFFFFF);
  if (!application.empty()) {
    option(b, kShbUserAppl, application);
    end_of_options(b);
  }
  return finish_block(std::move(b));
}

std::vector<uint8_t> interface_description_block(uint16_t link_type, std::string_view name) {
  auto b = begin_block(kInterfaceDescription);
  u16(b, link_type);
  u16(b, 0);       // reserved
  u32(b, 262144);  // snap length
  if (!name.empty()) option(b, kIfName, name);
  const uint8_t nanoseconds = 9;  // if_tsresol: 10^-9
  option(b, kIfTsresol, std::span<const uint8_t>(&nanoseconds, 1));
  end_of_options(b);
  return finish_block(std::move(b));
}

std::vector<uint8_t> enhanced_packet_block(uint32_t interface_id, int64_t unix_nanos, std::span<const uint8_t> frame,
                                           std::string_view comment) {
  auto b = begin_block(kEnhancedPacket);
  u32(b, interface_id);
  const uint64_t ts = unix_nanos < 0 ? 0 : static_cast<uint64_t>(unix_nanos);
  u32(b, static_cast<uint32_t>(ts >> 32));
  u32(b, static_cast<uint32_t>(ts));
  u32(b, static_cast<uint32_t>(frame.size()));  // captured
  u32(b, static_cast<uint32_t>(frame.size()));  // original
  b.insert(b.end(), frame.begin(), frame.end());
  pad4(b);
  if (!comment.empty()) {
    option(b, kOptComment, comment);
    end_of_options(b);
  }
  return finish_block(std::move(b));
}

PcapngWriter::PcapngWriter(std::ostream& out, std::string_view application) : out_(out) {
  write(section_header_block(application));
  write(interface_description_block(kLinkTypeEthernet, "tandem"));
  out_.flush();
}

void PcapngWriter::packet(int64_t unix_nanos, std::span<const uint8_t> frame, std::string_view comment) {
  write(enhanced_packet_block(0, unix_nanos, frame, comment));
  out_.flush();
  ++packets_;
}

void PcapngWriter::write(const std::vector<uint8_t>& block) {
  out_.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size()));
}

}  // namespace tandem::capture
