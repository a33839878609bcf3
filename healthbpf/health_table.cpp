#include "healthbpf/health_table.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tandem::healthbpf {

namespace {

// The whole of an mmap-able BPF array of `entries` values of `size` bytes.
void* map_array(int fd, size_t size, size_t& mapped, const char* what, std::string& error) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  mapped = (size * HB_TABLE_SLOTS + page - 1) / page * page;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p != MAP_FAILED) return p;
  error = std::string("mmap of the ") + what + " map: " + std::strerror(errno);
  mapped = 0;
  return nullptr;
}

}  // namespace

std::unique_ptr<XdpTable> XdpTable::open(int health_fd, int events_fd, int counters_fd, int replies_fd,
                                         __u64* lease, std::string path, std::string& error) {
  std::unique_ptr<XdpTable> t(new XdpTable());
  t->slots_ = static_cast<hb_slot*>(map_array(health_fd, sizeof(hb_slot), t->mapped_, "health", error));
  if (!t->slots_) return nullptr;
  t->replies_ = static_cast<hb_reply*>(map_array(replies_fd, sizeof(hb_reply), t->replies_mapped_, "replies", error));
  if (!t->replies_) return nullptr;
  t->lease_ = lease;
  t->ring_ = ring_buffer__new(events_fd, &XdpTable::on_ring_record, t.get(), nullptr);
  if (!t->ring_) {
    error = std::string("ring buffer: ") + std::strerror(errno);
    return nullptr;
  }
  t->counters_fd_ = counters_fd;
  t->path_ = std::move(path);
  return t;
}

XdpTable::~XdpTable() {
  if (lease_) renew_lease(0);
  if (replies_) {
    for (uint32_t i = 0; i < HB_TABLE_SLOTS; ++i) disarm_reply(i);
    munmap(replies_, replies_mapped_);
  }
  if (ring_) ring_buffer__free(ring_);
  if (slots_) munmap(slots_, mapped_);
}

hb_slot XdpTable::slot(uint32_t index) const {
  // The kernel writes concurrently; a torn copy is possible but each field is
  // naturally aligned, and the fields that matter are re-read at the next event.
  hb_slot copy;
  std::memcpy(&copy, &slots_[index & (HB_TABLE_SLOTS - 1)], sizeof copy);
  return copy;
}

void XdpTable::set_local_min_rx(uint32_t index, uint32_t us) {
  std::atomic_ref<uint32_t>(slots_[index & (HB_TABLE_SLOTS - 1)].local_min_rx_us)
      .store(us, std::memory_order_relaxed);
}

void XdpTable::release(uint32_t index) {
  disarm_reply(index);
  hb_slot& s = slots_[index & (HB_TABLE_SLOTS - 1)];
  std::atomic_ref<uint32_t>(s.local_min_rx_us).store(0, std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(s.key.kind).store(HB_KEY_FREE, std::memory_order_release);
  // The rest is reset by the program when it claims the slot again; clear it for
  // readers anyway.
  s.packets = 0;
  s.status = 0;
}

void XdpTable::arm_reply(uint32_t index, const KernelReply& reply) {
  hb_reply& r = replies_[index & (HB_TABLE_SLOTS - 1)];
  // Sequence count: odd while we write, so that the program never sends a mix of the
  // old and the new packet.
  std::atomic_ref<uint32_t> seq(r.seq);
  const uint32_t s = seq.load(std::memory_order_relaxed) | 1u;
  seq.store(s, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::memcpy(r.packet, reply.packet.data(), HB_REPLY_PACKET);
  r.source_port = htons(reply.source_port);
  r.min_gap_ns = reply.min_gap_ns;
  std::atomic_ref<__u64>(r.last_tx_ns).store(reply.last_tx_ns, std::memory_order_relaxed);
  std::atomic_ref<__u64>(r.sent).store(0, std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(r.armed).store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  seq.store(s + 1, std::memory_order_release);
}

KernelReplyCounts XdpTable::disarm_reply(uint32_t index) {
  hb_reply& r = replies_[index & (HB_TABLE_SLOTS - 1)];
  std::atomic_ref<uint32_t>(r.armed).store(0, std::memory_order_seq_cst);
  return reply_counts(index);
}

KernelReplyCounts XdpTable::reply_counts(uint32_t index) const {
  hb_reply& r = replies_[index & (HB_TABLE_SLOTS - 1)];
  return {std::atomic_ref<__u64>(r.sent).load(std::memory_order_relaxed),
          std::atomic_ref<__u64>(r.last_tx_ns).load(std::memory_order_relaxed)};
}

void XdpTable::renew_lease(uint64_t until_ns) {
  std::atomic_ref<__u64>(*lease_).store(until_ns, std::memory_order_release);
}

int XdpTable::fd() const { return ring_buffer__epoll_fd(ring_); }

int XdpTable::on_ring_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<XdpTable*>(ctx);
  if (size < sizeof(hb_event) || !self->sink_) return 0;
  hb_event e;
  std::memcpy(&e, data, sizeof e);
  (*self->sink_)(e);
  return 0;
}

size_t XdpTable::process(uint64_t, const std::function<void(const hb_event&)>& on_event) {
  sink_ = &on_event;
  int n = ring_buffer__consume(ring_);
  sink_ = nullptr;
  return n > 0 ? static_cast<size_t>(n) : 0;
}

Counters XdpTable::counters() const {
  Counters c;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return c;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  for (uint32_t k = 0; k < HB_CNT_MAX; ++k) {
    if (bpf_map_lookup_elem(counters_fd_, &k, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) c.values[k] += v;
  }
  return c;
}

}  // namespace tandem::healthbpf
