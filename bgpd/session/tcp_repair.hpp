// Socket handoff primitives for non-stop routing: freeze a live TCP connection into a
// plain struct (TCP_REPAIR), rebuild it in a new socket (possibly in another network
// namespace or on another host), probe the peer's view of the connection with a bare
// out-of-window ACK, and reset the peer with a forged RST. Plain syscalls, no Asio, no
// daemon wiring; nothing throws: failures return nullopt / -1 / false with a message in
// `error`. All calls need CAP_NET_ADMIN (TCP_REPAIR, IP_TRANSPARENT, SO_*BUFFORCE) and
// CAP_NET_RAW (raw and packet sockets) in the calling thread's network namespace, which
// is where sockets are created: to restore or probe in another namespace, setns() first.
//
// The order of operations is the one verified in ../shared/NSR-NOTES.md (the team notes):
//   primary: remove the VIP, freeze(fd), close(fd) (sends nothing in repair mode)
//   standby: [probe_peer] restore(..., leave_repair=false), add the VIP, gratuitous ARP,
//            finish_restore()  (TCP_REPAIR=0: one window probe; then the unsent bytes)
//
// TCP_REPAIR does not stop the socket: while frozen (and until it is closed) it still
// processes incoming segments and timers. freeze() reads a consistent snapshot, but
// data the peer sends after it is acknowledged by the old socket and lost, unless the
// caller stopped the traffic first (remove the VIP: segments to it are then dropped).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr;
struct sockaddr_storage;

namespace tandem::session {

// An IPv4 or IPv6 address and a TCP port.
struct TcpEndpoint {
  int family = 0;                    // AF_INET or AF_INET6 (0: unset)
  std::array<uint8_t, 16> addr{};    // network byte order; IPv4 in the first 4 bytes
  uint16_t port = 0;                 // host byte order
  uint32_t scope_id = 0;             // IPv6 link-local only

  static std::optional<TcpEndpoint> parse(std::string_view ip, uint16_t port);
  static std::optional<TcpEndpoint> from_sockaddr(const sockaddr* sa, unsigned len);
  unsigned to_sockaddr(sockaddr_storage& out) const;  // returns the length, 0 if unset
  std::string to_string() const;                      // "192.0.2.1:179", "[2001:db8::1]:179"
  bool operator==(const TcpEndpoint&) const = default;
};

// TCP_REPAIR_WINDOW (struct tcp_repair_window).
struct TcpRepairWindow {
  uint32_t snd_wl1 = 0;
  uint32_t snd_wnd = 0;
  uint32_t max_window = 0;
  uint32_t rcv_wnd = 0;
  uint32_t rcv_wup = 0;
  bool operator==(const TcpRepairWindow&) const = default;
};

// Everything needed to rebuild one ESTABLISHED connection. Sequence numbers are
// unsigned 32-bit and wrap.
struct FrozenTcp {
  TcpEndpoint local;
  TcpEndpoint remote;

  // Send side: [snd_una, snd_nxt) was sent and is not acknowledged, [snd_nxt, write_seq)
  // was never sent. send_queue holds [snd_una, write_seq) in order.
  uint32_t write_seq = 0;
  uint32_t snd_una = 0;  // write_seq - SIOCOUTQ
  uint32_t snd_nxt = 0;  // write_seq - SIOCOUTQNSD
  std::vector<uint8_t> send_queue;

  // Receive side: recv_queue holds the unread bytes, [rcv_nxt - size, rcv_nxt).
  uint32_t rcv_nxt = 0;
  std::vector<uint8_t> recv_queue;

  uint32_t mss = 0;  // TCP_MAXSEG in repair mode: the MSS clamp (the peer's MSS option)
  bool wscale = false;  // window scaling negotiated
  uint8_t snd_wscale = 0;
  uint8_t rcv_wscale = 0;
  bool sack = false;
  bool timestamps = false;
  // TCP_TIMESTAMP: the TSval the socket would send at `taken`. On kernels >= 6.7 its
  // low bit is the "usec timestamps" flag (then the unit is 1 us, else 1 ms).
  uint32_t tsval = 0;
  TcpRepairWindow window;

  // Diagnostic: bytes the kernel marked as sent without transmitting them while the
  // send queue was selected in repair mode during freeze() (counted as unsent above).
  uint32_t marked_sent_in_repair = 0;

  uint32_t sndbuf = 0;  // SO_SNDBUF / SO_RCVBUF as the kernel keeps them (doubled)
  uint32_t rcvbuf = 0;

  // When the snapshot was taken (CLOCK_MONOTONIC of the freezing host). Restoring on
  // another host: rebase it onto that host's steady_clock before restore() (e.g. now
  // minus the snapshot's age) or pass RestoreOptions::tsval.
  std::chrono::steady_clock::time_point taken{};

  uint32_t unacked() const { return snd_nxt - snd_una; }
  uint32_t unsent() const { return write_seq - snd_nxt; }
};

// Freeze: TCP_REPAIR=1 and read the state. On success the socket STAYS in repair mode:
// the caller closes it (close() in repair mode sends no FIN/RST) or calls unfreeze().
// On failure the socket is left out of repair mode. Only ESTABLISHED connections.
// Reading the send queue can make the kernel mark unsent bytes as sent on the live
// socket (see marked_sent_in_repair); the snapshot corrects for it, the live socket
// does not: after unfreeze() such bytes go out on a retransmission timeout.
std::optional<FrozenTcp> freeze(int fd, std::string& error);

// Leave repair mode again (an aborted switchover). TCP_REPAIR_OFF: the kernel sends one
// window probe, which the peer answers; harmless.
bool unfreeze(int fd, std::string& error);

struct RestoreOptions {
  // TSval of the restored socket (PAWS: it must not go backwards for the peer):
  // tsval if set, else frozen.tsval + (now - frozen.taken) + timestamp_offset (ticks).
  // Across hosts carry an offset, not a raw value (the clocks differ). The low bit is
  // forced to the frozen connection's (kernel >= 6.7: it selects usec timestamps).
  std::optional<uint32_t> tsval;
  int32_t timestamp_offset = 0;

  // Overrides from a probe (probe_peer) when the snapshot may be stale:
  //   snd_nxt = the peer's rcv_nxt (the ACK field of its reply): where our next byte
  //             goes. Send-queue bytes before it were received by the peer and are
  //             dropped; everything from it on is (re)sent right after finish_restore.
  //   rcv_nxt = the peer's snd_nxt (the SEQ field of its reply): the next byte we
  //             expect. If it is beyond frozen.rcv_nxt the peer's bytes in between are
  //             lost to us (a stream gap); if before, the tail of recv_queue the peer
  //             will send again is dropped.
  // A value that would leave a gap in either byte stream (peer acknowledged bytes the
  // snapshot never had, or bytes we lack were already acknowledged) is refused unless
  // allow_stream_gap: then the stream silently skips them and the application must
  // repair it (BGP: resynchronise at a message boundary, ROUTE-REFRESH, ...).
  // Without snd_nxt, the bytes in flight at the freeze, [snd_una, snd_nxt), are
  // restored as in flight (exact). If they were lost, the new socket (no RTT sample,
  // fresh timers) retransmits them on a timeout only, unless later data draws SACKs:
  // 0.4 s and 4 s were seen in the tests. Resending them at once without knowing the
  // peer's rcv_nxt is NOT safe: if the peer has some of them, its ACKs run ahead of our
  // snd_nxt, the kernel discards them (window updates included) and the connection can
  // livelock (seen: IPv6 loopback, window below the MSS). To resend at once, probe the
  // peer and pass its rcv_nxt here.
  std::optional<uint32_t> snd_nxt;
  std::optional<uint32_t> rcv_nxt;
  bool allow_stream_gap = false;
  // Replace the frozen TCP_REPAIR_WINDOW (e.g. with the peer's window seen by a probe).
  std::optional<TcpRepairWindow> window;

  // true: finish_restore() is done inside restore(). false: the socket is returned still
  // in repair mode (ESTABLISHED, silent); the caller adds the address, sends the
  // gratuitous ARP/NA, then calls finish_restore().
  bool leave_repair = true;

  // IP_TRANSPARENT + IP_FREEBIND (IPv6 likewise): bind and connect from an address
  // that is not (yet) local. Needed to restore before the VIP is added.
  bool transparent = true;
  std::optional<uint32_t> mark;  // SO_MARK
  std::string bind_device;       // SO_BINDTODEVICE (empty: none)
  // Called on the new socket (in repair mode, not yet bound) for what the snapshot does
  // not carry: TCP-MD5 keys (set_md5_key), GTSM (set_gtsm), DSCP, ... A connection that
  // was signed must be signed from its first restored segment on, or the peer drops it.
  // Return false with `error` set to abort the restore.
  std::function<bool(int fd, std::string& error)> prepare;
};

// Rebuild the connection in a new socket. Returns the connected fd, or -1 (the socket
// is then closed silently: in repair mode, nothing reaches the peer). The socket is
// blocking, close-on-exec.
int restore(const FrozenTcp& frozen, const RestoreOptions& options, std::string& error);

// TCP_REPAIR=0 (the kernel sends a window probe), then queue the bytes that were never
// sent, through the normal send path. Same `frozen` and `options` as restore().
// On failure the socket is put back into repair mode, so that closing it sends nothing.
bool finish_restore(int fd, const FrozenTcp& frozen, const RestoreOptions& options, std::string& error);

struct ProbeOptions {
  // SEQ of the probe. Must be outside the peer's receive window so that the peer
  // answers with a duplicate ACK and ignores the segment; default: a random value
  // (in the window with probability rcv_wnd / 2^32). Best: frozen.snd_nxt + 2^31.
  std::optional<uint32_t> seq;
  uint32_t ack = 0;                 // ACK field of the probe (not checked by the peer)
  std::optional<uint32_t> tsval;    // add a timestamp option (TSval, TSecr = 0)
  std::string interface;            // capture only there (empty: every interface)
  std::string md5_key;              // the session's TCP-MD5 key: the probe is signed (RFC 2385)
  // Send the probe again when no reply came within this time (until the timeout). The
  // peer answers one out-of-window pure ACK per socket per tcp_invalid_ratelimit
  // (500 ms): the old socket's zero-window probes, keepalives and the window probe of
  // TCP_REPAIR_OFF all count, so a first probe right after them goes unanswered.
  std::chrono::milliseconds resend_every{600};
};

struct ProbeResult {
  uint32_t seq = 0;       // the peer's snd_nxt
  uint32_t ack = 0;       // the peer's rcv_nxt
  uint16_t window = 0;    // raw (unscaled) window field
  uint8_t flags = 0;      // TCP flags of the reply (0x10 ACK; 0x04 RST: no such connection)
  bool has_timestamp = false;
  uint32_t tsval = 0;
  // The peer's ts_recent: the last TSval it accepted from this connection (it does not
  // take the probe's, which is out of window). A restored socket's TSval must not be
  // below it (PAWS); across hosts a floor for RestoreOptions::tsval.
  uint32_t tsecr = 0;
  int probes_sent = 0;
  std::chrono::microseconds rtt{0};
  bool rst() const { return (flags & 0x04) != 0; }
};

// Send a bare ACK from `local` to `remote` over a raw socket with IP_HDRINCL (so `local`
// need not be a local address) and capture the peer's reply on an AF_PACKET socket
// whose BPF filter is attached before the probe is sent. Meant for the standby BEFORE
// the VIP is local there: the peer's reply then reaches the packet socket and the stack
// drops it (not addressed to us; with forwarding disabled no ICMP is sent either). If
// the address were local without a socket for the 4-tuple, the kernel would answer the
// reply with a RST and kill the peer's session. The peer's neighbour entry for `local`
// must point at this host (gratuitous ARP) for the reply to arrive here at all, and
// this host's neighbour entry for the peer should be warm: the probe goes through the
// neighbour layer, and while the entry resolves it waits there (IPv6: a lost NS costs
// 1 s; the probes queued meanwhile leave back to back and all but one are rate-limited).
// ProbeResult::rtt is measured from the last probe sent.
// TCP-MD5 sessions: set ProbeOptions::md5_key, or the peer's kernel drops the unsigned
// probe (no reply); the same key for send_rst().
// The peer kernel rate-limits such replies per socket (net.ipv4.tcp_invalid_ratelimit,
// 500 ms by default): probes within that time get no answer, hence resend_every; nullopt
// with an error starting "timeout" when nothing came back.
std::optional<ProbeResult> probe_peer(const TcpEndpoint& local, const TcpEndpoint& remote,
                                      std::chrono::milliseconds timeout, std::string& error,
                                      const ProbeOptions& options = {});

// A TCP RST from `local` to `remote` with sequence number `seq` (no ACK flag), over a raw
// socket with IP_HDRINCL (the source need not be local). The peer accepts it only if
// seq equals its rcv_nxt (RFC 5961); in its window but not exact: a challenge ACK;
// outside: ignored.
bool send_rst(const TcpEndpoint& local, const TcpEndpoint& remote, uint32_t seq, std::string& error,
              std::string_view md5_key = {});

// A bare ACK from `local` to `remote` with exactly these fields, over a raw socket with
// IP_HDRINCL: the acknowledgment a live socket's kernel already sent once, held back on
// the way out by the crash guard's ACK hold (replicator/guard). `mark` (SO_MARK, needs
// CAP_NET_ADMIN; 0 = none) tells that program it is ours. Signed with a non-empty
// `md5_key` (TCP-MD5 session).
struct AckSegment {
  uint32_t seq = 0, ack = 0;
  uint16_t window = 0;  // raw field
  bool has_ts = false;
  uint32_t ts_val = 0, ts_ecr = 0;
  uint32_t mark = 0;
  std::string md5_key;
};
bool send_ack(const TcpEndpoint& local, const TcpEndpoint& remote, const AckSegment& ack, std::string& error);

}  // namespace tandem::session
