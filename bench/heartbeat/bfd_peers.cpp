// bfd_peers: N emulated single-hop BFD peers (RFC 5880, RFC 5881, IPv4) for
// bench/heartbeat. Peer i owns address FIRST+i (added to the interface by run.py) and
// the discriminator kDiscBase+i+1. One unconnected UDP socket sends for every peer
// (source address per packet via IP_PKTINFO, source port 49152, TTL 255), one socket on
// UDP 3784 receives for every peer (destination address via IP_PKTINFO), both batched
// with sendmmsg/recvmmsg, so that 1,000 peers at 10 ms cost one core only a little.
//
// Each peer runs the three-way handshake with the remote (Down -> Init -> Up, learning
// its discriminator), answers every Poll with a Final, and sends at the configured
// interval while Up (1 s otherwise). It advertises the configured interval from the
// start, so it never needs a Poll Sequence of its own. Transmission is not jittered:
// the benchmark wants exactly count/interval packets per second; the phases are spread
// over the interval instead.
//
// Flood (SIGUSR1 starts it, SIGUSR2 stops it): valid Up packets for the Up peers,
// round robin, as fast as the core allows, on top of the periodic ones. With --ifname
// and --dst-mac they are prebuilt Ethernet frames written to an AF_PACKET socket that
// bypasses the qdisc (no routing, no UDP socket: more packets per generator core).
// With --flood-quiet 1 the peers advertise Required Min RX 0 while flooding, so that
// the remote stops its periodic transmission (RFC 5880 §6.8.7) and its CPU is all
// receive. --flood-pps limits the rate. SIGTERM/SIGINT exit. A status line goes to
// stdout every second and at each flood toggle (run.py reads them), with the worst
// lateness of the 1 ms schedule (lag_ms) and the longest tick (tick_ms).
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "healthbpf/bfd_packet.hpp"

namespace {

using tandem::bfd::ControlPacket;
using tandem::bfd::Diag;
using tandem::bfd::State;

constexpr uint32_t kDiscBase = 0x00B0'0000;
constexpr uint64_t kTickNs = 1'000'000;  // the periodic schedule's granularity
constexpr unsigned kRxBatch = 128;

struct Options {
  uint32_t first = 0;   // host order
  uint32_t remote = 0;  // host order
  uint32_t count = 1000;
  uint32_t interval_us = 10'000;
  uint32_t slow_us = 1'000'000;  // RFC 5880 §6.8.3: not faster than 1 s while not Up
  uint8_t mult = 3;
  unsigned batch = 256;  // flood: packets per sendmmsg
  uint16_t src_port = 49152;
  uint16_t port = 3784;
  bool flood_quiet = false;         // Required Min RX 0 while flooding
  uint64_t flood_pps = 0;           // flood rate limit; 0: as fast as it goes
  std::string ifname;              // flood through AF_PACKET on this interface
  std::array<uint8_t, 6> dst_mac{};  // the receiver's MAC (AF_PACKET flood)
};

constexpr size_t kFrameSize = 14 + 20 + 8 + tandem::bfd::kControlPacketSize;

struct Peer {
  State state = State::Down;
  State remote_state = State::Down;
  Diag diag = Diag::None;
  uint32_t remote_disc = 0;
  uint32_t remote_min_rx_us = 0;
  bool final = false;     // answer a Poll with the next packet
  bool send_now = false;  // state change or Final: send at the next tick
  uint64_t next_tx = 0;
  std::array<uint8_t, tandem::bfd::kControlPacketSize> wire{};
  in_pktinfo pktinfo{};   // the peer's source address
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(in_pktinfo))]{};
  iovec iov{};
  msghdr hdr{};
  std::array<uint8_t, kFrameSize> frame{};  // the same packet as an Ethernet frame
  iovec frame_iov{};
  msghdr frame_hdr{};
};

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_flood = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) g_flood = 1;
  else if (sig == SIGUSR2) g_flood = 0;
  else g_stop = 1;
}

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bfd_peers: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bfd_peers --first A.B.C.D --remote A.B.C.D [--count N] [--interval-ms MS]\n"
               "                 [--mult N] [--batch N] [--ifname IF --dst-mac MAC] [--flood-quiet 0|1]\n"
               "                 [--flood-pps N]\n");
  std::exit(2);
}

uint32_t parse_v4(const char* s) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) usage();
  return ntohl(a.s_addr);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (k == "--first") o.first = parse_v4(v);
    else if (k == "--remote") o.remote = parse_v4(v);
    else if (k == "--count") o.count = uint32_t(std::strtoul(v, nullptr, 10));
    else if (k == "--interval-ms") o.interval_us = uint32_t(std::strtoul(v, nullptr, 10)) * 1000;
    else if (k == "--mult") o.mult = uint8_t(std::strtoul(v, nullptr, 10));
    else if (k == "--batch") o.batch = unsigned(std::strtoul(v, nullptr, 10));
    else if (k == "--ifname") o.ifname = v;
    else if (k == "--flood-quiet") o.flood_quiet = std::strtoul(v, nullptr, 10) != 0;
    else if (k == "--flood-pps") o.flood_pps = std::strtoull(v, nullptr, 10);
    else if (k == "--dst-mac") {
      unsigned m[6];
      if (std::sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) usage();
      for (int j = 0; j < 6; ++j) o.dst_mac[j] = uint8_t(m[j]);
    }
    else usage();
  }
  if (!o.first || !o.remote || !o.count || !o.interval_us || !o.mult || !o.batch || o.batch > 1024) usage();
  return o;
}

class Peers {
 public:
  explicit Peers(const Options& o) : o_(o), peers_(o.count) {
    tx_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    rx_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (tx_ < 0 || rx_ < 0) die("socket");
    int one = 1, ttl = 255, buf = 8 << 20;
    if (::setsockopt(tx_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0) die("IP_TTL");
    if (::setsockopt(tx_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
    // IP_FREEBIND: the source addresses are chosen per packet, not by the bind.
    if (::setsockopt(tx_, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0) die("IP_FREEBIND");
    ::setsockopt(tx_, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
    if (::setsockopt(rx_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) die("IP_PKTINFO");
    ::setsockopt(rx_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(o_.src_port);
    if (::bind(tx_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind tx");
    a.sin_port = htons(o_.port);
    if (::bind(rx_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind rx (UDP 3784)");
    if (!o_.ifname.empty()) open_raw();
    dst_.sin_family = AF_INET;
    dst_.sin_port = htons(o_.port);
    dst_.sin_addr.s_addr = htonl(o_.remote);

    const uint64_t start = now_ns();
    for (uint32_t i = 0; i < o_.count; ++i) {
      Peer& p = peers_[i];
      p.pktinfo.ipi_spec_dst.s_addr = htonl(o_.first + i);
      p.iov = {p.wire.data(), p.wire.size()};
      p.hdr.msg_name = &dst_;
      p.hdr.msg_namelen = sizeof dst_;
      p.hdr.msg_iov = &p.iov;
      p.hdr.msg_iovlen = 1;
      p.hdr.msg_control = p.cbuf;
      p.hdr.msg_controllen = sizeof p.cbuf;
      cmsghdr* c = CMSG_FIRSTHDR(&p.hdr);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      std::memcpy(CMSG_DATA(c), &p.pktinfo, sizeof p.pktinfo);
      p.frame_iov = {p.frame.data(), p.frame.size()};
      p.frame_hdr.msg_iov = &p.frame_iov;
      p.frame_hdr.msg_iovlen = 1;
      rebuild(i);
      p.send_now = true;  // a first Down at once: the remote learns us without waiting 1 s
      p.next_tx = start + rng_() % o_.interval_us * 1000;  // phases spread over one interval
    }
    rx_msgs_.resize(kRxBatch);
    rx_bufs_.resize(kRxBatch);
    rx_iov_.resize(kRxBatch);
    rx_cbufs_.resize(kRxBatch);
    rx_names_.resize(kRxBatch);
    tx_msgs_.resize(std::max<size_t>(o_.count, o_.batch));
  }

  // Drain what the remote sent, run the handshake, then send what is due.
  void tick(uint64_t now) {
    receive(now);
    size_t n = 0;
    for (uint32_t i = 0; i < o_.count; ++i) {
      Peer& p = peers_[i];
      if (!p.send_now && now < p.next_tx) continue;
      const uint64_t period = uint64_t(tx_interval_us(p)) * 1000;
      // Late (a stall): skip the missed slots but keep the phase, so that the peers
      // stay spread over the interval rather than all falling into one tick.
      if (now >= p.next_tx) p.next_tx += period * ((now - p.next_tx) / period + 1);
      p.send_now = false;
      tx_msgs_[n++].msg_hdr = p.hdr;
      if (p.final) {  // the Final goes once (encoded in p.wire, copied by sendmmsg below)
        send(n);
        n = 0;
        p.final = false;
        rebuild(i);
      }
    }
    send(n);
  }

  // Required Min RX 0 (the remote must stop transmitting) or back to the interval.
  void set_quiet(bool quiet) {
    quiet_ = quiet;
    for (uint32_t i = 0; i < o_.count; ++i) rebuild(i);
  }

  // One sendmmsg of up to `batch` Up packets, round robin over the Up peers; with
  // --flood-pps, only as many as the rate allows since `start` (false: none due yet).
  bool flood(uint64_t start, uint64_t now) {
    size_t want = o_.batch;
    if (o_.flood_pps) {
      const uint64_t due = (now - start) / 1000 * o_.flood_pps / 1'000'000;
      if (due <= flood_tx_ - flood_tx_at_start_) return false;
      want = std::min<uint64_t>(want, due - (flood_tx_ - flood_tx_at_start_));
    }
    size_t n = 0;
    for (uint32_t tries = 0; n < want && tries < o_.count; ++tries) {
      const Peer& p = peers_[cursor_];
      cursor_ = (cursor_ + 1) % o_.count;
      if (p.state == State::Up && !p.final) {
        tx_msgs_[n++].msg_hdr = raw_ >= 0 ? p.frame_hdr : p.hdr;
        tries = 0;
      }
    }
    flood_tx_ += send(n, raw_ >= 0 ? raw_ : tx_);
    return true;
  }
  void flood_started() { flood_tx_at_start_ = flood_tx_; }

  // `lag_ms`: the worst lateness of a tick since the last report (a stall of the
  // generator longer than the detection time takes sessions Down on the remote).
  void report(const char* what, double t, double lag_ms, double busy_ms) const {
    unsigned up = 0, init = 0;
    for (const auto& p : peers_) {
      up += p.state == State::Up;
      init += p.state == State::Init;
    }
    std::printf("bfd_peers: %s t=%.3f up=%u init=%u down=%u tx=%llu flood_tx=%llu tx_err=%llu rx=%llu "
                "rx_bad=%llu polls=%llu ups=%llu downs=%llu lag_ms=%.1f tick_ms=%.1f\n",
                what, t, up, init, o_.count - up - init, ull(sent_), ull(flood_tx_), ull(tx_err_), ull(received_),
                ull(rx_bad_), ull(polls_), ull(ups_), ull(downs_), lag_ms, busy_ms);
    std::fflush(stdout);
  }

 private:
  static unsigned long long ull(uint64_t v) { return v; }

  uint32_t tx_interval_us(const Peer& p) const {
    if (p.state != State::Up) return o_.slow_us;
    return std::max(o_.interval_us, p.remote_min_rx_us);
  }

  void rebuild(uint32_t i) {
    Peer& p = peers_[i];
    ControlPacket c;
    c.state = p.state;
    c.diag = p.diag;
    c.final = p.final;
    c.detect_mult = o_.mult;
    c.my_discriminator = kDiscBase + i + 1;
    c.your_discriminator = p.remote_disc;
    c.desired_min_tx_us = o_.interval_us;
    c.required_min_rx_us = quiet_ ? 0 : o_.interval_us;
    p.wire = tandem::bfd::encode(c);
    if (raw_ >= 0) build_frame(i);
  }

  void open_raw() {
    raw_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
    if (raw_ < 0) die("socket(AF_PACKET)");
    int one = 1;
    if (::setsockopt(raw_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) die("PACKET_QDISC_BYPASS");
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", o_.ifname.c_str());
    if (::ioctl(raw_, SIOCGIFHWADDR, &ifr) != 0) die("SIOCGIFHWADDR");
    std::memcpy(src_mac_.data(), ifr.ifr_hwaddr.sa_data, 6);
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_ifindex = int(if_nametoindex(o_.ifname.c_str()));
    if (ll.sll_ifindex == 0 || ::bind(raw_, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) die("bind AF_PACKET");
  }

  // Ethernet + IPv4 (TTL 255, DF) + UDP (checksum 0: none, allowed over IPv4) + BFD.
  void build_frame(uint32_t i) {
    Peer& p = peers_[i];
    uint8_t* f = p.frame.data();
    std::memcpy(f, o_.dst_mac.data(), 6);
    std::memcpy(f + 6, src_mac_.data(), 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t* ip = f + 14;
    const uint16_t ip_len = 20 + 8 + tandem::bfd::kControlPacketSize;
    const uint32_t src = o_.first + i, dst = o_.remote;
    const uint8_t hdr[20] = {0x45, 0, uint8_t(ip_len >> 8), uint8_t(ip_len), 0, 0, 0x40, 0, 255, IPPROTO_UDP, 0, 0,
                             uint8_t(src >> 24), uint8_t(src >> 16), uint8_t(src >> 8), uint8_t(src),
                             uint8_t(dst >> 24), uint8_t(dst >> 16), uint8_t(dst >> 8), uint8_t(dst)};
    std::memcpy(ip, hdr, sizeof hdr);
    uint32_t sum = 0;
    for (int k = 0; k < 20; k += 2) sum += uint32_t(ip[k] << 8 | ip[k + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = uint8_t(~sum >> 8), ip[11] = uint8_t(~sum);
    uint8_t* udp = ip + 20;
    const uint16_t udp_len = 8 + tandem::bfd::kControlPacketSize;
    const uint8_t uh[8] = {uint8_t(o_.src_port >> 8), uint8_t(o_.src_port), uint8_t(o_.port >> 8), uint8_t(o_.port),
                           uint8_t(udp_len >> 8), uint8_t(udp_len), 0, 0};
    std::memcpy(udp, uh, sizeof uh);
    std::memcpy(udp + 8, p.wire.data(), p.wire.size());
  }

  size_t send(size_t n) { return send(n, tx_); }
  size_t send(size_t n, int fd) {
    size_t done = 0;
    while (done < n) {
      int r = ::sendmmsg(fd, tx_msgs_.data() + done, unsigned(n - done), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        ++tx_err_;  // ENOBUFS and the like: the packet is lost, as on a wire
        ++done;
        continue;
      }
      done += size_t(r);
    }
    sent_ += n;
    return n;
  }

  void receive(uint64_t now) {
    for (;;) {
      for (unsigned k = 0; k < kRxBatch; ++k) {
        rx_iov_[k] = {rx_bufs_[k].data(), rx_bufs_[k].size()};
        msghdr& h = rx_msgs_[k].msg_hdr;
        h = msghdr{};
        h.msg_name = &rx_names_[k];
        h.msg_namelen = sizeof(sockaddr_in);
        h.msg_iov = &rx_iov_[k];
        h.msg_iovlen = 1;
        h.msg_control = rx_cbufs_[k].data();
        h.msg_controllen = rx_cbufs_[k].size();
      }
      int r = ::recvmmsg(rx_, rx_msgs_.data(), kRxBatch, MSG_DONTWAIT, nullptr);
      if (r <= 0) return;
      for (int k = 0; k < r; ++k) handle(rx_msgs_[k], now);
      if (unsigned(r) < kRxBatch) return;
    }
  }

  void handle(mmsghdr& m, uint64_t now) {
    ++received_;
    uint32_t dst = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr); c; c = CMSG_NXTHDR(&m.msg_hdr, c))
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        dst = ntohl(pi.ipi_addr.s_addr);
      }
    auto d = tandem::bfd::decode(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(m.msg_hdr.msg_iov->iov_base), m.msg_len));
    const uint32_t i = dst - o_.first;
    if (!d.ok() || i >= o_.count) {
      ++rx_bad_;
      return;
    }
    const ControlPacket& c = d.packet;
    Peer& p = peers_[i];
    if (c.your_discriminator != 0 && c.your_discriminator != kDiscBase + i + 1) {
      ++rx_bad_;
      return;
    }
    const State before = p.state;
    const uint32_t before_disc = p.remote_disc;
    p.remote_disc = c.my_discriminator;
    p.remote_state = c.state;
    p.remote_min_rx_us = c.required_min_rx_us;
    if (c.poll) {
      ++polls_;
      p.final = true;
      p.send_now = true;
    }
    // RFC 5880 §6.8.6, the state part.
    if (c.state == State::AdminDown || (p.state == State::Up && c.state == State::Down)) {
      if (p.state != State::Down) {
        p.state = State::Down;
        p.diag = Diag::NeighborSignaledDown;
      }
    } else if (p.state == State::Down) {
      if (c.state == State::Down) p.state = State::Init;
      else if (c.state == State::Init) p.state = State::Up;
    } else if (p.state == State::Init) {
      if (c.state == State::Init || c.state == State::Up) p.state = State::Up;
    }
    if (p.state != before) {
      p.send_now = true;
      if (p.state == State::Up) {
        ++ups_;
        p.diag = Diag::None;
        // From the slow rate to the interval now, at a random phase: sessions that came
        // Up together must not send together forever.
        p.next_tx = now + rng_() % o_.interval_us * 1000;
      }
      if (before == State::Up) ++downs_;
    }
    if (p.state != before || p.remote_disc != before_disc || c.poll) rebuild(i);
  }

  Options o_;
  std::mt19937_64 rng_{uint64_t(::getpid()) ^ now_ns()};
  std::vector<Peer> peers_;
  sockaddr_in dst_{};
  int tx_ = -1, rx_ = -1, raw_ = -1;
  std::array<uint8_t, 6> src_mac_{};
  uint32_t cursor_ = 0;
  bool quiet_ = false;
  uint64_t flood_tx_at_start_ = 0;
  std::vector<mmsghdr> tx_msgs_, rx_msgs_;
  std::vector<std::array<uint8_t, 128>> rx_bufs_;
  std::vector<iovec> rx_iov_;
  std::vector<std::array<char, CMSG_SPACE(sizeof(in_pktinfo)) + 64>> rx_cbufs_;
  std::vector<sockaddr_in> rx_names_;
  uint64_t sent_ = 0, flood_tx_ = 0, tx_err_ = 0, received_ = 0, rx_bad_ = 0, polls_ = 0, ups_ = 0, downs_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: a signal ends the sleep at once
  for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaction(s, &sa, nullptr);
  Peers peers(o);
  const uint64_t t0 = now_ns();
  uint64_t next_tick = t0, next_report = t0 + 1'000'000'000ull;
  bool flooding = false;
  uint64_t flood_start = 0;
  uint64_t lag = 0, busy = 0;  // worst tick lateness and tick duration, per report
  peers.report("start", 0, 0, 0);
  while (!g_stop) {
    if (bool(g_flood) != flooding) {
      flooding = g_flood;
      if (o.flood_quiet) peers.set_quiet(flooding);
      flood_start = now_ns();
      peers.flood_started();
      peers.report(flooding ? "flood-on" : "flood-off", double(now_ns() - t0) / 1e9, double(lag) / 1e6,
                   double(busy) / 1e6);
    }
    uint64_t now = now_ns();
    if (now >= next_tick) {
      lag = std::max(lag, now - next_tick);
      peers.tick(now);
      busy = std::max(busy, now_ns() - now);
      next_tick += kTickNs;
      if (next_tick < now) next_tick = now + kTickNs;  // we were stalled: no catch-up burst
    }
    if (now >= next_report) {
      peers.report("status", double(now - t0) / 1e9, double(lag) / 1e6, double(busy) / 1e6);
      lag = busy = 0;
      next_report += 1'000'000'000ull;
    }
    if (flooding) {
      if (!peers.flood(flood_start, now)) {  // rate-limited: nothing due for 20 us
        timespec pause{0, 20'000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
      }
      continue;
    }
    timespec ts{time_t(next_tick / 1'000'000'000ull), long(next_tick % 1'000'000'000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  peers.report("exit", double(now_ns() - t0) / 1e9, double(lag) / 1e6, double(busy) / 1e6);
  return 0;
}
