#include "healthbpf/loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>

#include "healthbpf/libbpf_log.hpp"
#include "healthbpf/health_table.hpp"
#include "heartbeat.skel.h"

namespace tandem::healthbpf {

const char* to_string(XdpMode m) { return m == XdpMode::Native ? "xdp-native" : "xdp-generic"; }

namespace {

std::string load_error(int err) {
  if (!std::filesystem::exists("/sys/kernel/btf/vmlinux"))
    return "kernel has no BTF (/sys/kernel/btf/vmlinux missing; needs CONFIG_DEBUG_INFO_BTF)";
  // EACCES is also the verifier's refusal: only a non-root caller lacks the privilege.
  if (err == EPERM || (err == EACCES && ::geteuid() != 0))
    return std::string("no privilege to load BPF (") + std::strerror(err) +
           "; needs root or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON)";
  return std::string("cannot load the XDP heartbeat program: ") + std::strerror(err) +
         " (run with debug logs for the libbpf/verifier output)";
}

// The driver name of an interface (SIOCETHTOOL, ETHTOOL_GDRVINFO); empty if unknown.
std::string driver_of(const std::string& ifname) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  int rc = ::ioctl(fd, SIOCETHTOOL, &ifr);
  ::close(fd);
  return rc == 0 ? std::string(info.driver, strnlen(info.driver, sizeof info.driver)) : "";
}

}  // namespace

std::unique_ptr<Loader> Loader::open(std::string& error) {
  route_libbpf_log();
  heartbeat_bpf* skel = heartbeat_bpf__open();
  if (!skel) {
    error = load_error(errno);
    return nullptr;
  }
  if (int err = heartbeat_bpf__load(skel); err != 0) {
    error = load_error(-err);
    heartbeat_bpf__destroy(skel);
    return nullptr;
  }
  return std::unique_ptr<Loader>(new Loader(skel));
}

Loader::~Loader() {
  for (int fd : links_) ::close(fd);  // closing a link detaches it
  heartbeat_bpf__destroy(skel_);
}

bool Loader::attach(const std::string& ifname, std::string& error, bool generic_only) {
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    error = "no interface '" + ifname + "'";
    return false;
  }
  int prog = bpf_program__fd(skel_->progs.hb_xdp);
  int native_err = 0;
  for (XdpMode mode : {XdpMode::Native, XdpMode::Generic}) {
    if (mode == XdpMode::Native && generic_only) continue;
    bpf_link_create_opts opts{};  // not LIBBPF_OPTS: it is a GNU statement expression
    opts.sz = sizeof(opts);
    opts.flags = mode == XdpMode::Native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    int fd = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &opts);
    if (fd < 0) {
      int err = errno;
      if (mode == XdpMode::Native) {
        native_err = err;
        continue;  // driver without native XDP: fall back to generic
      }
      error = "cannot attach XDP to " + ifname + ": native: " + std::strerror(native_err) +
              ", generic: " + std::strerror(err);
      return false;
    }
    links_.push_back(fd);
    attachments_.push_back({ifname, static_cast<int>(ifindex), mode, driver_of(ifname)});
    spdlog::info("healthbpf: XDP heartbeat program attached to {} ({})", ifname, to_string(mode));
    return true;
  }
  error = "unreachable";
  return false;
}

void Loader::detach(const std::string& ifname) {
  for (size_t i = 0; i < attachments_.size(); ++i) {
    if (attachments_[i].ifname != ifname) continue;
    ::close(links_[i]);
    links_.erase(links_.begin() + static_cast<long>(i));
    attachments_.erase(attachments_.begin() + static_cast<long>(i));
    return;
  }
}

int Loader::health_map_fd() const { return bpf_map__fd(skel_->maps.health); }
int Loader::events_map_fd() const { return bpf_map__fd(skel_->maps.events); }
int Loader::counters_map_fd() const { return bpf_map__fd(skel_->maps.counters); }

std::unique_ptr<HealthSource> Loader::table(std::string& error) {
  std::string path = attachments_.empty() ? "xdp-native" : to_string(attachments_.front().mode);
  for (const Attachment& a : attachments_)
    if (a.mode == XdpMode::Generic) path = to_string(XdpMode::Generic);
  return XdpTable::open(health_map_fd(), events_map_fd(), counters_map_fd(), bpf_map__fd(skel_->maps.replies),
                        &skel_->bss->hb_lease_until_ns, path, error);
}

}  // namespace tandem::healthbpf
