// CaptureHub without gRPC, driven through its tap and observer interfaces with made-up
// connection ids (no Connection behind them): nothing framed while nobody captures,
// messages with stream offsets under any chunking, peer/type filters, state change and
// connection records, bounded queues that drop and say so.
#include <gtest/gtest.h>

#include <map>

#include "api/capture_hub.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::api {
namespace {

using session::Direction;
namespace asio = boost::asio;

wire::IpAddr ip(const char* s) { return *wire::IpAddr::parse(s); }

session::Endpoints endpoints(const char* peer) { return {ip("192.0.2.1"), 179, ip(peer), 40000}; }

std::vector<uint8_t> update_of(const char* prefix) {
  wire::PathAttributes a;
  a.has_origin = a.has_as_path = true;
  a.next_hop = ip("192.0.2.2");
  std::vector<wire::Prefix> ps = {*wire::Prefix::parse(prefix)};
  return wire::encode_announcements(a, wire::kIpv4Unicast, ps, wire::CodecOptions{}).at(0);
}

config::Config daemon_config() {
  config::Config c;
  c.file = "test";
  c.router_id = 0x0A000001;
  c.local_as = 65000;
  return c;
}

class Hub : public ::testing::Test {
 protected:
  asio::io_context io;
  session::Speaker speaker{io, daemon_config()};
  CaptureHub hub{speaker};

  // Everything queued now.
  static std::vector<std::shared_ptr<const CaptureItem>> drain(CaptureSubscription& s, uint64_t* dropped = nullptr) {
    std::vector<std::shared_ptr<const CaptureItem>> out;
    std::shared_ptr<const CaptureItem> item;
    uint64_t d = 0;
    for (;;) {
      auto n = s.next(item, d, std::chrono::milliseconds(0));
      if (n == CaptureSubscription::Next::Item) {
        out.push_back(item);
        if (dropped) *dropped += d;
      } else if (n == CaptureSubscription::Next::Dropped) {
        if (dropped) *dropped += d;
      } else {
        return out;
      }
    }
  }
};

TEST_F(Hub, NothingIsFramedWhileNobodyCaptures) {
  hub.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));
  const auto ka = wire::encode_keepalive();
  hub.on_bytes(1, Direction::Outbound, 0, ka);
  hub.on_bytes(1, Direction::Inbound, 0, ka);
  EXPECT_EQ(hub.framing(), 0u);
  // A capture starting mid-connection frames outbound bytes from the next chunk (they
  // start at a message boundary); inbound ones need the connection's FSM (none here).
  auto sub = hub.subscribe({});
  hub.on_bytes(1, Direction::Inbound, 19, ka);
  EXPECT_EQ(hub.framing(), 0u);
  hub.on_bytes(1, Direction::Outbound, 19, ka);
  EXPECT_EQ(hub.framing(), 1u);
  auto items = drain(*sub);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]->direction, Direction::Outbound);
  EXPECT_EQ(items[0]->offset, 19u);
  EXPECT_FALSE(items[0]->seq_known);
  ASSERT_TRUE(items[0]->seq_unknown);
  // The last subscriber leaves: the framers are released at the next bytes.
  hub.unsubscribe(sub);
  hub.on_bytes(1, Direction::Outbound, 38, ka);
  EXPECT_EQ(hub.framing(), 0u);
}

TEST_F(Hub, MessagesWithOffsetsFiltersAndRecords) {
  CaptureFilter updates_of_a;
  updates_of_a.peer = ip("192.0.2.2");
  updates_of_a.types = 1u << 2;
  auto a = hub.subscribe(updates_of_a);
  auto all = hub.subscribe({});
  hub.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));
  hub.on_open(ip("192.0.2.3"), 2, endpoints("192.0.2.3"));
  // Inbound on connection 1: KEEPALIVE, UPDATE, KEEPALIVE cut into 7-byte chunks.
  std::vector<uint8_t> in;
  const auto ka = wire::encode_keepalive();
  const auto upd = update_of("10.1.0.0/24");
  for (const auto& m : {ka, upd, ka}) in.insert(in.end(), m.begin(), m.end());
  for (size_t pos = 0; pos < in.size(); pos += 7) {
    const size_t n = std::min<size_t>(7, in.size() - pos);
    hub.on_bytes(1, Direction::Inbound, pos, std::span<const uint8_t>(in).subspan(pos, n));
  }
  hub.on_bytes(2, Direction::Outbound, 0, upd);
  hub.on_peer_state(ip("192.0.2.2"), fsm::State::OpenConfirm, fsm::State::Established, "KEEPALIVE received");
  hub.on_close(1);

  auto mine = drain(*a);
  ASSERT_EQ(mine.size(), 4u);  // connection 1 open, its UPDATE, its state change, close
  EXPECT_EQ(mine[0]->kind, CaptureItem::Kind::Connection);
  EXPECT_TRUE(mine[0]->opened);
  EXPECT_EQ(mine[1]->kind, CaptureItem::Kind::Message);
  EXPECT_EQ(mine[1]->offset, 19u);
  EXPECT_EQ(mine[1]->bytes, upd);
  EXPECT_EQ(mine[1]->connection_id, 1u);
  EXPECT_EQ(mine[2]->kind, CaptureItem::Kind::StateChange);
  EXPECT_EQ(mine[2]->to, fsm::State::Established);
  EXPECT_EQ(mine[3]->kind, CaptureItem::Kind::Connection);
  EXPECT_FALSE(mine[3]->opened);

  auto every = drain(*all);
  std::vector<std::pair<uint64_t, uint64_t>> msgs;  // (connection, offset)
  for (const auto& i : every)
    if (i->kind == CaptureItem::Kind::Message) msgs.emplace_back(i->connection_id, i->offset);
  EXPECT_EQ(msgs, (std::vector<std::pair<uint64_t, uint64_t>>{{1, 0}, {1, 19}, {1, 19 + upd.size()}, {2, 0}}));
  EXPECT_EQ(every.size(), 2u + 4u + 1u + 1u);  // 2 opens, 4 messages, a state change, a close
}

TEST_F(Hub, BoundedQueueDropsAndSaysSo) {
  auto sub = hub.subscribe({}, 2);
  hub.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));  // item 1
  const auto ka = wire::encode_keepalive();
  for (uint64_t i = 0; i < 5; ++i) hub.on_bytes(1, Direction::Outbound, i * 19, ka);  // 1 fits, 4 dropped
  std::shared_ptr<const CaptureItem> item;
  uint64_t dropped = 0;
  using N = CaptureSubscription::Next;
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Item);
  EXPECT_EQ(dropped, 0u);
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Item);
  EXPECT_EQ(item->offset, 0u);
  // Queue empty, drops pending: reported on their own.
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Dropped);
  EXPECT_EQ(dropped, 4u);
  EXPECT_EQ(sub->dropped_total(), 4u);
  EXPECT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Timeout);
  // Drops then a record: the record carries the count.
  for (uint64_t i = 5; i < 9; ++i) hub.on_bytes(1, Direction::Outbound, i * 19, ka);  // 2 fit, 2 dropped
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Item);
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Item);
  EXPECT_EQ(item->offset, 6u * 19);
  hub.on_bytes(1, Direction::Outbound, 9 * 19, ka);
  ASSERT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Item);
  EXPECT_EQ(item->offset, 9u * 19);
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(sub->dropped_total(), 6u);
  // Closing ends the stream once drained.
  hub.close_all();
  EXPECT_EQ(sub->next(item, dropped, std::chrono::milliseconds(0)), N::Closed);
}

TEST_F(Hub, ByteBoundDropsLargeMessages) {
  auto sub = hub.subscribe({}, 1000, 4096);
  hub.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));
  std::vector<uint8_t> big(4000, 0xFF);
  big[16] = 4000 >> 8;
  big[17] = 4000 & 0xFF;
  big[18] = 2;
  hub.on_bytes(1, Direction::Outbound, 0, big);
  uint64_t dropped = 0;
  auto items = drain(*sub, &dropped);
  EXPECT_EQ(items.size(), 1u);  // the open record; the message did not fit
  EXPECT_EQ(dropped, 1u);
}

TEST_F(Hub, MalformedStreamStopsFramingWithoutHarm) {
  auto sub = hub.subscribe({});
  hub.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));
  std::vector<uint8_t> junk(100, 0x00);
  hub.on_bytes(1, Direction::Inbound, 0, junk);
  hub.on_bytes(1, Direction::Inbound, 100, wire::encode_keepalive());
  auto items = drain(*sub);
  ASSERT_EQ(items.size(), 1u);  // only the open record
  EXPECT_EQ(items[0]->kind, CaptureItem::Kind::Connection);
}

TEST_F(Hub, ReplicationStateOnAPair) {
  int calls = 0;
  CaptureHub pair(speaker, [&]() -> std::optional<replicator::ReplStatus> {
    ++calls;
    replicator::ReplStatus r;
    r.role = "primary";
    replicator::SessionReplStatus s;
    s.connection_id = 1;
    s.sync_state = "in-sync";
    r.sessions.push_back(s);
    return r;
  });
  auto sub = pair.subscribe({});
  pair.on_open(ip("192.0.2.2"), 1, endpoints("192.0.2.2"));
  pair.on_open(ip("192.0.2.3"), 2, endpoints("192.0.2.3"));
  const auto ka = wire::encode_keepalive();
  for (int i = 0; i < 3; ++i) {
    pair.on_bytes(1, Direction::Outbound, static_cast<uint64_t>(i) * 19, ka);
    pair.on_bytes(2, Direction::Outbound, static_cast<uint64_t>(i) * 19, ka);
  }
  std::map<uint64_t, std::string> sync;
  for (const auto& i : drain(*sub)) {
    if (i->kind != CaptureItem::Kind::Message) continue;
    ASSERT_TRUE(i->session);
    EXPECT_EQ(i->session->repl_role, "primary");
    sync[i->connection_id] = i->session->repl_sync;
  }
  EXPECT_EQ(sync[1], "in-sync");
  EXPECT_EQ(sync[2], "not-replicated");
  EXPECT_EQ(calls, 1) << "the replicator's status is read at most once a second";
}

}  // namespace
}  // namespace tandem::api
