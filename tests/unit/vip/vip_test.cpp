// The VIP library against the real kernel. The test process moves into a network and a
// mount namespace of its own (a private /run/netns, so `ip netns add` never touches the
// host's and everything vanishes with the process even if it dies), which holds a
// bridge "vpbr"; three namespaces hang off it by veth pairs, each with "vp0" inside:
//   vpa  198.51.100.1  2001:db8:5::1   MAC 02:76:70:00:00:0a  the primary
//   vpb  198.51.100.2  2001:db8:5::2   MAC 02:76:70:00:00:0b  the standby
//   vpp  198.51.100.10 2001:db8:5::10  MAC 02:76:70:00:00:0c  the BGP peer
// The VIP moves from a to b; p must then send to b's MAC without doing anything itself.
// Needs root (namespaces, a bridge, AF_PACKET); skipped with the reason otherwise.
#include "replicator/vip/garp.hpp"
#include "replicator/vip/vip.hpp"
#include "replicator/vip/vip_set.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tandem::replicator::vip {
namespace {

using namespace std::chrono_literals;

constexpr const char* kMacA = "02:76:70:00:00:0a";
constexpr const char* kMacB = "02:76:70:00:00:0b";
constexpr const char* kMacP = "02:76:70:00:00:0c";
constexpr const char* kNamespaces[] = {"vpa", "vpb", "vpp"};

std::string run(const std::string& cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p.get())) out += buf.data();
  return out;
}

// Run `fn` with the calling thread in namespace `ns` (sockets made there stay there).
void in_ns(const std::string& ns, const std::function<void()>& fn) {
  int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (home < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
    ADD_FAILURE() << "cannot enter namespace " << ns;
  } else {
    fn();
    if (setns(home, CLONE_NEWNET) != 0) std::abort();  // the test would lie otherwise
  }
  if (home >= 0) ::close(home);
  if (target >= 0) ::close(target);
}

std::string make_topology() {
  if (geteuid() != 0)
    return "needs root: creates network namespaces, a bridge and AF_PACKET sockets";
  if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0) return "unshare(CLONE_NEWNS|CLONE_NEWNET) failed";
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return "cannot make the mount namespace private";
  ::mkdir("/run/netns", 0755);
  if (mount("tandem-vip-netns", "/run/netns", "tmpfs", 0, nullptr) != 0)
    return "cannot mount a private /run/netns";
  // p and the bridge namespace skip DAD (their addresses just have to work); a and b
  // keep the default, so that the NODAD test below means something.
  std::string setup =
      "set -e; ip link set lo up; "
      "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; "
      "ip link add vpbr type bridge mcast_snooping 0; ip link set vpbr up; "
      "for n in vpa vpb vpp; do ip netns add $n; ip -n $n link set lo up; done; "
      "ip netns exec vpp sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; "
      "ip link add vpa0 type veth peer name vp0 address 02:76:70:00:00:0a netns vpa; "
      "ip link add vpb0 type veth peer name vp0 address 02:76:70:00:00:0b netns vpb; "
      "ip link add vpp0 type veth peer name vp0 address 02:76:70:00:00:0c netns vpp; "
      "for n in vpa vpb vpp; do ip link set ${n}0 master vpbr up; ip -n $n link set vp0 up; done; "
      "ip -n vpa addr add 198.51.100.1/24 dev vp0; ip -n vpa addr add 2001:db8:5::1/64 dev vp0 nodad; "
      "ip -n vpb addr add 198.51.100.2/24 dev vp0; ip -n vpb addr add 2001:db8:5::2/64 dev vp0 nodad; "
      "ip -n vpp addr add 198.51.100.10/24 dev vp0; ip -n vpp addr add 2001:db8:5::10/64 dev vp0 nodad";
  if (std::system(("sh -c '" + setup + "' >/dev/null 2>&1").c_str()) != 0)
    return "cannot build the namespaces/bridge with ip(8): " + setup;
  return "";
}

void remove_topology() {
  for (const char* ns : kNamespaces) std::system(("ip netns del " + std::string(ns) + " 2>/dev/null").c_str());
  std::system("ip link del vpbr 2>/dev/null");
}

wire::IpAddr ip(const char* s) { return *wire::IpAddr::parse(s); }
IfAddr ifaddr(const char* s) { return *IfAddr::parse(s); }

// p's neighbour entry for `addr` as ip(8) shows it (JSON); "" when there is none.
std::string neigh_json(const std::string& ns, const std::string& addr) {
  return run("ip -n " + ns + " -j neigh show dev vp0 to " + addr);
}
std::string lladdr_of(const std::string& json) {
  auto k = json.find("\"lladdr\":\"");
  if (k == std::string::npos) return "";
  return json.substr(k + 10, 17);
}
std::string peer_lladdr(const std::string& addr) { return lladdr_of(neigh_json("vpp", addr)); }

// Waits (polling) until p's entry for `addr` shows `mac`; returns the last one seen.
std::string wait_peer_lladdr(const std::string& addr, const std::string& mac,
                             std::chrono::milliseconds limit = 1000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string seen;
  for (;;) {
    seen = peer_lladdr(addr);
    if (seen == mac || std::chrono::steady_clock::now() > deadline) return seen;
    std::this_thread::sleep_for(2ms);
  }
}

// The kernel joins a new IPv6 address's solicited-node multicast group from a work item
// just after the RTM_NEWADDR ACK; a Neighbor Solicitation that arrives before that is
// not answered (and the asker retries only after 1 s). The takeover does not depend on
// it (the peer already has an entry, re-pointed by the NA; it later confirms it with a
// unicast NS), but a test where p resolves the VIP from scratch must wait for it.
void wait_solicited_node(const std::string& ns, const wire::IpAddr& a) {
  char group[64];
  std::snprintf(group, sizeof group, "ff02::1:%x:%x", 0xff00u | a.bytes[13],
                (unsigned(a.bytes[14]) << 8) | a.bytes[15]);
  for (int i = 0; i < 500; ++i) {
    if (run("ip -n " + ns + " -6 maddr show dev vp0").find(group) != std::string::npos) return;
    std::this_thread::sleep_for(1ms);
  }
  ADD_FAILURE() << ns << " never joined " << group;
}

int udp_socket(const wire::IpAddr& bind_to, uint16_t port) {
  int fd = ::socket(bind_to.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc;
  if (bind_to.is_v4()) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    std::memcpy(&s.sin_addr, bind_to.bytes.data(), 4);
    s.sin_port = htons(port);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s);
  } else {
    sockaddr_in6 s{};
    s.sin6_family = AF_INET6;
    std::memcpy(&s.sin6_addr, bind_to.bytes.data(), 16);
    s.sin6_port = htons(port);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s);
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One datagram to dst:port from a socket made in namespace `ns`.
bool send_from(const std::string& ns, const wire::IpAddr& dst, uint16_t port) {
  bool ok = false;
  in_ns(ns, [&] {
    int fd = ::socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const char msg[] = "vip";
    if (dst.is_v4()) {
      sockaddr_in d{};
      d.sin_family = AF_INET;
      std::memcpy(&d.sin_addr, dst.bytes.data(), 4);
      d.sin_port = htons(port);
      ok = ::sendto(fd, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&d), sizeof d) > 0;
    } else {
      sockaddr_in6 d{};
      d.sin6_family = AF_INET6;
      std::memcpy(&d.sin6_addr, dst.bytes.data(), 16);
      d.sin6_port = htons(port);
      ok = ::sendto(fd, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&d), sizeof d) > 0;
    }
    ::close(fd);
  });
  return ok;
}

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

class VipTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason() = make_topology();
    if (!skip_reason().empty() && geteuid() == 0) remove_topology();
  }
  static void TearDownTestSuite() {
    if (geteuid() == 0) remove_topology();
  }
  void SetUp() override {
    if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
    std::string err;
    in_ns("vpa", [&] { a_ = Rtnl::open(err); });
    ASSERT_TRUE(a_) << err;
    in_ns("vpb", [&] { b_ = Rtnl::open(err); });
    ASSERT_TRUE(b_) << err;
    in_ns("vpp", [&] { p_ = Rtnl::open(err); });
    ASSERT_TRUE(p_) << err;
  }
  static std::string& skip_reason() {
    static std::string r;
    return r;
  }

  // The whole move, as the standby would do it after the primary's freeze; p is only
  // observed, never prompted.
  void move_and_check(const char* vip_text, uint16_t port) {
    IfAddr vip = ifaddr(vip_text);
    std::string addr = vip.addr.to_string();
    std::string err;
    std::unique_ptr<Announcer> announcer;  // made ahead of time, on the standby
    in_ns("vpb", [&] { announcer = Announcer::open("vp0", err); });
    ASSERT_TRUE(announcer) << err;
    EXPECT_EQ(mac_to_string(announcer->mac()), kMacB);

    ASSERT_EQ(a_->add_address("vp0", vip, err), Outcome::Changed) << err;
    EXPECT_EQ(a_->has_address("vp0", vip, err), std::optional<bool>(true)) << err;
    if (vip.addr.is_v6()) wait_solicited_node("vpa", vip.addr);
    // p talks to the VIP: its entry now holds a's MAC.
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    ASSERT_EQ(wait_peer_lladdr(addr, kMacA), kMacA) << neigh_json("vpp", addr);

    ASSERT_EQ(a_->remove_address("vp0", vip, err), Outcome::Changed) << err;
    EXPECT_EQ(a_->has_address("vp0", vip, err), std::optional<bool>(false)) << err;
    ASSERT_EQ(b_->add_address("vp0", vip, err), Outcome::Changed) << err;
    ASSERT_TRUE(announcer->announce(vip.addr, err)) << err;
    EXPECT_EQ(wait_peer_lladdr(addr, kMacB), kMacB) << neigh_json("vpp", addr);

    // And p's next datagram to the VIP lands on b (bound to the VIP: usable at once,
    // also for IPv6 thanks to NODAD).
    int fd = -1;
    in_ns("vpb", [&] { fd = udp_socket(vip.addr, port); });
    ASSERT_GE(fd, 0) << "bind to the VIP on b: " << std::strerror(errno);
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    EXPECT_TRUE(readable(fd, 1000)) << "p's datagram did not reach b";
    ::close(fd);
    EXPECT_EQ(b_->remove_address("vp0", vip, err), Outcome::Changed) << err;
  }

  // An unplanned takeover announces the VIP before b owns it (VipSet::announce_only).
  // b is a router (IP forwarding on): without the blackhole route it would forward p's
  // segments to the VIP's old owner a - a hung primary whose kernel still answers - and
  // the bytes a acknowledged would be lost to the socket b rebuilds (bench/chaos, bug 3).
  void announce_drops_instead_of_forwarding(const char* vip_text, uint16_t port) {
    IfAddr vip = ifaddr(vip_text);
    std::string addr = vip.addr.to_string();
    std::string err;
    auto sysctl = [](const std::string& ns, const std::string& settings) {
      return std::system(("ip netns exec " + ns + " sysctl -qw " + settings + " >/dev/null").c_str()) == 0;
    };
    // p must not follow an ICMP redirect from b (the control step below makes b forward),
    // or it would send to a directly from then on.
    ASSERT_TRUE(sysctl("vpp", "net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.vp0.accept_redirects=0 "
                              "net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.vp0.accept_redirects=0"));
    ASSERT_TRUE(sysctl("vpb", "net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"));
    struct Restore {
      std::function<void()> fn;
      ~Restore() { fn(); }
    } restore{[&] { sysctl("vpb", "net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0"); }};

    ASSERT_EQ(a_->add_address("vp0", vip, err), Outcome::Changed) << err;
    if (vip.addr.is_v6()) wait_solicited_node("vpa", vip.addr);
    int at_a = -1;
    in_ns("vpa", [&] { at_a = udp_socket(vip.addr, port); });
    ASSERT_GE(at_a, 0) << std::strerror(errno);
    auto arrived_at = [](int fd, int ms) {
      if (!readable(fd, ms)) return false;
      char buf[64];
      while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
      }
      return true;
    };
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    ASSERT_TRUE(arrived_at(at_a, 1000)) << "p cannot reach the VIP on a";

    std::unique_ptr<VipSet> set;
    in_ns("vpb", [&] { set = VipSet::open("vp0", {{vip.addr, vip.prefix_len}}, err); });
    ASSERT_TRUE(set) << err;
    ASSERT_TRUE(set->announce_only(err)) << err;
    ASSERT_EQ(wait_peer_lladdr(addr, kMacB), kMacB) << neigh_json("vpp", addr);
    EXPECT_EQ(run("ip -n vpb route show table all proto 203 type blackhole").find(addr) == std::string::npos, false);
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    EXPECT_FALSE(arrived_at(at_a, 300)) << "b forwarded p's datagram to the VIP's old owner";

    // The control: without the route, b forwards it (what the route is there against).
    ASSERT_EQ(b_->remove_blackhole(vip.addr, err), Outcome::Changed) << err;
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    // Up to 3 s: b resolves the VIP first, and sends no Neighbor Solicitation while its
    // link-local address is still tentative (the first second after the link came up).
    EXPECT_TRUE(arrived_at(at_a, 3000)) << "b did not forward: the test shows nothing";
    ASSERT_EQ(b_->add_blackhole(vip.addr, err), Outcome::Changed) << err;
    EXPECT_EQ(b_->add_blackhole(vip.addr, err), Outcome::AlreadyDone) << err;

    // Claiming: the address overrides the route, and the route goes.
    ASSERT_EQ(a_->remove_address("vp0", vip, err), Outcome::Changed) << err;
    ::close(at_a);
    ASSERT_TRUE(set->claim(err)) << err;
    EXPECT_EQ(run("ip -n vpb route show table all proto 203"), "");
    int at_b = -1;
    in_ns("vpb", [&] { at_b = udp_socket(vip.addr, port); });
    ASSERT_GE(at_b, 0) << std::strerror(errno);
    ASSERT_TRUE(send_from("vpp", vip.addr, port));
    EXPECT_TRUE(arrived_at(at_b, 1000)) << "p's datagram did not reach b after the claim";
    ::close(at_b);
    EXPECT_EQ(b_->remove_blackhole(vip.addr, err), Outcome::AlreadyDone) << err;
    ASSERT_TRUE(set->release(err)) << err;
  }

  std::unique_ptr<Rtnl> a_, b_, p_;
};

TEST_F(VipTest, Ipv4MoveWithGratuitousArpRepointsThePeer) { move_and_check("198.51.100.100/24", 7001); }

TEST_F(VipTest, Ipv6MoveWithUnsolicitedNaRepointsThePeer) { move_and_check("2001:db8:5::100/64", 7002); }

TEST_F(VipTest, Ipv4AnnounceBeforeClaimDropsInsteadOfForwarding) {
  announce_drops_instead_of_forwarding("198.51.100.111/24", 7011);
}

TEST_F(VipTest, Ipv6AnnounceBeforeClaimDropsInsteadOfForwarding) {
  announce_drops_instead_of_forwarding("2001:db8:5::111/64", 7012);
}

// A takeover that died between announcing and claiming left its route: the next start
// removes it (it would keep this node from reaching the VIP on the other node).
TEST_F(VipTest, OpeningRemovesALeftoverBlackholeRoute) {
  IfAddr vip = ifaddr("198.51.100.102/32");
  std::string err;
  ASSERT_EQ(b_->add_blackhole(vip.addr, err), Outcome::Changed) << err;
  ASSERT_NE(run("ip -n vpb route show proto 203"), "");
  std::unique_ptr<VipSet> set;
  in_ns("vpb", [&] { set = VipSet::open("vp0", {{vip.addr, vip.prefix_len}}, err); });
  ASSERT_TRUE(set) << err;
  EXPECT_EQ(run("ip -n vpb route show proto 203"), "");
}

TEST_F(VipTest, GratuitousArpReplyAloneAlsoRepointsThePeer) {
  IfAddr vip = ifaddr("198.51.100.101/24");
  std::string addr = vip.addr.to_string();
  std::string err;
  std::unique_ptr<Announcer> announcer;
  AnnounceOptions o;
  o.arp_request = false;
  o.arp_reply = true;
  in_ns("vpb", [&] { announcer = Announcer::open("vp0", err, o); });
  ASSERT_TRUE(announcer) << err;
  ASSERT_EQ(a_->add_address("vp0", vip, err), Outcome::Changed) << err;
  ASSERT_TRUE(send_from("vpp", vip.addr, 7003));
  ASSERT_EQ(wait_peer_lladdr(addr, kMacA), kMacA);
  ASSERT_EQ(a_->remove_address("vp0", vip, err), Outcome::Changed) << err;
  ASSERT_EQ(b_->add_address("vp0", vip, err), Outcome::Changed) << err;
  ASSERT_TRUE(announcer->announce(vip.addr, err, 2, 100us)) << err;
  EXPECT_EQ(wait_peer_lladdr(addr, kMacB), kMacB) << neigh_json("vpp", addr);
  EXPECT_EQ(b_->remove_address("vp0", vip, err), Outcome::Changed) << err;
}

TEST_F(VipTest, Ipv6AddressIsUsableAtOnceWithNodad) {
  // Control: the same kind of address added by ip(8) without nodad is tentative (DAD is
  // on in vpb), so the check below is not vacuous.
  ASSERT_EQ(std::system("ip -n vpb addr add 2001:db8:5::77/64 dev vp0"), 0);
  std::string control = run("ip -n vpb -j addr show dev vp0 to 2001:db8:5::77/128");
  EXPECT_NE(control.find("\"tentative\":true"), std::string::npos) << control;
  std::system("ip -n vpb addr del 2001:db8:5::77/64 dev vp0");

  std::string err;
  IfAddr vip = ifaddr("2001:db8:5::102/64");
  ASSERT_EQ(b_->add_address("vp0", vip, err), Outcome::Changed) << err;
  std::string j = run("ip -n vpb -j addr show dev vp0 to 2001:db8:5::102/128");
  EXPECT_NE(j.find("2001:db8:5::102"), std::string::npos) << j;
  EXPECT_EQ(j.find("tentative"), std::string::npos) << j;
  EXPECT_NE(j.find("\"nodad\":true"), std::string::npos) << j;
  int fd = -1;
  in_ns("vpb", [&] { fd = udp_socket(vip.addr, 7004); });
  EXPECT_GE(fd, 0) << "bind() to a fresh VIP failed: " << std::strerror(errno);
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(b_->remove_address("vp0", vip, err), Outcome::Changed) << err;
}

TEST_F(VipTest, ErrorsAreClearAndRepeatsAreAlreadyDone) {
  std::string err;
  IfAddr vip = ifaddr("198.51.100.103/24");
  EXPECT_EQ(a_->add_address("nope0", vip, err), Outcome::Failed);
  EXPECT_EQ(err, "nope0: no such interface (No such device)");
  err.clear();
  EXPECT_EQ(a_->add_address(9999, vip, err), Outcome::Failed);
  EXPECT_EQ(err, "if#9999: 198.51.100.103/24: No such device (kernel: ipv4: Device not found)");
  err.clear();
  EXPECT_FALSE(a_->has_address("nope0", vip, err).has_value());
  EXPECT_NE(err.find("nope0"), std::string::npos) << err;

  ASSERT_EQ(a_->add_address("vp0", vip, err), Outcome::Changed) << err;
  EXPECT_EQ(a_->add_address("vp0", vip, err), Outcome::AlreadyDone);
  EXPECT_EQ(err, "vp0: 198.51.100.103/24: already present (File exists)");
  ASSERT_EQ(a_->remove_address("vp0", vip, err), Outcome::Changed) << err;
  EXPECT_EQ(a_->remove_address("vp0", vip, err), Outcome::AlreadyDone);
  EXPECT_EQ(err, "vp0: 198.51.100.103/24: not present (Cannot assign requested address)");

  IfAddr vip6 = ifaddr("2001:db8:5::103/64");
  ASSERT_EQ(a_->add_address("vp0", vip6, err), Outcome::Changed) << err;
  EXPECT_EQ(a_->add_address("vp0", vip6, err), Outcome::AlreadyDone) << err;
  ASSERT_EQ(a_->remove_address("vp0", vip6, err), Outcome::Changed) << err;
  EXPECT_EQ(a_->remove_address("vp0", vip6, err), Outcome::AlreadyDone) << err;
  EXPECT_EQ(err, "vp0: 2001:db8:5::103/64: not present (Cannot assign requested address)");

  // By index: the name resolved through the socket's namespace, not ours (the test
  // process has no vp0 at all).
  int index = a_->ifindex("vp0", err);
  ASSERT_GT(index, 0) << err;
  EXPECT_EQ(a_->add_address(index, vip, err), Outcome::Changed) << err;
  EXPECT_EQ(a_->has_address(index, vip, err), std::optional<bool>(true));
  EXPECT_EQ(a_->has_address(index, ifaddr("198.51.100.103/25"), err), std::optional<bool>(false));
  EXPECT_EQ(a_->remove_address(index, vip, err), Outcome::Changed) << err;

  std::unique_ptr<Announcer> bad = Announcer::open("nope0", err);
  EXPECT_FALSE(bad);
  EXPECT_NE(err.find("nope0: no such interface"), std::string::npos) << err;
  bad = Announcer::open("lo", err);  // exists here (the test's own namespace), not Ethernet
  EXPECT_FALSE(bad);
  EXPECT_NE(err.find("not an Ethernet interface"), std::string::npos) << err;

}

// Pure parts: no namespace, run without root too.
TEST(VipIfAddr, Parses) {
  EXPECT_FALSE(IfAddr::parse("198.51.100.1/33"));
  EXPECT_FALSE(IfAddr::parse("2001:db8::1/129"));
  EXPECT_FALSE(IfAddr::parse("198.51.100.1/"));
  EXPECT_FALSE(IfAddr::parse("198.51.100.1/2x"));
  EXPECT_FALSE(IfAddr::parse("vip"));
  EXPECT_EQ(IfAddr::parse("198.51.100.1")->prefix_len, 32);
  EXPECT_EQ(IfAddr::parse("2001:db8::1")->prefix_len, 128);
  EXPECT_EQ(IfAddr::parse("198.51.100.7/24")->to_string(), "198.51.100.7/24");  // host bits kept
  EXPECT_EQ(IfAddr::parse("2001:db8::1/64")->to_string(), "2001:db8::1/64");
}

TEST_F(VipTest, WarmNeighbourResolvesThePeerWithoutTalkingToIt) {
  std::string err;
  // b does DAD: the kernel sends no NS while b's link-local address is tentative (the
  // first second after the link came up), so wait until it is usable.
  for (int i = 0; i < 3000; ++i) {
    std::string ll = run("ip -n vpb -6 -j addr show dev vp0 scope link");
    if (ll.find("fe80") != std::string::npos && ll.find("tentative") == std::string::npos) break;
    std::this_thread::sleep_for(1ms);
  }
  for (const char* peer : {"198.51.100.10", "2001:db8:5::10"}) {
    SCOPED_TRACE(peer);
    ASSERT_GE(b_->flush_neighbours("vp0", err), 0) << err;
    EXPECT_EQ(lladdr_of(neigh_json("vpb", peer)), "");
    ASSERT_TRUE(b_->warm_neighbour("vp0", ip(peer), err)) << err;
    std::string j = neigh_json("vpb", peer);
    EXPECT_EQ(lladdr_of(j), kMacP) << j;
    EXPECT_NE(j.find("REACHABLE"), std::string::npos) << j;
    auto n = b_->neighbour("vp0", ip(peer), err);
    ASSERT_TRUE(n) << err;
    ASSERT_TRUE(n->lladdr);
    EXPECT_EQ(mac_to_string(*n->lladdr), kMacP);
    // Already reachable: nothing to do, still true.
    EXPECT_TRUE(b_->warm_neighbour("vp0", ip(peer), err)) << err;
  }
  // Managed ("keep warm") entries: made from nothing, and from a REACHABLE entry,
  // which stays REACHABLE (usable) while it becomes managed.
  for (const char* peer : {"198.51.100.10", "2001:db8:5::10"}) {
    SCOPED_TRACE(peer);
    ASSERT_TRUE(b_->warm_neighbour("vp0", ip(peer), err, 1000, true)) << err;
    std::string j = neigh_json("vpb", peer);
    EXPECT_EQ(lladdr_of(j), kMacP) << j;
    EXPECT_NE(j.find("REACHABLE"), std::string::npos) << j;
    EXPECT_NE(j.find("managed"), std::string::npos) << j;
  }
  ASSERT_GE(b_->flush_neighbours("vp0", err), 0) << err;
  ASSERT_TRUE(b_->warm_neighbour("vp0", ip("198.51.100.10"), err, 1000, true)) << err;
  std::string j = neigh_json("vpb", "198.51.100.10");
  EXPECT_EQ(lladdr_of(j), kMacP) << j;
  EXPECT_NE(j.find("managed"), std::string::npos) << j;

  // Nobody there: a clear error after the wait, not a MAC out of thin air.
  EXPECT_FALSE(b_->warm_neighbour("vp0", ip("198.51.100.97"), err, 200));
  EXPECT_NE(err.find("vp0: 198.51.100.97: not reachable after 200 ms"), std::string::npos) << err;
  EXPECT_EQ(lladdr_of(neigh_json("vpb", "198.51.100.97")), "");
  EXPECT_FALSE(b_->warm_neighbour("nope0", ip("198.51.100.10"), err));
  EXPECT_NE(err.find("nope0: no such interface"), std::string::npos) << err;
}

TEST_F(VipTest, FlushNeighboursDropsAStuckPacketOnTheOldPrimary) {
  std::string err;
  // Control: a datagram a sends to an address nobody has yet waits in the INCOMPLETE
  // entry's queue and leaves once the address answers (ARP re-probes every second) -
  // the NSR-NOTES "segment stuck in its neighbour queue".
  ASSERT_TRUE(send_from("vpa", ip("198.51.100.98"), 7005));
  std::string j = neigh_json("vpa", "198.51.100.98");
  EXPECT_NE(j.find("INCOMPLETE"), std::string::npos) << j;
  ASSERT_EQ(p_->add_address("vp0", ifaddr("198.51.100.98/24"), err), Outcome::Changed) << err;
  int fd = -1;
  in_ns("vpp", [&] { fd = udp_socket(ip("198.51.100.98"), 7005); });
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(readable(fd, 2500)) << "control: the queued datagram never left a";
  ::close(fd);

  // The same with a flush in between: the queued datagram is dropped.
  ASSERT_TRUE(send_from("vpa", ip("198.51.100.99"), 7006));
  ASSERT_TRUE(send_from("vpp", ip("198.51.100.1"), 7007));  // and a live entry for p
  for (int i = 0; i < 100 && lladdr_of(neigh_json("vpa", "198.51.100.10")).empty(); ++i)
    std::this_thread::sleep_for(2ms);
  int flushed = a_->flush_neighbours("vp0", err);
  EXPECT_GE(flushed, 2) << err;
  EXPECT_EQ(neigh_json("vpa", "198.51.100.99"), "[]\n");
  EXPECT_EQ(neigh_json("vpa", "198.51.100.10"), "[]\n");
  ASSERT_EQ(p_->add_address("vp0", ifaddr("198.51.100.99/24"), err), Outcome::Changed) << err;
  in_ns("vpp", [&] { fd = udp_socket(ip("198.51.100.99"), 7006); });
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(readable(fd, 2500)) << "the queued datagram left a after the flush";
  ::close(fd);
  EXPECT_EQ(a_->flush_neighbours("nope0", err), -1);
  EXPECT_NE(err.find("nope0: no such interface"), std::string::npos) << err;
  p_->remove_address("vp0", ifaddr("198.51.100.98/24"), err);
  p_->remove_address("vp0", ifaddr("198.51.100.99/24"), err);
}

TEST(VipFrames, AreWellFormed) {
  Mac mac{0x02, 0x76, 0x70, 0, 0, 0x0b};
  auto arp = build_garp(mac, ip("198.51.100.100"), false);
  ASSERT_EQ(arp.size(), 60u);
  EXPECT_EQ(arp[12], 0x08);
  EXPECT_EQ(arp[13], 0x06);
  EXPECT_EQ(arp[21], 1);  // request
  EXPECT_TRUE(std::equal(arp.begin() + 28, arp.begin() + 32, arp.begin() + 38));  // spa == tpa
  auto reply = build_garp(mac, ip("198.51.100.100"), true);
  EXPECT_EQ(reply[21], 2);
  EXPECT_TRUE(std::equal(reply.begin() + 22, reply.begin() + 28, reply.begin() + 32));  // sha == tha
  auto na = build_unsolicited_na(mac, ip("2001:db8:5::100"), true);
  ASSERT_EQ(na.size(), 14u + 40u + 32u);
  EXPECT_EQ(na[0], 0x33);
  EXPECT_EQ(na[21], 255);      // hop limit
  EXPECT_EQ(na[54], 136);      // NA
  EXPECT_EQ(na[58], 0xa0);     // Router + Override, not Solicited
  EXPECT_EQ(na[78], 2);        // target link-layer address option
  EXPECT_TRUE(std::equal(na.begin() + 80, na.end(), mac.begin()));
  // One's-complement sum over pseudo-header + message (checksum included) is 0xffff.
  uint32_t sum = 0;
  auto add16 = [&](auto first, auto last) {
    for (auto it = first; it < last; it += 2) sum += (uint32_t(*it) << 8) | *(it + 1);
  };
  add16(na.begin() + 22, na.begin() + 54);  // source and destination addresses
  sum += 32 + 58;                           // upper-layer length, next header
  add16(na.begin() + 54, na.end());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
}

// The figure NSR-NOTES asks for: remove on the old owner + add on the new + announce,
// over netlink and a kept packet socket, back and forth between a and b. Printed, never
// asserted on (shared machine).
TEST_F(VipTest, MeasuresTheMove) {
  std::string err;
  std::unique_ptr<Announcer> ann_a, ann_b;
  in_ns("vpa", [&] { ann_a = Announcer::open("vp0", err); });
  ASSERT_TRUE(ann_a) << err;
  in_ns("vpb", [&] { ann_b = Announcer::open("vp0", err); });
  ASSERT_TRUE(ann_b) << err;
  int ia = a_->ifindex("vp0", err), ib = b_->ifindex("vp0", err);
  ASSERT_TRUE(ia > 0 && ib > 0) << err;
  for (const char* text : {"198.51.100.200/24", "2001:db8:5::200/64"}) {
    IfAddr vip = ifaddr(text);
    ASSERT_EQ(a_->add_address(ia, vip, err), Outcome::Changed) << err;
    if (vip.addr.is_v6()) wait_solicited_node("vpa", vip.addr);
    ASSERT_TRUE(send_from("vpp", vip.addr, 7010));
    ASSERT_EQ(wait_peer_lladdr(vip.addr.to_string(), kMacA), kMacA);
    std::vector<double> total, rm, add, ann;
    constexpr int kRuns = 50;
    for (int i = 0; i < kRuns; ++i) {
      bool to_b = i % 2 == 0;
      Rtnl& from = to_b ? *a_ : *b_;
      Rtnl& to = to_b ? *b_ : *a_;
      Announcer& an = to_b ? *ann_b : *ann_a;
      int from_if = to_b ? ia : ib, to_if = to_b ? ib : ia;
      auto t0 = std::chrono::steady_clock::now();
      Outcome r1 = from.remove_address(from_if, vip, err);
      auto t1 = std::chrono::steady_clock::now();
      Outcome r2 = to.add_address(to_if, vip, err);
      auto t2 = std::chrono::steady_clock::now();
      bool r3 = an.announce(vip.addr, err);
      auto t3 = std::chrono::steady_clock::now();
      ASSERT_TRUE(r1 == Outcome::Changed && r2 == Outcome::Changed && r3) << err;
      auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count(); };
      total.push_back(us(t3 - t0));
      rm.push_back(us(t1 - t0));
      add.push_back(us(t2 - t1));
      ann.push_back(us(t3 - t2));
      // The peer must follow every move (not timed).
      const char* want = to_b ? kMacB : kMacA;
      ASSERT_EQ(wait_peer_lladdr(vip.addr.to_string(), want), want) << "run " << i;
    }
    auto pct = [](std::vector<double> v, double q) {
      std::sort(v.begin(), v.end());
      return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
    };
    std::printf("[ vip ] %s move (remove+add+announce), %d runs: median %.1f us, p90 %.1f us, "
                "min %.1f us, max %.1f us; medians: remove %.1f, add %.1f, announce %.1f us\n",
                vip.addr.is_v4() ? "IPv4" : "IPv6", kRuns, pct(total, 0.5), pct(total, 0.9),
                pct(total, 0.0), pct(total, 1.0), pct(rm, 0.5), pct(add, 0.5), pct(ann, 0.5));
    RecordProperty(vip.addr.is_v4() ? "move_v4_median_us" : "move_v6_median_us",
                   std::to_string(pct(total, 0.5)));
    // Leave it nowhere (it ends on a after an even number of runs).
    EXPECT_EQ(a_->remove_address(ia, vip, err), Outcome::Changed) << err;
  }
  // Opening and closing an Announcer (what must not happen on the takeover path).
  std::vector<double> opens, closes;
  for (int i = 0; i < 10; ++i) {
    std::unique_ptr<Announcer> tmp;
    in_ns("vpb", [&] {
      auto t0 = std::chrono::steady_clock::now();
      tmp = Announcer::open("vp0", err);
      opens.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    });
    auto t1 = std::chrono::steady_clock::now();
    tmp.reset();
    closes.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t1).count());
  }
  std::sort(opens.begin(), opens.end());
  std::sort(closes.begin(), closes.end());
  std::printf("[ vip ] Announcer open: median %.1f us; close: median %.1f us, max %.1f us "
              "(why it is opened ahead and kept)\n",
              opens[opens.size() / 2], closes[closes.size() / 2], closes.back());
}

}  // namespace
}  // namespace tandem::replicator::vip
