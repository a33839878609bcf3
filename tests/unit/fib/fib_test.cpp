// The FIB against the real kernel: the test process moves into a network namespace of
// its own (unshare), makes a veth pair there (this kernel has no dummy driver), and checks what `ip route` sees.
// Needs root or unprivileged user namespaces; skipped with the reason otherwise.
#include "bgpd/fib/fib.hpp"

#include "tests/unit/private_netns.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <map>
#include <vector>
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

std::string show(const std::vector<Fib::Route>& rs) {
  std::string s;
  for (const auto& r : rs) s += r.prefix.to_string() + " via " + (r.gateway ? r.gateway->to_string() : "-") + "; ";
  return s.empty() ? "(none)" : s;
}

// prefix -> gateway ("-" when none) of a dump; fails on a prefix listed twice.
std::map<std::string, std::string> by_prefix(const std::vector<Fib::Route>& rs) {
  std::map<std::string, std::string> m;
  for (const auto& r : rs) {
    auto [it, fresh] = m.emplace(r.prefix.to_string(), r.gateway ? r.gateway->to_string() : "-");
    EXPECT_TRUE(fresh) << r.prefix.to_string() << " dumped twice: " << show(rs);
  }
  return m;
}

TEST_F(FibTest, DumpReturnsOnlyOurTableAndProtocol) {
  std::string err;
  auto fib = Fib::open({100, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  fib->replace(pfx("10.20.0.0/16"), ip("192.0.2.2"));
  fib->replace(pfx("2001:db8:200::/48"), ip("2001:db8::2"));
  ASSERT_TRUE(fib->flush().empty());
  // Ours too, though not installed by this Fib (left by a previous run).
  ASSERT_EQ(std::system("ip route add 10.21.0.0/16 via 192.0.2.3 table 100 proto 201"), 0);
  ASSERT_EQ(std::system("ip -6 route add 2001:db8:201::/48 via 2001:db8::3 table 100 proto 201"), 0);
  // Not ours: another protocol in our table, our protocol in other tables, plain routes.
  ASSERT_EQ(std::system("ip route add 10.30.0.0/16 via 192.0.2.2 table 100 proto static"), 0);
  ASSERT_EQ(std::system("ip route add 10.31.0.0/16 via 192.0.2.2 table 101 proto 201"), 0);
  ASSERT_EQ(std::system("ip route add 10.32.0.0/16 via 192.0.2.2 proto 201"), 0);  // main table
  ASSERT_EQ(std::system("ip route add 10.33.0.0/16 via 192.0.2.2 table 100 proto 202"), 0);
  ASSERT_EQ(std::system("ip -6 route add 2001:db8:300::/48 via 2001:db8::2 table 100 proto static"), 0);
  ASSERT_EQ(std::system("ip -6 route add 2001:db8:301::/48 via 2001:db8::2 table 101 proto 201"), 0);
  ASSERT_EQ(std::system("ip -6 route add 2001:db8:302::/48 via 2001:db8::2 proto 201"), 0);

  std::vector<Fib::Route> routes;
  ASSERT_TRUE(fib->dump(routes, err)) << err;
  auto m = by_prefix(routes);
  std::map<std::string, std::string> want{{"10.20.0.0/16", "192.0.2.2"},
                                          {"10.21.0.0/16", "192.0.2.3"},
                                          {"2001:db8:200::/48", "2001:db8::2"},
                                          {"2001:db8:201::/48", "2001:db8::3"}};
  EXPECT_EQ(m, want) << "expected exactly the table 100 / proto 201 routes, dump: " << show(routes);
}

TEST_F(FibTest, DumpIncludesDefaultRoutesAndRoutesWithoutGateway) {
  std::string err;
  auto fib = Fib::open({102, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  ASSERT_EQ(std::system("ip route add default via 192.0.2.2 table 102 proto 201"), 0);
  ASSERT_EQ(std::system("ip -6 route add default via 2001:db8::2 table 102 proto 201"), 0);
  ASSERT_EQ(std::system("ip route add 10.40.0.0/16 dev d0 table 102 proto 201"), 0);
  std::vector<Fib::Route> routes;
  ASSERT_TRUE(fib->dump(routes, err)) << err;
  auto m = by_prefix(routes);
  std::map<std::string, std::string> want{{"0.0.0.0/0", "192.0.2.2"}, {"::/0", "2001:db8::2"}, {"10.40.0.0/16", "-"}};
  EXPECT_EQ(m, want) << "dump: " << show(routes);
}

TEST_F(FibTest, DumpOfAnEmptyTableIsEmpty) {
  std::string err;
  auto fib = Fib::open({103, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  std::vector<Fib::Route> routes;
  ASSERT_TRUE(fib->dump(routes, err)) << err;
  EXPECT_TRUE(routes.empty()) << "table 103 holds nothing of ours, dump: " << show(routes);
}

TEST_F(FibTest, DumpOfManyRoutes) {
  std::string err;
  auto fib = Fib::open({104, 201, 20}, err);
  ASSERT_TRUE(fib) << err;
  for (uint32_t i = 0; i < 3000; ++i)
    fib->replace(wire::Prefix(wire::IpAddr::v4(0x0B000000u | (i << 8)), 24), ip("192.0.2.2"));
  ASSERT_TRUE(fib->flush().empty());
  std::vector<Fib::Route> routes;
  ASSERT_TRUE(fib->dump(routes, err)) << err;
  EXPECT_EQ(routes.size(), 3000u) << "a dump spanning many netlink messages must return every route";
  EXPECT_EQ(by_prefix(routes).size(), 3000u);
}

}  // namespace
}  // namespace tandem::fib
