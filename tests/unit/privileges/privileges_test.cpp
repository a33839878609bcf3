// Least privilege: which capabilities each configuration keeps (pure), and, as root, that
// drop_privileges() reduces every thread and that an exec as uid 0 (tandemd's restart
// as the standby) gets exactly the kept set back and nothing more.
#include "apps/tandemd/privileges.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace {

using tandem::app::capability_list;
using tandem::app::needed_capabilities;
using tandem::config::Config;

Config parse(const std::string& extra) {
  auto r = tandem::config::parse_config("[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 65000\n" + extra, "t.toml");
  if (auto* e = std::get_if<tandem::config::ConfigError>(&r)) {
    ADD_FAILURE() << e->to_string();
    return {};
  }
  return std::get<Config>(r);
}

std::string caps(const std::string& extra, bool has_cap_bpf = true) {
  return capability_list(needed_capabilities(parse(extra), has_cap_bpf));
}

const char* kHa =
    "[ha]\nrole = \"primary\"\nlisten = \"192.0.2.1:7179\"\nkey_file = \"/etc/tandem/ha.key\"\n";
const char* kXdp = "[bfd]\nenabled = true\ninterfaces = [\"eth0\"]\n";

TEST(NeededCapabilities, DefaultConfigurationOnlyBindsPort179) {
  EXPECT_EQ(caps(""), "cap_net_bind_service");
}

TEST(NeededCapabilities, UnprivilegedPortAndNothingElseNeedsNothing) {
  EXPECT_EQ(caps("port = 1179\n"), "none");
  EXPECT_TRUE(needed_capabilities(parse("port = 1179\n")).empty());
}

TEST(NeededCapabilities, FibNeedsNetAdmin) {
  EXPECT_EQ(caps("port = 1179\n[fib]\nenabled = true\n"), "cap_net_admin");
  EXPECT_EQ(caps("[fib]\nenabled = true\n"), "cap_net_bind_service,cap_net_admin");
}

TEST(NeededCapabilities, ReplicationNeedsNetAdminAndNetRaw) {
  EXPECT_EQ(caps(kHa), "cap_net_bind_service,cap_net_admin,cap_net_raw");
  // A standby opens no BGP listener at start, but does when it takes over.
  EXPECT_EQ(caps("[ha]\nrole = \"standby\"\npeer = \"192.0.2.1:7179\"\nkey_file = \"/k\"\n"),
            "cap_net_bind_service,cap_net_admin,cap_net_raw");
  EXPECT_EQ(caps(std::string("port = 1179\n") + kHa), "cap_net_admin,cap_net_raw");
}

TEST(NeededCapabilities, BfdInUserSpaceNeedsNoBpf) {
  EXPECT_EQ(caps("port = 1179\n[bfd]\nenabled = true\nreceive_path = \"user-space\"\ninterfaces = [\"eth0\"]\n"),
            "cap_net_admin");
  // auto without interfaces never loads XDP.
  EXPECT_EQ(caps("port = 1179\n[bfd]\nenabled = true\n"), "cap_net_admin");
  // Not enabled: nothing at all.
  EXPECT_EQ(caps("port = 1179\n[bfd]\nenabled = false\ninterfaces = [\"eth0\"]\n"), "none");
}

TEST(NeededCapabilities, BfdOverXdpNeedsBpfAndPerfmon) {
  EXPECT_EQ(caps(std::string("port = 1179\n") + kXdp), "cap_net_admin,cap_perfmon,cap_bpf");
  EXPECT_EQ(caps(std::string("port = 1179\n") + kXdp + "receive_path = \"xdp\"\n"),
            "cap_net_admin,cap_perfmon,cap_bpf");
  // Before Linux 5.8 CAP_SYS_ADMIN stands in for both.
  EXPECT_EQ(caps(std::string("port = 1179\n") + kXdp, false), "cap_net_admin,cap_sys_admin");
}

TEST(NeededCapabilities, OtherPrivilegedListenersNeedBindService) {
  EXPECT_EQ(caps("port = 1179\n[metrics]\nenabled = true\nlisten = \"127.0.0.1:80\"\n"), "cap_net_bind_service");
  EXPECT_EQ(caps("port = 1179\n[metrics]\nenabled = false\nlisten = \"127.0.0.1:80\"\n"), "none");
  EXPECT_EQ(caps("port = 1179\n[ha]\nrole = \"primary\"\nlisten = \"192.0.2.1:700\"\nkey_file = \"/k\"\n"),
            "cap_net_bind_service,cap_net_admin,cap_net_raw");
}

TEST(NeededCapabilities, EveryCapabilitySaysWhy) {
  auto needs = needed_capabilities(parse(std::string("[fib]\nenabled = true\n") + kHa + kXdp));
  EXPECT_EQ(capability_list(needs), "cap_net_bind_service,cap_net_admin,cap_net_raw,cap_perfmon,cap_bpf");
  for (const auto& n : needs) {
    EXPECT_FALSE(n.reasons.empty()) << n.name;
    EXPECT_EQ(n.name.rfind("cap_", 0), 0u);
  }
  // CAP_NET_ADMIN: the FIB, replication, BFD and XDP each say so.
  EXPECT_EQ(needs[1].cap, CAP_NET_ADMIN);
  EXPECT_EQ(needs[1].reasons.size(), 4u);
}

// ---------------------------------------------------------------------------------------
// As root: the real thing, in a child process.

std::map<std::string, std::string> status_fields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = v;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t mask(std::initializer_list<int> caps) {
  uint64_t m = 0;
  for (int c : caps) m |= uint64_t{1} << c;
  return m;
}

class DropAsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (capabilities to drop)";
  }
};

// The child (with a second thread, as tandemd has gRPC's and the MRT writers') drops to
// the [fib] set, checks both threads' sets, then execs `cat /proc/self/status`, like
// tandemd's restart as the standby; the parent checks what the new program holds.
TEST_F(DropAsRoot, EveryThreadAndTheNextExecKeepExactlyTheNeededSet) {
  Config cfg = parse("[fib]\nenabled = true\n");
  const uint64_t want = mask({CAP_NET_BIND_SERVICE, CAP_NET_ADMIN});
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(out[0]);
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    pid_t worker_tid = 0;
    std::thread worker([&] {
      {
        std::lock_guard<std::mutex> l(mu);
        worker_tid = static_cast<pid_t>(::gettid());
      }
      cv.notify_all();
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return stop; });
    });
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return worker_tid != 0; });
    }
    std::string err;
    if (!tandem::app::drop_privileges(cfg, err)) ::_exit(10);
    auto w = status_fields(read_file("/proc/self/task/" + std::to_string(worker_tid) + "/status"));
    for (const char* k : {"CapPrm", "CapEff", "CapInh", "CapBnd", "CapAmb"})
      if (std::stoull(w[k], nullptr, 16) != want) ::_exit(11);
    if (w["NoNewPrivs"] != "1") ::_exit(12);
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
    ::dup2(out[1], 1);
    ::execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
    ::_exit(13);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "10: drop failed, 11: the other thread kept more, 12: no no_new_privs, "
                                       "13: exec failed";
  auto f = status_fields(text);
  for (const char* k : {"CapPrm", "CapEff", "CapBnd"})
    EXPECT_EQ(std::stoull(f[k], nullptr, 16), want) << k << " after exec: " << f[k];
  EXPECT_EQ(std::stoull(f["CapAmb"], nullptr, 16), want);
  EXPECT_EQ(f["NoNewPrivs"], "1");
}

}  // namespace
