#include "healthbpf/udp_sender.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace tandem::healthbpf {

namespace {

bool parse(const std::string& text, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    len = sizeof(*s4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    len = sizeof(*s6);
    return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<UdpSender> UdpSender::open(const std::string& local, const std::string& remote,
                                           const std::string& device, std::string& error,
                                           uint16_t remote_port) {
  sockaddr_storage dst{}, src{};
  socklen_t dst_len = 0, src_len = 0;
  if (!parse(remote, remote_port, dst, dst_len)) {
    error = "bad remote address '" + remote + "'";
    return nullptr;
  }
  if (local.empty()) {
    src.ss_family = dst.ss_family;
    src_len = dst_len;
  } else if (!parse(local, 0, src, src_len) || src.ss_family != dst.ss_family) {
    error = "bad local address '" + local + "' for remote " + remote;
    return nullptr;
  }
  int fd = ::socket(dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  int ttl = 255;
  bool ok = dst.ss_family == AF_INET
                ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) == 0
                : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) == 0;
  if (ok && !device.empty())
    ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                    static_cast<socklen_t>(device.size())) == 0;
  if (!ok) {
    error = std::string("setsockopt: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  // RFC 5881 §4: source port 49152-65535, the same for the session's lifetime.
  std::random_device rd;
  uint16_t port = 0;
  for (int attempt = 0; attempt < 64 && port == 0; ++attempt) {
    uint16_t candidate = static_cast<uint16_t>(49152 + rd() % 16384);
    if (src.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&src)->sin_port = htons(candidate);
    else reinterpret_cast<sockaddr_in6*>(&src)->sin6_port = htons(candidate);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), src_len) == 0) port = candidate;
  }
  bool connected = port != 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&dst), dst_len) == 0;
  const bool no_route = !connected && port != 0 && (errno == ENETUNREACH || errno == EHOSTUNREACH);
  if (!connected && !no_route) {
    error = std::string(port == 0 ? "bind: " : "connect: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<UdpSender> s(new UdpSender(fd, port));
  s->connected_ = connected;
  s->dst_ = dst;
  s->dst_len_ = dst_len;
  return s;
}

UdpSender::~UdpSender() { ::close(fd_); }

bool UdpSender::send(const bfd::ControlPacket& packet) {
  auto bytes = bfd::encode(packet);
  const ssize_t n = connected_ ? ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT)
                               : ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT,
                                          reinterpret_cast<const sockaddr*>(&dst_), dst_len_);
  if (n == static_cast<ssize_t>(bytes.size())) return true;
  ++errors_;
  return false;
}

}  // namespace tandem::healthbpf
