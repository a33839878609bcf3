// The user-space receiver's limits: a large receive buffer (the default holds ~3 ms of
// 1,000 sessions at 10 ms) and a bounded amount of work per process() call.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "healthbpf/udp_receiver.hpp"

namespace tandem::healthbpf {
namespace {

TEST(UdpReceiver, BoundedWorkPerCallAndALargeBuffer) {
  UdpReceiverOptions o;
  o.bind_address = "127.0.0.1";
  o.port = 47851;
  o.max_per_call = 10;
  std::string error;
  auto r = UdpReceiver::open(o, error);
  ASSERT_TRUE(r) << error;
  int rcvbuf = 0;
  socklen_t len = sizeof rcvbuf;
  ASSERT_EQ(getsockopt(r->fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len), 0);
  if (geteuid() == 0) EXPECT_GE(rcvbuf, int(8u << 20));  // forced (doubled by the kernel)
  else EXPECT_GT(rcvbuf, 0);

  // 25 datagrams with TTL 64 from the loopback: each is rejected (bad_ttl) by the
  // validation, 10 per call.
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(o.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const uint8_t junk[24] = {0x20};
  for (int i = 0; i < 25; ++i)
    ASSERT_EQ(::sendto(s, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 24);
  ::close(s);
  auto bad_ttl = [&] { return r->counters()[HB_CNT_BAD_TTL]; };
  EXPECT_FALSE(r->next_deadline());  // nothing armed, nothing left
  r->process(1, [](const hb_event&) {});
  EXPECT_EQ(bad_ttl(), 10u);
  EXPECT_TRUE(r->next_deadline());  // stopped at the cap: come back at once
  r->process(2, [](const hb_event&) {});
  EXPECT_EQ(bad_ttl(), 20u);
  r->process(3, [](const hb_event&) {});
  EXPECT_EQ(bad_ttl(), 25u);
  r->process(4, [](const hb_event&) {});
  EXPECT_EQ(bad_ttl(), 25u);
  EXPECT_FALSE(r->next_deadline());
}

}  // namespace
}  // namespace tandem::healthbpf
