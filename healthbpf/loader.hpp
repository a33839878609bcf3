// Loads heartbeat.bpf.o (through its bpftool-generated skeleton, libbpf) and attaches
// the XDP program to interfaces: native (driver) mode where the driver supports it,
// generic (SKB) mode otherwise. Attachments are BPF links: destroying the Loader, or
// the process dying, detaches them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "healthbpf/health_source.hpp"

struct heartbeat_bpf;  // the skeleton (heartbeat.skel.h, build directory)

namespace tandem::healthbpf {

enum class XdpMode { Native, Generic };
const char* to_string(XdpMode m);

struct Attachment {
  std::string ifname;
  int ifindex = 0;
  XdpMode mode = XdpMode::Native;
  std::string driver;  // the interface's driver (ethtool), e.g. "veth"; empty if unknown
};

class Loader {
 public:
  // Opens and loads the program; nullptr and a clear `error` (no privilege, no BTF,
  // verifier refusal...) when it cannot.
  static std::unique_ptr<Loader> open(std::string& error);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Attach to `ifname`; `generic_only` skips the native attempt. False + `error`.
  bool attach(const std::string& ifname, std::string& error, bool generic_only = false);
  void detach(const std::string& ifname);
  const std::vector<Attachment>& attachments() const { return attachments_; }

  // The health table over this program's maps (valid while the Loader lives).
  std::unique_ptr<HealthSource> table(std::string& error);

  int health_map_fd() const;
  int events_map_fd() const;
  int counters_map_fd() const;

 private:
  explicit Loader(heartbeat_bpf* skel) : skel_(skel) {}
  heartbeat_bpf* skel_;
  std::vector<Attachment> attachments_;
  std::vector<int> links_;  // BPF link fds, parallel to attachments_
};

}  // namespace tandem::healthbpf
