// The user-space fallback receive path: a UDP socket on port 3784 that reads each
// BFD control packet with its TTL / hop limit (IP_RECVTTL / IPV6_RECVHOPLIMIT) and
// feeds the SAME table logic as the XDP program (SoftTable). Used when the BPF
// program cannot be loaded, or when configured off.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "healthbpf/health_source.hpp"
#include "healthbpf/soft_table.hpp"

namespace tandem::healthbpf {

struct UdpReceiverOptions {
  std::string bind_address = "::";  // "::" = dual stack; or one local address
  uint16_t port = HB_BFD_PORT;
  std::string device;                // SO_BINDTODEVICE when non-empty
  // The socket's receive buffer. The kernel default (~208 KiB) holds about 3 ms of
  // heartbeats at 1,000 sessions x 10 ms (bench/heartbeat lost tens of thousands per
  // 10 s to it); SO_RCVBUFFORCE when privileged, else SO_RCVBUF (capped by rmem_max).
  uint32_t receive_buffer_bytes = 8u << 20;
  // At most this many datagrams per process() call, so that a flood cannot hold the
  // event loop (the socket stays readable: the rest comes at the next turn).
  size_t max_per_call = 4096;
};

class UdpReceiver : public HealthSource {
 public:
  // nullptr and `error` set when the socket cannot be made.
  static std::unique_ptr<UdpReceiver> open(const UdpReceiverOptions& options, std::string& error);
  ~UdpReceiver() override;
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  std::string path() const override { return "user-space"; }
  hb_slot slot(uint32_t index) const override { return table_.slot(index); }
  void set_local_min_rx(uint32_t index, uint32_t us) override { table_.set_local_min_rx(index, us); }
  void release(uint32_t index) override { table_.release(index); }
  int fd() const override { return fd_; }
  size_t process(uint64_t now_ns, const std::function<void(const hb_event&)>& on_event) override;
  // Also "now" when the last process() stopped at max_per_call with datagrams left:
  // the owner's readiness wait may be edge-triggered (Asio's epoll) and would not wake
  // for datagrams already queued.
  std::optional<uint64_t> next_deadline() const override {
    return more_ ? std::optional<uint64_t>(monotonic_ns()) : table_.next_deadline();
  }
  Counters counters() const override { return table_.counters(); }

 private:
  explicit UdpReceiver(int fd) : fd_(fd) {}
  int fd_;
  size_t max_per_call_ = 4096;
  bool more_ = false;  // the last process() stopped at max_per_call_
  SoftTable table_;
  std::vector<hb_event> pending_;
};

}  // namespace tandem::healthbpf
