// The egress guard's API (input checks, listing, capacity, bpffs handling, privileges) and
// its BPF program on crafted frames (BPF_PROG_TEST_RUN on the pinned program: header
// parsing, verdicts, counters, the key layout). In the lab of guard_lab.hpp.
#include "replicator/guard/egress_guard.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <cstring>
#include <vector>

#include "replicator/guard/bpf/egress_guard_abi.h"
#include "tests/unit/guard/guard_lab.hpp"

namespace tandem::replicator::guard::test {
namespace {

using Pair = std::pair<TcpEndpoint, TcpEndpoint>;

bool contains(const std::vector<Pair>& all, const TcpEndpoint& l, const TcpEndpoint& r) {
  return std::find(all.begin(), all.end(), std::make_pair(l, r)) != all.end();
}

bool on_bpffs(const char* path) {
  struct statfs st {};
  return ::statfs(path, &st) == 0 && st.f_type == static_cast<decltype(st.f_type)>(BPF_FS_MAGIC);
}

class GuardApiTest : public GuardLab {};

TEST_F(GuardApiTest, RefusesBadArguments) {
  std::string error;
  EXPECT_FALSE(EgressGuard::open({"g0", "nosuchif0"}, pin_dir_, error));
  EXPECT_EQ(error, "no interface 'nosuchif0'");
  EXPECT_FALSE(EgressGuard::open({"lo"}, pin_dir_, error));
  EXPECT_NE(error.find("'lo' is not an Ethernet interface"), std::string::npos) << error;
  EXPECT_FALSE(EgressGuard::open({"g0"}, "relative/pins", error));
  EXPECT_NE(error.find("absolute"), std::string::npos) << error;
  // /run/netns is the lab's private tmpfs.
  EXPECT_FALSE(EgressGuard::open({"g0"}, "/run/netns/pins/tandem", error));
  EXPECT_NE(error.find("/run/netns is not on a bpffs"), std::string::npos) << error;
  struct stat st {};
  EXPECT_NE(::stat("/run/netns/pins", &st), 0) << "created a directory on a failed open";
  EXPECT_NE(::stat(pin_dir_.c_str(), &st), 0) << "pinned something on a failed open";

  GUARD_OPEN_OR_SKIP();
  const TcpEndpoint l4 = ep("10.201.20.1", 179), r4 = ep("10.201.20.2", 40001);
  const TcpEndpoint l6 = ep("fd00:201:20::1", 179), r6 = ep("fd00:201:20::2", 40001);
  EXPECT_FALSE(guard_->protect(l4, r6, error));
  EXPECT_NE(error.find("families differ"), std::string::npos) << error;
  EXPECT_FALSE(guard_->protect(TcpEndpoint{}, r4, error));
  EXPECT_NE(error.find("not an IPv4/IPv6 endpoint"), std::string::npos) << error;
  EXPECT_FALSE(guard_->protect(ep("10.201.20.1", 0), r4, error));
  EXPECT_NE(error.find("port 0"), std::string::npos) << error;
  EXPECT_FALSE(guard_->unprotect(l6, r4, error));
  EXPECT_TRUE(guard_->protected_tuples().empty());

  ASSERT_TRUE(guard_->detach(error)) << error;
  EXPECT_FALSE(guard_->protect(l4, r4, error));
  EXPECT_EQ(error, "the egress guard was detached");
}

TEST_F(GuardApiTest, ListsClearsAndFillsTheTable) {
  GUARD_OPEN_OR_SKIP();
  EXPECT_FALSE(guard_->reused());
  std::string error;
  const TcpEndpoint l4 = ep("10.201.21.1", 179), r4 = ep("10.201.21.2", 40001);
  const TcpEndpoint l6 = ep("fd00:201:21::1", 179), r6 = ep("fd00:201:21::2", 40001);
  ASSERT_TRUE(guard_->protect(l4, r4, error)) << error;
  ASSERT_TRUE(guard_->protect(l4, r4, error)) << error;  // again: no-op
  ASSERT_TRUE(guard_->protect(l6, r6, error)) << error;
  // An IPv4-mapped IPv6 socket sends IPv4: stored as IPv4.
  ASSERT_TRUE(guard_->protect(ep("::ffff:10.201.21.1", 179), ep("::ffff:10.201.21.3", 40002), error))
      << error;
  auto all = guard_->protected_tuples();
  EXPECT_EQ(all.size(), 3u);
  EXPECT_TRUE(contains(all, l4, r4));
  EXPECT_TRUE(contains(all, l6, r6));
  EXPECT_TRUE(contains(all, l4, ep("10.201.21.3", 40002)));
  EXPECT_FALSE(contains(all, r4, l4));

  ASSERT_TRUE(guard_->unprotect(l4, r4, error)) << error;
  ASSERT_TRUE(guard_->unprotect(l4, r4, error)) << error;  // not protected: fine
  EXPECT_EQ(guard_->protected_tuples().size(), 2u);
  guard_->clear();
  EXPECT_TRUE(guard_->protected_tuples().empty());

  // Capacity: kMaxTuples, then a clear error.
  for (uint32_t i = 0; i < EgressGuard::kMaxTuples; ++i) {
    TcpEndpoint r = ep("fd00:201:21::2", static_cast<uint16_t>(1 + i % 60000));
    r.addr[15] = static_cast<uint8_t>(2 + i / 60000);
    ASSERT_TRUE(guard_->protect(l6, r, error)) << i << ": " << error;
  }
  EXPECT_EQ(guard_->protected_tuples().size(), EgressGuard::kMaxTuples);
  EXPECT_FALSE(guard_->protect(l4, r4, error));
  EXPECT_NE(error.find("table is full (4096 connections)"), std::string::npos) << error;
  guard_->clear();
  EXPECT_TRUE(guard_->protected_tuples().empty());
  EXPECT_TRUE(guard_->protect(l4, r4, error)) << error;
}

// A guard pinned by a build with another map layout is not silently reused.
TEST_F(GuardApiTest, RefusesAPinnedMapOfAnotherLayout) {
  ASSERT_EQ(::mkdir(pin_dir_.c_str(), 0700), 0);
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "old_tuples", sizeof(eg_key), 8, 1024, nullptr);
  if (fd < 0) GTEST_SKIP() << "bpf_map_create: " << std::strerror(errno);
  const std::string path = pin_dir_ + "/" + EgressGuard::kTuplesPin;
  ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0) << std::strerror(errno);
  ::close(fd);
  std::string error;
  EXPECT_FALSE(EgressGuard::open({"g0"}, pin_dir_, error));
  EXPECT_NE(error.find("holds a map this build cannot use"), std::string::npos) << error;
  EXPECT_NE(error.find("detach it first"), std::string::npos) << error;
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << "the old guard's map was removed";
  ::unlink(path.c_str());
}

// Someone else's classic filter at the guard's handle/priority is neither replaced by
// open() nor removed by detach().
TEST_F(GuardApiTest, LeavesOtherFiltersAlone) {
  // A minimal classifier: r0 = -1 (TC_ACT_UNSPEC); exit.
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, -1},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "not_the_guard", "GPL", insns, 2, nullptr);
  if (prog < 0) GTEST_SKIP() << "bpf_prog_load: " << std::strerror(errno);
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = static_cast<int>(if_nametoindex("g0"));
  hook.attach_point = BPF_TC_EGRESS;
  int err = bpf_tc_hook_create(&hook);
  ASSERT_TRUE(err == 0 || err == -EEXIST) << err;
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = EG_TC_HANDLE;
  opts.priority = EG_TC_PRIORITY;
  opts.prog_fd = prog;
  ASSERT_EQ(bpf_tc_attach(&hook, &opts), 0);
  const uint32_t theirs = opts.prog_id;
  ::close(prog);
  cleanup_.push_back("tc filter del dev g0 egress 2>/dev/null");

  std::string error;
  EXPECT_FALSE(EgressGuard::open({"g0"}, pin_dir_, error));
  EXPECT_NE(error.find("g0: the tc egress filter at handle 0x7467 priority 1 is another program "
                       "('not_the_guard'"),
            std::string::npos)
      << error;
  struct stat st {};
  EXPECT_NE(::stat(pin_dir_.c_str(), &st), 0) << "a failed fresh open left its pins";

  GUARD_OPEN_OR_SKIP(std::vector<std::string>{});
  ASSERT_TRUE(guard_->detach(error)) << error;
  bpf_tc_opts q{};
  q.sz = sizeof q;
  q.handle = EG_TC_HANDLE;
  q.priority = EG_TC_PRIORITY;
  ASSERT_EQ(bpf_tc_query(&hook, &q), 0);
  EXPECT_EQ(q.prog_id, theirs);
}

// /sys/fs/bpf without a bpffs (here: a tmpfs over the lab's, in the private mount
// namespace): open() mounts one there.
TEST_F(GuardApiTest, MountsABpffsOnSysFsBpfWhenMissing) {
  ASSERT_EQ(::mount("tandem-test", "/sys/fs/bpf", "tmpfs", 0, nullptr), 0) << std::strerror(errno);
  cleanup_.push_back("umount /sys/fs/bpf 2>/dev/null; umount /sys/fs/bpf 2>/dev/null");
  ASSERT_FALSE(on_bpffs("/sys/fs/bpf"));
  const std::string pin = pin_dir_;  // under /sys/fs/bpf
  GUARD_OPEN_OR_SKIP();
  EXPECT_TRUE(on_bpffs("/sys/fs/bpf"));
  EXPECT_TRUE(on_bpffs(pin.c_str()));
  std::string error;
  ASSERT_TRUE(guard_->detach(error)) << error;
  guard_.reset();
  ASSERT_EQ(::umount("/sys/fs/bpf"), 0);  // the bpffs open() mounted
  ASSERT_EQ(::umount("/sys/fs/bpf"), 0);  // the test's tmpfs
  cleanup_.pop_back();
  EXPECT_TRUE(on_bpffs("/sys/fs/bpf"));  // the lab's again
}

TEST_F(GuardApiTest, ReportsMissingPrivileges) {
  const std::string pin = pin_dir_;
  std::string out = in_child([&]() -> std::string {
    if (!drop_all_capabilities()) return "capset failed";
    std::string error;
    if (EgressGuard::open({"g0"}, pin, error)) return "opened without capabilities";
    return error;
  });
  EXPECT_NE(out.find("needs CAP_BPF and CAP_NET_ADMIN"), std::string::npos) << out;
  std::cout << "[ message  ] " << out << "\n";
}

// CAP_BPF + CAP_NET_ADMIN suffice to attach and detach one's own guard; recognising a
// filter another process left takes CAP_SYS_ADMIN (reading another program's name).
TEST_F(GuardApiTest, OwnGuardNeedsNoCapSysAdmin) {
  const std::string pin = pin_dir_;
  std::string out = in_child([&]() -> std::string {
    if (!keep_only_capabilities({CAP_BPF, CAP_NET_ADMIN})) return "capset failed";
    std::string error;
    auto g = EgressGuard::open({"g0"}, pin, error);
    if (!g) return "open: " + error;
    if (!g->detach(error)) return "detach: " + error;
    g = EgressGuard::open({"g0"}, pin, error);  // leaves a guard behind
    if (!g) return "second open: " + error;
    g.reset();
    // A previous process's guard is recognised by its pinned program (tandemd re-executed
    // as the standby holds no CAP_SYS_ADMIN).
    g = EgressGuard::open({"g0"}, pin, error);
    if (!g) return "third open (the pinned program should identify the filter): " + error;
    if (!g->reused()) return "third open did not reuse the pinned map";
    g.reset();
    // Without the program's pin, another process's filter cannot be identified.
    if (::unlink((pin + "/" + EgressGuard::kProgramPin).c_str()) != 0) return "unlink the program pin";
    g = EgressGuard::open({"g0"}, pin, error);
    if (g) return "recognised an unpinned filter without CAP_SYS_ADMIN?";
    return error;
  });
  if (out.find("open: ") == 0 && out.find("CAP_BPF") != std::string::npos) GTEST_SKIP() << out;
  EXPECT_NE(out.find("g0: cannot identify the program of the tc egress filter"), std::string::npos)
      << out;
  EXPECT_NE(out.find("(needs CAP_SYS_ADMIN)"), std::string::npos) << out;
  std::cout << "[ message  ] " << out << "\n";
  // With every capability (root), the left guard is found and reused.
  GUARD_OPEN_OR_SKIP();
  EXPECT_TRUE(guard_->reused());
}

// The lead drops capabilities after start-up: what still works on the open descriptors.
TEST_F(GuardApiTest, MapOperationsWorkAfterDroppingCapabilities) {
  utsname u{};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < 6 || (major == 6 && minor < 5))
    GTEST_SKIP() << "kernel " << u.release << " < 6.5: map operations may need CAP_BPF";
  const std::string pin = pin_dir_;
  std::string out = in_child([&]() -> std::string {
    std::string error;
    auto g = EgressGuard::open({"g0"}, pin, error);
    if (!g) return "open: " + error;
    if (!drop_all_capabilities()) return "capset failed";
    const TcpEndpoint l = ep("10.201.22.1", 179), r = ep("10.201.22.2", 40001);
    if (!g->protect(l, r, error)) return "protect: " + error;
    if (g->protected_tuples().size() != 1) return "list";
    (void)g->counters();
    if (!g->unprotect(l, r, error)) return "unprotect: " + error;
    if (g->detach(error)) return "detach worked without CAP_NET_ADMIN";
    return "";
  });
  if (out.find("open: ") == 0 && out.find("CAP_BPF") != std::string::npos) GTEST_SKIP() << out;
  EXPECT_EQ(out, "ok");
}

// ---- the program on crafted frames ------------------------------------------------

constexpr int kUnspec = -1;  // TC_ACT_UNSPEC: pass, later filters still run
constexpr int kShot = 2;     // TC_ACT_SHOT

struct Frame {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  void bytes(const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); }
  void zeros(size_t n) { b.insert(b.end(), n, 0); }
};

struct Spec {
  bool v6 = false;
  bool vlan = false;
  int ip_options = 0;         // 32-bit words of IPv4 options
  uint8_t ip_proto = 6;
  uint16_t frag = 0x4000;     // IPv4 flags+offset (DF)
  bool hop_by_hop = false;    // IPv6 extension header before TCP
  uint8_t flags = 0x10;       // TCP flags (ACK)
  size_t payload = 0;
  size_t truncate_tcp = 0;    // bytes of the TCP header to keep (0: all)
  TcpEndpoint src, dst;
};

std::vector<uint8_t> frame(const Spec& s) {
  Frame f;
  const uint8_t dmac[6] = {2, 0, 0, 0, 0, 2}, smac[6] = {2, 0, 0, 0, 0, 1};
  f.bytes(dmac, 6);
  f.bytes(smac, 6);
  if (s.vlan) {
    f.u16(0x8100);
    f.u16(100);
  }
  const size_t tcp_len = 20 + s.payload;
  if (!s.v6) {
    f.u16(0x0800);
    const size_t ihl = 5 + static_cast<size_t>(s.ip_options);
    f.u8(static_cast<uint8_t>(0x40 | ihl));
    f.u8(0);
    f.u16(static_cast<uint16_t>(ihl * 4 + tcp_len));
    f.u16(1);
    f.u16(s.frag);
    f.u8(64);
    f.u8(s.ip_proto);
    f.u16(0);  // checksum: not checked
    f.bytes(s.src.addr.data(), 4);
    f.bytes(s.dst.addr.data(), 4);
    for (int i = 0; i < s.ip_options; ++i) f.bytes(reinterpret_cast<const uint8_t*>("\x01\x01\x01\x01"), 4);
  } else {
    f.u16(0x86DD);
    f.u16(0x6000);
    f.u16(0);
    f.u16(static_cast<uint16_t>(tcp_len + (s.hop_by_hop ? 8 : 0)));
    f.u8(s.hop_by_hop ? 0 : s.ip_proto);
    f.u8(64);
    f.bytes(s.src.addr.data(), 16);
    f.bytes(s.dst.addr.data(), 16);
    if (s.hop_by_hop) {
      f.u8(s.ip_proto);
      f.u8(0);
      f.zeros(6);  // PadN-free: 6 bytes of Pad1
    }
  }
  const size_t tcp_start = f.b.size();
  f.u16(s.src.port);
  f.u16(s.dst.port);
  f.u16(0x1234);
  f.u16(0x5678);  // seq
  f.u16(0);
  f.u16(1);  // ack
  f.u8(0x50);
  f.u8(s.flags);
  f.u16(65535);
  f.u16(0);
  f.u16(0);
  f.zeros(s.payload);
  if (s.truncate_tcp)
    f.b.resize(tcp_start + s.truncate_tcp);  // no padding either: the frame ends there
  else
    while (f.b.size() < 60) f.u8(0);  // minimum Ethernet frame (padding after the IP packet)
  return f.b;
}

class GuardProgramTest : public GuardLab {
 protected:
  void SetUp() override {
    GuardLab::SetUp();
    if (IsSkipped()) return;
    // Not attached anywhere: the program is only run on crafted frames.
    if (!open_guard({})) {
      if (!skip_.empty()) GTEST_SKIP() << skip_;
      return;
    }
    prog_ = bpf_obj_get((pin_dir_ + "/" + EgressGuard::kProgramPin).c_str());
    ASSERT_GE(prog_, 0) << "the program is not pinned";
    tuples_ = bpf_obj_get((pin_dir_ + "/" + EgressGuard::kTuplesPin).c_str());
    ASSERT_GE(tuples_, 0) << "the tuple map is not pinned";
  }
  void TearDown() override {
    if (prog_ >= 0) ::close(prog_);
    if (tuples_ >= 0) ::close(tuples_);
    GuardLab::TearDown();
  }
  int run(const Spec& s) {
    std::vector<uint8_t> data = frame(s);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = data.data();
    opts.data_size_in = static_cast<__u32>(data.size());
    opts.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(prog_, &opts), 0) << std::strerror(errno);
    return static_cast<int>(opts.retval);
  }
  int prog_ = -1, tuples_ = -1;
};

TEST_F(GuardProgramTest, DropsOnlyFinAndRstOfProtectedTuples) {
  const TcpEndpoint l4 = ep("10.201.30.1", 179), r4 = ep("10.201.30.2", 40001);
  const TcpEndpoint l6 = ep("fd00:201:30::1", 40002), r6 = ep("fd00:201:30::2", 179);
  std::string error;
  ASSERT_TRUE(guard_->protect(l4, r4, error)) << error;
  ASSERT_TRUE(guard_->protect(l6, r6, error)) << error;
  const EgressGuard::Counters c0 = guard_->counters();

  Spec s;
  s.src = l4;
  s.dst = r4;
  EXPECT_EQ(run(s), kUnspec) << "bare ACK";
  s.payload = 100;
  s.flags = 0x18;
  EXPECT_EQ(run(s), kUnspec) << "data";
  s.payload = 0;
  s.flags = 0x11;
  EXPECT_EQ(run(s), kShot) << "FIN|ACK";
  s.flags = 0x04;
  EXPECT_EQ(run(s), kShot) << "RST";
  s.flags = 0x15;
  EXPECT_EQ(run(s), kShot) << "RST|FIN|ACK (counted as RST)";
  s.flags = 0x02;
  EXPECT_EQ(run(s), kUnspec) << "SYN";
  EgressGuard::Counters c = guard_->counters();
  EXPECT_EQ(c.seen - c0.seen, 6u);
  EXPECT_EQ(c.fin_dropped - c0.fin_dropped, 1u);
  EXPECT_EQ(c.rst_dropped - c0.rst_dropped, 2u);

  // Parsing: IPv4 options (IHL 7), an 802.1Q tag, IPv6.
  s.flags = 0x11;
  s.ip_options = 2;
  EXPECT_EQ(run(s), kShot) << "IPv4 with options";
  s.ip_options = 0;
  s.vlan = true;
  EXPECT_EQ(run(s), kShot) << "802.1Q";
  s.vlan = false;
  Spec s6 = s;
  s6.v6 = true;
  s6.src = l6;
  s6.dst = r6;
  EXPECT_EQ(run(s6), kShot) << "IPv6 FIN";
  s6.vlan = true;
  s6.flags = 0x04;
  EXPECT_EQ(run(s6), kShot) << "IPv6 RST behind 802.1Q";

  // Not protected, or not parsed: passes.
  Spec o = s;
  o.src = r4;  // the other direction
  o.dst = l4;
  EXPECT_EQ(run(o), kUnspec) << "reverse direction";
  o = s;
  o.dst.port = 40009;
  EXPECT_EQ(run(o), kUnspec) << "other port";
  o = s;
  o.ip_proto = 17;
  EXPECT_EQ(run(o), kUnspec) << "UDP";
  o = s;
  o.frag = 0x0001;  // offset 8 bytes: no TCP header here
  EXPECT_EQ(run(o), kUnspec) << "non-first fragment";
  o = s;
  o.truncate_tcp = 12;  // flags byte missing
  EXPECT_EQ(run(o), kUnspec) << "truncated TCP header";
  Spec h = s6;
  h.flags = 0x11;
  h.vlan = false;
  h.hop_by_hop = true;
  EXPECT_EQ(run(h), kUnspec) << "IPv6 extension header (documented limit)";
  Spec arp;
  std::vector<uint8_t> a = frame(arp);
  a[12] = 0x08;
  a[13] = 0x06;
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = a.data();
  opts.data_size_in = static_cast<__u32>(a.size());
  ASSERT_EQ(bpf_prog_test_run_opts(prog_, &opts), 0);
  EXPECT_EQ(static_cast<int>(opts.retval), kUnspec) << "ARP";

  // The documented key layout (network byte order) finds the per-tuple drop counts.
  eg_key key{};
  key.family = EG_FAMILY_IPV4;
  key.local_port = htons(179);
  key.remote_port = htons(40001);
  std::memcpy(key.local_addr, l4.addr.data(), 4);
  std::memcpy(key.remote_addr, r4.addr.data(), 4);
  eg_value v{};
  ASSERT_EQ(bpf_map_lookup_elem(tuples_, &key, &v), 0);
  EXPECT_EQ(v.fin_dropped, 3u);  // plain, with options, behind 802.1Q
  EXPECT_EQ(v.rst_dropped, 2u);
  EXPECT_NE(v.last_drop_ns, 0u);
}

// The owed ACK (no kernel needed): owed only when the kernel acknowledged more than left
// and the limit passed what left; never beyond the kernel's nor the limit; the window
// keeps the kernel's right edge; sequence numbers wrap.
TEST(OwedAck, OnlyWhatTheKernelSaidAndTheLimitAllows) {
  EgressGuard::AckState st;
  st.snd_nxt = 77;
  st.ack_real = 5000;
  st.ack_out = 3000;
  st.win_raw = 100;  // x 2^7 = 12800 bytes past 5000
  st.has_ts = true;
  st.ts_val = 11;
  st.ts_ecr = 12;
  EXPECT_FALSE(EgressGuard::owed_ack(st, 3000, 7)) << "the limit did not move past what left";
  EXPECT_FALSE(EgressGuard::owed_ack(st, 2000, 7));
  auto a = EgressGuard::owed_ack(st, 4000, 7);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ack, 4000u);
  EXPECT_EQ(a->seq, 77u);
  EXPECT_EQ(a->window, (5000u + 12800u - 4000u) >> 7);
  EXPECT_TRUE(a->has_ts);
  EXPECT_EQ(a->ts_val, 11u);
  EXPECT_EQ(a->ts_ecr, 12u);
  EXPECT_EQ(a->mark, uint32_t{EG_CRAFTED_MARK}) << "the program must know it for ours";
  a = EgressGuard::owed_ack(st, 9000, 7);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ack, 5000u) << "never beyond what the kernel acknowledged";
  EXPECT_EQ(a->window, 100u);
  st.ack_out = 5000;
  EXPECT_FALSE(EgressGuard::owed_ack(st, 9000, 7)) << "all the kernel had already left";

  // Across the wrap of the sequence space, and a window that no longer fits the field.
  st.ack_real = 0x00000100;
  st.ack_out = 0xFFFFFF00;
  st.win_raw = 0xFFFF;
  a = EgressGuard::owed_ack(st, 0x00000010, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ack, 0x10u);
  EXPECT_EQ(a->window, 0xFFFF) << "capped at the field";
}

}  // namespace
}  // namespace tandem::replicator::guard::test
