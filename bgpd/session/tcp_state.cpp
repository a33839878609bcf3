#include "bgpd/session/tcp_state.hpp"


#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "bgpd/session/sockopt.hpp"

namespace tandem::session {
namespace {

// Our FIN took one sequence number after the data (write_seq was incremented).
bool fin_sent(uint8_t st) { return st == tcpi::kFinWait1 || st == tcpi::kFinWait2 || st == tcpi::kClosing || st == tcpi::kLastAck; }
// The peer's FIN took one after its data; SIOCINQ already leaves it out.
bool fin_received(uint8_t st) { return st == tcpi::kCloseWait || st == tcpi::kLastAck || st == tcpi::kClosing; }
bool synchronized(uint8_t st) { return st == tcpi::kEstablished || fin_sent(st) || fin_received(st); }

using sockopt::errno_text;
using sockopt::ioctl_u32;

// TCP_INFO into a buffer larger than this header's struct tcp_info: a newer kernel
// returns its longer struct (fields are only ever appended), `len` says how much.
struct RawTcpInfo {
  alignas(8) unsigned char bytes[512];
  socklen_t len = 0;
};

bool get_raw_info(int fd, RawTcpInfo& raw, std::string& error) {
  std::memset(raw.bytes, 0, sizeof raw.bytes);
  raw.len = sizeof raw.bytes;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw.bytes, &raw.len) != 0) {
    error = errno_text("TCP_INFO");
    return false;
  }
  return true;
}

bool get_state(int fd, uint8_t& state, std::string& error) {
  RawTcpInfo raw;
  if (!get_raw_info(fd, raw, error)) return false;
  state = raw.bytes[offsetof(struct tcp_info, tcpi_state)];
  return true;
}

// The reads done while in repair mode. Returns false with `error` set.
bool read_in_repair(int fd, uint8_t& state, uint32_t& write_seq, uint32_t& copied_seq, std::string& error) {
  if (!sockopt::set_tcp(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE=send", error) ||
      !sockopt::get_tcp_u32(fd, TCP_QUEUE_SEQ, write_seq, "TCP_QUEUE_SEQ (send)", error) ||
      !sockopt::set_tcp(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE=recv", error))
    return false;
  // Segments keep arriving (softirq) between our calls; the application does not read,
  // so copied_seq is fixed and an unchanged SIOCINQ (and state) around the read of
  // rcv_nxt means rcv_nxt did not move either: the pair is consistent.
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint8_t st1 = 0, st2 = 0;
    uint32_t inq1 = 0, inq2 = 0, rcv_nxt = 0;
    if (!get_state(fd, st1, error) || !ioctl_u32(fd, SIOCINQ, inq1, "SIOCINQ", error) ||
        !sockopt::get_tcp_u32(fd, TCP_QUEUE_SEQ, rcv_nxt, "TCP_QUEUE_SEQ (recv)", error) ||
        !ioctl_u32(fd, SIOCINQ, inq2, "SIOCINQ", error) || !get_state(fd, st2, error))
      return false;
    if (inq1 != inq2 || st1 != st2) continue;
    state = st1;
    copied_seq = rcv_nxt - inq1 - (fin_received(st1) ? 1u : 0u);
    return true;
  }
  error = "receive queue kept changing while reading rcv_nxt";
  return false;
}

}  // namespace

std::optional<SeqBases> read_seq_bases(int fd, uint64_t bytes_written, uint64_t bytes_read, std::string& error) {
  uint8_t state = 0;
  if (!get_state(fd, state, error)) return std::nullopt;
  if (!synchronized(state)) {
    error = "connection is not established (tcpi_state " + std::to_string(state) + ")";
    return std::nullopt;
  }
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) {
    error = errno == EPERM ? "TCP_REPAIR: not permitted (needs CAP_NET_ADMIN)" : errno_text("TCP_REPAIR");
    return std::nullopt;
  }
  uint32_t write_seq = 0, copied_seq = 0;
  bool ok = read_in_repair(fd, state, write_seq, copied_seq, error);
  // Always leave repair mode, even after a failed read; report the first error.
  std::string off_error;
  bool off = sockopt::set_tcp(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE=none", off_error);
  off = sockopt::repair_off(fd, TCP_REPAIR_OFF, "TCP_REPAIR=off", off_error) && off;
  if (!ok) return std::nullopt;
  if (!off) {
    error = off_error;
    return std::nullopt;
  }
  SeqBases b;
  b.send_seq_base = write_seq - (fin_sent(state) ? 1u : 0u) - static_cast<uint32_t>(bytes_written);
  b.recv_seq_base = copied_seq - static_cast<uint32_t>(bytes_read);
  return b;
}

std::optional<TcpQueues> read_queues(int fd, std::string& error) {
  TcpQueues q;
  if (!ioctl_u32(fd, SIOCOUTQ, q.unacked_and_unsent, "SIOCOUTQ", error) ||
      !ioctl_u32(fd, SIOCOUTQNSD, q.unsent, "SIOCOUTQNSD", error) ||
      !ioctl_u32(fd, SIOCINQ, q.unread, "SIOCINQ", error))
    return std::nullopt;
  return q;
}

std::optional<TcpInfo> read_tcp_info(int fd, std::string& error) {
  RawTcpInfo raw;
  if (!get_raw_info(fd, raw, error)) return std::nullopt;
  struct tcp_info ti;
  std::memset(&ti, 0, sizeof ti);
  std::memcpy(&ti, raw.bytes, raw.len < sizeof ti ? raw.len : sizeof ti);
  TcpInfo out;
  out.mss = ti.tcpi_snd_mss;
  out.sack = (ti.tcpi_options & TCPI_OPT_SACK) != 0;
  out.timestamps = (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  if (ti.tcpi_options & TCPI_OPT_WSCALE) {
    out.snd_wscale = ti.tcpi_snd_wscale;
    out.rcv_wscale = ti.tcpi_rcv_wscale;
  }
  out.rtt_us = ti.tcpi_rtt;
  out.bytes_received = ti.tcpi_bytes_received;
  // tcpi_snd_wnd (5.4) is in these headers; tcpi_rcv_wnd (6.2) follows it directly in
  // the kernel's struct. Each is used only if the running kernel returned it.
  constexpr size_t kSndWnd = offsetof(struct tcp_info, tcpi_snd_wnd);
  constexpr size_t kRcvWnd = kSndWnd + sizeof(uint32_t);
  if (raw.len >= kSndWnd + sizeof(uint32_t)) {
    std::memcpy(&out.peer_window, raw.bytes + kSndWnd, sizeof(uint32_t));
    out.peer_window_known = true;
  }
  if (raw.len >= kRcvWnd + sizeof(uint32_t)) {
    std::memcpy(&out.rcv_window, raw.bytes + kRcvWnd, sizeof(uint32_t));
    out.rcv_window_known = true;
  }
  if (!sockopt::get_tcp_u32(fd, TCP_WINDOW_CLAMP, out.window_clamp, "TCP_WINDOW_CLAMP", error)) return std::nullopt;
  return out;
}

std::optional<uint32_t> read_tsval(int fd, std::string& error) {
  uint32_t v = 0;
  if (!sockopt::get_tcp_u32(fd, TCP_TIMESTAMP, v, "TCP_TIMESTAMP", error)) return std::nullopt;
  return v;
}

bool set_window_clamp(int fd, uint32_t bytes, std::string& error) {
  if (bytes > 0x7FFFFFFFu) {
    error = "TCP_WINDOW_CLAMP: value too large";
    return false;
  }
  return sockopt::set_tcp(fd, TCP_WINDOW_CLAMP, static_cast<int>(bytes), "TCP_WINDOW_CLAMP", error);
}

bool set_notsent_lowat(int fd, uint32_t bytes, std::string& error) {
  if (bytes > 0x7FFFFFFFu) {
    error = "TCP_NOTSENT_LOWAT: value too large";
    return false;
  }
  return sockopt::set_tcp(fd, TCP_NOTSENT_LOWAT, static_cast<int>(bytes), "TCP_NOTSENT_LOWAT", error);
}

std::optional<uint32_t> read_notsent_lowat(int fd, std::string& error) {
  uint32_t v = 0;
  if (!sockopt::get_tcp_u32(fd, TCP_NOTSENT_LOWAT, v, "TCP_NOTSENT_LOWAT", error)) return std::nullopt;
  return v;
}

bool set_receive_buffer(int fd, uint32_t bytes, std::string& error) {
  const int v = static_cast<int>(std::min<uint32_t>(bytes, 0x3FFFFFFFu));
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0) return true;
  error = errno_text("SO_RCVBUF");
  return false;
}

std::optional<uint32_t> read_receive_buffer(int fd, std::string& error) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) {
    error = errno_text("SO_RCVBUF");
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

}  // namespace tandem::session
