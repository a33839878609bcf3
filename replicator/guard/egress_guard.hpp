// The crash guard (DESIGN §4): when the primary tandemd dies (SIGKILL, crash), its kernel
// closes the BGP sockets and sends FIN or RST before the standby has taken the sessions
// over, and the peers drop them. A tc egress BPF program (bpf/egress_guard.bpf.c) drops
// outgoing TCP segments with FIN or RST whose 4-tuple is protected here; the daemon
// protects a session when it is replicated and unprotects it before any deliberate close.
// The tc filter and the pinned map outlive the process; the next tandemd reopens them.
// Limits: only FIN/RST segments are dropped (data, ACKs, keepalives pass; a segment that
// carries data AND a FIN is dropped whole). A dead process's orphaned socket keeps
// retransmitting its FIN (and the kernel answers the peer's later segments with RST) until
// it gives up; each is dropped and counted. ARP/ND for the VIP is not covered. Not seen:
// IPv6 with extension headers before TCP; a tcx (bpf_link) program that ends egress first.
//
// Privileges: open() needs CAP_BPF + CAP_NET_ADMIN, and CAP_SYS_ADMIN to recognise a filter
// another process left (and to mount /sys/fs/bpf if it is not a bpffs); detach() needs
// CAP_NET_ADMIN (+ CAP_SYS_ADMIN for filters this object did not attach). protect,
// unprotect, protected_tuples, clear and counters work on the descriptors this object
// holds without capabilities (kernel >= 6.5; older kernels with unprivileged_bpf_disabled
// want CAP_BPF). Interfaces are resolved in the calling thread's network namespace.
// Not thread-safe: one owner.
// Nothing throws; failures return false / nullptr with the reason in `error`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bgpd/session/tcp_repair.hpp"  // session::TcpEndpoint (fields and == only)

struct egress_guard_bpf;  // the skeleton (egress_guard.skel.h, build directory)
struct eg_key;            // the table's key (bpf/egress_guard_abi.h)

namespace tandem::replicator::guard {

class EgressGuard {
 public:
  static constexpr const char* kDefaultPinDir = "/sys/fs/bpf/tandem";
  // Files under the pin directory.
  static constexpr const char* kTuplesPin = "egress_guard_tuples";
  static constexpr const char* kCountersPin = "egress_guard_counters";
  static constexpr const char* kProgramPin = "egress_guard_prog";
  // Capacity of the tuple map (EG_MAX_TUPLES in bpf/egress_guard_abi.h); protect() fails
  // beyond it.
  static constexpr uint32_t kMaxTuples = 4096;

  // Loads the program and attaches it to each (Ethernet) interface's egress (a clsact qdisc is
  // created if needed; an existing guard filter there is replaced atomically by this
  // build's program). The tuple map and the counters are pinned under `pin_dir`; when a
  // previous process left them there, they are reused with their tuples (reused()).
  // `pin_dir` must be on a bpffs; if it is under /sys/fs/bpf and that is not a bpffs, one
  // is mounted there. Interfaces may be empty (only open the map, e.g. to list or detach).
  // Guard filters on other interfaces (left by a previous process) stay attached.
  // On failure, what this call attached or pinned is undone, unless it reused a previous
  // guard: that one is never weakened by a failed open().
  static std::unique_ptr<EgressGuard> open(const std::vector<std::string>& interfaces,
                                           const std::string& pin_dir, std::string& error);
  ~EgressGuard();  // closes descriptors only: filters and pins stay (that is the point)
  EgressGuard(const EgressGuard&) = delete;
  EgressGuard& operator=(const EgressGuard&) = delete;

  // Protect one connection (local = this host's end). Both endpoints of one family; an
  // IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as IPv4 (that is what goes on
  // the wire); scope_id is ignored. Protecting a protected tuple again is a no-op (its
  // drop counts are kept). A full map (kMaxTuples) is an error.
  bool protect(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
               std::string& error);
  // Remove one connection; true when it is not protected afterwards (also if it was not).
  bool unprotect(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
                 std::string& error);
  // (local, remote) of every protected connection, in map order; families as stored.
  std::vector<std::pair<session::TcpEndpoint, session::TcpEndpoint>> protected_tuples() const;
  void clear();  // remove every tuple (the program stays attached)

  // Remove the guard's tc filter from every interface of this network namespace (the
  // clsact qdisc stays) and the pins (and pin_dir if it is then empty). The object is
  // unusable afterwards (protect() fails).
  bool detach(std::string& error);

  // ---- the ACK hold (ack_hold.cpp, docs/ha.md "The ACK hold") ----
  // While a protected connection is held, none of its segments leaves acknowledging the
  // peer's bytes beyond `ack_limit` (a TCP sequence number: what the standby holds): the
  // program rewrites a later acknowledgment down to it and raises the window field so
  // that the advertised right edge stays (`rcv_wscale`: this end's window scale). Calling
  // it again moves the limit. A TCP-MD5 connection (`md5`: a rewrite would break the
  // signature): a bare ACK beyond the limit is dropped, to be sent signed by the caller
  // (owed_ack), and a segment with data leaves unchanged, its acknowledgment with it.
  // Not kept across processes: the next open() attaches a program of its own.
  bool hold_acks(const session::TcpEndpoint& local, const session::TcpEndpoint& remote, uint32_t ack_limit,
                 uint8_t rcv_wscale, bool md5, std::string& error);
  // Stop holding; true when not held afterwards (also if it was not). unprotect() and
  // clear() release too.
  bool release_acks(const session::TcpEndpoint& local, const session::TcpEndpoint& remote, std::string& error);
  // What the kernel last sent on a held connection (nullopt: nothing seen yet, or not held).
  struct AckState {
    uint32_t snd_nxt = 0, ack_real = 0, ack_out = 0;
    uint16_t win_raw = 0;
    bool has_ts = false;
    uint32_t ts_val = 0, ts_ecr = 0;  // host order
    uint64_t clamped = 0;             // acknowledgments rewritten so far
    uint64_t duplicates = 0;          // rewritten bare ACKs dropped as duplicates of the last
  };
  std::optional<AckState> ack_state(const session::TcpEndpoint& local, const session::TcpEndpoint& remote) const;
  // The acknowledgment the kernel would have sent and the hold kept back, now that the
  // limit is `limit`, ready for session::send_ack (marked so the program does not take it
  // for the kernel's; the caller adds a TCP-MD5 key): nullopt when nothing is owed (the
  // last one that left acknowledged all the kernel had, or the limit did not pass it). A
  // kernel that sent its ACK sends no other until more data arrives: without this one the
  // peer waits for its retransmission timer.
  static std::optional<session::AckSegment> owed_ack(const AckState& state, uint32_t limit, uint8_t rcv_wscale);

  // Since the counters were first pinned (they survive processes): TCP segments of
  // protected tuples seen on egress, and those dropped for FIN / RST.
  struct Counters {
    uint64_t seen = 0, fin_dropped = 0, rst_dropped = 0;
  };
  Counters counters() const;

  bool reused() const { return reused_; }  // open() found a previous guard's pinned map
  const std::string& pin_dir() const { return pin_dir_; }

 private:
  EgressGuard(egress_guard_bpf* skel, std::string pin_dir, bool reused)
      : skel_(skel), pin_dir_(std::move(pin_dir)), reused_(reused) {}
  int tuples_fd() const;
  int counters_fd() const;
  int holds_fd() const;
  int ack_states_fd() const;
  // The table key of a connection; false + error when detached or not a valid pair.
  bool key_for(const session::TcpEndpoint& local, const session::TcpEndpoint& remote, eg_key& key,
               std::string& error) const;

  egress_guard_bpf* skel_;
  uint32_t prog_id_ = 0;  // this object's program (its filters are recognised without CAP_SYS_ADMIN)
  std::string pin_dir_;
  bool reused_ = false;
  bool detached_ = false;
};

}  // namespace tandem::replicator::guard
