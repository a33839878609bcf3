// The SIGUSR1 state dump (apps/tandemd/state_dump.cpp) on a real Speaker whose RIB
// holds more routes than one slice: the document is whole and valid JSON, the event
// loop runs other work between slices, requests made during a dump are served by one
// more dump, and an unwritable path is an error, not a crash.
#include "apps/tandemd/state_dump.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace tandem::app {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr size_t kV4Routes = 2 * StateDumper::kRoutesPerSlice + 100;  // three slices

config::Config speaker_config() {
  config::Config c;
  c.file = "test";
  c.router_id = wire::IpAddr::parse("192.0.2.1")->v4_host_order();
  c.local_as = 65001;
  config::PeerConfig p;  // passive and no listeners: nothing is dialled or bound
  p.address = *wire::IpAddr::parse("192.0.2.2");
  p.remote_as = 65002;
  p.passive = true;
  c.peers.push_back(p);
  return c;
}

class StateDumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tandem-state-dump-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::string err;
    ASSERT_TRUE(speaker_.start(err)) << err;
    std::vector<wire::Prefix> v4;
    for (size_t i = 0; i < kV4Routes; ++i)
      v4.push_back(*wire::Prefix::parse("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
    wire::PathAttributes a;
    a.local_pref = 100;
    a.communities = {(65001u << 16) | 7};
    speaker_.originate_api(v4, a);
    speaker_.originate_api(*wire::Prefix::parse("2001:db8:1::/48"), a);
    io_.run();
    io_.restart();
  }
  void TearDown() override { fs::remove_all(dir_); }

  nlohmann::json read(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);  // throws (fails the test) on a broken document
  }

  fs::path dir_;
  asio::io_context io_;
  session::Speaker speaker_{io_, speaker_config()};
};

TEST_F(StateDumpTest, WritesEveryRouteAndThePeers) {
  StateDumper dumper(io_, speaker_);
  const auto path = dir_ / "state.json";
  dumper.request(path.string());
  EXPECT_TRUE(dumper.busy());
  io_.run();
  EXPECT_FALSE(dumper.busy());
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  auto doc = read(path);
  EXPECT_EQ(doc["router_id"], "192.0.2.1");
  EXPECT_EQ(doc["local_as"], 65001);
  ASSERT_EQ(doc["peers"].size(), 1u);
  EXPECT_EQ(doc["peers"][0]["address"], "192.0.2.2");
  ASSERT_EQ(doc["rib"]["ipv4-unicast"].size(), kV4Routes);
  ASSERT_EQ(doc["rib"]["ipv6-unicast"].size(), 1u);
  const auto& r = doc["rib"]["ipv6-unicast"][0];
  EXPECT_EQ(r["prefix"], "2001:db8:1::/48");
  EXPECT_EQ(r["peer"], "local");
  EXPECT_EQ(r["best"], true);
  EXPECT_EQ(r["local_pref"], 100);
  EXPECT_EQ(r["communities"][0], "65001:7");
  std::set<std::string> prefixes;
  for (const auto& x : doc["rib"]["ipv4-unicast"]) prefixes.insert(x["prefix"].get<std::string>());
  EXPECT_EQ(prefixes.size(), kV4Routes) << "a route written twice or left out between slices";
}

TEST_F(StateDumpTest, OtherWorkRunsBetweenSlices) {
  StateDumper dumper(io_, speaker_);
  dumper.request((dir_ / "state.json").string());
  // Posted after the first slice: it must run while the dump is still being written.
  bool ran_during_dump = false;
  asio::post(io_, [&] { ran_during_dump = dumper.busy(); });
  io_.run();
  EXPECT_TRUE(ran_during_dump);
}

TEST_F(StateDumpTest, RequestsDuringADumpAreServedByOneMore) {
  StateDumper dumper(io_, speaker_);
  const auto first = dir_ / "first.json", second = dir_ / "second.json", third = dir_ / "third.json";
  dumper.request(first.string());
  dumper.request(second.string());  // coalesced with the next: the latest path wins
  dumper.request(third.string());
  io_.run();
  EXPECT_TRUE(fs::exists(first));
  EXPECT_FALSE(fs::exists(second));
  ASSERT_TRUE(fs::exists(third));
  EXPECT_EQ(read(third)["rib"]["ipv4-unicast"].size(), kV4Routes);
}

TEST_F(StateDumpTest, UnwritablePathIsAnErrorAndTheNextDumpWorks) {
  StateDumper dumper(io_, speaker_);
  dumper.request((dir_ / "no-such-dir" / "state.json").string());
  EXPECT_FALSE(dumper.busy());
  io_.run();
  io_.restart();
  const auto path = dir_ / "state.json";
  dumper.request(path.string());
  io_.run();
  EXPECT_EQ(read(path)["rib"]["ipv4-unicast"].size(), kV4Routes);
}

TEST_F(StateDumpTest, DestroyedMidDumpLeavesNoTemporaryFile) {
  const auto path = dir_ / "state.json";
  {
    StateDumper dumper(io_, speaker_);
    dumper.request(path.string());
    ASSERT_TRUE(dumper.busy());
    EXPECT_TRUE(fs::exists(path.string() + ".tmp"));
  }
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
  io_.run();  // the slice it had posted finds it gone and does nothing
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace tandem::app
