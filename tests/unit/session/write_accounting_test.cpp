// A connection's count of bytes written must follow the kernel exactly: a TCP sequence
// base is the kernel's write_seq minus that count, read at any moment (a standby
// attaching, a switchover's checkpoint). bench/chaos found a takeover falling back
// because the count lagged a write whose syscall was done but whose completion handler
// had not run yet (Asio writes speculatively in the initiating call). Real sockets in a
// private netns.
#include <gtest/gtest.h>

#include "tests/unit/session/gr_fixture.hpp"

namespace tandem::session {
namespace {

using namespace grt;

class WriteAccountingTest : public test::PrivateNetnsTest<WriteAccountingTest> {
 public:
  static constexpr const char* kNetnsSetup = "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo";
};

// The peer's established connection (on tandem's loop).
Connection* established(Daemon& d) {
  Peer* p = d.speaker().find_peer(addr(kPeerA));
  return p ? p->established_connection() : nullptr;
}

// A peer that never reads (a 4 KiB receive buffer) and 60,000 API routes for it:
// tandem's writes back up, the last one only partly taken by the kernel.
::testing::AssertionResult back_up_output(Daemon& d, ScriptedPeer& peer) {
  peer.rcvbuf = 4096;
  if (!peer.connect(std::nullopt)) return ::testing::AssertionFailure() << "the peer could not connect";
  if (!d.wait_for([&] { return d.status().state == fsm::State::Established; }))
    return ::testing::AssertionFailure() << "no session";
  d.on_loop([&] {
    std::vector<wire::Prefix> prefixes;
    for (uint32_t i = 0; i < 60000; ++i) prefixes.push_back(wire::Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24));
    wire::PathAttributes a;
    a.has_origin = a.has_as_path = true;
    a.next_hop = wire::IpAddr::parse("192.0.2.1");
    d.speaker().originate_api(prefixes, a);
    return 0;
  });
  if (!d.wait_for([&] {
        return d.on_loop([&] {
          Connection* c = established(d);
          return c && c->outbound_written() < c->outbound_offset();
        });
      }))
    return ::testing::AssertionFailure() << "tandem's writes never backed up";
  return ::testing::AssertionSuccess();
}

struct Reading {
  std::optional<SeqBases> bases;
  uint64_t written = 0, queued = 0;
  std::string why;
};

TEST_F(WriteAccountingTest, SequenceBasesAreExactRightAfterAWrite) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().state == fsm::State::Established; }));

  // In one turn of tandem's loop: optionally send a ROUTE-REFRESH, then read the bases.
  auto read = [&](bool send_first) {
    return d.on_loop([&] {
      Reading r;
      Peer* p = d.speaker().find_peer(addr(kPeerA));
      Connection* c = p ? p->established_connection() : nullptr;
      if (!c) {
        r.why = "no established connection";
        return r;
      }
      if (send_first) c->send_route_refresh(wire::kIpv4Unicast);
      r.bases = c->tcp_seq_bases(r.why);
      r.written = c->outbound_written();
      r.queued = c->outbound_offset();
      return r;
    });
  };
  const Reading before = read(false);
  ASSERT_TRUE(before.bases) << before.why;
  for (int i = 0; i < 20; ++i) {
    const Reading now = read(true);
    ASSERT_TRUE(now.bases) << now.why;
    // 23 bytes on an idle loopback connection: the kernel takes them at once, and they
    // count at once.
    EXPECT_EQ(now.written, now.queued) << "round " << i;
    EXPECT_EQ(now.bases->send_seq_base, before.bases->send_seq_base) << "round " << i << ", right after the write";
    std::this_thread::sleep_for(5ms);
    const Reading later = read(false);
    ASSERT_TRUE(later.bases) << later.why;
    EXPECT_EQ(later.bases->send_seq_base, before.bases->send_seq_base) << "round " << i << ", once settled";
    EXPECT_EQ(later.bases->recv_seq_base, before.bases->recv_seq_base) << "round " << i;
  }
  EXPECT_EQ(d.status().state, fsm::State::Established);
  peer.drop();
}

// A switchover freezes a connection whose last write the kernel has only partly taken
// (the peer reads slowly). The taps saw the whole write: the standby holds those bytes
// and believes the peer will get them, so the frozen send queue must end where the
// taps' stream ends, not where the kernel's does (bench/chaos: routes missing at BIRD
// after a switchover during a transfer).
TEST_F(WriteAccountingTest, FreezeCarriesWhatTheTapsSawButTheKernelDidNotTake) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  ASSERT_TRUE(back_up_output(d, peer));
  auto conn = [&] { return established(d); };

  struct Frozen {
    std::optional<FrozenTcp> tcp;
    std::optional<SeqBases> bases;
    uint64_t written = 0, tapped = 0;
    std::string why;
  };
  const Frozen f = d.on_loop([&] {
    Frozen r;
    Connection* c = conn();
    if (!c) {
      r.why = "no established connection";
      return r;
    }
    r.bases = c->tcp_seq_bases(r.why);
    r.written = c->outbound_written();
    r.tapped = c->outbound_offset();
    if (r.bases) r.tcp = c->freeze_for_handoff(r.why);
    return r;
  });
  ASSERT_TRUE(f.tcp) << f.why;
  EXPECT_LT(f.written, f.tapped);
  EXPECT_EQ(f.tcp->write_seq, f.bases->send_seq_base + static_cast<uint32_t>(f.tapped))
      << "the frozen send queue must end at the taps' offset " << f.tapped << " (the kernel had " << f.written << ")";
  EXPECT_EQ(f.tcp->send_queue.size(), static_cast<size_t>(f.tcp->write_seq - f.tcp->snd_una));
  EXPECT_GE(f.tcp->unsent(), f.tapped - f.written);
  peer.drop();
}

// A standby's bulk sync must carry the output the peer has not acknowledged (chaos bug
// 9: a takeover after a bulk sync taken while BIRD read slowly found the peer lacking
// bytes that were sent before the sync and that no node held any more). What the
// connection keeps must be exactly the kernel's send queue from the peer's snd_una on,
// plus what tandemd has yet to write: the bytes a freeze would hand over.
TEST_F(WriteAccountingTest, UnackedOutputIsWhatAFreezeWouldHandOver) {
  Daemon d(tandem_config());
  d.on_loop([&] {
    d.speaker().set_keep_unacked_output(true);
    return 0;
  });
  ScriptedPeer peer;
  ASSERT_TRUE(back_up_output(d, peer));
  auto conn = [&] { return established(d); };

  struct Seen {
    std::optional<Connection::Unacked> unacked;
    std::optional<TcpQueues> queues;
    std::optional<SeqBases> bases;
    std::optional<FrozenTcp> tcp;
    uint64_t written = 0, tapped = 0;
    std::string why;
  };
  const Seen s = d.on_loop([&] {
    Seen r;
    Connection* c = conn();
    if (!c) {
      r.why = "no established connection";
      return r;
    }
    r.unacked = c->unacked_output(r.why);
    r.queues = c->tcp_queues(r.why);
    r.bases = c->tcp_seq_bases(r.why);
    r.written = c->outbound_written();
    r.tapped = c->outbound_offset();
    if (r.unacked && r.queues && r.bases) r.tcp = c->freeze_for_handoff(r.why);
    return r;
  });
  ASSERT_TRUE(s.tcp) << s.why;
  // The peer's kernel may acknowledge more between the reads (all in one loop turn,
  // but its ACKs do not wait): the kept output must reach back at least as far as the
  // freeze's snd_una, and from there be the frozen send queue byte for byte.
  const uint64_t acked = s.written - s.queues->unacked_and_unsent;
  const uint64_t frozen_from = acked + static_cast<uint32_t>(s.tcp->snd_una - s.bases->send_seq_base - acked);
  EXPECT_GT(s.queues->unacked_and_unsent, 0u) << "the peer had acknowledged everything: nothing to check";
  EXPECT_LE(s.unacked->start, acked) << "the kept output must reach back to the peer's acknowledged offset";
  EXPECT_EQ(s.unacked->start + s.unacked->bytes.size(), s.tapped) << "and end where the taps' stream ends";
  ASSERT_GE(frozen_from, s.unacked->start);
  ASSERT_LE(frozen_from - s.unacked->start, s.unacked->bytes.size());
  const std::vector<uint8_t> kept_from_freeze(s.unacked->bytes.begin() +
                                                  static_cast<std::ptrdiff_t>(frozen_from - s.unacked->start),
                                              s.unacked->bytes.end());
  EXPECT_TRUE(kept_from_freeze == s.tcp->send_queue)
      << "from the freeze's snd_una (offset " << frozen_from << ") the kept output (" << kept_from_freeze.size()
      << " bytes) differs from the frozen send queue (" << s.tcp->send_queue.size() << " bytes)";
  peer.drop();
}

TEST_F(WriteAccountingTest, UnackedOutputIsNotKeptWithoutReplication) {
  Daemon d(tandem_config());
  ScriptedPeer peer;
  ASSERT_TRUE(peer.connect(std::nullopt).has_value());
  ASSERT_TRUE(d.wait_for([&] { return d.status().state == fsm::State::Established; }));
  const std::string why = d.on_loop([&] {
    std::string w;
    Peer* p = d.speaker().find_peer(addr(kPeerA));
    Connection* c = p ? p->established_connection() : nullptr;
    if (!c) return std::string("no established connection");
    if (c->unacked_output(w)) return std::string("kept");
    return w;
  });
  EXPECT_NE(why.find("not kept"), std::string::npos) << why;
  peer.drop();
}

}  // namespace
}  // namespace tandem::session
