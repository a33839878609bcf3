// Reading a TCP socket's state in the socket tests (tcp_state_test, tcp_repair_test);
// each failure is a test failure.
#pragma once

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdint>

namespace tandem::test {

inline int tcp_int(int fd, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, opt, &v, &len), 0);
  return v;
}

inline uint8_t tcp_state_of(int fd) {
  struct tcp_info ti{};
  socklen_t len = sizeof ti;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
  return ti.tcpi_state;
}

inline int so_error(int fd) {
  int e = -1;
  socklen_t len = sizeof e;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len), 0);
  return e;
}

}  // namespace tandem::test
