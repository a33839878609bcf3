// The FIB against the real kernel: the test process moves into a network namespace of
// its own (unshare), makes a veth pair there (this kernel has no dummy driver), and checks what `ip route` sees.
// Needs root or unprivileged user namespaces; skipped with the reason otherwise.
#include "bgpd/fib/fib.hpp"

#include "tests/unit/private_netns.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace tandem::fib {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p.get())) out += buf.data();
  return out;
}

class FibTest : public test::PrivateNetnsTest<FibTest> {
 public:
  static constexpr const char* kNetnsSetup =
      "ip link add d0 type veth peer name d1 && ip link set d1 up && ip link set d0 up && "
        "ip addr add 192.0.2.1/24 dev d0 && ip -6 addr add 2001:db8::1/64 dev d0 nodad";
};

wire::Prefix pfx(const char* s) { return *wire::Prefix::parse(s); }
wire::IpAddr ip(const char* s) { return *wire::IpAddr::parse(s); }

TEST_F(FibTest, InstallsReplacesAndRemovesWithOurProtocolAndTable) {
  std::string err;
  auto fib = Fib::open({100, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  fib->replace(pfx("10.9.0.0/16"), ip("192.0.2.2"));
  fib->replace(pfx("2001:db8:100::/48"), ip("2001:db8::2"));
  EXPECT_TRUE(fib->flush().empty());
  std::string v4 = run("ip route show table 100 proto 201");
  EXPECT_NE(v4.find("10.9.0.0/16 via 192.0.2.2 dev d0"), std::string::npos) << v4;
  EXPECT_NE(v4.find("metric 20"), std::string::npos) << v4;
  std::string v6 = run("ip -6 route show table 100 proto 201");
  EXPECT_NE(v6.find("2001:db8:100::/48 via 2001:db8::2 dev d0"), std::string::npos) << v6;
  // Nothing leaked into the main table.
  EXPECT_EQ(run("ip route show table main proto 201"), "");

  fib->replace(pfx("10.9.0.0/16"), ip("192.0.2.3"));  // next hop change replaces
  EXPECT_TRUE(fib->flush().empty());
  v4 = run("ip route show table 100 proto 201");
  EXPECT_NE(v4.find("10.9.0.0/16 via 192.0.2.3"), std::string::npos) << v4;
  EXPECT_EQ(v4.find("192.0.2.2"), std::string::npos) << v4;

  fib->remove(pfx("10.9.0.0/16"));
  fib->remove(pfx("2001:db8:100::/48"));
  fib->remove(pfx("10.99.0.0/16"));  // never installed: not an error worth reporting
  EXPECT_TRUE(fib->flush().empty());
  EXPECT_EQ(run("ip route show table 100 proto 201"), "");
  EXPECT_EQ(run("ip -6 route show table 100 proto 201"), "");
}

TEST_F(FibTest, ReportsKernelRejectionPerPrefix) {
  std::string err;
  auto fib = Fib::open({100, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  fib->replace(pfx("10.10.0.0/16"), ip("203.0.113.9"));  // not on any link
  fib->replace(pfx("10.11.0.0/16"), ip("192.0.2.2"));
  auto errors = fib->flush();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].prefix.to_string(), "10.10.0.0/16");
  EXPECT_FALSE(errors[0].message.empty());
  EXPECT_NE(run("ip route show table 100 proto 201").find("10.11.0.0/16"), std::string::npos);
  fib->remove(pfx("10.11.0.0/16"));
  EXPECT_TRUE(fib->flush().empty());
}

TEST_F(FibTest, ManyRoutesInBatches) {
  std::string err;
  auto fib = Fib::open({101, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  for (uint32_t i = 0; i < 5000; ++i)
    fib->replace(wire::Prefix(wire::IpAddr::v4(0x0A000000u | (i << 8)), 24), ip("192.0.2.2"));
  EXPECT_TRUE(fib->flush().empty());
  std::string count = run("ip route show table 101 proto 201 | wc -l");
  EXPECT_EQ(std::stoi(count), 5000);
}

}  // namespace
}  // namespace tandem::fib
