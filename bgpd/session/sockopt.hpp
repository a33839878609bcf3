// Small socket-option and ioctl helpers shared by tcp_state.cpp and tcp_repair.cpp: each returns
// false with "WHAT: strerror" in `error` on failure.
#pragma once

#include <linux/tcp.h>  // TCP_REPAIR (not <netinet/tcp.h>: the two clash)
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace tandem::session::sockopt {

inline std::string errno_text(const char* what, int e = errno) { return std::string(what) + ": " + std::strerror(e); }

inline bool set_tcp(int fd, int opt, int value, const char* what, std::string& error) {
  if (::setsockopt(fd, IPPROTO_TCP, opt, &value, sizeof value) == 0) return true;
  error = errno_text(what);
  return false;
}

// Leave TCP_REPAIR (mode TCP_REPAIR_OFF, or TCP_REPAIR_OFF_NO_WP: no window probe). The
// kernel sets sk_reuse = SK_NO_REUSE as the socket leaves repair mode (net/ipv4/tcp.c),
// dropping SO_REUSEADDR; set again here. Without it, this connection (or its orphan or
// TIME-WAIT after the process ends) on local port 179 makes every later SO_REUSEADDR
// listener on *:179 fail with EADDRINUSE: a node that just took over could not listen.
inline bool repair_off(int fd, int mode, const char* what, std::string& error) {
  if (!set_tcp(fd, TCP_REPAIR, mode, what, error)) return false;
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0) return true;
  error = errno_text("SO_REUSEADDR after leaving repair mode");
  return false;
}

inline bool get_tcp_u32(int fd, int opt, uint32_t& out, const char* what, std::string& error) {
  uint32_t v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, IPPROTO_TCP, opt, &v, &len) != 0) {
    error = errno_text(what);
    return false;
  }
  out = v;
  return true;
}

// An int-valued ioctl (SIOCINQ, SIOCOUTQ, ...).
inline bool ioctl_u32(int fd, unsigned long req, uint32_t& out, const char* what, std::string& error) {
  int v = 0;
  if (::ioctl(fd, req, &v) != 0) {
    error = errno_text(what);
    return false;
  }
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace tandem::session::sockopt
