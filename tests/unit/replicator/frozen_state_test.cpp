// A frozen TCP connection through the replication message and back: every field kept,
// the snapshot's time carried as its age, and inconsistent states refused.
#include <gtest/gtest.h>

#include "replicator/frozen_state.hpp"

namespace tandem::replicator {
namespace {

session::FrozenTcp sample(bool v6) {
  session::FrozenTcp f;
  f.local = *session::TcpEndpoint::parse(v6 ? "2001:db8::1" : "192.0.2.1", 179);
  f.remote = *session::TcpEndpoint::parse(v6 ? "2001:db8::2" : "192.0.2.2", 40001);
  f.snd_una = 0xfffffff0u;  // the send queue wraps the sequence space
  f.snd_nxt = f.snd_una + 10;
  f.send_queue.assign(30, 0xab);
  f.write_seq = f.snd_una + 30;
  f.rcv_nxt = 1000;
  f.recv_queue = {1, 2, 3};
  f.mss = 1448;
  f.wscale = true;
  f.snd_wscale = 7;
  f.rcv_wscale = 9;
  f.sack = true;
  f.timestamps = true;
  f.tsval = 123456;
  f.window = {11, 22, 33, 44, 55};
  f.taken = std::chrono::steady_clock::now() - std::chrono::milliseconds(5);
  return f;
}

TEST(FrozenState, RoundTrip) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
    const session::FrozenTcp f = sample(v6);
    repl::FrozenTcpState p;
    to_proto(f, p);
    EXPECT_GE(p.age_us(), 5000u);
    std::string why;
    auto back = from_proto(p, why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->local, f.local);
    EXPECT_EQ(back->remote, f.remote);
    EXPECT_EQ(back->write_seq, f.write_seq);
    EXPECT_EQ(back->snd_una, f.snd_una);
    EXPECT_EQ(back->snd_nxt, f.snd_nxt);
    EXPECT_EQ(back->send_queue, f.send_queue);
    EXPECT_EQ(back->rcv_nxt, f.rcv_nxt);
    EXPECT_EQ(back->recv_queue, f.recv_queue);
    EXPECT_EQ(back->mss, f.mss);
    EXPECT_EQ(back->wscale, f.wscale);
    EXPECT_EQ(back->snd_wscale, f.snd_wscale);
    EXPECT_EQ(back->rcv_wscale, f.rcv_wscale);
    EXPECT_EQ(back->sack, f.sack);
    EXPECT_EQ(back->timestamps, f.timestamps);
    EXPECT_EQ(back->tsval, f.tsval);
    EXPECT_EQ(back->window, f.window);
    // As old on this side as it was when sent (the transit adds a little).
    auto age = std::chrono::steady_clock::now() - back->taken;
    EXPECT_GE(age, std::chrono::milliseconds(5));
    EXPECT_LT(age, std::chrono::seconds(5));
  }
}

TEST(FrozenState, InconsistentStatesAreRefused) {
  repl::FrozenTcpState good;
  to_proto(sample(false), good);
  auto refused = [](repl::FrozenTcpState p, const std::string& words) {
    std::string why;
    EXPECT_FALSE(from_proto(p, why));
    EXPECT_NE(why.find(words), std::string::npos) << why;
  };
  auto p = good;
  p.set_local_address("not-an-address");
  refused(p, "bad endpoints");
  p = good;
  p.set_remote_address("2001:db8::2");  // families differ
  refused(p, "bad endpoints");
  p = good;
  p.set_local_port(70000);
  refused(p, "bad endpoints");
  p = good;
  p.set_snd_wscale(15);
  refused(p, "window scale");
  p = good;
  p.set_mss(0);
  refused(p, "MSS");
  p = good;
  p.set_write_seq(p.write_seq() + 1);  // one byte more than the queue holds
  refused(p, "send queue");
  p = good;
  p.set_snd_nxt(p.snd_una() + 31);  // sent beyond what was written
  refused(p, "send queue");
}

}  // namespace
}  // namespace tandem::replicator
