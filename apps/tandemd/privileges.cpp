#include "apps/tandemd/privileges.hpp"

#include <dirent.h>
#include <sys/capability.h>  // libcap; includes <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace tandem::app {

namespace {

// CAP_BPF and CAP_PERFMON are 39 and 38; older kernel headers may lack the names.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

std::string cap_name(int cap) {
  char* n = cap_to_name(static_cast<cap_value_t>(cap));
  std::string s = n ? n : fmt::format("cap_{}", cap);
  cap_free(n);
  return s;
}

bool privileged_port(const std::string& host_port) {
  if (host_port.empty()) return false;
  auto hp = config::parse_host_port(host_port);
  return hp && hp->second != 0 && hp->second < 1024;
}

bool xdp_configured(const config::Config& cfg) {
  return cfg.bfd.enabled && cfg.bfd.receive_path != "user-space" && !cfg.bfd.interfaces.empty();
}

}  // namespace

std::vector<CapabilityNeed> needed_capabilities(const config::Config& cfg, bool has_cap_bpf) {
  std::vector<std::pair<int, std::string>> why;
  auto need = [&](int cap, std::string reason) { why.emplace_back(cap, std::move(reason)); };

  // CAP_NET_ADMIN
  if (cfg.fib.enabled) need(CAP_NET_ADMIN, "[fib]: routes added and removed through rtnetlink");
  if (cfg.ha.enabled()) {
    need(CAP_NET_ADMIN,
         "[ha]: TCP_REPAIR, IP_TRANSPARENT, SO_MARK and SO_{RCV,SND}BUFFORCE to hand sessions over and take "
         "them, the VIPs (rtnetlink)");
    need(CAP_NET_RAW, "[ha]: raw and packet sockets (the takeover's TCP probe and RST, the ACK hold's held ACKs, gratuitous ARP / "
                      "unsolicited neighbour advertisements for the VIPs)");
  }
  if (cfg.bfd.enabled) need(CAP_NET_ADMIN, "[bfd]: SO_RCVBUFFORCE on the BFD receive socket");
  if (cfg.ha.enabled() && cfg.ha.crash_guard && !cfg.ha.vip_interface.empty()) {
    // Loaded at start with every capability; later only its map is written.
    if (has_cap_bpf) need(kCapBpf, "[ha] crash_guard: bpf(2) on the guard's map (kernels before 6.5 need it)");
    else need(CAP_SYS_ADMIN, "[ha] crash_guard: bpf(2) on the guard's map (no CAP_BPF on this kernel)");
  }
  if (xdp_configured(cfg)) {
    need(CAP_NET_ADMIN, "[bfd] XDP: attaching the program to the interfaces");
    const char* bpf_why =
        "[bfd] XDP: bpf(2) on the program's maps (kernels before 6.5 refuse every bpf(2) command without it "
        "when kernel.unprivileged_bpf_disabled is set) and loading the program again when tandemd restarts "
        "itself as the standby";
    if (has_cap_bpf) {
      need(kCapBpf, bpf_why);
      need(kCapPerfmon, "[bfd] XDP: the verifier's checks for loading the program again (restart as the standby)");
    } else {
      need(CAP_SYS_ADMIN, std::string(bpf_why) + " (no CAP_BPF on this kernel)");
    }
  }

  // CAP_NET_BIND_SERVICE: every listening port below 1024.
  if (cfg.port < 1024 && (!cfg.listen.empty() || cfg.ha.enabled()))
    need(CAP_NET_BIND_SERVICE,
         fmt::format("BGP listeners on port {} (re-opened through the API and when a standby takes over)", cfg.port));
  if (cfg.ha.listen && cfg.ha.listen->second < 1024)
    need(CAP_NET_BIND_SERVICE, fmt::format("[ha] listen on port {}", cfg.ha.listen->second));
  if (privileged_port(cfg.api.tcp_listen))
    need(CAP_NET_BIND_SERVICE, "[api] tcp_listen " + cfg.api.tcp_listen + " (re-opened on a restart as the standby)");
  if (cfg.metrics.enabled && privileged_port(cfg.metrics.listen))
    need(CAP_NET_BIND_SERVICE, "[metrics] listen " + cfg.metrics.listen + " (re-opened on a restart as the standby)");

  std::vector<CapabilityNeed> out;
  for (int cap = 0; cap < 64; ++cap) {
    CapabilityNeed n;
    for (auto& [c, r] : why)
      if (c == cap) n.reasons.push_back(r);
    if (n.reasons.empty()) continue;
    n.cap = cap;
    n.name = cap_name(cap);
    out.push_back(std::move(n));
  }
  return out;
}

std::string capability_list(const std::vector<CapabilityNeed>& needs) {
  std::string s;
  for (const auto& n : needs) s += (s.empty() ? "" : ",") + n.name;
  return s.empty() ? "none" : s;
}

bool kernel_has_cap_bpf() { return cap_max_bits() > kCapBpf; }

// ---------------------------------------------------------------------------------------
// Applying the reduction to every thread. Capabilities, the bounding set and
// no_new_privs belong to a thread, not to the process, and gRPC and the MRT writers have
// threads of their own by now; glibc broadcasts only set*id(), and libpsx only reaches
// threads it created itself. So each thread is sent a signal whose handler makes the
// same system calls (all async-signal-safe) on itself, one thread at a time.

namespace {

struct Plan {
  int drop_bound[64] = {};  // capabilities to drop from the bounding set
  int n_drop_bound = 0;
  int ambient[64] = {};  // to raise in the ambient set
  int n_ambient = 0;
  __user_cap_header_struct header{};
  __user_cap_data_struct data[2]{};  // permitted = effective = inheritable = kept
};

// What went wrong in one thread (bits).
constexpr int kBoundFailed = 1, kNoNewPrivsFailed = 2, kCapsetFailed = 4, kAmbientFailed = 8;
// Not fatal: no_new_privs alone keeps an exec from gaining anything.
constexpr int kSoft = kBoundFailed | kAmbientFailed;

int apply(const Plan& p) {
  int rc = 0;
  for (int i = 0; i < p.n_drop_bound; ++i) {
    // Skipped when already gone: a thread created by a thread that was already reduced
    // (its bounding set is inherited, and it has no CAP_SETPCAP left to drop with).
    if (::prctl(PR_CAPBSET_READ, p.drop_bound[i], 0, 0, 0) != 1) continue;
    if (::prctl(PR_CAPBSET_DROP, p.drop_bound[i], 0, 0, 0) != 0) rc |= kBoundFailed;
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) rc |= kNoNewPrivsFailed;
  __user_cap_header_struct h = p.header;
  __user_cap_data_struct d[2] = {p.data[0], p.data[1]};
  if (::syscall(SYS_capset, &h, d) != 0) rc |= kCapsetFailed;
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) rc |= kAmbientFailed;
  for (int i = 0; i < p.n_ambient; ++i)
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, p.ambient[i], 0, 0) != 0) rc |= kAmbientFailed;
  return rc;
}

std::atomic<const Plan*> g_plan{nullptr};
std::atomic<int> g_ack{0};
std::atomic<int> g_result{0};

void on_signal(int) {
  const Plan* plan = g_plan.load(std::memory_order_acquire);
  if (!plan) return;  // late: a thread that had the signal blocked and was given up on
  int saved = errno;
  g_result.store(apply(*plan), std::memory_order_relaxed);
  g_ack.store(1, std::memory_order_release);
  errno = saved;
}

std::vector<pid_t> threads() {
  std::vector<pid_t> out;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    ::closedir(d);
  }
  return out;
}

std::string describe_failure(int rc) {
  std::string s;
  auto add = [&](int bit, const char* what) {
    if (rc & bit) s += (s.empty() ? "" : ", ") + std::string(what);
  };
  add(kBoundFailed, "PR_CAPBSET_DROP");
  add(kNoNewPrivsFailed, "PR_SET_NO_NEW_PRIVS");
  add(kCapsetFailed, "capset");
  add(kAmbientFailed, "PR_CAP_AMBIENT");
  return s;
}

// The capability sets a thread must end with (libcap's view, for the check afterwards).
bool thread_matches(pid_t tid, cap_t want) {
  cap_t have = cap_get_pid(tid);
  if (!have) return errno == ESRCH;  // gone meanwhile
  bool same = cap_compare(have, want) == 0;
  cap_free(have);
  return same;
}

}  // namespace

bool drop_privileges(const config::Config& cfg, std::string& error) {
  const auto needs = needed_capabilities(cfg, kernel_has_cap_bpf());
  const cap_value_t last = cap_max_bits();  // number of capabilities this kernel knows

  // What this thread holds now (every thread inherited it from main()).
  cap_t now = cap_get_proc();
  if (!now) {
    error = std::string("privileges: cap_get_proc: ") + std::strerror(errno);
    return false;
  }
  auto has = [&](cap_value_t c, cap_flag_t f) {
    cap_flag_value_t v = CAP_CLEAR;
    return cap_get_flag(now, c, f, &v) == 0 && v == CAP_SET;
  };
  const bool can_setpcap = has(CAP_SETPCAP, CAP_EFFECTIVE);

  Plan plan;
  cap_t want = cap_init();  // all clear
  std::vector<std::string> missing;
  for (const auto& n : needs) {
    auto c = static_cast<cap_value_t>(n.cap);
    if (!has(c, CAP_PERMITTED)) {
      missing.push_back(n.name);
      spdlog::warn("privileges: {} is needed but not held ({}): that will fail", n.name, fmt::join(n.reasons, "; "));
      continue;
    }
    for (cap_flag_t f : {CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE}) cap_set_flag(want, f, 1, &c, CAP_SET);
    unsigned word = static_cast<unsigned>(n.cap) / 32, bit = 1u << (static_cast<unsigned>(n.cap) % 32);
    plan.data[word].permitted |= bit;
    plan.data[word].effective |= bit;
    plan.data[word].inheritable |= bit;
    // Across the restart as the standby (an exec), uid 0 gets the bounding set back
    // (capped by the permitted set through no_new_privs); a non-root process, or root
    // with SECBIT_NOROOT, only the ambient set. Raised in both cases: the same set.
    plan.ambient[plan.n_ambient++] = n.cap;
    spdlog::info("privileges: keeping {}: {}", n.name, fmt::join(n.reasons, "; "));
  }
  cap_free(now);

  std::vector<std::string> bound_kept;
  for (cap_value_t c = 0; c < last && c < 64; ++c) {
    if (cap_get_bound(c) != 1) continue;
    bool needed = false;
    for (const auto& n : needs) needed = needed || n.cap == c;
    if (needed) continue;
    if (can_setpcap) plan.drop_bound[plan.n_drop_bound++] = c;
    else bound_kept.push_back(cap_name(c));
  }
  if (!bound_kept.empty())
    spdlog::info("privileges: no CAP_SETPCAP to shrink the bounding set ({} stay in it); no_new_privs keeps "
                 "any exec from gaining them",
                 fmt::join(bound_kept, ","));
  plan.header.version = _LINUX_CAPABILITY_VERSION_3;
  plan.header.pid = 0;

  // This thread first, then every other one, until a pass finds none left.
  int self_rc = apply(plan);
  std::set<pid_t> done{static_cast<pid_t>(::syscall(SYS_gettid))};
  std::vector<std::string> failures;
  if (self_rc & ~kSoft) failures.push_back(fmt::format("main thread: {} failed", describe_failure(self_rc)));
  int soft_failures = self_rc & kSoft ? 1 : 0;

  const int sig = SIGRTMIN + 3;
  struct sigaction sa {}, old {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, &old);
  g_plan.store(&plan, std::memory_order_release);
  bool gave_up = false;
  const pid_t pid = ::getpid();
  size_t reduced = 1;
  for (bool found = true; found;) {
    found = false;
    for (pid_t tid : threads()) {
      if (done.count(tid)) continue;
      found = true;
      done.insert(tid);
      g_ack.store(0);
      if (::syscall(SYS_tgkill, pid, tid, sig) != 0) {
        if (errno != ESRCH) failures.push_back(fmt::format("thread {}: tgkill: {}", tid, std::strerror(errno)));
        continue;
      }
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!g_ack.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (!g_ack.load(std::memory_order_acquire)) {
        // Gone, or blocking the signal.
        if (::syscall(SYS_tgkill, pid, tid, 0) == 0) {
          gave_up = true;
          failures.push_back(fmt::format("thread {} did not answer (signal {} blocked?)", tid, sig));
        }
        continue;
      }
      int rc = g_result.load();
      if (rc & kSoft) ++soft_failures;
      if (rc & ~kSoft) failures.push_back(fmt::format("thread {}: {} failed", tid, describe_failure(rc)));
      ++reduced;
    }
  }
  g_plan.store(nullptr, std::memory_order_release);
  // A signal still pending for a thread that was given up on must find the (now inert)
  // handler, not the default action (which ends the process).
  if (!gave_up) ::sigaction(sig, &old, nullptr);

  // Check every thread with libcap.
  for (pid_t tid : threads())
    if (!thread_matches(tid, want)) failures.push_back(fmt::format("thread {} still holds other capabilities", tid));
  cap_free(want);

  if (soft_failures > 0)
    spdlog::warn("privileges: the bounding or ambient set could not be set in {} thread(s); no_new_privs keeps any "
                 "exec from gaining more than is kept",
                 soft_failures);
  if (!failures.empty()) {
    error = "privileges: cannot drop capabilities: " + fmt::format("{}", fmt::join(failures, "; "));
    return false;
  }
  std::vector<CapabilityNeed> kept;
  for (const auto& n : needs)
    if (std::find(missing.begin(), missing.end(), n.name) == missing.end()) kept.push_back(n);
  spdlog::info("privileges: {} thread(s) keep only {} (permitted, effective, inheritable, ambient{}); everything "
               "else dropped; no_new_privs set (tandemd --keep-capabilities keeps them all)",
               reduced, capability_list(kept), bound_kept.empty() && soft_failures == 0 ? ", bounding" : "");
  return true;
}

}  // namespace tandem::app
