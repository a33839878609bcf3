// Reading the kernel state of a live TCP connection, for replication: the sequence
// numbers that stream offset 0 maps to in each direction, the queue lengths, and the
// negotiated options. Plain syscalls on a connected socket; no Asio. Each call returns
// nullopt/false with a message in `error` on failure and never leaves the socket in
// repair mode.
//
// Kernel support (checked against Debian 12's linux-libc-dev 6.1 headers and a 6.18
// kernel): TCP_REPAIR / TCP_REPAIR_QUEUE / TCP_QUEUE_SEQ (3.5+), TCP_TIMESTAMP (3.9+),
// tcpi_snd_wnd (5.4+, in the 6.1 headers), tcpi_rcv_wnd (6.2+, NOT in the 6.1 headers:
// read from the kernel's longer struct at its fixed ABI offset when the kernel returns it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tandem::session {

// tcpi_state values (the kernel's TCP_ESTABLISHED ... enum; a stable ABI). Not taken
// from <netinet/tcp.h>, which clashes with <linux/tcp.h>.
namespace tcpi {
enum : uint8_t {
  kEstablished = 1,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kCloseWait = 8,
  kLastAck = 9,
  kClosing = 11,
};
}  // namespace tcpi

// Sequence numbers of stream offset 0 in each direction: ISS+1 (send) and IRS+1 (recv).
struct SeqBases {
  uint32_t send_seq_base = 0;
  uint32_t recv_seq_base = 0;
  bool operator==(const SeqBases&) const = default;
};

// Needs CAP_NET_ADMIN (in the socket's network namespace): TCP_REPAIR is switched on for
// a few getsockopt calls to read write_seq and rcv_nxt, then off again (TCP_REPAIR_OFF,
// which makes the kernel send one window probe; harmless to the peer).
// `bytes_written`: bytes the application handed to the socket so far; `bytes_read`:
// bytes it has read so far. The caller must not read or write the socket concurrently.
// send_seq_base = write_seq - bytes_written; recv_seq_base = rcv_nxt - SIOCINQ - bytes_read
// (mod 2^32). Data arriving meanwhile is handled (rcv_nxt and SIOCINQ read consistently).
// On EPERM the error says so (starts with "TCP_REPAIR: ").
std::optional<SeqBases> read_seq_bases(int fd, uint64_t bytes_written, uint64_t bytes_read,
                                       std::string& error);

// Sequence number of stream offset `offset` given the base of that direction.
inline uint32_t seq_at(uint32_t base, uint64_t offset) {
  return base + static_cast<uint32_t>(offset);
}

struct TcpQueues {
  uint32_t unacked_and_unsent = 0;  // SIOCOUTQ: write_seq - snd_una
  uint32_t unsent = 0;              // SIOCOUTQNSD: write_seq - snd_nxt
  uint32_t unread = 0;              // SIOCINQ: rcv_nxt - copied_seq
};
std::optional<TcpQueues> read_queues(int fd, std::string& error);

struct TcpInfo {
  uint32_t mss = 0;              // tcpi_snd_mss
  uint8_t snd_wscale = 0;        // 0 unless window scaling was negotiated
  uint8_t rcv_wscale = 0;
  bool sack = false;
  bool timestamps = false;
  uint32_t peer_window = 0;      // tcpi_snd_wnd (bytes, scaled); 0 if the kernel is older than 5.4
  uint32_t rcv_window = 0;       // tcpi_rcv_wnd (bytes, scaled); 0 if the kernel is older than 6.2
  uint32_t rtt_us = 0;           // smoothed RTT
  uint32_t window_clamp = 0;     // TCP_WINDOW_CLAMP
  uint64_t bytes_received = 0;   // tcpi_bytes_received: in-order payload bytes received
  bool peer_window_known = false;  // whether the kernel reported the field
  bool rcv_window_known = false;
};
std::optional<TcpInfo> read_tcp_info(int fd, std::string& error);

// The current TCP timestamp value (TSval) this socket would send, offset included.
std::optional<uint32_t> read_tsval(int fd, std::string& error);

// Bound the window we advertise (TCP_WINDOW_CLAMP). The kernel raises tiny values to
// about half SOCK_MIN_RCVBUF and refuses 0 on a connected socket.
bool set_window_clamp(int fd, uint32_t bytes, std::string& error);

// The receive buffer (SO_RCVBUF; the kernel doubles the value for its overhead and stops
// autotuning the socket). The window clamp bounds what the peer may have in flight, not
// what waits unread in the queue: that is bounded by the buffer.
bool set_receive_buffer(int fd, uint32_t bytes, std::string& error);
std::optional<uint32_t> read_receive_buffer(int fd, std::string& error);  // as the kernel keeps it (doubled)

// Bound what the kernel holds unsent (TCP_NOTSENT_LOWAT): the socket takes more only
// below it, so a new message (a KEEPALIVE) never queues behind megabytes of UPDATEs in
// an autotuned send buffer; what a peer has not taken yet stays in the RIB's dirty set,
// where later changes still coalesce. Unacknowledged bytes in flight are not limited.
bool set_notsent_lowat(int fd, uint32_t bytes, std::string& error);
std::optional<uint32_t> read_notsent_lowat(int fd, std::string& error);

}  // namespace tandem::session
