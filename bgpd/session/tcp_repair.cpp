#include "bgpd/session/tcp_repair.hpp"


#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <random>

#include "bgpd/session/sockopt.hpp"
#include "bgpd/session/tcp_md5_sign.hpp"
#include "bgpd/session/tcp_state.hpp"

namespace tandem::session {
namespace {

// TCP option kinds for TCP_REPAIR_OPTIONS (not from <netinet/tcp.h>: clashes with
// <linux/tcp.h>).
constexpr uint32_t kOptMss = 2, kOptWindow = 3, kOptSackPerm = 4, kOptTimestamp = 8;
constexpr uint8_t kFlagRst = 0x04, kFlagAck = 0x10;

using sockopt::errno_text;
using sockopt::get_tcp_u32;
using sockopt::ioctl_u32;
using sockopt::repair_off;
using sockopt::set_tcp;

bool get_sol_u32(int fd, int opt, uint32_t& out, const char* what, std::string& error) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0) {
    error = errno_text(what);
    return false;
  }
  out = static_cast<uint32_t>(v);
  return true;
}

bool tcp_state(int fd, uint8_t& state, std::string& error) {
  // A buffer larger than any struct tcp_info: the kernel copies min(len, its size).
  alignas(8) unsigned char raw[512] = {};
  socklen_t len = sizeof raw;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw, &len) != 0) {
    error = errno_text("TCP_INFO");
    return false;
  }
  state = raw[offsetof(struct tcp_info, tcpi_state)];
  return true;
}

bool repair_on(int fd, std::string& error) {
  const int on = TCP_REPAIR_ON;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0) return true;
  error = errno == EPERM ? "TCP_REPAIR: not permitted (needs CAP_NET_ADMIN)" : errno_text("TCP_REPAIR");
  return false;
}

// Peek `want` bytes of the selected repair queue. Returns the count or -1 (errno set).
ssize_t peek(int fd, std::vector<uint8_t>& buf, uint32_t want) {
  buf.resize(want);
  if (want == 0) return 0;
  return ::recv(fd, buf.data(), want, MSG_PEEK | MSG_DONTWAIT);
}

// What the socket has not sent yet and what it really put on the wire so far.
struct XmitCounters {
  uint32_t unsent = 0;       // SIOCOUTQNSD
  uint64_t new_bytes = 0;    // tcpi_bytes_sent - tcpi_bytes_retrans (transmitted data, once each)
};

bool read_xmit(int fd, XmitCounters& c, std::string& error) {
  struct tcp_info ti{};
  socklen_t len = sizeof ti;
  if (!ioctl_u32(fd, SIOCOUTQNSD, c.unsent, "SIOCOUTQNSD", error)) return false;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
    error = errno_text("TCP_INFO");
    return false;
  }
  c.new_bytes = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans;
  return true;
}

// The reads done in repair mode, in the NSR-NOTES order.
bool read_in_repair(int fd, FrozenTcp& f, std::string& error) {
  // Send side. Kernel hazard: while TCP_REPAIR_QUEUE=send is selected, a transmission
  // the stack starts (an ACK arriving, a timer) takes the repair path: the WHOLE write
  // queue is marked as sent, window ignored, and nothing goes on the wire (seen in the
  // tests during the peek of a 2.8 MB queue behind a zero window). Such bytes are not in
  // flight: detected below (unsent shrank but nothing was transmitted) and put back
  // into the unsent part of the snapshot. The live socket keeps them as sent.
  XmitCounters before;
  if (!read_xmit(fd, before, error)) return false;
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE=send", error) ||
      !get_tcp_u32(fd, TCP_QUEUE_SEQ, f.write_seq, "TCP_QUEUE_SEQ (send)", error))
    return false;
  bool ok = false;
  for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
    uint32_t outq1 = 0, nsd1 = 0, outq2 = 0, nsd2 = 0;
    if (!ioctl_u32(fd, SIOCOUTQ, outq1, "SIOCOUTQ", error) ||
        !ioctl_u32(fd, SIOCOUTQNSD, nsd1, "SIOCOUTQNSD", error))
      return false;
    ssize_t n = peek(fd, f.send_queue, outq1);
    if (n < 0) {
      error = errno_text("peek send queue");
      return false;
    }
    if (!ioctl_u32(fd, SIOCOUTQ, outq2, "SIOCOUTQ", error) ||
        !ioctl_u32(fd, SIOCOUTQNSD, nsd2, "SIOCOUTQNSD", error))
      return false;
    if (outq1 != outq2 || nsd1 != nsd2 || static_cast<uint32_t>(n) != outq1 || nsd1 > outq1) continue;
    f.snd_una = f.write_seq - outq1;
    f.snd_nxt = f.write_seq - nsd1;
    ok = true;
  }
  if (!ok) {
    error = "send queue kept changing while reading it";
    return false;
  }
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE=none", error)) return false;
  XmitCounters after;
  if (!read_xmit(fd, after, error)) return false;
  if (after.unsent < before.unsent && after.new_bytes == before.new_bytes &&
      before.unsent <= f.send_queue.size()) {
    // Marked sent by the repair path, never transmitted (no real transmission at all
    // meanwhile, so the on-wire snd_nxt is the one from before).
    f.marked_sent_in_repair = before.unsent - after.unsent;
    f.snd_nxt = f.write_seq - before.unsent;
  }
  // (If real transmissions happened too, the split is unknown: the kernel's values
  // stand, i.e. those bytes count as in flight; safe, recovered by retransmission.)
  // Receive side: the application does not read, so copied_seq is fixed; SIOCINQ and
  // the state unchanged around the reads of rcv_nxt and the data mean a consistent pair.
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE=recv", error)) return false;
  ok = false;
  for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
    uint8_t st1 = 0, st2 = 0;
    uint32_t inq1 = 0, inq2 = 0, rcv_nxt = 0;
    if (!tcp_state(fd, st1, error) || !ioctl_u32(fd, SIOCINQ, inq1, "SIOCINQ", error) ||
        !get_tcp_u32(fd, TCP_QUEUE_SEQ, rcv_nxt, "TCP_QUEUE_SEQ (recv)", error))
      return false;
    ssize_t n = peek(fd, f.recv_queue, inq1);
    if (n < 0) {
      error = errno_text("peek receive queue");
      return false;
    }
    if (!ioctl_u32(fd, SIOCINQ, inq2, "SIOCINQ", error) || !tcp_state(fd, st2, error)) return false;
    if (st1 != st2 || inq1 != inq2 || static_cast<uint32_t>(n) != inq1) continue;
    if (st1 != tcpi::kEstablished) {
      error = "connection left ESTABLISHED while freezing (tcpi_state " + std::to_string(st1) + ")";
      return false;
    }
    f.rcv_nxt = rcv_nxt;
    ok = true;
  }
  if (!ok) {
    error = "receive queue kept changing while reading it";
    return false;
  }
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE=none", error) ||
      !get_tcp_u32(fd, TCP_MAXSEG, f.mss, "TCP_MAXSEG", error) ||
      !get_tcp_u32(fd, TCP_TIMESTAMP, f.tsval, "TCP_TIMESTAMP", error))
    return false;
  f.taken = std::chrono::steady_clock::now();
  struct tcp_repair_window w{};
  socklen_t wlen = sizeof w;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &wlen) != 0 || wlen != sizeof w) {
    error = errno_text("TCP_REPAIR_WINDOW");
    return false;
  }
  f.window = {w.snd_wl1, w.snd_wnd, w.max_window, w.rcv_wnd, w.rcv_wup};
  return true;
}

// What restore() and finish_restore() put where, from the snapshot and the overrides.
struct Plan {
  uint32_t send_seq = 0;   // snd_una = snd_nxt = write_seq of the new socket before its queue
  size_t send_skip = 0;    // leading send_queue bytes the peer already has
  size_t sent_len = 0;     // then: bytes restored as already sent (in flight)
  // the rest of send_queue: never sent, queued by finish_restore()
  uint32_t recv_seq = 0;   // sequence number of the first restored unread byte
  size_t recv_len = 0;     // leading recv_queue bytes restored
  TcpRepairWindow window;
};

bool make_plan(const FrozenTcp& f, const RestoreOptions& o, Plan& p, std::string& error) {
  const size_t qlen = f.send_queue.size();
  if (qlen != static_cast<uint32_t>(f.write_seq - f.snd_una) || f.unsent() > qlen) {
    error = "inconsistent snapshot: send queue length does not match write_seq - snd_una";
    return false;
  }
  p.window = o.window.value_or(f.window);
  if (!o.snd_nxt) {
    // [snd_nxt, write_seq) goes through the normal send path after repair mode, so it
    // is sent at once (as the window allows) instead of waiting for a timer.
    // [snd_una, snd_nxt) is queued as already sent: exact. If it was lost, only a
    // retransmission timeout (or SACKs for later data) recovers it. It must not be queued
    // as unsent: the peer may hold part of it, and its ACKs beyond our snd_nxt would be
    // discarded (window updates included) until we catch up, which a window below the
    // MSS can prevent for good (a livelock seen in the tests).
    p.send_seq = f.snd_una;
    p.send_skip = 0;
    p.sent_len = f.unacked();
  } else {
    const uint32_t d = *o.snd_nxt - f.snd_una;
    if (d <= qlen) {  // the peer has received [snd_una, snd_nxt): drop it; send the rest
      p.send_skip = d;
    } else if (o.allow_stream_gap) {
      p.send_skip = qlen;  // the stream has a hole we cannot fill: drop the queue
    } else {
      error = "snd_nxt override " + std::to_string(*o.snd_nxt) + " is outside the snapshot's send queue [" +
              std::to_string(f.snd_una) + ", " + std::to_string(f.write_seq) + "]: stream gap";
      return false;
    }
    // The probe says the peer lacks everything from here on: send all of it right away.
    p.send_seq = *o.snd_nxt;
    p.sent_len = 0;
  }
  const size_t unread = f.recv_queue.size();
  uint32_t rcv_nxt = f.rcv_nxt;
  p.recv_len = unread;
  if (o.rcv_nxt && *o.rcv_nxt != f.rcv_nxt) {
    const int32_t d = static_cast<int32_t>(*o.rcv_nxt - f.rcv_nxt);
    if (d < 0 && static_cast<size_t>(-static_cast<int64_t>(d)) <= unread) {
      // The peer will send the tail of our unread bytes again: drop that tail.
      p.recv_len = unread - static_cast<size_t>(-static_cast<int64_t>(d));
    } else if (!o.allow_stream_gap) {
      error = "rcv_nxt override " + std::to_string(*o.rcv_nxt) + " differs from the snapshot's " +
              std::to_string(f.rcv_nxt) + " by " + std::to_string(d) + " bytes: stream gap";
      return false;
    }
    rcv_nxt = *o.rcv_nxt;
    if (!o.window) {  // move the window's reference points with rcv_nxt
      const uint32_t shift = rcv_nxt - f.rcv_nxt;
      p.window.rcv_wup += shift;
      p.window.snd_wl1 += shift;
    }
  }
  p.recv_seq = rcv_nxt - static_cast<uint32_t>(p.recv_len);
  return true;
}

// Write a buffer into the selected repair queue (or, out of repair mode, the socket).
// Partial writes are normal (the receive-queue path takes a limited number of pages per
// call). Waits up to 2 s for buffer space.
bool write_all(int fd, const uint8_t* data, size_t len, const char* what, std::string& error) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::send(fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd, POLLOUT, 0};
      if (::poll(&pfd, 1, 2000) == 1) continue;
      error = std::string(what) + ": no buffer space after " + std::to_string(off) + " of " + std::to_string(len) +
              " bytes";
      return false;
    }
    error = n == 0 ? std::string(what) + ": wrote nothing" : errno_text(what);
    return false;
  }
  return true;
}

// Make sure a buffer holds `bytes` of payload (the kernel charges skb overhead too).
bool ensure_buffer(int fd, int opt, int force_opt, size_t bytes, const char* what, std::string& error) {
  if (bytes == 0) return true;
  uint32_t cur = 0;
  if (!get_sol_u32(fd, opt, cur, what, error)) return false;
  const uint64_t want = 2 * static_cast<uint64_t>(bytes) + 65536;
  if (cur >= want) return true;
  const int v = static_cast<int>(std::min<uint64_t>(want, 0x3FFFFFFF));  // the kernel doubles it
  if (::setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0) return true;
  error = errno_text(what);
  return false;
}

uint32_t restored_tsval(const FrozenTcp& f, const RestoreOptions& o) {
  // Kernels >= 6.7: TCP_TIMESTAMP's low bit is the usec-timestamps flag, both ways (the
  // kernel clears it on reads of a millisecond connection, and an odd value written
  // switches the socket to microseconds). So the bit must be the frozen connection's,
  // never the accidental parity of a sum (seen: TSval off by ~6e8 after connect).
  const bool usec = (f.tsval & 1u) != 0;
  auto with_mode = [usec](uint32_t v) { return usec ? (v | 1u) : (v & ~1u); };
  if (o.tsval) return with_mode(*o.tsval);
  const auto elapsed = std::chrono::steady_clock::now() - f.taken;
  int64_t ticks = usec ? std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
                       : std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  if (ticks < 0) ticks = 0;
  // Round up for the mode bit, so that the result never goes below frozen + elapsed.
  uint32_t v = f.tsval + static_cast<uint32_t>(ticks) + static_cast<uint32_t>(o.timestamp_offset);
  if (!usec && (v & 1u)) ++v;
  return with_mode(v);
}

// Closes the fd unless released; `silent`: back into repair mode first, so that the
// close sends nothing (no FIN/RST to the peer of a half-restored connection).
class FdGuard {
 public:
  explicit FdGuard(int fd, bool silent = false) : fd_(fd), silent_(silent) {}
  ~FdGuard() {
    if (fd_ < 0) return;
    if (silent_) {
      const int on = TCP_REPAIR_ON;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on);
    }
    ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
  bool silent_;
};

// ---- raw packets -------------------------------------------------------------------

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<uint32_t>(p[n - 1] << 8);
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return static_cast<uint16_t>(~acc & 0xFFFF);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}

size_t addr_len(int family) { return family == AF_INET ? 4 : 16; }

bool check_pair(const TcpEndpoint& local, const TcpEndpoint& remote, std::string& error) {
  if ((local.family != AF_INET && local.family != AF_INET6) || local.family != remote.family) {
    error = "endpoints must both be IPv4 or both IPv6";
    return false;
  }
  return true;
}

// An IPv4/IPv6 header + a TCP header (+ a timestamp option, + a TCP-MD5 signature with
// a non-empty md5_key) with correct checksums.
std::vector<uint8_t> build_segment(const TcpEndpoint& src, const TcpEndpoint& dst, uint32_t seq, uint32_t ack,
                                   uint8_t flags, uint16_t window, std::optional<uint32_t> tsval,
                                   std::string_view md5_key, uint32_t tsecr = 0) {
  const bool v4 = src.family == AF_INET;
  const size_t ip_len = v4 ? 20 : 40;
  const size_t tcp_len = 20 + (tsval ? 12 : 0) + (md5_key.empty() ? 0 : 2 + kTcpOptMd5Len);
  std::vector<uint8_t> pkt(ip_len + tcp_len, 0);
  uint8_t* ip = pkt.data();
  const size_t alen = addr_len(src.family);
  if (v4) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(pkt.size()));
    put16(ip + 6, 0x4000);  // DF; id 0: the kernel fills it in
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    std::memcpy(ip + 12, src.addr.data(), 4);
    std::memcpy(ip + 16, dst.addr.data(), 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));  // the kernel recomputes it anyway
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint16_t>(tcp_len));
    ip[6] = IPPROTO_TCP;
    ip[7] = 64;
    std::memcpy(ip + 8, src.addr.data(), 16);
    std::memcpy(ip + 24, dst.addr.data(), 16);
  }
  uint8_t* t = pkt.data() + ip_len;
  put16(t, src.port);
  put16(t + 2, dst.port);
  put32(t + 4, seq);
  put32(t + 8, ack);
  t[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
  t[13] = flags;
  put16(t + 14, window);
  if (tsval) {
    t[20] = 1;  // NOP NOP TS(10): the layout senders use
    t[21] = 1;
    t[22] = 8;
    t[23] = 10;
    put32(t + 24, *tsval);
    put32(t + 28, tsecr);
  }
  if (!md5_key.empty()) {
    // NOP NOP MD5(18) last; the digest covers the header without its options.
    uint8_t* o = t + (tsval ? 32 : 20);
    o[0] = o[1] = 1;
    o[2] = kTcpOptMd5;
    o[3] = kTcpOptMd5Len;
    const auto digest = tcp_md5_digest(std::span(src.addr.data(), alen), std::span(dst.addr.data(), alen),
                                       std::span<const uint8_t>(t, 20), {}, tcp_len, md5_key);
    std::memcpy(o + 4, digest.data(), digest.size());
  }
  // Pseudo-header: addresses, protocol, TCP length (RFC 793 / RFC 8200 8.1).
  uint32_t acc = sum16(src.addr.data(), alen, 0);
  acc = sum16(dst.addr.data(), alen, acc);
  acc += IPPROTO_TCP;
  acc += static_cast<uint32_t>(tcp_len);
  put16(t + 16, fold(sum16(t, tcp_len, acc)));
  return pkt;
}

bool send_raw(const TcpEndpoint& dst, const std::vector<uint8_t>& pkt, std::string& error, uint32_t mark = 0) {
  // IPPROTO_RAW implies IP_HDRINCL (IPv4) / hdrincl (IPv6): our header goes out as is,
  // with our source address even if it is not local.
  FdGuard s(::socket(dst.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (s.get() < 0) {
    error = errno == EPERM ? "raw socket: not permitted (needs CAP_NET_RAW)" : errno_text("raw socket");
    return false;
  }
  if (mark != 0 && ::setsockopt(s.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    error = errno_text("SO_MARK (needs CAP_NET_ADMIN)");
    return false;
  }
  sockaddr_storage ss{};
  TcpEndpoint to = dst;
  to.port = 0;  // raw IPv6: a non-zero "port" would be read as a protocol number
  socklen_t len = to.to_sockaddr(ss);
  ssize_t n = ::sendto(s.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  if (n != static_cast<ssize_t>(pkt.size())) {
    error = errno_text("sendto (raw)");
    return false;
  }
  return true;
}

// Classic BPF for a SOCK_DGRAM packet socket (offset 0 = the network header): accept
// TCP from `from` to `to` (unfragmented IPv4 or IPv6 without extension headers).
std::vector<sock_filter> reply_filter(const TcpEndpoint& from, const TcpEndpoint& to) {
  std::vector<sock_filter> f;
  std::vector<size_t> to_drop_if_false, to_drop_if_true;
  auto stmt = [&](uint16_t code, uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  auto eq = [&](uint32_t k) {
    to_drop_if_false.push_back(f.size());
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0));
  };
  auto words = [&](uint32_t off, const TcpEndpoint& e) {
    for (size_t i = 0; i < addr_len(e.family); i += 4) {
      stmt(BPF_LD | BPF_W | BPF_ABS, off + static_cast<uint32_t>(i));
      eq(get32(e.addr.data() + i));
    }
  };
  if (from.family == AF_INET) {
    stmt(BPF_LD | BPF_B | BPF_ABS, 9);
    eq(IPPROTO_TCP);
    words(12, from);
    words(16, to);
    stmt(BPF_LD | BPF_H | BPF_ABS, 6);
    to_drop_if_true.push_back(f.size());
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1FFF, 0, 0));
    stmt(BPF_LDX | BPF_B | BPF_MSH, 0);
    stmt(BPF_LD | BPF_H | BPF_IND, 0);
    eq(from.port);
    stmt(BPF_LD | BPF_H | BPF_IND, 2);
    eq(to.port);
  } else {
    stmt(BPF_LD | BPF_B | BPF_ABS, 6);
    eq(IPPROTO_TCP);
    words(8, from);
    words(24, to);
    stmt(BPF_LD | BPF_H | BPF_ABS, 40);
    eq(from.port);
    stmt(BPF_LD | BPF_H | BPF_ABS, 42);
    eq(to.port);
  }
  stmt(BPF_RET | BPF_K, 0xFFFF);
  const size_t drop = f.size();
  stmt(BPF_RET | BPF_K, 0);
  for (size_t i : to_drop_if_false) f[i].jf = static_cast<uint8_t>(drop - i - 1);
  for (size_t i : to_drop_if_true) f[i].jt = static_cast<uint8_t>(drop - i - 1);
  return f;
}

// Parse a captured IP packet into a ProbeResult if it is TCP from `from` to `to`.
bool parse_reply(const uint8_t* p, size_t n, const TcpEndpoint& from, const TcpEndpoint& to, ProbeResult& r) {
  size_t ip_len = 0;
  if (from.family == AF_INET) {
    if (n < 20 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP) return false;
    ip_len = static_cast<size_t>(p[0] & 0xF) * 4;
    if (std::memcmp(p + 12, from.addr.data(), 4) != 0 || std::memcmp(p + 16, to.addr.data(), 4) != 0) return false;
  } else {
    if (n < 40 || (p[0] >> 4) != 6 || p[6] != IPPROTO_TCP) return false;
    ip_len = 40;
    if (std::memcmp(p + 8, from.addr.data(), 16) != 0 || std::memcmp(p + 24, to.addr.data(), 16) != 0) return false;
  }
  if (n < ip_len + 20) return false;
  const uint8_t* t = p + ip_len;
  if (get16(t) != from.port || get16(t + 2) != to.port) return false;
  r.seq = get32(t + 4);
  r.ack = get32(t + 8);
  r.flags = t[13];
  r.window = get16(t + 14);
  const size_t doff = static_cast<size_t>(t[12] >> 4) * 4;
  for (size_t i = 20; i < doff && ip_len + i < n;) {
    const uint8_t kind = t[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff || ip_len + i + 1 >= n) break;
    const size_t olen = t[i + 1];
    if (olen < 2 || i + olen > doff || ip_len + i + olen > n) break;
    if (kind == 8 && olen == 10) {
      r.has_timestamp = true;
      r.tsval = get32(t + i + 2);
      r.tsecr = get32(t + i + 6);
    }
    i += olen;
  }
  return true;
}

}  // namespace

// ---- TcpEndpoint ---------------------------------------------------------------------

std::optional<TcpEndpoint> TcpEndpoint::parse(std::string_view ip, uint16_t port) {
  std::string s(ip);
  TcpEndpoint e;
  e.port = port;
  if (::inet_pton(AF_INET, s.c_str(), e.addr.data()) == 1) {
    e.family = AF_INET;
    return e;
  }
  if (auto pct = s.find('%'); pct != std::string::npos) {
    e.scope_id = ::if_nametoindex(s.substr(pct + 1).c_str());
    if (e.scope_id == 0) return std::nullopt;
    s.resize(pct);
  }
  if (::inet_pton(AF_INET6, s.c_str(), e.addr.data()) == 1) {
    e.family = AF_INET6;
    return e;
  }
  return std::nullopt;
}

std::optional<TcpEndpoint> TcpEndpoint::from_sockaddr(const sockaddr* sa, unsigned len) {
  TcpEndpoint e;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    e.family = AF_INET;
    std::memcpy(e.addr.data(), &in->sin_addr, 4);
    e.port = ntohs(in->sin_port);
    return e;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    e.family = AF_INET6;
    std::memcpy(e.addr.data(), &in6->sin6_addr, 16);
    e.port = ntohs(in6->sin6_port);
    e.scope_id = in6->sin6_scope_id;
    return e;
  }
  return std::nullopt;
}

unsigned TcpEndpoint::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, addr.data(), 4);
    in->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, addr.data(), 16);
    in6->sin6_port = htons(port);
    in6->sin6_scope_id = scope_id;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string TcpEndpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "(unset)";
  ::inet_ntop(family, addr.data(), buf, sizeof buf);
  if (family == AF_INET) return std::string(buf) + ":" + std::to_string(port);
  return "[" + std::string(buf) + "]:" + std::to_string(port);
}

// ---- freeze / unfreeze ---------------------------------------------------------------

std::optional<FrozenTcp> freeze(int fd, std::string& error) {
  uint8_t state = 0;
  if (!tcp_state(fd, state, error)) return std::nullopt;
  if (state != tcpi::kEstablished) {
    error = "connection is not established (tcpi_state " + std::to_string(state) + ")";
    return std::nullopt;
  }
  FrozenTcp f;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    error = errno_text("getsockname");
    return std::nullopt;
  }
  auto local = TcpEndpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    error = errno_text("getpeername");
    return std::nullopt;
  }
  auto remote = TcpEndpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!local || !remote) {
    error = "not an IPv4/IPv6 socket";
    return std::nullopt;
  }
  f.local = *local;
  f.remote = *remote;
  auto info = read_tcp_info(fd, error);  // the option bits and window scales
  if (!info) return std::nullopt;
  f.sack = info->sack;
  f.timestamps = info->timestamps;
  f.snd_wscale = info->snd_wscale;
  f.rcv_wscale = info->rcv_wscale;
  {
    struct tcp_info ti{};
    socklen_t tlen = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) != 0) {
      error = errno_text("TCP_INFO");
      return std::nullopt;
    }
    f.wscale = (ti.tcpi_options & TCPI_OPT_WSCALE) != 0;
  }
  if (!get_sol_u32(fd, SO_SNDBUF, f.sndbuf, "SO_SNDBUF", error) ||
      !get_sol_u32(fd, SO_RCVBUF, f.rcvbuf, "SO_RCVBUF", error))
    return std::nullopt;

  if (!repair_on(fd, error)) return std::nullopt;
  if (!read_in_repair(fd, f, error)) {
    // Leave repair mode as we found the socket: no window probe.
    const int none = TCP_NO_QUEUE;
    ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof none);
    std::string ignored;  // the read's error is the one reported
    repair_off(fd, TCP_REPAIR_OFF_NO_WP, "TCP_REPAIR=off", ignored);
    return std::nullopt;
  }
  return f;
}

bool unfreeze(int fd, std::string& error) {
  std::string first;
  bool ok = set_tcp(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE=none", first);
  if (!repair_off(fd, TCP_REPAIR_OFF, "TCP_REPAIR=off", error)) return false;
  if (!ok) error = first;
  return ok;
}

// ---- restore -------------------------------------------------------------------------

int restore(const FrozenTcp& f, const RestoreOptions& o, std::string& error) {
  if (!check_pair(f.local, f.remote, error)) return -1;
  Plan plan;
  if (!make_plan(f, o, plan, error)) return -1;
  const bool v4 = f.local.family == AF_INET;
  FdGuard s(::socket(f.local.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), /*silent=*/true);
  if (s.get() < 0) {
    error = errno_text("socket");
    return -1;
  }
  const int fd = s.get();
  if (!repair_on(fd, error)) return -1;
  const int one = 1;
  if (o.transparent) {
    const int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
    if (::setsockopt(fd, level, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one, sizeof one) != 0) {
      error = errno_text("IP_TRANSPARENT");
      return -1;
    }
    if (::setsockopt(fd, level, v4 ? IP_FREEBIND : IPV6_FREEBIND, &one, sizeof one) != 0) {
      error = errno_text("IP_FREEBIND");
      return -1;
    }
  }
  if (o.mark) {
    const int m = static_cast<int>(*o.mark);
    if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m) != 0) {
      error = errno_text("SO_MARK");
      return -1;
    }
  }
  if (!o.bind_device.empty() &&
      ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.bind_device.data(),
                   static_cast<socklen_t>(o.bind_device.size())) != 0) {
    error = errno_text("SO_BINDTODEVICE");
    return -1;
  }
  if (o.prepare && !o.prepare(fd, error)) {
    if (error.empty()) error = "prepare callback failed";
    return -1;
  }
  const size_t send_total = f.send_queue.size() - plan.send_skip;
  if (!ensure_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, send_total, "SO_SNDBUFFORCE", error) ||
      !ensure_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, plan.recv_len, "SO_RCVBUFFORCE", error))
    return -1;
  // Sequence numbers only while the socket is closed (before connect).
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE=recv", error) ||
      !set_tcp(fd, TCP_QUEUE_SEQ, static_cast<int>(plan.recv_seq), "TCP_QUEUE_SEQ (recv)", error) ||
      !set_tcp(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE=send", error) ||
      !set_tcp(fd, TCP_QUEUE_SEQ, static_cast<int>(plan.send_seq), "TCP_QUEUE_SEQ (send)", error) ||
      !set_tcp(fd, TCP_TIMESTAMP, static_cast<int>(restored_tsval(f, o)), "TCP_TIMESTAMP", error))
    return -1;
  // In repair mode bind() forces reuse (a listener on *:port does not conflict) and
  // connect() sends no SYN: the socket goes straight to ESTABLISHED.
  sockaddr_storage ss{};
  socklen_t len = f.local.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = errno_text(("bind " + f.local.to_string()).c_str());
    return -1;
  }
  len = f.remote.to_sockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = errno_text(("connect " + f.remote.to_string()).c_str());
    return -1;
  }
  // TCP_TIMESTAMP again: connect() resets the usec-timestamps mode from the route
  // (kernels >= 6.7), which would leave the offset computed above on the wrong clock.
  if (!set_tcp(fd, TCP_TIMESTAMP, static_cast<int>(restored_tsval(f, o)), "TCP_TIMESTAMP", error)) return -1;
  // Options after connect, before any data.
  struct tcp_repair_opt opts[4];
  int nopts = 0;
  if (f.mss) opts[nopts++] = {kOptMss, f.mss};
  if (f.wscale) opts[nopts++] = {kOptWindow, static_cast<uint32_t>(f.snd_wscale) | static_cast<uint32_t>(f.rcv_wscale) << 16};
  if (f.sack) opts[nopts++] = {kOptSackPerm, 0};
  if (f.timestamps) opts[nopts++] = {kOptTimestamp, 0};
  if (nopts > 0 && ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts,
                                static_cast<socklen_t>(nopts * sizeof(opts[0]))) != 0) {
    error = errno_text("TCP_REPAIR_OPTIONS");
    return -1;
  }
  // The unread bytes, then the bytes in flight (queued as already sent: they are not
  // transmitted now; the retransmission timer is armed for them).
  if (!set_tcp(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE=recv", error) ||
      !write_all(fd, f.recv_queue.data(), plan.recv_len, "restore receive queue", error) ||
      !set_tcp(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE=send", error) ||
      !write_all(fd, f.send_queue.data() + plan.send_skip, plan.sent_len, "restore send queue", error) ||
      !set_tcp(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE=none", error))
    return -1;
  // The window last: the kernel checks it against rcv_nxt, which the queue data moved.
  struct tcp_repair_window w{plan.window.snd_wl1, plan.window.snd_wnd, plan.window.max_window, plan.window.rcv_wnd,
                             plan.window.rcv_wup};
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0) {
    error = errno_text("TCP_REPAIR_WINDOW");
    return -1;
  }
  if (o.leave_repair && !finish_restore(fd, f, o, error)) return -1;
  return s.release();
}

bool finish_restore(int fd, const FrozenTcp& f, const RestoreOptions& o, std::string& error) {
  Plan plan;
  if (!make_plan(f, o, plan, error)) return false;
  // TCP_REPAIR_OFF: the kernel sends a window probe (SEQ snd_una - 1); the peer's answer
  // brings its current window and acknowledges what it has of the bytes in flight.
  if (!repair_off(fd, TCP_REPAIR_OFF, "TCP_REPAIR=off", error)) return false;
  // The never-sent bytes through the normal path: transmitted as the window allows.
  const size_t from = plan.send_skip + plan.sent_len;
  if (write_all(fd, f.send_queue.data() + from, f.send_queue.size() - from, "queue unsent data", error)) return true;
  // Back into repair mode so that the caller's close() does not send a FIN or RST.
  const int on = TCP_REPAIR_ON;
  ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on);
  return false;
}

// ---- probe / RST ---------------------------------------------------------------------

std::optional<ProbeResult> probe_peer(const TcpEndpoint& local, const TcpEndpoint& remote,
                                      std::chrono::milliseconds timeout, std::string& error,
                                      const ProbeOptions& options) {
  if (!check_pair(local, remote, error)) return std::nullopt;
  const bool v4 = local.family == AF_INET;
  // Protocol 0 at creation: no packet is queued until bind(), after the filter is set.
  FdGuard ps(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (ps.get() < 0) {
    error = errno == EPERM ? "packet socket: not permitted (needs CAP_NET_RAW)" : errno_text("packet socket");
    return std::nullopt;
  }
  std::vector<sock_filter> code = reply_filter(remote, local);
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(ps.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    error = errno_text("SO_ATTACH_FILTER");
    return std::nullopt;
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(v4 ? ETH_P_IP : ETH_P_IPV6);
  if (!options.interface.empty()) {
    sll.sll_ifindex = static_cast<int>(::if_nametoindex(options.interface.c_str()));
    if (sll.sll_ifindex == 0) {
      error = "no interface " + options.interface;
      return std::nullopt;
    }
  }
  if (::bind(ps.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    error = errno_text("bind (packet socket)");
    return std::nullopt;
  }
  uint8_t buf[2048];
  while (::recv(ps.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  uint32_t seq = 0;
  if (options.seq) {
    seq = *options.seq;
  } else {
    std::random_device rd;
    seq = rd();
  }
  auto pkt = build_segment(local, remote, seq, options.ack, kFlagAck, 0, options.tsval, options.md5_key);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  const auto every = std::max(options.resend_every, std::chrono::milliseconds(1));
  auto t0 = start;  // the last probe sent
  if (!send_raw(remote, pkt, error)) return std::nullopt;
  int sent = 1;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (now - t0 >= every) {
      t0 = now;
      if (!send_raw(remote, pkt, error)) return std::nullopt;
      ++sent;
    }
    const auto until = std::min(deadline, t0 + every);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    pollfd pfd{ps.get(), POLLIN, 0};
    int pr = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left, 1)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      error = errno_text("poll (packet socket)");
      return std::nullopt;
    }
    if (pr == 0) continue;
    sockaddr_ll from{};
    socklen_t flen = sizeof from;
    ssize_t n = ::recvfrom(ps.get(), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) continue;
    if (from.sll_pkttype == PACKET_OUTGOING) continue;  // our own copy on loopback etc.
    ProbeResult r;
    if (!parse_reply(buf, static_cast<size_t>(n), remote, local, r)) continue;
    r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    r.probes_sent = sent;
    return r;
  }
  error = "timeout: no reply from " + remote.to_string() + " within " + std::to_string(timeout.count()) + " ms to " +
          std::to_string(sent) + " probe(s) (the peer answers one per tcp_invalid_ratelimit, 500 ms)";
  return std::nullopt;
}

bool send_rst(const TcpEndpoint& local, const TcpEndpoint& remote, uint32_t seq, std::string& error,
              std::string_view md5_key) {
  if (!check_pair(local, remote, error)) return false;
  return send_raw(remote, build_segment(local, remote, seq, 0, kFlagRst, 0, std::nullopt, md5_key), error);
}

bool send_ack(const TcpEndpoint& local, const TcpEndpoint& remote, const AckSegment& a, std::string& error) {
  if (!check_pair(local, remote, error)) return false;
  std::optional<uint32_t> tsval;
  if (a.has_ts) tsval = a.ts_val;
  return send_raw(remote,
                  build_segment(local, remote, a.seq, a.ack, kFlagAck, a.window, tsval, a.md5_key, a.ts_ecr), error,
                  a.mark);
}

}  // namespace tandem::session
