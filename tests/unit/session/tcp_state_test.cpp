// Reading a live TCP connection's state: sequence bases (TCP_REPAIR), queues, TCP_INFO,
// TSval, window clamp. Real connections on 127.0.0.1 in a private network namespace.
#include "bgpd/session/tcp_state.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../private_netns.hpp"

#include "tests/unit/session/socket_probe.hpp"

namespace tandem::session {
namespace {

using test::so_error;
using test::tcp_state_of;

// A connected pair on 127.0.0.1: a = the connecting side, b = the accepted one.
struct Pair {
  int a = -1, b = -1;
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// `rcvbuf` > 0: a small receive buffer on the accepted side (set on the listener,
// before the handshake, so that it also shapes the advertised window). `reuse`:
// SO_REUSEADDR on the listener (the accepted socket inherits it), as the daemon's.
void connect_pair(Pair& p, int rcvbuf = 0, bool reuse = false) {
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  const int on = 1;
  if (reuse) {
    ASSERT_EQ(::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  }
  if (rcvbuf > 0) {
    ASSERT_EQ(::setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(l, 1), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  p.a = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(p.a, 0);
  ASSERT_EQ(::connect(p.a, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  p.b = ::accept(l, nullptr, nullptr);
  ::close(l);
  ASSERT_GE(p.b, 0);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

void write_all(int fd, const std::vector<uint8_t>& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    ASSERT_GT(n, 0) << std::strerror(errno);
    off += static_cast<size_t>(n);
  }
}

std::vector<uint8_t> read_exact(int fd, size_t n) {
  std::vector<uint8_t> out(n);
  size_t off = 0;
  while (off < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) != 1) break;
    ssize_t r = ::read(fd, out.data() + off, n - off);
    if (r <= 0) break;
    off += static_cast<size_t>(r);
  }
  out.resize(off);
  return out;
}

// Write without blocking until the socket takes no more; returns the bytes taken.
size_t write_until_full(int fd, size_t chunk) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  std::vector<uint8_t> buf(chunk, 0x5a);
  size_t total = 0;
  for (;;) {
    ssize_t n = ::write(fd, buf.data(), buf.size());
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  ::fcntl(fd, F_SETFL, flags);
  return total;
}

bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

TcpQueues queues(int fd) {
  std::string err;
  auto q = read_queues(fd, err);
  EXPECT_TRUE(q) << err;
  return q.value_or(TcpQueues{});
}

bool in_repair(int fd) { return test::tcp_int(fd, TCP_REPAIR) != 0; }

// kernel release >= major.minor
bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

class TcpState : public test::PrivateNetnsTest<TcpState> {
 public:
  static constexpr const char* kNetnsSetup = "true";  // lo (up) is all we need
};

// read_seq_bases, or a skip when TCP_REPAIR is not permitted here.
#define READ_BASES_OR_SKIP(out, fd, written, read)                                  \
  std::string out##_err;                                                            \
  auto out = read_seq_bases(fd, written, read, out##_err);                          \
  if (!out && out##_err.find("not permitted") != std::string::npos)                 \
    GTEST_SKIP() << "TCP_REPAIR needs CAP_NET_ADMIN: " << out##_err;                \
  ASSERT_TRUE(out) << out##_err

TEST_F(TcpState, SequenceBasesMatchAcrossTheConnection) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p));
  const size_t n = 5000, m = 3000, b_reads = 2000;
  auto ab = pattern(n, 1), ba = pattern(m, 2);
  write_all(p.a, ab);
  write_all(p.b, ba);
  ASSERT_EQ(read_exact(p.a, m), ba);
  auto head = read_exact(p.b, b_reads);
  ASSERT_EQ(head, std::vector<uint8_t>(ab.begin(), ab.begin() + b_reads));
  ASSERT_TRUE(eventually([&] { return queues(p.b).unread == n - b_reads; }));

  READ_BASES_OR_SKIP(sa, p.a, n, m);
  READ_BASES_OR_SKIP(sb, p.b, m, b_reads);
  EXPECT_EQ(sa->send_seq_base, sb->recv_seq_base);
  EXPECT_EQ(sa->recv_seq_base, sb->send_seq_base);
  EXPECT_NE(sa->send_seq_base, sa->recv_seq_base);  // random ISNs: equal is 2^-32
  EXPECT_FALSE(in_repair(p.a));
  EXPECT_FALSE(in_repair(p.b));

  // The connection goes on: no reset, the rest of the data and new data both ways.
  auto more_ab = pattern(700, 3), more_ba = pattern(900, 4);
  write_all(p.a, more_ab);
  write_all(p.b, more_ba);
  auto rest = read_exact(p.b, n - b_reads + more_ab.size());
  std::vector<uint8_t> want(ab.begin() + b_reads, ab.end());
  want.insert(want.end(), more_ab.begin(), more_ab.end());
  EXPECT_EQ(rest, want);
  EXPECT_EQ(read_exact(p.a, more_ba.size()), more_ba);
  EXPECT_EQ(so_error(p.a), 0);
  EXPECT_EQ(so_error(p.b), 0);
  EXPECT_EQ(tcp_state_of(p.a), 1);  // TCP_ESTABLISHED
  EXPECT_EQ(tcp_state_of(p.b), 1);

  // The bases do not move as the stream advances.
  READ_BASES_OR_SKIP(sa2, p.a, n + more_ab.size(), m + more_ba.size());
  READ_BASES_OR_SKIP(sb2, p.b, m + more_ba.size(), n + more_ab.size());
  EXPECT_EQ(*sa2, *sa);
  EXPECT_EQ(*sb2, *sb);
  EXPECT_EQ(seq_at(sa->send_seq_base, 0), sa->send_seq_base);
  EXPECT_EQ(seq_at(0xFFFFFFF0u, 0x20), 0x10u);  // wraps mod 2^32
  EXPECT_EQ(seq_at(5, (uint64_t{1} << 32) + 3), 8u);
}

// Reading the bases toggles TCP_REPAIR, and leaving repair mode drops SO_REUSEADDR in the
// kernel: a connection accepted on a port must not keep a new SO_REUSEADDR listener from
// binding that port (a standby that took over listens on *:179 while the replicated
// sessions to VIP:179 live, and a restarted node while their TIME-WAITs do).
TEST_F(TcpState, ReadingTheBasesKeepsSoReuseAddr) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p, 0, /*reuse=*/true));
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(p.b, reinterpret_cast<sockaddr*>(&sa), &len), 0);  // the listener's address
  READ_BASES_OR_SKIP(bases, p.b, 0, 0);
  int reuse = 0;
  len = sizeof reuse;
  ASSERT_EQ(::getsockopt(p.b, SOL_SOCKET, SO_REUSEADDR, &reuse, &len), 0);
  EXPECT_EQ(reuse, 1);
  // A new listener on the same address and port, as the daemon opens one.
  const int on = 1;
  int l2 = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l2, 0);
  ASSERT_EQ(::setsockopt(l2, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
  EXPECT_EQ(::bind(l2, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  ::close(l2);
}

TEST_F(TcpState, SequenceBasesWithUnsentAndUnreadData) {
  // The receiver does not read: data piles up unread there and unsent/unacked here.
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p, 4096));
  size_t written = write_until_full(p.a, 16384);
  ASSERT_GT(written, 0u);
  ASSERT_TRUE(eventually([&] { return queues(p.a).unacked_and_unsent > 0; }));
  READ_BASES_OR_SKIP(sa, p.a, written, 0);
  // The reader drains everything; its base must agree with what the writer saw.
  auto got = read_exact(p.b, written);
  ASSERT_EQ(got.size(), written);
  READ_BASES_OR_SKIP(sb, p.b, 0, written);
  EXPECT_EQ(sa->send_seq_base, sb->recv_seq_base);
  EXPECT_EQ(sa->recv_seq_base, sb->send_seq_base);
  EXPECT_TRUE(eventually([&] { return queues(p.a).unacked_and_unsent == 0; }));
}

TEST_F(TcpState, QueuesFollowTheStream) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p, 4096));
  TcpQueues q0 = queues(p.a);
  EXPECT_EQ(q0.unacked_and_unsent, 0u);
  EXPECT_EQ(q0.unsent, 0u);
  EXPECT_EQ(q0.unread, 0u);

  // Read by the peer and acknowledged: nothing left on either side.
  write_all(p.a, pattern(1000, 5));
  ASSERT_TRUE(eventually([&] { return queues(p.b).unread == 1000; }));
  ASSERT_EQ(read_exact(p.b, 1000).size(), 1000u);
  EXPECT_TRUE(eventually([&] { return queues(p.a).unacked_and_unsent == 0; }));
  EXPECT_EQ(queues(p.b).unread, 0u);

  // The peer stops reading: its small buffer fills, then each write adds to our queue.
  int flags = ::fcntl(p.a, F_GETFL);
  ::fcntl(p.a, F_SETFL, flags | O_NONBLOCK);
  std::vector<uint8_t> chunk(1024, 0x33);
  std::vector<TcpQueues> after;  // our queues after each accepted write
  size_t written = 0;
  for (int i = 0; i < 10000; ++i) {
    ssize_t n = ::write(p.a, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += static_cast<size_t>(n);
    after.push_back(queues(p.a));
  }
  ::fcntl(p.a, F_SETFL, flags);
  ASSERT_GE(after.size(), 2u);
  for (const TcpQueues& q : after) EXPECT_LE(q.unsent, q.unacked_and_unsent);
  // (Not monotonic step by step: a delayed ACK may still take early segments off.)
  EXPECT_GT(after.back().unacked_and_unsent, after.front().unacked_and_unsent);
  EXPECT_GT(after.back().unacked_and_unsent, chunk.size());
  // Everything not read is queued here or waits unread there.
  EXPECT_TRUE(eventually([&] { return queues(p.a).unacked_and_unsent + queues(p.b).unread >= written; }));
  EXPECT_GT(queues(p.b).unread, 0u);

  // The peer reads it all: everything is acknowledged.
  ASSERT_EQ(read_exact(p.b, written).size(), written);
  EXPECT_TRUE(eventually([&] {
    TcpQueues q = queues(p.a);
    return q.unacked_and_unsent == 0 && q.unsent == 0;
  }));
  EXPECT_EQ(queues(p.b).unread, 0u);
}

TEST_F(TcpState, TcpInfoDescribesTheConnection) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p));
  write_all(p.a, pattern(2000, 6));
  ASSERT_EQ(read_exact(p.b, 2000).size(), 2000u);
  write_all(p.b, pattern(10, 7));
  ASSERT_EQ(read_exact(p.a, 10).size(), 10u);
  std::string err;
  auto ia = read_tcp_info(p.a, err);
  ASSERT_TRUE(ia) << err;
  auto ib = read_tcp_info(p.b, err);
  ASSERT_TRUE(ib) << err;
  EXPECT_GT(ia->mss, 0u);  // the current send MSS: may differ per side
  EXPECT_GT(ib->mss, 0u);
  // Negotiated options are the same seen from both ends (Linux defaults: all on).
  EXPECT_EQ(ia->sack, ib->sack);
  EXPECT_EQ(ia->timestamps, ib->timestamps);
  EXPECT_EQ(ia->snd_wscale, ib->rcv_wscale);
  EXPECT_EQ(ia->rcv_wscale, ib->snd_wscale);
  EXPECT_GT(ia->window_clamp, 0u);
  EXPECT_TRUE(ia->peer_window_known);  // tcpi_snd_wnd: kernel 5.4+
  EXPECT_GT(ia->peer_window, 0u);
  if (kernel_at_least(6, 2)) {
    EXPECT_TRUE(ia->rcv_window_known);
    EXPECT_GT(ia->rcv_window, 0u);
  } else {
    EXPECT_FALSE(ia->rcv_window_known);
  }
}

TEST_F(TcpState, WindowClampIsSetAndRead) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p));
  std::string err;
  ASSERT_TRUE(set_window_clamp(p.b, 20000, err)) << err;
  auto ib = read_tcp_info(p.b, err);
  ASSERT_TRUE(ib) << err;
  EXPECT_EQ(ib->window_clamp, 20000u);
  // 0 is refused on a connected socket; the old value stays.
  EXPECT_FALSE(set_window_clamp(p.b, 0, err));
  EXPECT_NE(err.find("TCP_WINDOW_CLAMP"), std::string::npos) << err;
  ib = read_tcp_info(p.b, err);
  ASSERT_TRUE(ib) << err;
  EXPECT_EQ(ib->window_clamp, 20000u);
  // The connection still carries data.
  write_all(p.a, pattern(50000, 8));
  EXPECT_EQ(read_exact(p.b, 50000), pattern(50000, 8));
}

// TCP_NOTSENT_LOWAT: a socket whose peer reads nothing takes at most about the low
// water mark of unsent bytes (plus one segment being built), whatever its send buffer;
// without it the whole send buffer fills.
TEST_F(TcpState, NotSentLowatBoundsTheUnsentQueue) {
  constexpr uint32_t kLowat = 32 * 1024;
  const int sndbuf = 4 * 1024 * 1024;
  Pair bounded, plain;
  ASSERT_NO_FATAL_FAILURE(connect_pair(bounded, 4096));
  ASSERT_NO_FATAL_FAILURE(connect_pair(plain, 4096));
  for (int fd : {bounded.a, plain.a}) ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  std::string err;
  ASSERT_TRUE(set_notsent_lowat(bounded.a, kLowat, err)) << err;
  auto v = read_notsent_lowat(bounded.a, err);
  ASSERT_TRUE(v) << err;
  EXPECT_EQ(*v, kLowat);

  const size_t took_bounded = write_until_full(bounded.a, 16384);
  const size_t took_plain = write_until_full(plain.a, 16384);
  EXPECT_LE(queues(bounded.a).unsent, kLowat + 64 * 1024);
  EXPECT_LE(took_bounded, kLowat + 64 * 1024 + 4096 * 4) << "the peer's small window plus the low water mark";
  EXPECT_GT(took_plain, 1024u * 1024) << "without it the send buffer fills";
  // Writable again (and taking more) once the peer reads.
  ASSERT_EQ(read_exact(bounded.b, took_bounded).size(), took_bounded);
  EXPECT_TRUE(eventually([&] { return queues(bounded.a).unacked_and_unsent == 0; }));
  EXPECT_GT(write_until_full(bounded.a, 16384), 0u);
  EXPECT_FALSE(set_notsent_lowat(-1, kLowat, err));
  EXPECT_NE(err.find("TCP_NOTSENT_LOWAT"), std::string::npos) << err;
}

TEST_F(TcpState, TsvalAdvances) {
  Pair p;
  ASSERT_NO_FATAL_FAILURE(connect_pair(p));
  std::string err;
  auto t1 = read_tsval(p.a, err);
  ASSERT_TRUE(t1) << err;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t2 = read_tsval(p.a, err);
  ASSERT_TRUE(t2) << err;
  uint32_t delta = *t2 - *t1;  // ms clock (usec clock only with the per-route option)
  EXPECT_GE(delta, 40u);
  EXPECT_LT(delta, 5000000u);
}

TEST_F(TcpState, ErrorsAreReported) {
  std::string err;
  EXPECT_FALSE(read_queues(-1, err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(read_tcp_info(-1, err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(read_tsval(-1, err));
  EXPECT_FALSE(err.empty());
  // Not a connection: refused before touching repair mode.
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  err.clear();
  EXPECT_FALSE(read_seq_bases(l, 0, 0, err));
  EXPECT_NE(err.find("not established"), std::string::npos) << err;
  ::close(l);
}

}  // namespace
}  // namespace tandem::session
