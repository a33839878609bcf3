// Test lab for the egress guard. The test process moves into a network namespace and a
// mount namespace of its own (made private first, so no mount reaches the host):
//   - a private /run/netns (tmpfs), so `ip netns add gpeer` never touches the host's;
//   - a FRESH bpffs instance mounted on /sys/fs/bpf in that private view: the guard's pins
//     (under /sys/fs/bpf/tandem-test-<test>) never reach the host's bpffs, and vanish with
//     the process even if it dies;
//   - a veth pair: g0 here (the "node", where the guard sits on egress) and g1 in gpeer
//     (the BGP peer). Each test adds its own addresses (10.201.<idx>.0/24,
//     fd00:201:<idx>::/64) and ports (40000 + 20 * idx + k), so tests never share a tuple
//     even when one process runs them all.
// Connections: the node end is held by a forked child (Held), the peer end by the test.
// Needs root (namespaces, bpffs, BPF, tc); skipped with the reason otherwise.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "replicator/guard/egress_guard.hpp"
#include "tests/unit/private_netns.hpp"

// In a GuardLab test body: open the guard on `...` (default g0) or skip/return.
#define GUARD_OPEN_OR_SKIP(...)                              \
  do {                                                       \
    if (!open_guard(__VA_ARGS__)) {                          \
      if (!skip_.empty()) GTEST_SKIP() << skip_;             \
      return;                                                \
    }                                                        \
  } while (0)

namespace tandem::replicator::guard::test {

using session::TcpEndpoint;
using Clock = std::chrono::steady_clock;

// Returns "" when the lab is ready, else why not (skip reason).
inline std::string make_lab() {
  if (geteuid() != 0) return "needs root (network and mount namespaces, bpffs, BPF, tc)";
  if (std::string r = tandem::test::enter_private_netns("true"); !r.empty()) return r;
  if (std::string r = tandem::test::private_run_netns(); !r.empty()) return r;
  if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
    return std::string("cannot mount a private bpffs on /sys/fs/bpf: ") + std::strerror(errno);
  const char* setup =
      "ip netns add gpeer && "
      "ip link add g0 type veth peer name g1 netns gpeer && "
      "ip link set g0 up && "
      "ip -n gpeer link set lo up && ip -n gpeer link set g1 up";
  if (std::system(setup) != 0) return std::string("cannot build the veth pair: ") + setup;
  return "";
}

// Run `fn` with the calling thread in the peer namespace (sockets made there stay there).
inline void in_peer(const std::function<void()>& fn) { tandem::test::in_named_netns("gpeer", fn); }

inline TcpEndpoint ep(const std::string& ip, uint16_t port) {
  TcpEndpoint e;
  e.family = ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(e.family, ip.c_str(), e.addr.data()), 1) << ip;
  e.port = port;
  return e;
}

inline socklen_t to_sockaddr(const TcpEndpoint& e, sockaddr_storage& ss) {
  ss = {};
  if (e.family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    std::memcpy(&s->sin_addr, e.addr.data(), 4);
    s->sin_port = htons(e.port);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
  s->sin6_family = AF_INET6;
  std::memcpy(&s->sin6_addr, e.addr.data(), 16);
  s->sin6_port = htons(e.port);
  return sizeof(sockaddr_in6);
}

inline uint8_t tcp_state_of(int fd) {
  struct tcp_info ti {};
  socklen_t len = sizeof ti;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
  return ti.tcpi_state;
}

// Nothing readable (no data, no FIN, no RST) on `fd` for `ms`, and still ESTABLISHED.
inline bool stays_established(int fd, int ms) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  int n = ::poll(&p, 1, ms);
  constexpr uint8_t kEstablished = 1;  // TCP_ESTABLISHED (netinet/tcp.h clashes with linux/tcp.h)
  return n == 0 && tcp_state_of(fd) == kEstablished;
}

// Waits for the end of the stream on `fd` (discarding data): 0 = EOF (FIN), else the
// errno of the failed read (ECONNRESET: RST), ETIMEDOUT when nothing came in `ms`.
inline int wait_end(int fd, int ms) {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  char buf[4096];
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 20) != 1) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return 0;
    if (n < 0 && errno != EAGAIN) return errno;
  }
  return ETIMEDOUT;
}

inline bool eventually(const std::function<bool()>& cond, int ms = 2000) {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

// Keep only `caps` (CAP_*) in the calling (single-threaded, forked) process; uid stays 0.
inline bool keep_only_capabilities(std::initializer_list<int> caps) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  for (int c : caps) {
    d[c / 32].effective |= 1u << (c % 32);
    d[c / 32].permitted |= 1u << (c % 32);
  }
  return ::syscall(SYS_capset, &h, d) == 0;
}
inline bool drop_all_capabilities() { return keep_only_capabilities({}); }

// Runs `fn` in a forked child; returns the string it produced ("" on a crash/exit).
inline std::string in_child(const std::function<std::string()>& fn) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  std::cout.flush();  // the child's logging must not flush our buffered output again
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string out = fn();
    if (out.empty()) out = "ok";
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// One TCP connection: the node end held by a forked child, the peer end (in gpeer) here.
// The child obeys one-byte commands: 'd' send 1000 bytes, 'r' close with SO_LINGER{1,0}
// (RST), 'c' close. Destroying it SIGKILLs the child if it still runs.
class Held {
 public:
  TcpEndpoint local, remote;
  int peer = -1;

  // A non-empty `md5_key`: a TCP-MD5 connection (both ends).
  static std::unique_ptr<Held> make(const TcpEndpoint& local, const TcpEndpoint& remote,
                                    const std::string& md5_key = "") {
    auto h = std::unique_ptr<Held>(new Held);
    h->local = local;
    h->remote = remote;
    int listener = -1;
    in_peer([&] {
      listener = ::socket(remote.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const int one = 1;
      ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (!md5_key.empty()) set_md5(listener, local, md5_key);
      sockaddr_storage ss;
      socklen_t len = to_sockaddr(remote, ss);
      EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
      EXPECT_EQ(::listen(listener, 4), 0);
    });
    int s = ::socket(local.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!md5_key.empty()) set_md5(s, remote, md5_key);
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(local, ss);
    EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    len = to_sockaddr(remote, ss);
    EXPECT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1) h->peer = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(listener);
    EXPECT_GE(h->peer, 0) << "no connection " << local.port << " -> " << remote.port;

    int cmd[2], ack[2];
    EXPECT_EQ(::pipe2(cmd, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(ack, O_CLOEXEC), 0);
    std::cout.flush();
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) child(s, cmd[0], ack[1]);  // never returns
    ::close(s);  // the child holds the only reference now
    ::close(cmd[0]);
    ::close(ack[1]);
    h->pid_ = pid;
    h->cmd_ = cmd[1];
    h->ack_ = ack[0];
    return h;
  }

  bool command(char c) {
    if (::write(cmd_, &c, 1) != 1) return false;
    pollfd p{ack_, POLLIN, 0};
    char r = 0;
    return ::poll(&p, 1, 5000) == 1 && ::read(ack_, &r, 1) == 1 && r == c;
  }

  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);  // its files (the socket) are closed when this returns
    pid_ = -1;
  }

  ~Held() {
    kill9();
    for (int fd : {peer, cmd_, ack_})
      if (fd >= 0) ::close(fd);
  }

 private:
  Held() = default;

  static void set_md5(int fd, const TcpEndpoint& other, const std::string& key) {
    tcp_md5sig sig{};
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(other, ss);
    std::memcpy(&sig.tcpm_addr, &ss, len);
    sig.tcpm_keylen = static_cast<uint16_t>(key.size());
    std::memcpy(sig.tcpm_key, key.data(), key.size());
    EXPECT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig), 0) << std::strerror(errno);
  }

  [[noreturn]] static void child(int s, int cmd, int ack) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int fd = 3; fd < 1024; ++fd)  // nothing else of the test's (other sockets, BPF)
      if (fd != s && fd != cmd && fd != ack) ::close(fd);
    for (;;) {
      char c = 0;
      if (::read(cmd, &c, 1) != 1) ::_exit(0);
      if (c == 'd') {
        char buf[1000];
        std::memset(buf, 'x', sizeof buf);
        if (::send(s, buf, sizeof buf, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof buf)) ::_exit(2);
      } else if (c == 'r') {
        linger l{1, 0};
        ::setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(s);
      } else if (c == 'c') {
        ::close(s);
      }
      if (::write(ack, &c, 1) != 1) ::_exit(3);
    }
  }

  pid_t pid_ = -1;
  int cmd_ = -1, ack_ = -1;
};

class GuardLab : public ::testing::Test {
 public:
  static void SetUpTestSuite() { lab_reason() = make_lab(); }

 protected:
  void SetUp() override {
    if (!lab_reason().empty()) GTEST_SKIP() << lab_reason();
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name)
      if (c == '/') c = '_';
    pin_dir_ = "/sys/fs/bpf/tandem-test-" + name;  // the private bpffs (make_lab)
  }

  void TearDown() override {
    held_.clear();  // SIGKILL the children
    std::string error;
    if (guard_) {
      guard_->detach(error);
      guard_.reset();
    }
    // Whatever a child or a failed step left: filters and pins.
    struct stat st {};
    if (lab_reason().empty() && ::stat(pin_dir_.c_str(), &st) == 0)
      if (auto g = EgressGuard::open({}, pin_dir_, error)) g->detach(error);
    for (const std::string& cmd : cleanup_) (void)!std::system(cmd.c_str());
  }

  // The test's addresses; `idx` is unique per test (1..199).
  struct Net {
    std::string node, peer;  // addresses
    uint16_t port0;          // first of 20 ports
  };
  Net net(int idx, bool v6) {
    Net n;
    std::string i = std::to_string(idx);
    if (v6) {
      n.node = "fd00:201:" + i + "::1";
      n.peer = "fd00:201:" + i + "::2";
    } else {
      n.node = "10.201." + i + ".1";
      n.peer = "10.201." + i + ".2";
    }
    n.port0 = static_cast<uint16_t>(40000 + 20 * idx);
    const std::string len = v6 ? "/64" : "/24";
    const std::string extra = v6 ? " nodad" : "";
    std::string add = "ip addr add " + n.node + len + " dev g0" + extra + " && ip -n gpeer addr add " +
                      n.peer + len + " dev g1" + extra;
    EXPECT_EQ(std::system(add.c_str()), 0) << add;
    cleanup_.push_back("ip addr del " + n.node + len + " dev g0 2>/dev/null");
    cleanup_.push_back("ip -n gpeer addr del " + n.peer + len + " dev g1 2>/dev/null");
    return n;
  }

  // A connection node:port0+k -> peer:port0+10+k, its node end held by a child.
  Held& connect(const Net& n, int k, const std::string& md5_key = "") {
    held_.push_back(Held::make(ep(n.node, static_cast<uint16_t>(n.port0 + k)),
                               ep(n.peer, static_cast<uint16_t>(n.port0 + 10 + k)), md5_key));
    return *held_.back();
  }

  // Opens the guard on g0; a refusal for lack of privilege or BTF skips, anything else fails.
  bool open_guard(const std::vector<std::string>& ifs = {"g0"}) {
    std::string error;
    guard_ = EgressGuard::open(ifs, pin_dir_, error);
    if (!guard_) {
      if (error.find("CAP_BPF") != std::string::npos || error.find("BTF") != std::string::npos)
        skip_ = "BPF refused here: " + error;
      else
        ADD_FAILURE() << "EgressGuard::open: " << error;
      return false;
    }
    return true;
  }

  static std::string& lab_reason() {
    static std::string r;
    return r;
  }

  std::string pin_dir_;
  std::unique_ptr<EgressGuard> guard_;
  std::vector<std::unique_ptr<Held>> held_;
  std::vector<std::string> cleanup_;
  std::string skip_;
};

}  // namespace tandem::replicator::guard::test
