#include "replicator/vip/garp.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace tandem::replicator::vip {

std::string mac_to_string(const Mac& m) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}

namespace {

constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
// ff02::1 (all nodes) and its Ethernet multicast address 33:33:00:00:00:01.
constexpr std::array<uint8_t, 16> kAllNodes{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Mac kAllNodesMac{0x33, 0x33, 0, 0, 0, 1};
constexpr size_t kMinFrame = 60;  // Ethernet minimum without FCS

void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
template <class C>
void put(std::vector<uint8_t>& f, const C& bytes, size_t n) {
  f.insert(f.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
}

void ethernet(std::vector<uint8_t>& f, const Mac& dst, const Mac& src, uint16_t type) {
  put(f, dst, 6);
  put(f, src, 6);
  put16(f, type);
}

}  // namespace

std::vector<uint8_t> build_garp(const Mac& mac, const wire::IpAddr& vip, bool reply) {
  std::vector<uint8_t> f;
  f.reserve(kMinFrame);
  ethernet(f, kBroadcast, mac, ETH_P_ARP);
  put16(f, ARPHRD_ETHER);
  put16(f, ETH_P_IP);
  f.push_back(6);
  f.push_back(4);
  put16(f, reply ? ARPOP_REPLY : ARPOP_REQUEST);
  put(f, mac, 6);          // sender MAC: the new owner
  put(f, vip.bytes, 4);    // sender IP = target IP = the VIP (that makes it gratuitous)
  // Target MAC: zero in a request; our own in a reply (Linux treats a reply as
  // gratuitous only when target MAC = sender MAC).
  if (reply) put(f, mac, 6); else f.insert(f.end(), 6, 0);
  put(f, vip.bytes, 4);
  f.resize(kMinFrame, 0);
  return f;
}

std::vector<uint8_t> build_unsolicited_na(const Mac& mac, const wire::IpAddr& vip, bool router) {
  constexpr uint16_t kIcmpLen = 4 + 4 + 16 + 8;  // header, flags, target, TLLA option
  std::vector<uint8_t> f;
  f.reserve(14 + 40 + kIcmpLen);
  ethernet(f, kAllNodesMac, mac, ETH_P_IPV6);
  // IPv6 header: version 6, no traffic class / flow label; hop limit 255 (receivers drop
  // ND messages with any other: proof that they come from the link).
  f.insert(f.end(), {0x60, 0, 0, 0});
  put16(f, kIcmpLen);
  f.push_back(58);   // next header: ICMPv6
  f.push_back(255);  // hop limit
  put(f, vip.bytes, 16);  // source: the VIP (an address of the interface, RFC 4861 7.2.6)
  put(f, kAllNodes, 16);
  size_t icmp = f.size();
  f.push_back(136);  // Neighbor Advertisement
  f.push_back(0);    // code
  f.push_back(0);    // checksum, filled below
  f.push_back(0);
  // Flags: Router as configured, Solicited clear (unsolicited; a multicast NA with S set
  // is dropped), Override set (replace the cached MAC, not just fill an empty one).
  f.push_back(static_cast<uint8_t>((router ? 0x80 : 0) | 0x20));
  f.insert(f.end(), 3, 0);
  put(f, vip.bytes, 16);  // target
  f.push_back(2);         // option: target link-layer address
  f.push_back(1);         // length in units of 8 octets
  put(f, mac, 6);
  // Checksum over the pseudo-header (src, dst, upper-layer length, next header) and
  // the ICMPv6 message.
  uint32_t sum = 0;
  auto add16 = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t(p[i]) << 8) | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  };
  add16(vip.bytes.data(), 16);
  add16(kAllNodes.data(), 16);
  sum += kIcmpLen;
  sum += 58;
  add16(f.data() + icmp, kIcmpLen);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = static_cast<uint16_t>(~sum);
  f[icmp + 2] = static_cast<uint8_t>(csum >> 8);
  f[icmp + 3] = static_cast<uint8_t>(csum);
  return f;
}

std::unique_ptr<Announcer> Announcer::open(const std::string& ifname, std::string& error,
                                           const AnnounceOptions& options) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    error = "'" + ifname + "': not a valid interface name";
    return nullptr;
  }
  // Protocol 0: the socket can send any frame but receives none.
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = ifname + ": packet socket: " + std::strerror(errno);
    return nullptr;
  }
  auto fail = [&](const std::string& what) {
    error = ifname + ": " + what + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  };
  // These ioctls look in the socket's namespace, like everything else on it.
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
  if (::ioctl(fd, SIOCGIFINDEX, &ifr) != 0) return fail("no such interface");
  int ifindex = ifr.ifr_ifindex;
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return fail("cannot read the MAC address");
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    error = ifname + ": not an Ethernet interface (ARPHRD " + std::to_string(ifr.ifr_hwaddr.sa_family) + ")";
    ::close(fd);
    return nullptr;
  }
  Mac mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return fail("bind");
  return std::unique_ptr<Announcer>(new Announcer(fd, ifindex, mac, ifname, options));
}

Announcer::Announcer(int fd, int ifindex, const Mac& mac, std::string ifname, const AnnounceOptions& o)
    : fd_(fd), ifindex_(ifindex), mac_(mac), ifname_(std::move(ifname)), options_(o) {}

Announcer::~Announcer() { ::close(fd_); }

std::vector<std::vector<uint8_t>> Announcer::frames(const wire::IpAddr& vip) const {
  std::vector<std::vector<uint8_t>> out;
  if (vip.is_v4()) {
    if (options_.arp_request) out.push_back(build_garp(mac_, vip, false));
    if (options_.arp_reply) out.push_back(build_garp(mac_, vip, true));
  } else {
    out.push_back(build_unsolicited_na(mac_, vip, options_.ipv6_router));
  }
  return out;
}

bool Announcer::announce(const wire::IpAddr& vip, std::string& error, int count,
                         std::chrono::microseconds spacing) {
  const auto frames_to_send = frames(vip);
  if (frames_to_send.empty()) {
    error = ifname_ + ": " + vip.to_string() + ": nothing to send (ARP request and reply both disabled)";
    return false;
  }
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  to.sll_protocol = htons(vip.is_v4() ? ETH_P_ARP : ETH_P_IPV6);
  const Mac& dst = vip.is_v4() ? kBroadcast : kAllNodesMac;
  std::memcpy(to.sll_addr, dst.data(), 6);
  for (int i = 0; i < count; ++i) {
    if (i > 0 && spacing.count() > 0) std::this_thread::sleep_for(spacing);
    for (const auto& f : frames_to_send) {
      ssize_t n = ::sendto(fd_, f.data(), f.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      if (n != static_cast<ssize_t>(f.size())) {
        error = ifname_ + ": " + vip.to_string() + ": " +
                (vip.is_v4() ? "gratuitous ARP" : "unsolicited NA") + ": " +
                (n < 0 ? std::strerror(errno) : "short write");
        return false;
      }
    }
  }
  return true;
}

}  // namespace tandem::replicator::vip
