// The XDP path's health table, read from user space: slots through an mmap of the
// BPF array map (no system call per read), events from the BPF ring buffer, counters
// from the per-CPU counter map. Detection expiry arrives as HB_EV_EXPIRED events
// from the program's bpf_timer callbacks, so next_deadline() is always empty. Kernel
// replies are armed through an mmap of the replies map, under its sequence count.
#pragma once

#include <memory>
#include <string>

#include "healthbpf/health_source.hpp"

struct ring_buffer;

namespace tandem::healthbpf {

class XdpTable : public HealthSource {
 public:
  // Map fds stay owned by the caller (the Loader) and must outlive the table.
  // `lease` is the program's hb_lease_until_ns (its mmap-ed .bss, owned by the Loader).
  static std::unique_ptr<XdpTable> open(int health_fd, int events_fd, int counters_fd, int replies_fd,
                                        __u64* lease, std::string path, std::string& error);
  ~XdpTable() override;
  XdpTable(const XdpTable&) = delete;
  XdpTable& operator=(const XdpTable&) = delete;

  std::string path() const override { return path_; }
  hb_slot slot(uint32_t index) const override;
  void set_local_min_rx(uint32_t index, uint32_t us) override;
  void release(uint32_t index) override;
  int fd() const override;
  size_t process(uint64_t now_ns, const std::function<void(const hb_event&)>& on_event) override;
  std::optional<uint64_t> next_deadline() const override { return std::nullopt; }
  Counters counters() const override;
  bool can_reply() const override { return true; }
  void arm_reply(uint32_t index, const KernelReply& reply) override;
  KernelReplyCounts disarm_reply(uint32_t index) override;
  KernelReplyCounts reply_counts(uint32_t index) const override;
  void renew_lease(uint64_t until_ns) override;

 private:
  XdpTable() = default;
  static int on_ring_record(void* ctx, void* data, size_t size);

  hb_slot* slots_ = nullptr;  // mmap of the health map
  size_t mapped_ = 0;
  hb_reply* replies_ = nullptr;  // mmap of the replies map
  size_t replies_mapped_ = 0;
  __u64* lease_ = nullptr;
  ring_buffer* ring_ = nullptr;
  int counters_fd_ = -1;
  std::string path_;
  const std::function<void(const hb_event&)>* sink_ = nullptr;  // during process()
};

}  // namespace tandem::healthbpf
