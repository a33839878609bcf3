// Transmit side of one single-hop BFD session (RFC 5881 §4): a UDP socket with TTL /
// hop limit 255, source port in 49152-65535, connected to the remote on port 3784.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>

#include "healthbpf/bfd_packet.hpp"

namespace tandem::healthbpf {

class UdpSender {
 public:
  // `local` may be empty (kernel picks); `device` binds to an interface when set.
  static std::unique_ptr<UdpSender> open(const std::string& local, const std::string& remote,
                                         const std::string& device, std::string& error,
                                         uint16_t remote_port = 3784);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  bool send(const bfd::ControlPacket& packet);
  uint16_t source_port() const { return source_port_; }
  uint64_t errors() const { return errors_; }

 private:
  UdpSender(int fd, uint16_t port) : fd_(fd), source_port_(port) {}
  int fd_;
  uint16_t source_port_;
  // No route to the peer at creation (e.g. a node starting with its link down): the
  // socket stays unconnected and each packet goes out with sendto(), failing (counted)
  // until the route is there.
  bool connected_ = true;
  sockaddr_storage dst_{};
  socklen_t dst_len_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace tandem::healthbpf
