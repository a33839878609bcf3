// bgp_blaster: a BGP route source that is never the bottleneck of an ingest benchmark.
//
// It builds a whole IPv4 table (synthetic and realistic, or one peer of a real
// `bgpdump -m` table), encodes every UPDATE with tandem's wire codec into one buffer
// BEFORE connecting, then opens an eBGP session to the receiver and writes the buffer
// at socket speed, followed by End-of-RIB. It keeps the session up (keepalives, reading
// and discarding whatever the receiver sends) until SIGTERM/SIGINT or stdin EOF.
//
// stdout carries one JSON object per line (events "ready", "established", "sent",
// "stopped", or "error"); human-readable notes go to stderr. See README.md.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/ingest/table.hpp"
#include "bgpd/wire/message.hpp"

namespace tandem::bench {
namespace {

namespace w = tandem::wire;

// ---- options ----

struct Options {
  std::string connect = "127.0.0.1";
  uint16_t port = 179;
  std::string bind;      // source address
  std::string next_hop;  // default: bind address, else 127.0.0.1
  uint32_t local_as = 65001;
  std::string router_id;  // default: next hop
  uint16_t hold_time = 90;
  size_t prefixes = 1'000'000;
  bool prefixes_given = false;
  uint64_t seed = 1;
  std::string table;
  std::string table_peer;
  bool wait_go = false;
  bool watch_stdin = true;
  bool dry_run = false;
  bool stats = false;
  std::string dump;
  double connect_timeout = 30;
  int sndbuf = 0;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: bgp_blaster [options]\n"
               "  --connect ADDR        receiver address (default 127.0.0.1)\n"
               "  --port N              receiver port (default 179)\n"
               "  --bind ADDR           local source address\n"
               "  --next-hop ADDR       NEXT_HOP of every route (default: --bind, else 127.0.0.1)\n"
               "  --local-as N          our AS, first AS of every path (default 65001)\n"
               "  --router-id A.B.C.D   BGP identifier (default: the next hop)\n"
               "  --hold-time N         hold time we offer (default 90)\n"
               "  --prefixes N          synthetic table size (default 1000000); with --table:\n"
               "                        take at most N of the peer's prefixes\n"
               "  --seed N              synthetic table seed (default 1)\n"
               "  --table FILE          read `bgpdump -m` text (plain or .gz) instead\n"
               "  --table-peer ADDR     which peer of FILE (default: the one with most prefixes)\n"
               "  --wait-go             after encoding, wait for a line on stdin before connecting\n"
               "  --no-stdin            do not stop on stdin EOF (only on SIGTERM/SIGINT)\n"
               "  --connect-timeout S   keep retrying the connection this long (default 30)\n"
               "  --sndbuf BYTES        set SO_SNDBUF (default: kernel autotuning)\n"
               "  --stats               print the table's distribution summary (JSON) to stderr\n"
               "  --dump FILE           also write the encoded UPDATE stream to FILE\n"
               "  --dry-run             build, encode, print \"ready\" and exit\n");
  std::exit(code);
}

bool parse_u64(const char* s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || !end || *end || s[0] == '-') return false;
  out = v;
  return true;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bgp_blaster: %s needs a value\n", argv[i]);
        usage(2);
      }
      return argv[++i];
    };
    auto number = [&](uint64_t max) -> uint64_t {
      const char* v = value();
      uint64_t n = 0;
      if (!parse_u64(v, n) || n > max) {
        std::fprintf(stderr, "bgp_blaster: bad value for %s: %s\n", argv[i - 1], v);
        usage(2);
      }
      return n;
    };
    if (a == "--connect") o.connect = value();
    else if (a == "--port") o.port = static_cast<uint16_t>(number(65535));
    else if (a == "--bind") o.bind = value();
    else if (a == "--next-hop") o.next_hop = value();
    else if (a == "--local-as") o.local_as = static_cast<uint32_t>(number(0xFFFFFFFF));
    else if (a == "--router-id") o.router_id = value();
    else if (a == "--hold-time") o.hold_time = static_cast<uint16_t>(number(65535));
    else if (a == "--prefixes") o.prefixes = number(10'000'000), o.prefixes_given = true;
    else if (a == "--seed") o.seed = number(UINT64_MAX);
    else if (a == "--table") o.table = value();
    else if (a == "--table-peer") o.table_peer = value();
    else if (a == "--wait-go") o.wait_go = true;
    else if (a == "--no-stdin") o.watch_stdin = false;
    else if (a == "--connect-timeout") o.connect_timeout = static_cast<double>(number(86400));
    else if (a == "--sndbuf") o.sndbuf = static_cast<int>(number(1 << 30));
    else if (a == "--stats") o.stats = true;
    else if (a == "--dump") o.dump = value();
    else if (a == "--dry-run") o.dry_run = true;
    else if (a == "-h" || a == "--help") usage(0);
    else {
      std::fprintf(stderr, "bgp_blaster: unknown option %s\n", argv[i]);
      usage(2);
    }
  }
  if (o.local_as == 0 || o.local_as == w::kAsTrans) {
    std::fprintf(stderr, "bgp_blaster: --local-as must be a usable AS number\n");
    usage(2);
  }
  if (o.hold_time != 0 && o.hold_time < 3) {
    std::fprintf(stderr, "bgp_blaster: --hold-time must be 0 or 3..65535\n");
    usage(2);
  }
  if (o.next_hop.empty()) o.next_hop = o.bind.empty() ? "127.0.0.1" : o.bind;
  if (o.router_id.empty()) o.router_id = o.next_hop;
  return o;
}

// ---- time, CPU, output ----

struct Clock {
  timespec real{}, mono{};
  static Clock now() {
    Clock c;
    clock_gettime(CLOCK_REALTIME, &c.real);
    clock_gettime(CLOCK_MONOTONIC, &c.mono);
    return c;
  }
  static int64_t ns(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }
  double mono_s() const { return static_cast<double>(ns(mono)) / 1e9; }
};

double since(const Clock& a, const Clock& b) {
  return static_cast<double>(Clock::ns(b.mono) - Clock::ns(a.mono)) / 1e9;
}

struct Cpu {
  double user = 0, sys = 0;
  static Cpu now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return Cpu{s(ru.ru_utime), s(ru.ru_stime)};
  }
  double total() const { return user + sys; }
};

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else out += c;
  }
  return out;
}

std::string utc_iso(const timespec& t) {
  tm tmv{};
  gmtime_r(&t.tv_sec, &tmv);
  char b[64];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tmv.tm_year + 1900,
                tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, t.tv_nsec);
  return b;
}

void emit(const std::string& json) {
  std::fputs(json.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void fail(const std::string& what, int code = 1) {
  emit("{\"event\":\"error\",\"message\":\"" + json_escape(what) + "\"}");
  std::fprintf(stderr, "bgp_blaster: %s\n", what.c_str());
  std::exit(code);
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// ---- the pre-encoded stream ----

struct Stream {
  std::vector<uint8_t> bytes;
  size_t updates = 0;       // UPDATE messages carrying routes
  size_t messages = 0;      // updates + End-of-RIB
  size_t prefixes = 0;      // counted back out of the encoded stream
};

Stream encode_table(const Table& t) {
  Stream s;
  w::CodecOptions copts;
  copts.four_octet_as = true;
  copts.ebgp = true;
  copts.extended_message = false;
  size_t estimate = t.prefix_count * 4 + t.sets.size() * 80 + 64;
  s.bytes.reserve(estimate);
  for (const RouteSet& rs : t.sets) {
    auto msgs = w::encode_announcements(rs.attrs, w::kIpv4Unicast, rs.prefixes, copts);
    for (const auto& m : msgs) {
      s.bytes.insert(s.bytes.end(), m.begin(), m.end());
      ++s.updates;
    }
  }
  auto eor = w::encode_end_of_rib(w::kIpv4Unicast);
  s.bytes.insert(s.bytes.end(), eor.begin(), eor.end());
  s.messages = s.updates + 1;

  // Check the codec's output before trusting any timing made with it: frame every
  // message and count the prefixes back.
  size_t off = 0, msgs = 0;
  std::vector<w::Prefix> scratch;
  while (off < s.bytes.size()) {
    std::span<const uint8_t> rest(s.bytes.data() + off, s.bytes.size() - off);
    if (rest.size() < w::kHeaderLen) fail("encoded stream: truncated header");
    auto h = w::decode_header(rest, w::kMaxMessageLen);
    if (!h) fail("encoded stream: bad header: " + h.error().reason);
    if (h->type != w::MessageType::Update || h->length > rest.size()) {
      fail("encoded stream: unexpected message");
    }
    auto body = rest.subspan(w::kHeaderLen, h->length - w::kHeaderLen);
    auto sec = w::split_update(body);
    if (!sec) fail("encoded stream: bad UPDATE: " + sec.error().reason);
    scratch.clear();
    auto n = w::decode_prefixes(sec->nlri, w::Afi::Ipv4, false, scratch);
    if (!n) fail("encoded stream: bad NLRI: " + n.error().reason);
    s.prefixes += scratch.size();
    off += h->length;
    ++msgs;
  }
  if (msgs != s.messages || s.prefixes != t.prefix_count) {
    fail("encoded stream holds " + std::to_string(s.prefixes) + " prefixes in " +
         std::to_string(msgs) + " messages; expected " + std::to_string(t.prefix_count) +
         " in " + std::to_string(s.messages));
  }
  return s;
}

// ---- the session ----

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  static std::optional<SockAddr> make(const std::string& text, uint16_t port) {
    auto ip = w::IpAddr::parse(text);
    if (!ip) return std::nullopt;
    SockAddr a;
    if (ip->is_v4()) {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
      s4->sin_family = AF_INET;
      s4->sin_port = htons(port);
      std::memcpy(&s4->sin_addr, ip->bytes.data(), 4);
      a.len = sizeof(sockaddr_in);
    } else {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(port);
      std::memcpy(&s6->sin6_addr, ip->bytes.data(), 16);
      a.len = sizeof(sockaddr_in6);
    }
    return a;
  }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

int connect_with_retry(const Options& o) {
  auto dst = SockAddr::make(o.connect, o.port);
  if (!dst) fail("bad --connect address " + o.connect);
  std::optional<SockAddr> src;
  if (!o.bind.empty()) {
    src = SockAddr::make(o.bind, 0);
    if (!src) fail("bad --bind address " + o.bind);
  }
  Clock start = Clock::now();
  for (int attempt = 0;; ++attempt) {
    int fd = socket(dst->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o.sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof o.sndbuf);
    if (src && bind(fd, src->sa(), src->len) != 0) {
      fail("bind " + o.bind + ": " + std::strerror(errno));
    }
    if (connect(fd, dst->sa(), dst->len) == 0) return fd;
    int err = errno;
    close(fd);
    if (since(start, Clock::now()) > o.connect_timeout) {
      fail("connect " + o.connect + ":" + std::to_string(o.port) + ": " + std::strerror(err) +
           " (gave up after " + std::to_string(attempt + 1) + " attempts)");
    }
    usleep(50'000);
  }
}

class Session {
 public:
  Session(const Options& o, const Stream& stream) : o_(o), stream_(stream) {}

  int run(int sigfd) {
    fd_ = connect_with_retry(o_);
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    Clock connected = Clock::now();

    w::Open open;
    open.hold_time = o_.hold_time;
    auto rid = w::IpAddr::parse(o_.router_id);
    if (!rid || !rid->is_v4()) fail("bad --router-id " + o_.router_id);
    open.bgp_id = rid->v4_host_order();
    open.caps.multiprotocol.push_back(w::kIpv4Unicast);
    open.caps.four_octet_as = o_.local_as;
    open.caps.route_refresh = true;
    queue(w::encode_open(open));

    bool stdin_open = o_.watch_stdin;
    for (;;) {
      pollfd pf[3];
      int n = 0;
      pf[n++] = pollfd{fd_, static_cast<short>(POLLIN | (want_write() ? POLLOUT : 0)), 0};
      pf[n++] = pollfd{sigfd, POLLIN, 0};
      if (stdin_open) pf[n++] = pollfd{STDIN_FILENO, POLLIN, 0};
      int timeout_ms = 1000;
      if (state_ == State::Established && keepalive_s_ > 0 && streamed_) {
        double due = last_keepalive_.mono_s() + keepalive_s_ - Clock::now().mono_s();
        timeout_ms = due <= 0 ? 0 : static_cast<int>(due * 1000) + 1;
      }
      if (poll(pf, static_cast<nfds_t>(n), timeout_ms) < 0) {
        if (errno == EINTR) continue;
        fail(std::string("poll: ") + std::strerror(errno));
      }
      if (state_ != State::Established && since(connected, Clock::now()) > 60) {
        fail("no BGP session within 60 s of connecting");
      }
      if (pf[1].revents & POLLIN) {
        signalfd_siginfo si{};
        (void)!read(sigfd, &si, sizeof si);
        return stop("signal " + std::to_string(si.ssi_signo));
      }
      if (stdin_open && pf[2].revents) {
        char b[256];
        ssize_t r = read(STDIN_FILENO, b, sizeof b);
        if (r <= 0) return stop("stdin closed");
      }
      if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!receive()) return stop("connection closed by the receiver", 3);
      }
      if (want_write() && (pf[0].revents & POLLOUT)) send_some();
      if (state_ == State::Established && streamed_ && keepalive_s_ > 0 &&
          Clock::now().mono_s() - last_keepalive_.mono_s() >= keepalive_s_) {
        queue(w::encode_keepalive());
        last_keepalive_ = Clock::now();
        send_some();
      }
    }
  }

 private:
  enum class State { OpenSent, OpenConfirm, Established };

  bool want_write() const {
    return out_off_ < out_.size() || (state_ == State::Established && !streamed_);
  }

  void queue(const std::vector<uint8_t>& msg) { out_.insert(out_.end(), msg.begin(), msg.end()); }

  void send_some() {
    // Control messages first (only ever queued at message boundaries of the stream:
    // before it starts or after it ends).
    while (out_off_ < out_.size()) {
      ssize_t r = write(fd_, out_.data() + out_off_, out_.size() - out_off_);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        fail(std::string("write: ") + std::strerror(errno), 3);
      }
      out_off_ += static_cast<size_t>(r);
      if (out_off_ == out_.size()) out_.clear(), out_off_ = 0;
    }
    if (state_ != State::Established || streamed_) return;
    while (stream_off_ < stream_.bytes.size()) {
      // One big write: the kernel takes whatever the socket buffer has room for.
      ssize_t r = write(fd_, stream_.bytes.data() + stream_off_, stream_.bytes.size() - stream_off_);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        fail(std::string("write: ") + std::strerror(errno), 3);
      }
      ++writes_;
      stream_off_ += static_cast<size_t>(r);
    }
    streamed_ = true;
    Clock done = Clock::now();
    Cpu cpu = Cpu::now();
    last_keepalive_ = done;
    emit(std::string("{\"event\":\"sent\"") +
         ",\"bytes\":" + std::to_string(stream_.bytes.size()) +
         ",\"messages\":" + std::to_string(stream_.messages) +
         ",\"updates\":" + std::to_string(stream_.updates) +
         ",\"prefixes\":" + std::to_string(stream_.prefixes) +
         ",\"write_calls\":" + std::to_string(writes_) +
         ",\"write_seconds\":" + fmt("%.6f", since(established_, done)) +
         ",\"t_sent_monotonic_ns\":" + std::to_string(Clock::ns(done.mono)) +
         ",\"cpu_sending_user_s\":" + fmt("%.6f", cpu.user - cpu_established_.user) +
         ",\"cpu_sending_sys_s\":" + fmt("%.6f", cpu.sys - cpu_established_.sys) +
         ",\"cpu_sending_s\":" + fmt("%.6f", cpu.total() - cpu_established_.total()) +
         ",\"cpu_total_s\":" + fmt("%.6f", cpu.total()) +
         ",\"received_messages\":" + std::to_string(rx_messages_) +
         ",\"received_bytes\":" + std::to_string(rx_bytes_) + "}");
  }

  // Read and frame whatever is there. Returns false when the receiver closed.
  bool receive() {
    for (;;) {
      uint8_t b[65536];
      ssize_t r = read(fd_, b, sizeof b);
      if (r == 0) return false;
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        if (errno == ECONNRESET) return false;
        fail(std::string("read: ") + std::strerror(errno), 3);
      }
      rx_bytes_ += static_cast<size_t>(r);
      in_.insert(in_.end(), b, b + r);
      if (static_cast<size_t>(r) < sizeof b) break;
    }
    size_t off = 0;
    while (in_.size() - off >= w::kHeaderLen) {
      std::span<const uint8_t> rest(in_.data() + off, in_.size() - off);
      auto h = w::decode_header(rest, w::kMaxMessageLen);
      if (!h) fail("receiver sent a bad message header: " + h.error().reason, 3);
      if (rest.size() < h->length) break;
      handle(h->type, rest.subspan(w::kHeaderLen, h->length - w::kHeaderLen));
      off += h->length;
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(off));
    return true;
  }

  void handle(w::MessageType type, std::span<const uint8_t> body) {
    ++rx_messages_;
    switch (type) {
      case w::MessageType::Notification: {
        auto n = w::decode_notification(body);
        fail("receiver sent NOTIFICATION: " + (n ? n->describe() : std::string("(undecodable)")), 3);
      }
      case w::MessageType::Open: {
        if (state_ != State::OpenSent) fail("unexpected OPEN", 3);
        auto open = w::decode_open(body);
        if (!open) fail("bad OPEN from the receiver: " + open.error().reason, 3);
        uint16_t hold = std::min(o_.hold_time, open->hold_time);
        keepalive_s_ = hold == 0 ? 0 : std::min(30.0, hold / 3.0);
        peer_as_ = open->asn();
        queue(w::encode_keepalive());
        state_ = State::OpenConfirm;
        break;
      }
      case w::MessageType::Keepalive:
        if (state_ == State::OpenConfirm) {
          state_ = State::Established;
          established_ = Clock::now();
          cpu_established_ = Cpu::now();
          emit(std::string("{\"event\":\"established\"") +
               ",\"peer_as\":" + std::to_string(peer_as_) +
               ",\"t_established_realtime_ns\":" + std::to_string(Clock::ns(established_.real)) +
               ",\"t_established_monotonic_ns\":" + std::to_string(Clock::ns(established_.mono)) +
               ",\"t_established_utc\":\"" + utc_iso(established_.real) + "\"" +
               ",\"keepalive_interval_s\":" + fmt("%.1f", keepalive_s_) + "}");
          send_some();
        }
        break;
      case w::MessageType::Update:
        if (state_ != State::Established) fail("UPDATE before the session was up", 3);
        ++rx_updates_;
        break;
      case w::MessageType::RouteRefresh:
        break;  // everything was sent already; nothing to refresh
    }
  }

  int stop(const std::string& why, int code = 0) {
    if (fd_ >= 0 && (streamed_ || state_ != State::Established) && code == 0) {
      // Cease / Administrative Shutdown, best effort (we are at a message boundary).
      w::Notification n;
      n.code = w::err::kCease;
      n.subcode = w::err::kAdminShutdown;
      auto bytes = w::encode_notification(n);
      (void)!write(fd_, bytes.data(), bytes.size());
    }
    Cpu cpu = Cpu::now();
    emit(std::string("{\"event\":\"stopped\",\"reason\":\"") + json_escape(why) + "\"" +
         ",\"streamed\":" + (streamed_ ? "true" : "false") +
         ",\"stream_bytes_written\":" + std::to_string(stream_off_) +
         ",\"received_messages\":" + std::to_string(rx_messages_) +
         ",\"received_updates\":" + std::to_string(rx_updates_) +
         ",\"received_bytes\":" + std::to_string(rx_bytes_) +
         ",\"cpu_total_s\":" + fmt("%.6f", cpu.total()) +
         ",\"peak_rss_kib\":" + std::to_string(peak_rss_kib()) + "}");
    if (fd_ >= 0) close(fd_);
    return code;
  }

  const Options& o_;
  const Stream& stream_;
  int fd_ = -1;
  State state_ = State::OpenSent;
  std::vector<uint8_t> out_;
  size_t out_off_ = 0;
  size_t stream_off_ = 0;
  bool streamed_ = false;
  size_t writes_ = 0;
  std::vector<uint8_t> in_;
  size_t rx_bytes_ = 0, rx_messages_ = 0, rx_updates_ = 0;
  double keepalive_s_ = 30;
  uint32_t peer_as_ = 0;
  Clock established_, last_keepalive_;
  Cpu cpu_established_;
};

int main_impl(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  // SIGTERM/SIGINT through a signalfd (blocked before anything else runs); a receiver
  // closing on us must not kill us with SIGPIPE.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sigfd < 0) fail(std::string("signalfd: ") + std::strerror(errno));
  signal(SIGPIPE, SIG_IGN);

  auto nh = w::IpAddr::parse(o.next_hop);
  if (!nh || !nh->is_v4()) fail("--next-hop must be an IPv4 address: " + o.next_hop);

  Clock t0 = Clock::now();
  Table table;
  if (!o.table.empty()) {
    TableFileOptions to;
    to.path = o.table;
    to.peer = o.table_peer;
    to.max_prefixes = o.prefixes_given ? o.prefixes : 0;
    to.local_as = o.local_as;
    to.next_hop = *nh;
    std::string err;
    if (!read_bgpdump_table(to, table, err)) fail(err);
  } else {
    SynthOptions so;
    so.prefixes = o.prefixes;
    so.seed = o.seed;
    so.local_as = o.local_as;
    so.next_hop = *nh;
    table = generate_table(so);
  }
  Clock t1 = Clock::now();
  if (o.stats) std::fprintf(stderr, "%s\n", describe_table(table).c_str());
  Stream stream = encode_table(table);
  Clock t2 = Clock::now();
  if (!o.dump.empty()) {
    FILE* f = std::fopen(o.dump.c_str(), "wb");
    if (!f || std::fwrite(stream.bytes.data(), 1, stream.bytes.size(), f) != stream.bytes.size() ||
        std::fclose(f) != 0) {
      fail("cannot write " + o.dump);
    }
  }
  size_t sets = table.sets.size();
  std::string source = table.source;
  table = Table{};  // the encoded stream is all we need from here on

  emit(std::string("{\"event\":\"ready\"") +
       ",\"source\":\"" + json_escape(source) + "\"" +
       ",\"prefixes\":" + std::to_string(stream.prefixes) +
       ",\"attribute_sets\":" + std::to_string(sets) +
       ",\"updates\":" + std::to_string(stream.updates) +
       ",\"bytes\":" + std::to_string(stream.bytes.size()) +
       ",\"local_as\":" + std::to_string(o.local_as) +
       ",\"next_hop\":\"" + o.next_hop + "\"" +
       ",\"build_seconds\":" + fmt("%.3f", since(t0, t1)) +
       ",\"encode_seconds\":" + fmt("%.3f", since(t1, t2)) +
       ",\"cpu_prepare_s\":" + fmt("%.3f", Cpu::now().total()) +
       ",\"peak_rss_kib\":" + std::to_string(peak_rss_kib()) + "}");
  if (o.dry_run) return 0;

  if (o.wait_go) {
    // One line on stdin means go; EOF means give up.
    char c = 0;
    for (;;) {
      ssize_t r = read(STDIN_FILENO, &c, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        emit("{\"event\":\"stopped\",\"reason\":\"stdin closed before go\",\"streamed\":false}");
        return 0;
      }
      if (c == '\n') break;
    }
  }
  Session session(o, stream);
  return session.run(sigfd);
}

}  // namespace
}  // namespace tandem::bench

int main(int argc, char** argv) { return tandem::bench::main_impl(argc, argv); }
