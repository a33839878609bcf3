// Move the calling (single-threaded) test process into a network namespace of its own,
// so tests can add addresses and routes without touching the machine's. As root a
// plain CLONE_NEWNET; otherwise a user namespace mapping us to root inside it. Each
// gtest case runs in its own process (gtest_discover_tests), so this is per test.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>

namespace tandem::test {

inline bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Returns an empty string on success, else why it could not be done (skip reason).
// `setup` is a shell command run inside the new namespace (ip link/addr ...).
inline std::string enter_private_netns(const std::string& setup) {
  if (geteuid() == 0) {
    if (unshare(CLONE_NEWNET) != 0) return "unshare(CLONE_NEWNET) failed";
  } else {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
      return "not root and unprivileged user namespaces are disabled";
    write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
      return "cannot map our uid in the new user namespace";
  }
  if (std::system(("ip link set lo up && " + setup).c_str()) != 0)
    return "cannot configure the private namespace with ip(8): " + setup;
  return "";
}

inline std::string namespace_id(const char* proc_link) {
  char buf[64] = {};
  if (readlink(proc_link, buf, sizeof buf - 1) < 0) return "";
  return buf;
}

// A private mount namespace with its own /run/netns (a tmpfs), so that `ip netns add`
// files neither leak to nor collide with the host's (or a concurrent test process's).
// Call it after entering a private network namespace. "" on success, else why not.
inline std::string private_run_netns() {
  const std::string before = namespace_id("/proc/self/ns/mnt");
  if (unshare(CLONE_NEWNS) != 0) return "unshare(CLONE_NEWNS) failed";
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return "cannot make the mount namespace private";
  if (before.empty() || namespace_id("/proc/self/ns/mnt") == before)
    return "still in the original mount namespace";  // never mount over the host's view
  ::mkdir("/run/netns", 0755);
  if (mount("tandem-netns", "/run/netns", "tmpfs", 0, nullptr) != 0) return "cannot mount a private /run/netns";
  return "";
}

// Runs `fn` with the calling thread in the network namespace /run/netns/`name`
// (sockets made there stay there), then back.
inline void in_named_netns(const std::string& name, const std::function<void()>& fn) {
  int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int other = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (home < 0 || other < 0 || setns(other, CLONE_NEWNET) != 0) {
    ADD_FAILURE() << "cannot enter the network namespace " << name;
  } else {
    fn();
    if (setns(home, CLONE_NEWNET) != 0) std::abort();  // the test would lie otherwise
  }
  if (home >= 0) ::close(home);
  if (other >= 0) ::close(other);
}

// A test suite that runs in a private namespace prepared by `Derived::kNetnsSetup`
// (a shell command, e.g. "ip addr add 192.0.2.1/32 dev lo"); every test is skipped
// with the reason when the namespace cannot be made.
template <class Derived>
class PrivateNetnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { skip_reason() = enter_private_netns(Derived::kNetnsSetup); }
  void SetUp() override {
    if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
  }

 private:
  static std::string& skip_reason() {
    static std::string reason;
    return reason;
  }
};

}  // namespace tandem::test
