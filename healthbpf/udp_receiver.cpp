#include "healthbpf/udp_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace tandem::healthbpf {

namespace {

std::string sys_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::unique_ptr<UdpReceiver> UdpReceiver::open(const UdpReceiverOptions& o, std::string& error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET6;
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET6, o.bind_address.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(o.port);
    len = sizeof(*s6);
  } else if (inet_pton(AF_INET, o.bind_address.c_str(), &s4->sin_addr) == 1) {
    family = AF_INET;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(o.port);
    len = sizeof(*s4);
  } else {
    error = "bad bind address '" + o.bind_address + "'";
    return nullptr;
  }
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = sys_error("socket");
    return nullptr;
  }
  int one = 1, zero = 0;
  bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0;
  // TTL of IPv4 datagrams (also delivered on a dual-stack IPv6 socket).
  ok = ok && setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) == 0;
  if (family == AF_INET6) {
    ok = ok && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0;
    ok = ok && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) == 0;
  }
  if (ok && !o.device.empty())
    ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.device.c_str(),
                    static_cast<socklen_t>(o.device.size())) == 0;
  if (!ok) {
    error = sys_error("setsockopt");
    ::close(fd);
    return nullptr;
  }
  if (o.receive_buffer_bytes > 0) {
    int bytes = static_cast<int>(o.receive_buffer_bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
      (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);  // best effort
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = sys_error(("bind " + o.bind_address + " port " + std::to_string(o.port)).c_str());
    ::close(fd);
    return nullptr;
  }
  auto r = std::unique_ptr<UdpReceiver>(new UdpReceiver(fd));
  r->max_per_call_ = o.max_per_call ? o.max_per_call : 1;
  return r;
}

UdpReceiver::~UdpReceiver() { ::close(fd_); }

size_t UdpReceiver::process(uint64_t now_ns, const std::function<void(const hb_event&)>& on_event) {
  pending_.clear();
  more_ = false;
  size_t i = 0;
  for (; i < max_per_call_; ++i) {
    std::array<uint8_t, 128> buf{};  // a control packet is 24..(24+auth) bytes
    sockaddr_storage from{};
    alignas(cmsghdr) std::array<char, 128> control{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (n < 0) break;  // EAGAIN: drained (other errors: nothing more to read now)
    int ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        int v = 0;
        std::memcpy(&v, CMSG_DATA(c), sizeof v);
        ttl = v;
      }
    }
    uint8_t source[16] = {};
    if (from.ss_family == AF_INET) {
      source[10] = source[11] = 0xff;
      std::memcpy(&source[12], &reinterpret_cast<sockaddr_in*>(&from)->sin_addr, 4);
    } else {
      std::memcpy(source, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr, 16);
    }
    // A datagram larger than the buffer is truncated: let the codec judge the Length.
    size_t size = std::min(static_cast<size_t>(n), buf.size());
    table_.on_datagram(std::span<const uint8_t>(buf.data(), size), source, ttl, 0, now_ns,
                       pending_);
  }
  more_ = i == max_per_call_;
  table_.expire(now_ns, pending_);
  for (const hb_event& e : pending_) on_event(e);
  return pending_.size();
}

}  // namespace tandem::healthbpf
