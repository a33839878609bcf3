// Test fixture: a private network namespace (tests/unit/private_netns.hpp) holding
// hb0 (192.0.2.1, 2001:db8::1) whose veth peer hb1 (192.0.2.2, 2001:db8::2) lives in
// a second namespace "hbpeer", so packets between the two really cross the veth (and
// the XDP program on hb0). A private mount namespace with its own /run/netns keeps
// `ip netns add` off the host's. Skips when any of it, or the BPF load, is refused.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "healthbpf/loader.hpp"
#include "tests/unit/private_netns.hpp"

namespace tandem::healthbpf::test {

inline std::string same_netns_as_init() {
  char a[64] = {}, b[64] = {};
  if (readlink("/proc/1/ns/net", a, sizeof a - 1) < 0) return "";
  if (readlink("/proc/self/ns/net", b, sizeof b - 1) < 0) return "";
  return std::string(a) == b ? "still in the initial network namespace" : "";
}

inline std::string make_veth_pair() {
  if (std::string r = same_netns_as_init(); !r.empty()) return r;
  if (std::string r = tandem::test::private_run_netns(); !r.empty()) return r;
  const char* setup =
      "ip netns add hbpeer && "
      "ip link add hb0 type veth peer name hb1 netns hbpeer && "
      "ip addr add 192.0.2.1/24 dev hb0 && ip -6 addr add 2001:db8::1/64 dev hb0 nodad && "
      "ip link set hb0 up && "
      "ip -n hbpeer link set lo up && "
      "ip -n hbpeer addr add 192.0.2.2/24 dev hb1 && "
      "ip -n hbpeer -6 addr add 2001:db8::2/64 dev hb1 nodad && "
      "ip -n hbpeer link set hb1 up";
  if (std::system(setup) != 0) return std::string("cannot build the veth pair: ") + setup;
  return "";
}

// Run `fn` with the calling thread in the peer namespace (sockets made there stay there).
inline void in_peer(const std::function<void()>& fn) { tandem::test::in_named_netns("hbpeer", fn); }

template <class Derived>
class VethPairTest : public tandem::test::PrivateNetnsTest<Derived> {
 public:
  static constexpr const char* kNetnsSetup = "true";
  static void SetUpTestSuite() {
    tandem::test::PrivateNetnsTest<Derived>::SetUpTestSuite();
    pair_reason() = make_veth_pair();
  }

 protected:
  void SetUp() override {
    tandem::test::PrivateNetnsTest<Derived>::SetUp();
    if (this->IsSkipped()) return;
    if (!pair_reason().empty()) GTEST_SKIP() << pair_reason();
  }
  // Loads the program and attaches it to hb0; skips the test when BPF is refused.
  bool load_xdp() {
    std::string error;
    loader_ = Loader::open(error);
    if (!loader_) {
      skip_ = "BPF cannot be loaded here: " + error;
      return false;
    }
    if (!loader_->attach("hb0", error)) {
      skip_ = "XDP cannot be attached: " + error;
      return false;
    }
    table_ = loader_->table(error);
    if (!table_) {
      skip_ = "health table: " + error;
      return false;
    }
    return true;
  }
  static std::string& pair_reason() {
    static std::string r;
    return r;
  }
  std::unique_ptr<Loader> loader_;
  std::unique_ptr<HealthSource> table_;
  std::string skip_;
};

// Send one UDP datagram from the peer namespace with a chosen TTL / hop limit.
inline bool peer_send(const std::string& src, const std::string& dst, uint16_t port,
                      const void* data, size_t size, int ttl = 255, uint16_t sport = 49200) {
  bool ok = false;
  in_peer([&] {
    bool v6 = dst.find(':') != std::string::npos;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
      sockaddr_in6 s{}, d{};
      s.sin6_family = d.sin6_family = AF_INET6;
      inet_pton(AF_INET6, src.c_str(), &s.sin6_addr);
      inet_pton(AF_INET6, dst.c_str(), &d.sin6_addr);
      s.sin6_port = htons(sport);
      d.sin6_port = htons(port);
      ok = ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) == 0 &&
           ::sendto(fd, data, size, 0, reinterpret_cast<sockaddr*>(&d), sizeof d) ==
               static_cast<ssize_t>(size);
    } else {
      setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
      sockaddr_in s{}, d{};
      s.sin_family = d.sin_family = AF_INET;
      inet_pton(AF_INET, src.c_str(), &s.sin_addr);
      inet_pton(AF_INET, dst.c_str(), &d.sin_addr);
      s.sin_port = htons(sport);
      d.sin_port = htons(port);
      ok = ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) == 0 &&
           ::sendto(fd, data, size, 0, reinterpret_cast<sockaddr*>(&d), sizeof d) ==
               static_cast<ssize_t>(size);
    }
    ::close(fd);
  });
  return ok;
}

}  // namespace tandem::healthbpf::test
