// The egress guard on real connections across a veth pair (tests/unit/guard/guard_lab.hpp):
// a protected connection's FIN / RST never reaches the peer when its process dies or
// resets it, its data does; an unprotected connection closes normally; the guard and its
// tuples outlive the process that attached it, and detach() lets the FIN through again.
#include "replicator/guard/egress_guard.hpp"

#include <bpf/libbpf.h>
#include <net/if.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "bgpd/session/tcp_repair.hpp"
#include "replicator/guard/bpf/egress_guard_abi.h"
#include "tests/unit/guard/guard_lab.hpp"

namespace tandem::replicator::guard::test {
namespace {

class GuardConnTest : public GuardLab, public ::testing::WithParamInterface<bool> {
 protected:
  bool v6() const { return GetParam(); }
  int idx(int base) const { return base + (v6() ? 1 : 0); }
  void held_acks_case(int net_idx, const std::string& md5_key);
};

std::string family_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "IPv6" : "IPv4";
}

bool has_tuple(const EgressGuard& g, const Held& h) {
  auto all = g.protected_tuples();
  return std::find(all.begin(), all.end(), std::make_pair(h.local, h.remote)) != all.end();
}

// The guard's filter on `ifname`'s egress (program id), 0 if none.
uint32_t guard_filter(const char* ifname) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = static_cast<int>(if_nametoindex(ifname));
  hook.attach_point = BPF_TC_EGRESS;
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = EG_TC_HANDLE;
  opts.priority = EG_TC_PRIORITY;
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

TEST_P(GuardConnTest, SigkillFinIsDroppedDataPasses) {
  Net n = net(idx(1), v6());
  GUARD_OPEN_OR_SKIP();
  Held& guarded = connect(n, 0);
  Held& control = connect(n, 1);
  std::string error;
  ASSERT_TRUE(guard_->protect(guarded.local, guarded.remote, error)) << error;
  ASSERT_TRUE(has_tuple(*guard_, guarded));
  const EgressGuard::Counters c0 = guard_->counters();

  // Data of a protected connection passes.
  ASSERT_TRUE(guarded.command('d'));
  char buf[1000];
  size_t got = 0;
  while (got < sizeof buf) {
    pollfd p{guarded.peer, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "data of a protected connection did not arrive";
    ssize_t r = ::recv(guarded.peer, buf, sizeof buf - got, 0);
    ASSERT_GT(r, 0);
    got += static_cast<size_t>(r);
  }
  EXPECT_GT(guard_->counters().seen, c0.seen);

  // The process dies: its kernel's FIN is dropped; the peer sees nothing.
  guarded.kill9();
  EXPECT_TRUE(eventually([&] { return guard_->counters().fin_dropped > c0.fin_dropped; }))
      << "no FIN was dropped";
  EXPECT_TRUE(stays_established(guarded.peer, 300)) << "the peer saw the end of the connection";
  EXPECT_EQ(guard_->counters().rst_dropped, c0.rst_dropped);

  // Control: the unprotected connection's FIN reaches the peer.
  control.kill9();
  EXPECT_EQ(wait_end(control.peer, 2000), 0) << "no FIN at the peer of the unprotected connection";
}

TEST_P(GuardConnTest, RstIsDropped) {
  Net n = net(idx(3), v6());
  GUARD_OPEN_OR_SKIP();
  Held& linger = connect(n, 0);
  Held& unread = connect(n, 1);
  Held& control = connect(n, 2);
  std::string error;
  ASSERT_TRUE(guard_->protect(linger.local, linger.remote, error)) << error;
  ASSERT_TRUE(guard_->protect(unread.local, unread.remote, error)) << error;
  const EgressGuard::Counters c0 = guard_->counters();

  // close() with SO_LINGER{1,0} sends RST.
  ASSERT_TRUE(linger.command('r'));
  EXPECT_TRUE(eventually([&] { return guard_->counters().rst_dropped >= c0.rst_dropped + 1; }));
  EXPECT_TRUE(stays_established(linger.peer, 300));

  // Dying with unread data sends RST too.
  ASSERT_EQ(::send(unread.peer, "0123456789", 10, MSG_NOSIGNAL), 10);
  ASSERT_TRUE(eventually([&] {
    int outq = -1;
    return ::ioctl(unread.peer, SIOCOUTQ, &outq) == 0 && outq == 0;  // acknowledged: unread there
  }));
  unread.kill9();
  EXPECT_TRUE(eventually([&] { return guard_->counters().rst_dropped >= c0.rst_dropped + 2; }));
  EXPECT_TRUE(stays_established(unread.peer, 300));
  EXPECT_EQ(guard_->counters().fin_dropped, c0.fin_dropped);

  // Control: an unprotected connection's RST resets the peer.
  ASSERT_TRUE(control.command('r'));
  EXPECT_EQ(wait_end(control.peer, 2000), ECONNRESET);
}

TEST_P(GuardConnTest, UnprotectedConnectionClosesNormally) {
  Net n = net(idx(5), v6());
  GUARD_OPEN_OR_SKIP();
  Held& h = connect(n, 0);
  std::string error;
  ASSERT_TRUE(guard_->protect(h.local, h.remote, error)) << error;
  ASSERT_TRUE(guard_->unprotect(h.local, h.remote, error)) << error;
  EXPECT_TRUE(guard_->protected_tuples().empty());
  const EgressGuard::Counters c0 = guard_->counters();
  ASSERT_TRUE(h.command('c'));  // a deliberate close
  EXPECT_EQ(wait_end(h.peer, 2000), 0);
  EXPECT_EQ(guard_->counters().fin_dropped, c0.fin_dropped);
}

// The guard outlives the process that attached it; a new open() finds its map and tuples;
// detach() removes the filter and the pins, and the dead socket's next FIN gets through.
TEST_P(GuardConnTest, OutlivesItsProcessAndDetachLetsTheFinThrough) {
  Net n = net(idx(7), v6());
  Held& h = connect(n, 0);
  const std::string pin = pin_dir_;
  std::string out = in_child([&]() -> std::string {
    std::string error;
    auto g = EgressGuard::open({"g0"}, pin, error);
    if (!g) return "open: " + error;
    if (g->reused()) return "a fresh pin directory was reused";
    if (!g->protect(h.local, h.remote, error)) return "protect: " + error;
    return "";  // exits without detach
  });
  if (out.find("CAP_BPF") != std::string::npos || out.find("BTF") != std::string::npos)
    GTEST_SKIP() << out;
  ASSERT_EQ(out, "ok");
  const uint32_t prog_id = guard_filter("g0");
  EXPECT_NE(prog_id, 0u) << "the filter left with its process";

  // Nobody holds the guard open now; it still works.
  h.kill9();
  EXPECT_TRUE(stays_established(h.peer, 300)) << "the FIN got through with the owner gone";

  // A new process (here: a new object) finds the pinned map, tuples and counters.
  GUARD_OPEN_OR_SKIP(std::vector<std::string>{});
  EXPECT_TRUE(guard_->reused());
  EXPECT_TRUE(has_tuple(*guard_, h));
  EXPECT_EQ(guard_->protected_tuples().size(), 1u);
  EXPECT_GE(guard_->counters().fin_dropped, 1u);
  EXPECT_EQ(guard_filter("g0"), prog_id) << "opening with no interfaces touched the filter";

  // Destroyed without detach, then reopened on g0: same map, this build's program
  // replaces the filter's.
  guard_.reset();
  GUARD_OPEN_OR_SKIP();
  EXPECT_TRUE(guard_->reused());
  EXPECT_TRUE(has_tuple(*guard_, h));
  EXPECT_NE(guard_filter("g0"), 0u);
  EXPECT_NE(guard_filter("g0"), prog_id) << "the filter still runs the old program";
  EXPECT_TRUE(stays_established(h.peer, 300));

  std::string error;
  const auto detached_at = Clock::now();
  ASSERT_TRUE(guard_->detach(error)) << error;
  EXPECT_EQ(guard_filter("g0"), 0u);
  struct stat st {};
  EXPECT_NE(::stat((pin_dir_ + "/" + EgressGuard::kTuplesPin).c_str(), &st), 0);
  EXPECT_NE(::stat(pin_dir_.c_str(), &st), 0) << "the empty pin directory stays";
  EXPECT_FALSE(guard_->protect(h.local, h.remote, error));

  // The orphaned socket retransmits its FIN (exponential back-off): it gets through now.
  EXPECT_EQ(wait_end(h.peer, 30000), 0) << "the dead socket's FIN never arrived after detach";
  std::cout << "[ measured ] FIN arrived "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - detached_at).count()
            << " ms after detach\n";

  // And a fresh connection closes normally.
  Held& fresh = connect(n, 1);
  fresh.kill9();
  EXPECT_EQ(wait_end(fresh.peer, 2000), 0);
}

// The ACK hold: the peer's bytes beyond the limit are not acknowledged by the held
// connection's kernel (its ACKs are rewritten, and the peer accepts them: the checksum is
// right; on a TCP-MD5 connection they are dropped); moving the limit and sending the owed
// ACK acknowledges up to the new limit at once, not at the peer's retransmission (the
// peer's timers are set far out, so only our ACK can have moved it; on a TCP-MD5
// connection the peer takes it only if its signature is right).
void GuardConnTest::held_acks_case(int net_idx, const std::string& md5_key) {
  Net n = net(net_idx, v6());
  GUARD_OPEN_OR_SKIP();
  // No tail-loss probe and a 5 s minimum RTO at the peer: nothing but an ACK from the
  // node moves what it sees acknowledged while the test runs.
  const std::string i = std::to_string(net_idx);
  const std::string prefix = v6() ? "fd00:201:" + i + "::/64" : "10.201." + i + ".0/24";
  const std::string tune = "ip netns exec gpeer sysctl -qw net.ipv4.tcp_early_retrans=0 && ip -n gpeer " +
                           std::string(v6() ? "-6 " : "") + "route replace " + prefix + " dev g1 rto_min 5s";
  ASSERT_EQ(std::system(tune.c_str()), 0) << tune;
  cleanup_.push_back("ip netns exec gpeer sysctl -qw net.ipv4.tcp_early_retrans=3");
  Held& h = connect(n, 0, md5_key);
  const bool md5 = !md5_key.empty();
  std::string error;
  ASSERT_TRUE(guard_->protect(h.local, h.remote, error)) << error;

  // The peer's next sequence number (what the node has acknowledged so far).
  auto frozen = session::freeze(h.peer, error);
  ASSERT_TRUE(frozen) << error;
  ASSERT_TRUE(session::unfreeze(h.peer, error)) << error;
  const uint32_t base = frozen->snd_nxt;
  const uint8_t wscale = frozen->snd_wscale;  // the node's receive window scale
  ASSERT_TRUE(guard_->hold_acks(h.local, h.remote, base + 300, wscale, md5, error)) << error;

  auto peer_info = [&] {
    struct tcp_info ti {};
    socklen_t len = sizeof ti;
    EXPECT_EQ(::getsockopt(h.peer, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
  };
  const uint64_t acked0 = peer_info().tcpi_bytes_acked;
  auto acked = [&] { return peer_info().tcpi_bytes_acked - acked0; };
  char data[1000];
  std::memset(data, 'p', sizeof data);
  ASSERT_EQ(::send(h.peer, data, sizeof data, 0), static_cast<ssize_t>(sizeof data));

  // The node's kernel acknowledges all 1000 bytes; the peer sees 300 (TCP-MD5: nothing).
  const uint64_t held = md5 ? 0 : 300;
  ASSERT_TRUE(eventually([&] {
    auto st = guard_->ack_state(h.local, h.remote);
    return st && st->ack_real == base + 1000 && st->clamped > 0;
  })) << "the node's kernel never acknowledged the bytes through the hold";
  ASSERT_TRUE(eventually([&] { return acked() == held; })) << "the peer saw " << acked() << " bytes acknowledged";
  EXPECT_FALSE(eventually([&] { return acked() != held; }, 100));
  auto st = guard_->ack_state(h.local, h.remote);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->ack_out, base + 300) << "rewritten to the limit, or (TCP-MD5) the limit assumed";
  EXPECT_EQ(st->snd_nxt, frozen->rcv_nxt) << "the node sent nothing, its next sequence number is the peer's rcv_nxt";
  EXPECT_EQ(st->has_ts, !md5) << "Linux negotiates timestamps, except with TCP-MD5";

  // Nothing owed while the limit stays.
  EXPECT_FALSE(EgressGuard::owed_ack(*st, base + 300, wscale));
  // The limit moves to 700: the owed ACK acknowledges exactly that much, right edge kept
  // (to the window scale's unit: the field can only say less).
  ASSERT_TRUE(guard_->hold_acks(h.local, h.remote, base + 700, wscale, md5, error)) << error;
  auto owed = EgressGuard::owed_ack(*st, base + 700, wscale);
  ASSERT_TRUE(owed);
  EXPECT_EQ(owed->ack, base + 700);
  const uint32_t edge = st->ack_real + (uint32_t{st->win_raw} << wscale);
  const uint32_t owed_edge = owed->ack + (uint32_t{owed->window} << wscale);
  EXPECT_LE(edge - owed_edge, (1u << wscale) - 1) << "right edge " << owed_edge << ", the kernel's " << edge;
  const uint64_t clamped = st->clamped;
  const uint32_t retrans = peer_info().tcpi_total_retrans;
  owed->md5_key = md5_key;
  ASSERT_TRUE(session::send_ack(h.local, h.remote, *owed, error)) << error;
  EXPECT_TRUE(eventually([&] { return acked() == 700; }))
      << "the owed ACK did not reach the peer: " << acked() << " acknowledged";
  EXPECT_EQ(peer_info().tcpi_total_retrans, retrans) << "the peer retransmitted: its timer, not our ACK, moved it";
  st = guard_->ack_state(h.local, h.remote);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->ack_out, base + 700) << "the program did not see our ACK leave";
  EXPECT_EQ(st->ack_real, base + 1000) << "the program took our ACK for the kernel's";
  EXPECT_EQ(st->clamped, clamped) << "our ACK was held back";

  // Released: the owed rest goes out with the limit at the kernel's own acknowledgment.
  ASSERT_TRUE(guard_->release_acks(h.local, h.remote, error)) << error;
  EXPECT_FALSE(guard_->ack_state(h.local, h.remote));
  owed = EgressGuard::owed_ack(*st, st->ack_real, wscale);
  ASSERT_TRUE(owed);
  owed->md5_key = md5_key;
  ASSERT_TRUE(session::send_ack(h.local, h.remote, *owed, error)) << error;
  EXPECT_TRUE(eventually([&] { return acked() == 1000; }));
  EXPECT_EQ(tcp_state_of(h.peer), 1) << "the peer's connection is no longer ESTABLISHED";
}

TEST_P(GuardConnTest, HeldAcknowledgmentsStopAtTheLimitAndTheOwedAckMovesThem) { held_acks_case(idx(9), ""); }

TEST_P(GuardConnTest, TcpMd5BareAcksAreHeldAndTheOwedAckIsSigned) { held_acks_case(idx(11), "guard-test-key"); }

INSTANTIATE_TEST_SUITE_P(Families, GuardConnTest, ::testing::Values(false, true), family_name);

}  // namespace
}  // namespace tandem::replicator::guard::test
