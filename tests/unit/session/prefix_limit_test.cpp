// Prefix limits (RFC 4486): a peer that sends more prefixes of a family than
// max_prefixes gets Cease/Maximum Number of Prefixes Reached (wrapped in a Hard Reset
// under the N bit, RFC 8538 §5), its routes go, and it cannot connect again until the
// hold-down ends; or, warning only, the session stays. Real sockets, private netns.
#include <gtest/gtest.h>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class PrefixLimitTest : public test::PrivateNetnsTest<PrefixLimitTest> {
 public:
  static constexpr const char* kNetnsSetup = kTwoPeerNetns;
};

const std::vector<std::string> kFour{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"};

config::Config limited(uint32_t limit, uint32_t restart, bool warning_only = false) {
  auto c = tandem_config();
  c.peers[0].max_prefixes = limit;
  c.peers[0].max_prefixes_restart = restart;
  c.peers[0].max_prefixes_warning_only = warning_only;
  return c;
}

// The NOTIFICATION tandem sends, if any, within `timeout`.
std::optional<wire::Notification> notification(ScriptedPeer& p, std::chrono::milliseconds timeout = 3000ms) {
  for (;;) {
    auto m = p.next(timeout);
    if (!m) return std::nullopt;
    if (m->type != wire::MessageType::Notification) continue;
    auto n = wire::decode_notification(m->body);
    if (!n) return std::nullopt;
    return n.value();
  }
}

TEST_F(PrefixLimitTest, OverTheLimitEndsTheSessionWithCeaseAndRemovesTheRoutes) {
  Daemon d(limited(3, 0));
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  peer.announce({kFour[0], kFour[1], kFour[2]});
  ASSERT_TRUE(d.wait_for([&] { return d.routes().size() == 3; })) << "3 prefixes (the limit) must be accepted";
  peer.announce({kFour[3]});
  auto n = notification(peer);
  ASSERT_TRUE(n.has_value()) << "expected a NOTIFICATION after the 4th prefix";
  EXPECT_EQ(n->code, wire::err::kCease);
  EXPECT_EQ(n->subcode, wire::err::kMaxPrefixes) << n->describe();
  // RFC 4486: AFI (2), SAFI (1), the limit (4).
  std::vector<uint8_t> data{0, 1, 1, 0, 0, 0, 3};
  EXPECT_EQ(n->data, data);
  EXPECT_TRUE(d.wait_for([&] { return d.routes().empty(); })) << "the peer's routes must be removed";
}

TEST_F(PrefixLimitTest, HeldDownUntilTheRestartTimeEnds) {
  Daemon d(limited(1, 2));
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  peer.announce({kFour[0], kFour[1]});
  ASSERT_TRUE(notification(peer).has_value());
  peer.drop();
  ScriptedPeer again;
  EXPECT_FALSE(again.try_connect(OpenCaps{}).has_value()) << "a connection during the hold-down must be refused";
  again.drop();
  std::this_thread::sleep_for(2200ms);  // max_prefixes_restart = 2 s
  ScriptedPeer later;
  EXPECT_TRUE(later.try_connect(OpenCaps{}).has_value()) << "after max_prefixes_restart the peer may connect";
  later.drop();
}

TEST_F(PrefixLimitTest, HardResetUnderTheNBit) {
  Daemon d(limited(1, 0));
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(gr_cap(60, true)).has_value());  // both sides set the N bit
  peer.announce({kFour[0], kFour[1]});
  auto n = notification(peer);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->code, wire::err::kCease);
  ASSERT_EQ(n->subcode, wire::err::kHardReset) << n->describe();
  ASSERT_GE(n->data.size(), 2u);
  EXPECT_EQ(n->data[0], wire::err::kCease);
  EXPECT_EQ(n->data[1], wire::err::kMaxPrefixes);
  // A Hard Reset removes the routes at once: no graceful-restart help for ourselves.
  EXPECT_TRUE(d.wait_for([&] { return d.routes().empty(); }));
  EXPECT_EQ(d.status().gr_state, GrHelperState::None);
}

TEST_F(PrefixLimitTest, WarningOnlyKeepsTheSession) {
  Daemon d(limited(2, 0, true));
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  peer.announce(kFour);
  EXPECT_TRUE(d.wait_for([&] { return d.routes().size() == 4; })) << "warning only: every prefix is kept";
  EXPECT_FALSE(notification(peer, 500ms).has_value()) << "warning only: no NOTIFICATION";
  EXPECT_EQ(d.status().state, fsm::State::Established);
  peer.drop();
}

}  // namespace
}  // namespace tandem::session
