// Real BPF: the XDP program attached to a veth, real BFD packets sent through it.
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "healthbpf/bfd_packet.hpp"
#include "healthbpf/udp_receiver.hpp"
#include "tests/unit/healthbpf/veth_pair.hpp"

namespace tandem::healthbpf {
namespace {

constexpr uint64_t kMs = 1'000'000;

class XdpTest : public test::VethPairTest<XdpTest> {
 protected:
  void SetUp() override {
    VethPairTest::SetUp();
    if (IsSkipped()) return;
    if (!load_xdp()) GTEST_SKIP() << skip_;
  }

  // Collect events until `enough` says so or `timeout_ms` passes.
  std::vector<hb_event> events(int timeout_ms, size_t enough = SIZE_MAX) {
    std::vector<hb_event> out;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < enough && std::chrono::steady_clock::now() < until) {
      pollfd p{table_->fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      table_->process(monotonic_ns(), [&](const hb_event& e) { out.push_back(e); });
    }
    return out;
  }

  // Wait until the slot's packet count reaches `n` (packets are dropped silently).
  bool wait_packets(uint32_t slot, uint64_t n) {
    for (int i = 0; i < 200; ++i) {
      if (table_->slot(slot).packets >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  bool wait_counter(hb_counter c, uint64_t n) {
    for (int i = 0; i < 200; ++i) {
      if (table_->counters()[c] >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

bfd::ControlPacket packet(bfd::State st, uint32_t my, uint32_t your) {
  bfd::ControlPacket p;
  p.state = st;
  p.my_discriminator = my;
  p.your_discriminator = your;
  p.desired_min_tx_us = 10'000;
  p.required_min_rx_us = 10'000;
  p.detect_mult = 3;
  return p;
}

bool send4(const bfd::ControlPacket& p, int ttl = 255) {
  auto b = bfd::encode(p);
  return test::peer_send("192.0.2.2", "192.0.2.1", 3784, b.data(), b.size(), ttl);
}

TEST_F(XdpTest, AttachesAndReportsTheMode) {
  ASSERT_EQ(loader_->attachments().size(), 1u);
  std::cout << "[ measured ] XDP on veth hb0: " << to_string(loader_->attachments()[0].mode)
            << "\n";
  EXPECT_EQ(table_->path(), to_string(loader_->attachments()[0].mode));
  // A second loader can still attach in generic mode elsewhere; detaching works.
  loader_->detach("hb0");
  EXPECT_TRUE(loader_->attachments().empty());
  std::string error;
  ASSERT_TRUE(loader_->attach("hb0", error, /*generic_only=*/true)) << error;
  EXPECT_EQ(loader_->attachments()[0].mode, XdpMode::Generic);
  EXPECT_FALSE(loader_->attach("nosuchif0", error));
  EXPECT_NE(error.find("nosuchif0"), std::string::npos);
}

TEST_F(XdpTest, FillsTheSlotAndSignalsOnlyChanges) {
  uint64_t before = monotonic_ns();
  ASSERT_TRUE(send4(packet(bfd::State::Down, 7, 0)));
  auto ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_NEW});
  const hb_slot& s = ev[0].snapshot;
  EXPECT_EQ(to_string(s.key), "addr 192.0.2.2 disc 7");
  EXPECT_EQ(ev[0].slot, *table_->find(s.key));
  EXPECT_EQ(s.remote_disc, 7u);
  EXPECT_EQ(s.remote_state, 1);
  EXPECT_EQ(s.remote_min_tx_us, 10'000u);
  EXPECT_EQ(s.remote_min_rx_us, 10'000u);
  EXPECT_EQ(s.detect_mult, 3);
  EXPECT_EQ(s.packets, 1u);
  EXPECT_GE(s.last_rx_ns, before);
  EXPECT_LE(s.last_rx_ns, monotonic_ns());
  EXPECT_NE(s.ifindex, 0u);

  // Once our discriminator is known the session moves to its discriminator slot.
  ASSERT_TRUE(send4(packet(bfd::State::Init, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(to_string(ev[0].snapshot.key), "disc 42");
  uint32_t slot = ev[0].slot;
  EXPECT_EQ(slot, hb_hash(&ev[0].snapshot.key) & (HB_TABLE_SLOTS - 1));

  // Steady state: counted, no events.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(send4(packet(bfd::State::Init, 7, 42)));
  ASSERT_TRUE(wait_packets(slot, 21));
  EXPECT_TRUE(events(100).empty());
  EXPECT_EQ(table_->slot(slot).packets, 21u);

  // Each kind of change raises exactly one event with the matching reason.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_STATE});
  auto p = packet(bfd::State::Up, 7, 42);
  p.desired_min_tx_us = 50'000;
  p.poll = true;
  ASSERT_TRUE(send4(p));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_TIMERS | HB_EV_POLL});
  EXPECT_EQ(ev[0].snapshot.remote_min_tx_us, 50'000u);
  p.poll = false;
  p.final = true;
  ASSERT_TRUE(send4(p));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_FINAL});
  EXPECT_TRUE(to_packet(ev[0].snapshot).final);
  EXPECT_EQ(table_->counters()[HB_CNT_VALID], 25u);
}

TEST_F(XdpTest, HandlesIpv6) {
  auto b = bfd::encode(packet(bfd::State::Down, 9, 0));
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, b.data(), b.size()));
  auto ev = events(3000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(to_string(ev[0].snapshot.key), "addr 2001:db8::2 disc 9");
  // Hop limit 64 is refused.
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, b.data(), b.size(), 64));
  EXPECT_TRUE(wait_counter(HB_CNT_BAD_TTL, 1));
}

TEST_F(XdpTest, ConsumesBfdAndPassesEverythingElse) {
  // Sockets on both ports: BFD must never reach the stack, other UDP must.
  UdpReceiverOptions o;
  o.bind_address = "192.0.2.1";
  std::string error;
  auto bfd_socket = UdpReceiver::open(o, error);
  ASSERT_TRUE(bfd_socket) << error;
  o.port = 3785;
  auto other = UdpReceiver::open(o, error);
  ASSERT_TRUE(other) << error;

  ASSERT_TRUE(send4(packet(bfd::State::Down, 7, 0)));
  auto malformed = bfd::encode(packet(bfd::State::Down, 7, 0));
  malformed[2] = 0;
  ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3784, malformed.data(), 24));
  auto b = bfd::encode(packet(bfd::State::Down, 8, 0));
  ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3785, b.data(), b.size()));

  ASSERT_TRUE(wait_counter(HB_CNT_ZERO_MULT, 1));
  std::vector<hb_event> seen;
  for (int i = 0; i < 100 && seen.empty(); ++i) {
    other->process(monotonic_ns(), [&](const hb_event& e) { seen.push_back(e); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(seen.size(), 1u) << "non-BFD port traffic did not pass";
  EXPECT_EQ(seen[0].snapshot.remote_disc, 8u);
  EXPECT_EQ(other->counters()[HB_CNT_VALID], 1u);
  bfd_socket->process(monotonic_ns(), [](const hb_event&) {});
  EXPECT_EQ(bfd_socket->counters()[HB_CNT_VALID], 0u) << "a BFD packet reached the stack";
  EXPECT_EQ(bfd_socket->counters()[HB_CNT_ZERO_MULT], 0u);
  EXPECT_EQ(table_->counters()[HB_CNT_VALID], 1u);
}

TEST_F(XdpTest, CountsBadTtlAndMalformedPacketsWithoutTouchingTheTable) {
  struct Bad {
    hb_counter counter;
    std::vector<uint8_t> bytes;
    int ttl;
  };
  auto base = bfd::encode(packet(bfd::State::Up, 7, 42));
  auto mutate = [&](auto f) {
    std::vector<uint8_t> b(base.begin(), base.end());
    f(b);
    return b;
  };
  std::vector<Bad> bad = {
      {HB_CNT_BAD_TTL, mutate([](auto&) {}), 254},
      {HB_CNT_BAD_TTL, mutate([](auto&) {}), 1},
      {HB_CNT_TRUNCATED, mutate([](auto& b) { b.resize(10); }), 255},
      {HB_CNT_TRUNCATED, mutate([](auto& b) { b.resize(23); }), 255},
      {HB_CNT_BAD_VERSION, mutate([](auto& b) { b[0] = (2 << 5); }), 255},
      {HB_CNT_BAD_LENGTH, mutate([](auto& b) { b[3] = 20; }), 255},
      {HB_CNT_BAD_LENGTH, mutate([](auto& b) { b[3] = 30; }), 255},
      {HB_CNT_ZERO_MULT, mutate([](auto& b) { b[2] = 0; }), 255},
      {HB_CNT_MULTIPOINT, mutate([](auto& b) { b[1] |= 1; }), 255},
      {HB_CNT_ZERO_MY_DISC, mutate([](auto& b) { b[4] = b[5] = b[6] = b[7] = 0; }), 255},
      {HB_CNT_ZERO_YOUR_DISC, mutate([](auto& b) { b[8] = b[9] = b[10] = b[11] = 0; }), 255},
      {HB_CNT_AUTH, mutate([](auto& b) { b[1] |= 4; }), 255},
  };
  std::array<uint64_t, HB_CNT_MAX> expect{};
  for (const Bad& x : bad) {
    ASSERT_TRUE(test::peer_send("192.0.2.2", "192.0.2.1", 3784, x.bytes.data(), x.bytes.size(),
                                x.ttl));
    ++expect[x.counter];
    ASSERT_TRUE(wait_counter(x.counter, expect[x.counter])) << to_string(x.counter);
  }
  Counters c = table_->counters();
  for (int k = HB_CNT_TRUNCATED; k <= HB_CNT_BAD_TTL; ++k)
    EXPECT_EQ(c.values[k], expect[k]) << to_string(static_cast<hb_counter>(k));
  EXPECT_EQ(c[HB_CNT_VALID], 0u);
  EXPECT_TRUE(events(50).empty());
  for (uint32_t i = 0; i < HB_TABLE_SLOTS; ++i)
    ASSERT_EQ(table_->slot(i).key.kind, uint32_t{HB_KEY_FREE}) << "slot " << i;
  // And a good packet after all that still works.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_EQ(events(2000, 1).size(), 1u);
}

TEST_F(XdpTest, KernelTimerSignalsDetectionExpiryAndRecovery) {
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  auto ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  uint32_t slot = ev[0].slot;
  // Not armed yet: no expiry however long we wait.
  EXPECT_TRUE(events(60).empty());
  table_->set_local_min_rx(slot, 10'000);  // detection = 3 x max(10 ms, 10 ms)
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].what, uint32_t{HB_EV_EXPIRED});
  uint64_t after = ev[0].ts_ns - ev[0].snapshot.last_rx_ns;
  std::cout << "[ measured ] kernel detection: " << double(after) / 1e6
            << " ms after the last packet (detection time 30 ms)\n";
  EXPECT_GE(after, 30 * kMs);
  EXPECT_LT(after, 500 * kMs);
  EXPECT_TRUE(table_->slot(slot).status & HB_STATUS_EXPIRED);
  EXPECT_EQ(table_->counters()[HB_CNT_EXPIRED], 1u);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev[0].what & HB_EV_RECOVERED);
  table_->set_local_min_rx(slot, 0);  // disarm before the re-armed timer fires
  // Released slots are reclaimed by the next packet as new.
  table_->release(slot);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  ev = events(2000, 1);
  ASSERT_FALSE(ev.empty());
  EXPECT_TRUE(ev[0].what & HB_EV_NEW);
  EXPECT_EQ(ev[0].snapshot.packets, 1u);
}

// A UDP socket on port 3784 in the peer namespace: what the remote would receive from us.
class PeerSocket {
 public:
  struct Datagram {
    std::vector<uint8_t> bytes;
    std::string from;
    uint16_t from_port = 0;
    int ttl = -1;
  };
  explicit PeerSocket(const std::string& address) {
    v6_ = address.find(':') != std::string::npos;
    test::in_peer([&] {
      fd_ = ::socket(v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      int one = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (v6_) {
        ::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(3784);
        inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
        len = sizeof *a;
      } else {
        ::setsockopt(fd_, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(3784);
        inet_pton(AF_INET, address.c_str(), &a->sin_addr);
        len = sizeof *a;
      }
      bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    });
  }
  ~PeerSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  // The next datagram within `timeout_ms`, if any. The kernel's UDP stack delivers only
  // datagrams whose IP and UDP checksums are right.
  std::optional<Datagram> receive(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    Datagram d;
    d.bytes.resize(256);
    sockaddr_storage from{};
    char control[128];
    iovec iov{d.bytes.data(), d.bytes.size()};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &m, 0);
    if (n < 0) return std::nullopt;
    d.bytes.resize(static_cast<size_t>(n));
    char text[INET6_ADDRSTRLEN] = {};
    if (from.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&from);
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      d.from_port = ntohs(a->sin6_port);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&from);
      inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      d.from_port = ntohs(a->sin_port);
    }
    d.from = text;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
        std::memcpy(&d.ttl, CMSG_DATA(c), sizeof d.ttl);
    return d;
  }

 private:
  int fd_ = -1;
  bool v6_ = false;
  bool bound_ = false;
};

class XdpReplyTest : public XdpTest {
 protected:
  void SetUp() override {
    XdpTest::SetUp();
    if (IsSkipped()) return;
    // Generic mode: native XDP_TX on veth leaves the frame in the other end's ring
    // until that end runs an XDP program of its own (driver.cpp, choose_transmit_path).
    loader_->detach("hb0");
    std::string error;
    ASSERT_TRUE(loader_->attach("hb0", error, /*generic_only=*/true)) << error;
  }
  // Bring the session with remote discriminator 7 / ours 42 into its DISC slot (Up).
  uint32_t up_slot(const std::string& peer, const std::string& us) {
    auto b = bfd::encode(packet(bfd::State::Up, 7, 42));
    EXPECT_TRUE(test::peer_send(peer, us, 3784, b.data(), b.size()));
    auto ev = events(2000, 1);
    EXPECT_EQ(ev.size(), 1u);
    return ev.empty() ? 0 : ev[0].slot;
  }
  static KernelReply ours() {
    KernelReply r;
    r.packet = bfd::encode(packet(bfd::State::Up, 42, 7));
    r.source_port = 49999;
    r.min_gap_ns = 20 * kMs;
    return r;
  }
};

TEST_F(XdpReplyTest, AnswersASteadyStatePacketWithOursOnlyWhileArmedAndLeased) {
  PeerSocket remote("192.0.2.2");
  ASSERT_TRUE(remote.bound());
  uint32_t slot = up_slot("192.0.2.2", "192.0.2.1");
  // Not armed: consumed, nothing sent.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_FALSE(remote.receive(100));

  const KernelReply r = ours();
  table_->arm_reply(slot, r);
  table_->renew_lease(monotonic_ns() + 10'000 * kMs);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  auto d = remote.receive(2000);
  ASSERT_TRUE(d) << "no reply from the XDP program";
  EXPECT_EQ(d->from, "192.0.2.1");
  EXPECT_EQ(d->from_port, 49999);
  EXPECT_EQ(d->ttl, 255);
  EXPECT_EQ(d->bytes, std::vector<uint8_t>(r.packet.begin(), r.packet.end()));
  EXPECT_EQ(table_->reply_counts(slot).sent, 1u);
  EXPECT_EQ(table_->counters()[HB_CNT_REPLIES], 1u);

  // Within the minimum gap (75% of the interval): no second packet.
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_FALSE(remote.receive(5));
  // After it, again.
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_TRUE(remote.receive(2000));

  // A packet with news (a Poll) is user space's to answer.
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  auto poll = packet(bfd::State::Up, 7, 42);
  poll.poll = true;
  ASSERT_TRUE(send4(poll));
  EXPECT_FALSE(remote.receive(100));
  EXPECT_EQ(events(2000, 1).size(), 1u);

  // The lease ran out (the daemon stopped renewing it): silent.
  table_->renew_lease(monotonic_ns());
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_FALSE(remote.receive(100));
  // Renewed, then disarmed: silent; the counts say what the program sent.
  table_->renew_lease(monotonic_ns() + 10'000 * kMs);
  KernelReplyCounts c = table_->disarm_reply(slot);
  EXPECT_EQ(c.sent, 2u);
  EXPECT_GT(c.last_tx_ns, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_FALSE(remote.receive(100));
  EXPECT_EQ(table_->counters()[HB_CNT_REPLIES], 2u);
  // A released slot is disarmed too (re-armed first to show it).
  table_->arm_reply(slot, r);
  table_->release(slot);
  EXPECT_EQ(up_slot("192.0.2.2", "192.0.2.1"), slot);
  ASSERT_TRUE(send4(packet(bfd::State::Up, 7, 42)));
  EXPECT_FALSE(remote.receive(100));
}

TEST_F(XdpReplyTest, AnswersOverIpv6WithAValidChecksum) {
  PeerSocket remote("2001:db8::2");
  ASSERT_TRUE(remote.bound());
  uint32_t slot = up_slot("2001:db8::2", "2001:db8::1");
  table_->arm_reply(slot, ours());
  table_->renew_lease(monotonic_ns() + 10'000 * kMs);
  auto b = bfd::encode(packet(bfd::State::Up, 7, 42));
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, b.data(), b.size()));
  auto d = remote.receive(2000);
  ASSERT_TRUE(d) << "no reply (or a bad UDP checksum: the stack drops those)";
  EXPECT_EQ(d->from, "2001:db8::1");
  EXPECT_EQ(d->from_port, 49999);
  EXPECT_EQ(d->ttl, 255);
  EXPECT_EQ(bfd::decode(d->bytes).packet.my_discriminator, 42u);
  // A frame of another layout (a longer BFD packet) is not rewritten.
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  std::vector<uint8_t> longer(b.begin(), b.end());
  longer.resize(28);
  longer[3] = 28;
  ASSERT_TRUE(test::peer_send("2001:db8::2", "2001:db8::1", 3784, longer.data(), longer.size()));
  EXPECT_FALSE(remote.receive(100));
}

}  // namespace
}  // namespace tandem::healthbpf
