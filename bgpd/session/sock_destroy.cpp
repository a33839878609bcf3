#include "bgpd/session/sock_destroy.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::session {

bool destroy_socket(const TcpEndpoint& local, const TcpEndpoint& remote, std::string& error) {
  error.clear();
  if (local.family != remote.family || (local.family != AF_INET && local.family != AF_INET6)) {
    error = "bad endpoints";
    return false;
  }
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    error = std::string("netlink socket: ") + std::strerror(errno);
    return false;
  }
  struct {
    nlmsghdr nh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nh.nlmsg_len = sizeof msg;
  msg.nh.nlmsg_type = SOCK_DESTROY;
  msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.nh.nlmsg_seq = 1;
  msg.req.sdiag_family = static_cast<uint8_t>(local.family);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_sport = htons(local.port);
  msg.req.id.idiag_dport = htons(remote.port);
  const size_t len = local.family == AF_INET ? 4 : 16;
  std::memcpy(msg.req.id.idiag_src, local.addr.data(), len);
  std::memcpy(msg.req.id.idiag_dst, remote.addr.data(), len);
  msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  bool ok = false;
  if (::sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    error = std::string("SOCK_DESTROY: ") + std::strerror(errno);
  } else {
    alignas(nlmsghdr) char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    const auto* reply = reinterpret_cast<const nlmsghdr*>(buf);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr)) || reply->nlmsg_type != NLMSG_ERROR) {
      error = "SOCK_DESTROY: no answer from the kernel";
    } else {
      const int e = -reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
      if (e == 0) ok = true;
      else if (e != ENOENT) error = std::string("SOCK_DESTROY: ") + std::strerror(e);
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace tandem::session
