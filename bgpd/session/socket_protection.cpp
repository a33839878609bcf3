#include "bgpd/session/socket_protection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace tandem::session {

std::string set_md5_key(int fd, const wire::IpAddr& peer, const std::string& key) {
  tcp_md5sig sig{};
  if (key.size() > sizeof(sig.tcpm_key)) return "TCP-MD5 key longer than " + std::to_string(sizeof(sig.tcpm_key));
  if (peer.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&sig.tcpm_addr);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, peer.bytes.data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&sig.tcpm_addr);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, peer.bytes.data(), 16);
  }
  sig.tcpm_keylen = static_cast<uint16_t>(key.size());
  std::memcpy(sig.tcpm_key, key.data(), key.size());
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof(sig)) != 0) {
    // Removing a key that was never installed is not an error worth reporting.
    if (key.empty() && errno == ENOENT) return {};
    return std::string("TCP_MD5SIG: ") + std::strerror(errno);
  }
  return {};
}

std::string set_gtsm(int fd, bool ipv6) {
  int ttl = 255;
  if (ipv6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) != 0 ||
        setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl, sizeof(ttl)) != 0)
      return std::string("GTSM (IPV6_UNICAST_HOPS/IPV6_MINHOPCOUNT): ") + std::strerror(errno);
  } else {
    if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof(ttl)) != 0)
      return std::string("GTSM (IP_TTL/IP_MINTTL): ") + std::strerror(errno);
  }
  return {};
}

namespace {

uint32_t word_at(const wire::IpAddr& a, size_t i) {
  return (uint32_t{a.bytes[i]} << 24) | (uint32_t{a.bytes[i + 1]} << 16) | (uint32_t{a.bytes[i + 2]} << 8) |
         a.bytes[i + 3];
}

}  // namespace

std::string set_gtsm_filter(int fd, bool ipv6, const std::vector<wire::IpAddr>& peers) {
  std::vector<sock_filter> prog;
  auto add = [&](uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) { prog.push_back({code, jt, jf, k}); };
  // Offsets from the network header (the filter runs with skb->data at the TCP header).
  const uint32_t ttl_off = ipv6 ? 7 : 8;   // IPv6 hop limit / IPv4 TTL
  const uint32_t src_off = ipv6 ? 8 : 12;  // source address
  add(BPF_LD | BPF_B | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_NET_OFF) + ttl_off);
  add(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 255);  // TTL 255: nothing to check
  add(BPF_RET | BPF_K, 0, 0, 0xFFFFFFFF);
  for (const auto& p : peers) {
    if (p.is_v6() != ipv6) continue;
    // Compare the source address word by word; on a full match drop, else go on with
    // the next peer. Every jump is local, so any number of peers fits the 8-bit offsets.
    const size_t words = ipv6 ? 4 : 1;
    for (size_t w = 0; w < words; ++w) {
      add(BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_NET_OFF) + src_off + 4 * static_cast<uint32_t>(w));
      // Mismatch: skip the rest of this peer's block (remaining words * 2, plus the drop).
      const auto skip = static_cast<uint8_t>((words - 1 - w) * 2 + 1);
      add(BPF_JMP | BPF_JEQ | BPF_K, 0, skip, word_at(p, 4 * w));
    }
    add(BPF_RET | BPF_K, 0, 0, 0);  // from a GTSM peer with TTL < 255: drop
  }
  add(BPF_RET | BPF_K, 0, 0, 0xFFFFFFFF);
  if (prog.size() == 4) {  // no GTSM peer of this family: no filter
    int unused = 0;  // the kernel wants an int-sized option value even here
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) != 0 && errno != ENOENT)
      return std::string("SO_DETACH_FILTER: ") + std::strerror(errno);
    return {};
  }
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0)
    return std::string("SO_ATTACH_FILTER (GTSM): ") + std::strerror(errno);
  return {};
}

}  // namespace tandem::session
