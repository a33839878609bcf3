#include "replicator/guard/egress_guard.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "healthbpf/libbpf_log.hpp"
#include "egress_guard.skel.h"
#include "replicator/guard/bpf/egress_guard_abi.h"

namespace tandem::replicator::guard {

static_assert(EgressGuard::kMaxTuples == EG_MAX_TUPLES);
static_assert(sizeof(eg_key) == 40 && sizeof(eg_value) == 24, "ABI layout");

namespace {

namespace fs = std::filesystem;

constexpr const char* kBpffsRoot = "/sys/fs/bpf";


std::string sys_error(const std::string& what, int err) {
  std::string s = what + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) s += " (needs CAP_BPF and CAP_NET_ADMIN)";
  return s;
}

std::string describe(const session::TcpEndpoint& e) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (e.family == AF_INET) {
    inet_ntop(AF_INET, e.addr.data(), buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(e.port);
  }
  if (e.family == AF_INET6) {
    inet_ntop(AF_INET6, e.addr.data(), buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(e.port);
  }
  return "(no address family)";
}

// 1: on a bpffs, 0: not, -errno: statfs failed.
int on_bpffs(const fs::path& p) {
  struct statfs st {};
  if (::statfs(p.c_str(), &st) != 0) return -errno;
  return st.f_type == static_cast<decltype(st.f_type)>(BPF_FS_MAGIC) ? 1 : 0;
}

// The link-layer type of `ifname` in the calling thread's network namespace (ARPHRD_*),
// -1 when it cannot be read.
int link_type(const std::string& ifname) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  int type = ::ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 ? ifr.ifr_hwaddr.sa_family : -1;
  ::close(fd);
  return type;
}

// "/a//b/" -> "/a/b"
fs::path clean_dir(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

fs::path nearest_existing(fs::path p) {
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_relative_path()) p = p.parent_path();
  return p;
}

// Make `pin_dir` exist on a bpffs (mounting one on /sys/fs/bpf if the directory is under
// it and it is not one yet).
bool prepare_pin_dir(const std::string& pin_dir, std::string& error) {
  if (pin_dir.empty() || pin_dir.front() != '/') {
    error = "pin directory must be an absolute path: '" + pin_dir + "'";
    return false;
  }
  const fs::path dir = clean_dir(pin_dir);
  fs::path existing = nearest_existing(dir);
  int bpf = on_bpffs(existing);
  if (bpf < 0) {
    error = "cannot check the file system of " + existing.string() + ": " + std::strerror(-bpf);
    return false;
  }
  if (bpf == 0) {
    const fs::path root(kBpffsRoot);
    fs::path rel = dir.lexically_relative(root);
    bool under_root = !rel.empty() && *rel.begin() != "..";
    if (!under_root || on_bpffs(root) == 1) {
      error = existing.string() + " is not on a bpffs (pin directory " + dir.string() +
              "; mount one: mount -t bpf bpf <directory>)";
      return false;
    }
    if (::mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") != 0) {
      error = std::string(kBpffsRoot) + " is not a bpffs and mounting one failed: " +
              std::strerror(errno) + " (needs CAP_SYS_ADMIN; or mount -t bpf bpf " + kBpffsRoot + ")";
      return false;
    }
    spdlog::warn("egress guard: {} was not a bpffs; mounted one there", kBpffsRoot);
  }
  // Create the missing components (mode 0700: the pins are root's business).
  fs::path partial;
  for (const fs::path& part : dir) {
    partial /= part;
    std::error_code ec;
    if (fs::exists(partial, ec)) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create " + partial.string() + ": " + std::strerror(errno);
      return false;
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = dir.string() + " is not a directory";
    return false;
  }
  if (on_bpffs(dir) != 1) {
    error = dir.string() + " is not on a bpffs";
    return false;
  }
  return true;
}

// Use the map pinned at `path` for `map` when there is one. found = false: none.
bool reuse_pinned(bpf_map* map, const std::string& path, bool& found, std::string& error) {
  found = false;
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return true;
    error = sys_error("cannot open the pinned map " + path, errno);
    return false;
  }
  bpf_map_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    error = path + " is not a BPF map (" + std::strerror(errno) + ")";
    ::close(fd);
    return false;
  }
  if (info.type != static_cast<__u32>(bpf_map__type(map)) || info.key_size != bpf_map__key_size(map) ||
      info.value_size != bpf_map__value_size(map) || info.max_entries != bpf_map__max_entries(map)) {
    error = path + " holds a map this build cannot use (key " + std::to_string(info.key_size) +
            " B, value " + std::to_string(info.value_size) + " B, " +
            std::to_string(info.max_entries) + " entries; expected " +
            std::to_string(bpf_map__key_size(map)) + ", " + std::to_string(bpf_map__value_size(map)) +
            ", " + std::to_string(bpf_map__max_entries(map)) +
            "): a guard of another version is pinned there; detach it first";
    ::close(fd);
    return false;
  }
  int err = bpf_map__reuse_fd(map, fd);
  ::close(fd);  // reuse_fd keeps its own duplicate
  if (err != 0) {
    error = sys_error("cannot reuse the pinned map " + path, -err);
    return false;
  }
  found = true;
  return true;
}

bool unlink_pin(const std::string& path, std::string& error) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    error = "cannot remove " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bpf_tc_hook egress_hook(int ifindex) {
  bpf_tc_hook hook{};  // not LIBBPF_OPTS: it is a GNU statement expression
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_EGRESS;
  return hook;
}

bpf_tc_opts guard_opts() {
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = EG_TC_HANDLE;
  opts.priority = EG_TC_PRIORITY;
  return opts;
}

// The id of the program behind `fd`, 0 if unknown.
__u32 prog_id_of(int fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// The name of program `id`; false + errno when it cannot be read (needs CAP_SYS_ADMIN).
bool prog_name(__u32 id, std::string& name, int& err) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) {
    err = errno;
    return false;
  }
  bpf_prog_info info{};
  __u32 len = sizeof info;
  bool ok = bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
  err = errno;
  ::close(fd);
  if (ok) name = info.name;
  return ok;
}

std::string ifname_of(int ifindex) {
  char buf[IF_NAMESIZE] = {};
  return if_indextoname(static_cast<unsigned>(ifindex), buf) ? buf : "ifindex " + std::to_string(ifindex);
}

// The program id of the filter at the guard's handle/priority on `ifindex`'s egress, 0
// when there is none (or no clsact qdisc).
__u32 filter_prog_id(int ifindex) {
  bpf_tc_hook hook = egress_hook(ifindex);
  bpf_tc_opts q = guard_opts();
  if (bpf_tc_query(&hook, &q) != 0) return 0;
  return q.prog_id;
}

// Whether program `id` (a filter's) is a guard: ours (`own_id`, no privilege needed) or
// one named EG_PROG_NAME (a previous process's; reading it needs CAP_SYS_ADMIN). `name`
// gets the program's name when it was read.
// `pinned_id`: the program a previous process pinned (kProgramPin), a guard too, known
// by its id without CAP_SYS_ADMIN (e.g. tandemd re-executed with fewer capabilities).
bool is_guard(__u32 id, __u32 own_id, __u32 pinned_id, const std::string& ifname, bool& guard, std::string& name,
              std::string& error) {
  guard = false;
  if (id == own_id || (pinned_id != 0 && id == pinned_id)) {
    guard = true;
    return true;
  }
  if (int e = 0; !prog_name(id, name, e)) {
    error = ifname + ": cannot identify the program of the tc egress filter (id " + std::to_string(id) +
            "): " + std::strerror(e) + (e == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
    return false;
  }
  guard = name == EG_PROG_NAME;
  return true;
}

bool attach_one(int ifindex, int prog_fd, __u32 own_id, __u32 pinned_id, std::string& error) {
  const std::string name = ifname_of(ifindex);
  bpf_tc_hook hook = egress_hook(ifindex);
  int err = bpf_tc_hook_create(&hook);
  if (err != 0 && err != -EEXIST) {
    error = sys_error("cannot create the clsact qdisc on " + name, -err);
    return false;
  }
  if (__u32 id = filter_prog_id(ifindex); id != 0) {
    bool guard = false;
    std::string other;
    if (!is_guard(id, own_id, pinned_id, name, guard, other, error)) return false;
    if (!guard) {
      error = name + ": the tc egress filter at handle 0x7467 priority 1 is another program ('" +
              other + "', id " + std::to_string(id) + ")";
      return false;
    }
  }
  bpf_tc_opts opts = guard_opts();
  opts.prog_fd = prog_fd;
  opts.flags = BPF_TC_F_REPLACE;
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) {
    error = sys_error("cannot attach the egress guard to " + name, -err);
    return false;
  }
  return true;
}

// Removes the guard's filter from `ifindex` if there is one (`removed` says so). false +
// error on failure.
bool detach_one(int ifindex, __u32 own_id, std::string& error, bool* removed = nullptr) {
  if (removed) *removed = false;
  __u32 id = filter_prog_id(ifindex);
  if (id == 0) return true;
  bool guard = false;
  std::string name;
  if (!is_guard(id, own_id, 0, ifname_of(ifindex), guard, name, error)) return false;
  if (!guard) return true;
  bpf_tc_hook hook = egress_hook(ifindex);
  bpf_tc_opts opts = guard_opts();
  int err = bpf_tc_detach(&hook, &opts);
  if (err != 0 && err != -ENOENT) {
    error = sys_error("cannot remove the egress guard from " + ifname_of(ifindex), -err);
    return false;
  }
  if (removed) *removed = err == 0;
  return true;
}

bool fill_side(const session::TcpEndpoint& e, uint8_t& family, uint8_t (&addr)[16]) {
  std::memset(addr, 0, sizeof addr);
  if (e.family == AF_INET) {
    family = EG_FAMILY_IPV4;
    std::memcpy(addr, e.addr.data(), 4);
    return true;
  }
  if (e.family != AF_INET6) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(e.addr.data(), kMapped, sizeof kMapped) == 0) {
    family = EG_FAMILY_IPV4;  // a v4-mapped socket sends IPv4 packets
    std::memcpy(addr, e.addr.data() + 12, 4);
    return true;
  }
  family = EG_FAMILY_IPV6;
  std::memcpy(addr, e.addr.data(), 16);
  return true;
}

bool make_key(const session::TcpEndpoint& local, const session::TcpEndpoint& remote, eg_key& key,
              std::string& error) {
  std::memset(&key, 0, sizeof key);
  uint8_t lf = 0, rf = 0;
  if (!fill_side(local, lf, key.local_addr) || !fill_side(remote, rf, key.remote_addr)) {
    error = "not an IPv4/IPv6 endpoint: " + describe(local) + " -> " + describe(remote);
    return false;
  }
  if (lf != rf) {
    error = "local and remote address families differ: " + describe(local) + " -> " + describe(remote);
    return false;
  }
  if (local.port == 0 || remote.port == 0) {
    error = "port 0 in " + describe(local) + " -> " + describe(remote);
    return false;
  }
  key.family = lf;
  key.local_port = htons(local.port);
  key.remote_port = htons(remote.port);
  return true;
}

session::TcpEndpoint endpoint_of(uint8_t family, const uint8_t (&addr)[16], uint16_t port_be) {
  session::TcpEndpoint e;
  e.family = family == EG_FAMILY_IPV4 ? AF_INET : AF_INET6;
  std::memcpy(e.addr.data(), addr, family == EG_FAMILY_IPV4 ? 4 : 16);
  e.port = ntohs(port_be);
  return e;
}

std::vector<eg_key> all_keys(int fd) {
  std::vector<eg_key> keys;
  eg_key cur{}, next{};
  const void* prev = nullptr;
  // Bounded: a concurrent delete makes the walk restart from the first key.
  while (keys.size() < 2 * size_t{EG_MAX_TUPLES} && bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    cur = next;
    prev = &cur;
  }
  return keys;
}

}  // namespace

std::unique_ptr<EgressGuard> EgressGuard::open(const std::vector<std::string>& interfaces,
                                               const std::string& pin_dir, std::string& error) {
  healthbpf::route_libbpf_log();
  std::vector<int> ifindexes;
  for (const std::string& name : interfaces) {
    unsigned idx = if_nametoindex(name.c_str());
    if (idx == 0) {
      error = "no interface '" + name + "'";
      return nullptr;
    }
    if (int type = link_type(name); type != ARPHRD_ETHER) {
      error = "interface '" + name + "' is not an Ethernet interface (link type " +
              std::to_string(type) + "): the guard parses Ethernet frames";
      return nullptr;
    }
    if (std::find(ifindexes.begin(), ifindexes.end(), int(idx)) == ifindexes.end())
      ifindexes.push_back(static_cast<int>(idx));
  }
  if (!prepare_pin_dir(pin_dir, error)) return nullptr;
  const std::string dir = clean_dir(pin_dir).string();
  auto pin = [&](const char* file) { return (fs::path(dir) / file).string(); };

  egress_guard_bpf* skel = egress_guard_bpf__open();
  if (!skel) {
    error = sys_error("cannot open the egress guard's BPF object", errno);
    return nullptr;
  }
  std::unique_ptr<EgressGuard> guard(new EgressGuard(skel, dir, false));
  bool tuples_found = false, counters_found = false;
  if (!reuse_pinned(skel->maps.tuples, pin(kTuplesPin), tuples_found, error) ||
      !reuse_pinned(skel->maps.counters, pin(kCountersPin), counters_found, error)) {
    ::rmdir(dir.c_str());  // only if empty (e.g. this call created it)
    return nullptr;
  }
  guard->reused_ = tuples_found;
  if (int err = egress_guard_bpf__load(skel); err != 0) {
    if (!fs::exists("/sys/kernel/btf/vmlinux"))
      error = "kernel has no BTF (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF)";
    else if (err == -EPERM)
      error = sys_error("cannot load the egress guard program", -err);
    else if (err == -EACCES)  // the verifier: with CAP_BPF alone it refuses more than as root
      error = "cannot load the egress guard program: the verifier refused it (debug logs show its messages)";
    else
      error = sys_error("cannot load the egress guard program", -err) +
              " (debug logs show libbpf's and the verifier's messages)";
    ::rmdir(dir.c_str());
    return nullptr;
  }

  // Undo what this call did, unless it took over a previous guard (never weaken that).
  // Only what this call pinned is removed (a concurrent open() may have pinned its own).
  std::vector<int> attached;
  std::vector<std::string> pinned;
  auto fail = [&]() -> std::unique_ptr<EgressGuard> {
    if (!guard->reused_) {
      std::string ignored;
      for (int idx : attached) detach_one(idx, guard->prog_id_, ignored);
      for (const std::string& path : pinned) unlink_pin(path, ignored);
      ::rmdir(dir.c_str());  // only if empty
    }
    return nullptr;
  };
  if (!tuples_found) {
    if (int err = bpf_map__pin(skel->maps.tuples, pin(kTuplesPin).c_str()); err != 0) {
      error = sys_error("cannot pin the tuple map at " + pin(kTuplesPin), -err);
      return fail();
    }
    pinned.push_back(pin(kTuplesPin));
  }
  if (!counters_found) {
    if (int err = bpf_map__pin(skel->maps.counters, pin(kCountersPin).c_str()); err != 0) {
      error = sys_error("cannot pin the counters at " + pin(kCountersPin), -err);
      return fail();
    }
    pinned.push_back(pin(kCountersPin));
  }
  const int prog_fd = bpf_program__fd(skel->progs.tandem_guard);
  guard->prog_id_ = prog_id_of(prog_fd);
  __u32 pinned_id = 0;
  if (int old_fd = bpf_obj_get(pin(kProgramPin).c_str()); old_fd >= 0) {
    pinned_id = prog_id_of(old_fd);
    ::close(old_fd);
  }
  for (int idx : ifindexes) {
    if (!attach_one(idx, prog_fd, guard->prog_id_, pinned_id, error)) return fail();
    attached.push_back(idx);
  }
  // The program pin shows the latest program (the filters hold theirs anyway).
  if (!unlink_pin(pin(kProgramPin), error)) return fail();
  if (int err = bpf_program__pin(skel->progs.tandem_guard, pin(kProgramPin).c_str()); err != 0) {
    error = sys_error("cannot pin the program at " + pin(kProgramPin), -err);
    return fail();
  }
  spdlog::info("egress guard: attached to {} interface(s), map {} ({})", ifindexes.size(),
               pin(kTuplesPin), guard->reused_ ? "reused" : "new");
  return guard;
}

EgressGuard::~EgressGuard() { egress_guard_bpf__destroy(skel_); }

int EgressGuard::tuples_fd() const { return bpf_map__fd(skel_->maps.tuples); }
int EgressGuard::counters_fd() const { return bpf_map__fd(skel_->maps.counters); }

bool EgressGuard::key_for(const session::TcpEndpoint& local, const session::TcpEndpoint& remote, eg_key& key,
                          std::string& error) const {
  if (detached_) {
    error = "the egress guard was detached";
    return false;
  }
  return make_key(local, remote, key, error);
}

bool EgressGuard::protect(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
                          std::string& error) {
  eg_key key;
  if (!key_for(local, remote, key, error)) return false;
  const eg_value zero{};
  int err = bpf_map_update_elem(tuples_fd(), &key, &zero, BPF_NOEXIST);
  if (err == 0 || err == -EEXIST) return true;  // already protected: keep its counts
  if (err == -E2BIG) {
    error = "the egress guard's table is full (" + std::to_string(kMaxTuples) +
            " connections): cannot protect " + describe(local) + " -> " + describe(remote);
    return false;
  }
  error = sys_error("cannot protect " + describe(local) + " -> " + describe(remote), -err);
  return false;
}

bool EgressGuard::unprotect(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
                            std::string& error) {
  eg_key key;
  if (!key_for(local, remote, key, error)) return false;
  bpf_map_delete_elem(holds_fd(), &key);  // released with it
  bpf_map_delete_elem(ack_states_fd(), &key);
  int err = bpf_map_delete_elem(tuples_fd(), &key);
  if (err == 0 || err == -ENOENT) return true;
  error = sys_error("cannot unprotect " + describe(local) + " -> " + describe(remote), -err);
  return false;
}

std::vector<std::pair<session::TcpEndpoint, session::TcpEndpoint>> EgressGuard::protected_tuples() const {
  std::vector<std::pair<session::TcpEndpoint, session::TcpEndpoint>> out;
  if (detached_) return out;
  std::vector<eg_key> keys = all_keys(tuples_fd());
  for (const eg_key& k : keys) {
    auto pair = std::make_pair(endpoint_of(k.family, k.local_addr, k.local_port),
                               endpoint_of(k.family, k.remote_addr, k.remote_port));
    if (std::find(out.begin(), out.end(), pair) == out.end()) out.push_back(pair);
  }
  return out;
}

void EgressGuard::clear() {
  if (detached_) return;
  for (int pass = 0; pass < 4; ++pass) {
    std::vector<eg_key> keys = all_keys(tuples_fd());
    if (keys.empty()) return;
    for (const eg_key& k : keys) {
      bpf_map_delete_elem(holds_fd(), &k);
      bpf_map_delete_elem(ack_states_fd(), &k);
      bpf_map_delete_elem(tuples_fd(), &k);
    }
  }
}

bool EgressGuard::detach(std::string& error) {
  struct if_nameindex* ifs = if_nameindex();
  if (!ifs) {
    error = std::string("cannot list the interfaces: ") + std::strerror(errno);
    return false;
  }
  bool ok = true;
  std::vector<std::string> from;
  for (struct if_nameindex* i = ifs; i->if_index != 0; ++i) {
    std::string e;
    bool removed = false;
    if (!detach_one(static_cast<int>(i->if_index), prog_id_, e, &removed)) {
      if (ok) error = e;
      ok = false;
    }
    if (removed) from.emplace_back(i->if_name);
  }
  if_freenameindex(ifs);
  if (!ok) return false;  // keep the pins: a later detach() can still find the guard
  for (const char* file : {kTuplesPin, kCountersPin, kProgramPin}) {
    std::string e;
    if (!unlink_pin((fs::path(pin_dir_) / file).string(), e)) {
      if (ok) error = e;
      ok = false;
    }
  }
  if (!ok) return false;
  ::rmdir(pin_dir_.c_str());  // only if empty: other pins may live there
  if (!detached_ || !from.empty()) {
    std::string names;
    for (const std::string& n : from) names += (names.empty() ? " (" : ", ") + n;
    if (!names.empty()) names += ")";
    spdlog::info("egress guard: detached from {} interface(s){}, pins under {} removed", from.size(),
                 names, pin_dir_);
  }
  detached_ = true;
  return true;
}

EgressGuard::Counters EgressGuard::counters() const {
  Counters c;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return c;
  std::vector<__u64> per_cpu(static_cast<size_t>(ncpus));
  auto sum = [&](__u32 which) {
    uint64_t total = 0;
    if (bpf_map_lookup_elem(counters_fd(), &which, per_cpu.data()) == 0)
      for (__u64 v : per_cpu) total += v;
    return total;
  };
  c.seen = sum(EG_CNT_SEEN);
  c.fin_dropped = sum(EG_CNT_FIN_DROPPED);
  c.rst_dropped = sum(EG_CNT_RST_DROPPED);
  return c;
}

}  // namespace tandem::replicator::guard
