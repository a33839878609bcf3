// Least privilege (issue 9): once tandemd has set up everything that needs full root
// (listeners, the FIB's netlink socket, XDP, the API socket), it keeps only the
// capabilities its configuration needs at run time, in every thread:
//   - permitted, effective and inheritable sets: exactly the needed capabilities;
//   - bounding set: everything else dropped (PR_CAPBSET_DROP), so that the re-exec as
//     the standby after a planned switchover (execv of /proc/self/exe as uid 0) gets
//     back exactly these and nothing more;
//   - ambient set: exactly the kept set too (what carries them across the re-exec for a
//     non-root user or with SECBIT_NOROOT; for plain root it changes nothing);
//   - PR_SET_NO_NEW_PRIVS: no exec can ever grant more.
// `tandemd --keep-capabilities` skips all of it (debugging). docs/security.md, "Least
// privilege", says what is kept and why.
#pragma once

#include <string>
#include <vector>

#include "bgpd/config/config.hpp"

namespace tandem::app {

struct CapabilityNeed {
  int cap = 0;                       // CAP_NET_ADMIN, ...
  std::string name;                  // "cap_net_admin"
  std::vector<std::string> reasons;  // what in the configuration needs it
};

// What the configuration needs at run time, in capability order (pure: no system
// calls). `kernel_has_cap_bpf`: false on kernels before 5.8, where CAP_SYS_ADMIN stands
// in for CAP_BPF and CAP_PERFMON.
std::vector<CapabilityNeed> needed_capabilities(const config::Config& cfg, bool kernel_has_cap_bpf = true);

// "cap_net_admin,cap_net_raw" (the names of `needs`, comma separated; "none" if empty).
std::string capability_list(const std::vector<CapabilityNeed>& needs);

// True if the running kernel knows CAP_BPF (Linux 5.8 and later).
bool kernel_has_cap_bpf();

// Reduces every thread of the process to needed_capabilities(cfg) as described above
// and logs what is kept and why. False with `error` when a thread could not be reduced
// (the caller must not go on). Needed capabilities the process does not hold are
// logged as warnings (what needs them will fail), not errors.
bool drop_privileges(const config::Config& cfg, std::string& error);

}  // namespace tandem::app
