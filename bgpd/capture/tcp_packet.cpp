#include "bgpd/capture/tcp_packet.hpp"

#include <algorithm>

namespace tandem::capture {

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86DD;
constexpr uint8_t kProtoTcp = 6;

void be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

wire::IpAddr as_v6(const wire::IpAddr& a) {
  if (a.is_v6()) return a;
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]};
  return wire::IpAddr::v6(mapped);
}

uint32_t sum16(std::span<const uint8_t> bytes, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += static_cast<uint32_t>((bytes[i] << 8) | bytes[i + 1]);
  if (i < bytes.size()) sum += static_cast<uint32_t>(bytes[i] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

}  // namespace

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial) {
  return static_cast<uint16_t>(~sum16(bytes, initial) & 0xFFFF);
}

std::vector<uint8_t> ethernet_frame(const TcpSegment& s) {
  const bool v6 = s.src.is_v6() || s.dst.is_v6();
  const wire::IpAddr src = v6 ? as_v6(s.src) : s.src;
  const wire::IpAddr dst = v6 ? as_v6(s.dst) : s.dst;
  const auto payload = s.payload.first(std::min(s.payload.size(), kMaxSegmentPayload));
  const size_t tcp_len = 20 + payload.size();

  std::vector<uint8_t> f;
  f.reserve(14 + 40 + tcp_len);
  f.insert(f.end(), s.dst_mac.begin(), s.dst_mac.end());
  f.insert(f.end(), s.src_mac.begin(), s.src_mac.end());
  be16(f, v6 ? kEtherIpv6 : kEtherIpv4);

  const size_t ip_at = f.size();
  if (v6) {
    be32(f, 0x60000000);  // version 6, no traffic class, no flow label
    be16(f, static_cast<uint16_t>(tcp_len));
    f.push_back(kProtoTcp);
    f.push_back(64);  // hop limit
    f.insert(f.end(), src.bytes.begin(), src.bytes.end());
    f.insert(f.end(), dst.bytes.begin(), dst.bytes.end());
  } else {
    f.push_back(0x45);  // version 4, 20-byte header
    f.push_back(0);
    be16(f, static_cast<uint16_t>(20 + tcp_len));
    be16(f, 0);       // identification
    be16(f, 0x4000);  // don't fragment
    f.push_back(64);  // TTL
    f.push_back(kProtoTcp);
    be16(f, 0);  // header checksum, below
    f.insert(f.end(), src.bytes.begin(), src.bytes.begin() + 4);
    f.insert(f.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
    put16(f, ip_at + 10, internet_checksum(std::span<const uint8_t>(f).subspan(ip_at, 20)));
  }

  const size_t tcp_at = f.size();
  be16(f, s.src_port);
  be16(f, s.dst_port);
  be32(f, s.seq);
  be32(f, s.ack);
  f.push_back(5 << 4);  // data offset: 20 bytes
  f.push_back(s.flags);
  be16(f, s.window);
  be16(f, 0);  // checksum, below
  be16(f, 0);  // urgent pointer
  f.insert(f.end(), payload.begin(), payload.end());

  // Pseudo-header: addresses, protocol, TCP length.
  std::vector<uint8_t> pseudo;
  const size_t alen = v6 ? 16 : 4;
  pseudo.insert(pseudo.end(), src.bytes.begin(), src.bytes.begin() + static_cast<std::ptrdiff_t>(alen));
  pseudo.insert(pseudo.end(), dst.bytes.begin(), dst.bytes.begin() + static_cast<std::ptrdiff_t>(alen));
  if (v6) {
    be32(pseudo, static_cast<uint32_t>(tcp_len));
    be32(pseudo, kProtoTcp);
  } else {
    pseudo.push_back(0);
    pseudo.push_back(kProtoTcp);
    be16(pseudo, static_cast<uint16_t>(tcp_len));
  }
  const uint16_t sum = internet_checksum(std::span<const uint8_t>(f).subspan(tcp_at), sum16(pseudo, 0));
  put16(f, tcp_at + 16, sum);
  return f;
}

std::vector<std::vector<uint8_t>> ethernet_frames(const TcpSegment& segment) {
  std::vector<std::vector<uint8_t>> out;
  TcpSegment s = segment;
  size_t done = 0;
  do {
    s.payload = segment.payload.subspan(done, std::min(kMaxSegmentPayload, segment.payload.size() - done));
    s.seq = segment.seq + static_cast<uint32_t>(done);
    out.push_back(ethernet_frame(s));
    done += s.payload.size();
  } while (done < segment.payload.size());
  return out;
}

}  // namespace tandem::capture
