// The replicator's pure pieces: the configuration digest both nodes compare at bulk
// sync (compare_config), and the term (epoch) store.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "replicator/config_digest.hpp"
#include "replicator/epoch.hpp"

namespace tandem::replicator {
namespace {

namespace fs = std::filesystem;

wire::IpAddr A(const char* s) { return *wire::IpAddr::parse(s); }
wire::Prefix P(const char* s) { return *wire::Prefix::parse(s); }

constexpr const char* kPassword = "Sup3rS3cretMd5Key";

config::PeerConfig peer(const char* address, uint32_t remote_as) {
  config::PeerConfig p;
  p.address = A(address);
  p.remote_as = remote_as;
  return p;
}

// Three peers, one with a TCP-MD5 password, and two networks.
config::Config base_config() {
  config::Config c;
  c.router_id = 0x0A000001;
  c.local_as = 65000;
  auto p1 = peer("192.0.2.1", 65001);
  p1.password = kPassword;
  c.peers.push_back(p1);
  c.peers.push_back(peer("192.0.2.2", 65002));
  c.peers.push_back(peer("2001:db8::3", 65003));
  config::NetworkConfig n1;
  n1.prefix = P("198.51.100.0/24");
  n1.med = 10;
  c.networks.push_back(n1);
  config::NetworkConfig n2;
  n2.prefix = P("2001:db8:100::/48");
  c.networks.push_back(n2);
  return c;
}

std::optional<std::string> compare(const config::Config& primary, const config::Config& standby) {
  return compare_config(make_config_digest(primary), make_config_digest(standby));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- compare_config ----

TEST(ConfigDigest, EqualConfigsCompareEqual) {
  EXPECT_EQ(compare(base_config(), base_config()), std::nullopt);
}

TEST(ConfigDigest, PeerOrderAndDescriptionDoNotMatter) {
  auto primary = base_config();
  auto standby = base_config();
  std::swap(standby.peers[0], standby.peers[2]);
  standby.peers[1].description = "the standby calls it something else";
  // Listen addresses are local to a node.
  standby.listen.push_back(A("192.0.2.200"));
  EXPECT_EQ(compare(primary, standby), std::nullopt);
}

TEST(ConfigDigest, DigestIsDeterministic) {
  auto a = make_config_digest(base_config());
  auto b = make_config_digest(base_config());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  ASSERT_EQ(a.peers_size(), 3);
  EXPECT_EQ(a.peers(0).address(), "192.0.2.1");
  EXPECT_EQ(a.peers(0).digest().size(), 32u);  // SHA-256
  EXPECT_EQ(a.global_digest().size(), 32u);
}

TEST(ConfigDigest, PeerHoldTimeDifferenceNamesThePeerAndBothSummaries) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers[1].hold_time = 30;
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "192.0.2.2")) << *msg;
  EXPECT_TRUE(contains(*msg, config::describe_peer(primary.peers[1]))) << *msg;
  EXPECT_TRUE(contains(*msg, config::describe_peer(standby.peers[1]))) << *msg;
  EXPECT_TRUE(contains(*msg, "hold=90")) << *msg;
  EXPECT_TRUE(contains(*msg, "hold=30")) << *msg;
  EXPECT_FALSE(contains(*msg, "global")) << *msg;
}

TEST(ConfigDigest, DifferenceOnThePeerWithAPasswordDoesNotShowThePassword) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers[0].hold_time = 45;
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "192.0.2.1")) << *msg;
  EXPECT_TRUE(contains(*msg, "md5=yes")) << *msg;
  EXPECT_FALSE(contains(*msg, kPassword)) << *msg;
}

TEST(ConfigDigest, PasswordPresenceIsCompared) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers[0].password.clear();
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "192.0.2.1")) << *msg;
  EXPECT_TRUE(contains(*msg, "md5=yes")) << *msg;
  EXPECT_TRUE(contains(*msg, "md5=no")) << *msg;
  EXPECT_FALSE(contains(*msg, kPassword)) << *msg;
}

TEST(ConfigDigest, PeerOnlyOnThePrimaryIsNamed) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers.erase(standby.peers.begin() + 2);
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "2001:db8::3")) << *msg;
  EXPECT_TRUE(contains(*msg, "primary only")) << *msg;
}

TEST(ConfigDigest, PeerOnlyOnTheStandbyIsNamed) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers.push_back(peer("203.0.113.9", 65009));
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "203.0.113.9")) << *msg;
  EXPECT_TRUE(contains(*msg, "standby only")) << *msg;
}

TEST(ConfigDigest, PasswordPeerOnlyOnOneSideDoesNotShowThePassword) {
  auto primary = base_config();
  auto standby = base_config();
  standby.peers.erase(standby.peers.begin());
  for (auto msg : {compare(primary, standby), compare(standby, primary)}) {
    ASSERT_TRUE(msg.has_value());
    EXPECT_TRUE(contains(*msg, "192.0.2.1")) << *msg;
    EXPECT_FALSE(contains(*msg, kPassword)) << *msg;
  }
}

TEST(ConfigDigest, LocalAsDifferenceIsAGlobalDifference) {
  auto primary = base_config();
  auto standby = base_config();
  standby.local_as = 65100;
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "global settings")) << *msg;
  EXPECT_TRUE(contains(*msg, "local_as=65000")) << *msg;
  EXPECT_TRUE(contains(*msg, "local_as=65100")) << *msg;
  EXPECT_FALSE(contains(*msg, kPassword)) << *msg;
}

TEST(ConfigDigest, NetworkDifferenceIsAGlobalDifference) {
  auto primary = base_config();
  auto standby = base_config();
  standby.networks[0].med = 20;
  auto msg = compare(primary, standby);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "global settings")) << *msg;
  EXPECT_TRUE(contains(*msg, "198.51.100.0/24")) << *msg;

  auto missing = base_config();
  missing.networks.pop_back();
  msg = compare(primary, missing);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(contains(*msg, "global settings")) << *msg;
}

TEST(ConfigDigest, NetworkOrderDoesNotMatter) {
  auto primary = base_config();
  auto standby = base_config();
  std::swap(standby.networks[0], standby.networks[1]);
  EXPECT_EQ(compare(primary, standby), std::nullopt);
}

TEST(ConfigDigest, PasswordIsNeverInTheDigestSentOverTheChannel) {
  auto d = make_config_digest(base_config());
  EXPECT_FALSE(contains(d.SerializeAsString(), kPassword));
  EXPECT_FALSE(contains(d.DebugString(), kPassword));
}

TEST(ConfigDigest, EveryMismatchMessageLeavesThePasswordOut) {
  // Both sides have a (different) password on every peer, and something differs.
  auto primary = base_config();
  for (auto& p : primary.peers) p.password = std::string(kPassword) + "-primary";
  auto standby = primary;
  for (auto& p : standby.peers) p.password = std::string(kPassword) + "-standby";
  standby.peers[2].hold_time = 9;
  standby.peers[1].connect_retry = 5;
  auto global = standby;
  global.router_id = 0x0A0000FE;
  auto only = standby;
  only.peers.pop_back();
  for (const auto* s : {&standby, &global, &only}) {
    for (auto msg : {compare(primary, *s), compare(*s, primary)}) {
      ASSERT_TRUE(msg.has_value());
      EXPECT_FALSE(contains(*msg, kPassword)) << *msg;
    }
  }
}

// ---- EpochStore ----

class EpochTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tandem-epoch-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  void write(const std::string& p, const std::string& text) {
    std::ofstream out(p, std::ios::trunc);
    out << text;
  }
  fs::path dir_;
};

TEST_F(EpochTest, MissingFileIsTermZero) {
  EpochStore s(path("epoch"));
  std::string why;
  EXPECT_TRUE(s.load(why)) << why;
  EXPECT_EQ(s.value(), 0u);
  EXPECT_FALSE(fs::exists(path("epoch")));
}

TEST_F(EpochTest, StoredTermIsLoadedByANewObject) {
  std::string why;
  {
    EpochStore s(path("epoch"));
    ASSERT_TRUE(s.load(why)) << why;
    ASSERT_TRUE(s.store(42, why)) << why;
    EXPECT_EQ(s.value(), 42u);
  }
  EXPECT_FALSE(fs::exists(path("epoch.tmp")));  // renamed into place
  EpochStore again(path("epoch"));
  ASSERT_TRUE(again.load(why)) << why;
  EXPECT_EQ(again.value(), 42u);

  // Overwrite with a larger term, and the largest one.
  ASSERT_TRUE(again.store(43, why)) << why;
  EpochStore third(path("epoch"));
  ASSERT_TRUE(third.load(why)) << why;
  EXPECT_EQ(third.value(), 43u);
  ASSERT_TRUE(third.store(UINT64_MAX, why)) << why;
  EpochStore fourth(path("epoch"));
  ASSERT_TRUE(fourth.load(why)) << why;
  EXPECT_EQ(fourth.value(), UINT64_MAX);
}

TEST_F(EpochTest, MalformedContentFailsNamingThePath) {
  for (const char* text : {"abc\n", "12x\n", "\n", "", "7 8\n", "99999999999999999999999\n"}) {
    write(path("epoch"), text);
    EpochStore s(path("epoch"));
    std::string why;
    EXPECT_FALSE(s.load(why)) << "content '" << text << "'";
    EXPECT_TRUE(contains(why, path("epoch"))) << why;
    EXPECT_EQ(s.value(), 0u);
  }
}

// stoull would accept "-1" as UINT64_MAX: a damaged file must not make the node claim
// the largest term there is.
TEST_F(EpochTest, NegativeNumberIsMalformed) {
  write(path("epoch"), "-1\n");
  EpochStore s(path("epoch"));
  std::string why;
  EXPECT_FALSE(s.load(why)) << "loaded " << s.value();
  EXPECT_EQ(s.value(), 0u);
}

TEST_F(EpochTest, UnwritableDirectoryFailsOnStore) {
  EpochStore s(path("no-such-dir/epoch"));
  std::string why;
  EXPECT_TRUE(s.load(why)) << why;  // missing: term 0
  EXPECT_FALSE(s.store(5, why));
  EXPECT_TRUE(contains(why, path("no-such-dir/epoch"))) << why;
}

TEST_F(EpochTest, DirectoryInsteadOfAFileFailsOnLoad) {
  fs::create_directory(path("epoch"));
  EpochStore s(path("epoch"));
  std::string why;
  EXPECT_FALSE(s.load(why));
  EXPECT_TRUE(contains(why, path("epoch"))) << why;
}

TEST(Epoch, NoPathIsInMemoryOnly) {
  EpochStore s("");
  std::string why;
  EXPECT_TRUE(s.load(why)) << why;
  EXPECT_EQ(s.value(), 0u);
  EXPECT_TRUE(s.store(7, why)) << why;
  EXPECT_EQ(s.value(), 7u);
  EXPECT_TRUE(s.load(why)) << why;
  EXPECT_EQ(s.value(), 7u);
  EpochStore other("");
  EXPECT_TRUE(other.load(why));
  EXPECT_EQ(other.value(), 0u);
  EXPECT_FALSE(fs::exists(".tmp"));
}

}  // namespace
}  // namespace tandem::replicator
