// ask_other_node (replicator/startup_role): what a node configured as the primary finds
// before it starts, over real loopback TCP and UDP. The other node is played by a real
// ChannelListener, a silent acceptor, or a stream of real beacons, on a thread of its own.
#include "replicator/startup_role.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "tests/unit/private_netns.hpp"

namespace tandem::replicator {
namespace {

using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

const std::vector<uint8_t> kKey(32, 0x42);

ChannelIdentity me() { return ChannelIdentity{"node-a", repl::ROLE_PRIMARY, 4, kKey, "tandemd test"}; }

// Runs an io_context on a thread until destroyed.
struct OtherSide {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread;
  void run() {
    thread = std::thread([this] { io.run(); });
  }
  ~OtherSide() {
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

StartupQuery query_at(uint16_t port, std::chrono::milliseconds timeout = 2000ms) {
  StartupQuery q;
  q.channel = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  q.identity = me();
  q.channel_timeout = timeout;
  return q;
}

uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();  // closed on return: nothing listens there
}

TEST(StartupRole, NothingListeningMeansNoPrimary) {
  const auto a = ask_other_node(query_at(unused_port()));
  EXPECT_EQ(a.other, OtherNode::Absent) << a.evidence;
  EXPECT_NE(a.evidence.find("nothing listens"), std::string::npos) << a.evidence;
}

TEST(StartupRole, ARunningPrimaryAnswersWithItsTerm) {
  OtherSide other;
  std::atomic<int> accepted{0}, queries{0};
  ChannelIdentity primary{"node-b", repl::ROLE_PRIMARY, 9, kKey, "tandemd test"};
  auto listener = ChannelListener::listen(
      other.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), primary,
      [&queries](const tcp::endpoint&) {
        Channel::Handlers h;
        // What PrimaryReplicator looks at to answer without a bulk sync.
        h.on_ready = [&queries](const repl::Hello& hello) { queries += hello.startup_query() ? 1 : 0; };
        return h;
      },
      [&accepted](const std::shared_ptr<Channel>&) { ++accepted; });
  ASSERT_TRUE(listener);
  const auto port = listener->local_endpoint().port();
  other.run();
  const auto a = ask_other_node(query_at(port));
  EXPECT_EQ(a.other, OtherNode::Primary) << a.evidence;
  EXPECT_EQ(a.term, 9u);
  EXPECT_NE(a.evidence.find("node-b"), std::string::npos) << a.evidence;
  EXPECT_EQ(accepted.load(), 1);
  // The other side reads the asking Hello on its own thread, maybe after the answer came.
  for (int i = 0; i < 200 && queries.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(queries.load(), 1) << "the asking node's Hello says it only asks";
  asio::post(other.io, [listener] { listener->close(); });
}

TEST(StartupRole, AListenerThatNeverAnswersIsUnverified) {
  // A stopped process's kernel still accepts connections.
  OtherSide other;
  tcp::acceptor acceptor(other.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto a = ask_other_node(query_at(acceptor.local_endpoint().port(), 300ms));
  EXPECT_EQ(a.other, OtherNode::Unverified) << a.evidence;
  EXPECT_NE(a.evidence.find("accepted the connection"), std::string::npos) << a.evidence;
}

TEST(StartupRole, APrimaryWithAnotherKeyIsUnverified) {
  OtherSide other;
  ChannelIdentity stranger{"node-x", repl::ROLE_PRIMARY, 9, std::vector<uint8_t>(32, 0x43), "tandemd test"};
  auto listener = ChannelListener::listen(other.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), stranger,
                                          [](const tcp::endpoint&) { return Channel::Handlers{}; });
  ASSERT_TRUE(listener);
  const auto port = listener->local_endpoint().port();
  other.run();
  const auto a = ask_other_node(query_at(port));
  EXPECT_EQ(a.other, OtherNode::Unverified) << a.evidence;
  asio::post(other.io, [listener] { listener->close(); });
}

// The link between the nodes is down (nothing answers the channel) but the other node's
// beacon arrives over the peers' segment: it is the primary.
TEST(StartupRole, TheBeaconAloneShowsAPrimary) {
  if (auto why = test::enter_private_netns("ip addr add 127.0.0.2/8 dev lo"); !why.empty()) GTEST_SKIP() << why;
  constexpr uint16_t kPort = 47181;
  std::atomic<bool> stop{false};
  std::thread sender([&stop] {
    asio::io_context io;
    asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
    const auto bytes = witness::encode_beacon({12, 99, 0}, kKey);
    while (!stop) {
      boost::system::error_code ec;
      s.send_to(asio::buffer(bytes), asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), kPort), 0, ec);
      std::this_thread::sleep_for(5ms);
    }
  });
  auto q = query_at(unused_port());
  q.beacon = witness::BeaconOptions{"lo", *wire::IpAddr::parse("127.0.0.2"), kPort, 5ms, kKey};
  q.beacon_window = 2000ms;
  const auto a = ask_other_node(q);
  stop = true;
  sender.join();
  EXPECT_EQ(a.other, OtherNode::Primary) << a.evidence;
  EXPECT_EQ(a.term, 12u);
  EXPECT_NE(a.evidence.find("beacon"), std::string::npos) << a.evidence;
}

TEST(StartupRole, NoBeaconWithinTheWindowAndNoListenerMeansNoPrimary) {
  if (auto why = test::enter_private_netns("ip addr add 127.0.0.2/8 dev lo"); !why.empty()) GTEST_SKIP() << why;
  auto q = query_at(unused_port());
  q.beacon = witness::BeaconOptions{"lo", *wire::IpAddr::parse("127.0.0.2"), 47182, 5ms, kKey};
  q.beacon_window = 100ms;
  const auto a = ask_other_node(q);
  EXPECT_EQ(a.other, OtherNode::Absent) << a.evidence;
  EXPECT_NE(a.evidence.find("no term beacon"), std::string::npos) << a.evidence;
}

}  // namespace
}  // namespace tandem::replicator
