#include "replicator/witness/term_beacon.hpp"

#include <net/if.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "replicator/channel/frame.hpp"

namespace tandem::replicator::witness {

namespace {

constexpr std::array<uint8_t, 8> kMagic = {'T', 'N', 'D', 'M', 'B', 'E', 'A', 'C'};
constexpr uint8_t kVersion = 1;
constexpr size_t kBodySize = kBeaconSize - kFrameMacLen;  // 33

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
std::vector<uint8_t> mac_of(std::span<const uint8_t> body, std::span<const uint8_t> key) {
  const std::span<const uint8_t> parts[] = {body};
  return hmac_sha256(key, parts);
}

}  // namespace

std::vector<uint8_t> encode_beacon(const Beacon& b, std::span<const uint8_t> key) {
  std::vector<uint8_t> out(kBeaconSize);
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  out[8] = kVersion;
  put_u64(&out[9], b.term);
  put_u64(&out[17], b.sender);
  put_u64(&out[25], b.sent_ns);
  const auto mac = mac_of(std::span(out).first(kBodySize), key);
  std::memcpy(&out[kBodySize], mac.data(), kFrameMacLen);
  return out;
}

std::optional<Beacon> decode_beacon(std::span<const uint8_t> bytes, std::span<const uint8_t> key, std::string& why) {
  if (bytes.size() != kBeaconSize) {
    why = "size " + std::to_string(bytes.size()) + ", expected " + std::to_string(kBeaconSize);
    return std::nullopt;
  }
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    why = "not a tandem beacon (magic)";
    return std::nullopt;
  }
  if (bytes[8] != kVersion) {
    why = "version " + std::to_string(bytes[8]) + ", expected " + std::to_string(kVersion);
    return std::nullopt;
  }
  const auto mac = mac_of(bytes.first(kBodySize), key);
  if (CRYPTO_memcmp(mac.data(), bytes.data() + kBodySize, kFrameMacLen) != 0) {
    why = "bad MAC (another key, or forged)";
    return std::nullopt;
  }
  return Beacon{get_u64(&bytes[9]), get_u64(&bytes[17]), get_u64(&bytes[25])};
}

TermBeacon::TermBeacon(boost::asio::io_context& io, BeaconOptions opts, OnBeacon on_beacon)
    : io_(io), opts_(std::move(opts)), on_beacon_(std::move(on_beacon)), socket_(io), timer_(io) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&self_), sizeof self_) != 1) self_ = 0;
  if (self_ == 0) self_ = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1;
}

TermBeacon::~TermBeacon() {
  *alive_ = false;
  stop();
}

bool TermBeacon::start(std::string& error) {
  using boost::asio::ip::udp;
  const auto to = session::to_asio(opts_.to);
  to_ = udp::endpoint(to, opts_.port);
  boost::system::error_code ec;
  socket_.open(to.is_v6() ? udp::v6() : udp::v4(), ec);
  if (!ec) socket_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  // Only the peers' segment counts: a beacon that came over another link proves nothing.
  if (!ec && ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, opts_.interface.c_str(),
                          static_cast<socklen_t>(opts_.interface.size())) != 0)
    ec.assign(errno, boost::system::system_category());
  if (!ec) {
    const int ttl = 255;  // sent with 255; the other node is on the same segment
    if (to.is_v6())
      ::setsockopt(socket_.native_handle(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    else
      ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    socket_.bind(udp::endpoint(to.is_v6() ? udp::v6() : udp::v4(), opts_.port), ec);
  }
  if (ec) {
    error = "term beacon on " + opts_.interface + " port " + std::to_string(opts_.port) + ": " + ec.message();
    socket_.close(ec);
    return false;
  }
  spdlog::info("witness: term beacon on {} to {}:{} every {} ms", opts_.interface, opts_.to.to_string(), opts_.port,
               opts_.every.count());
  receive();
  return true;
}

void TermBeacon::announce(uint64_t term) {
  const bool was = term_ != 0;
  term_ = term;
  if (term_ != 0 && !was && socket_.is_open()) tick();
}

void TermBeacon::stop() {
  term_ = 0;
  boost::system::error_code ec;
  timer_.cancel();
  socket_.close(ec);
}

void TermBeacon::tick() {
  if (term_ == 0 || !socket_.is_open()) return;
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto bytes = std::make_shared<std::vector<uint8_t>>(encode_beacon({term_, self_, static_cast<uint64_t>(now_ns)},
                                                                    opts_.key));
  boost::system::error_code ec;
  socket_.send_to(boost::asio::buffer(*bytes), to_, 0, ec);  // 65 bytes of UDP: never blocks for long
  if (ec) {
    // No route while the link is down: counted, the next interval tries again.
    if (counters_.send_errors++ % 1000 == 0)
      spdlog::warn("witness: sending the term beacon to {}: {} ({} failures)", opts_.to.to_string(), ec.message(),
                   counters_.send_errors);
  } else {
    ++counters_.sent;
  }
  timer_.expires_after(opts_.every);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& e) {
    if (!e && !alive.expired()) tick();
  });
}

void TermBeacon::receive() {
  std::weak_ptr<bool> alive = alive_;
  socket_.async_receive_from(boost::asio::buffer(buf_), from_, [this, alive](const boost::system::error_code& ec,
                                                                             size_t n) {
    if (alive.expired() || ec == boost::asio::error::operation_aborted || !socket_.is_open()) return;
    if (!ec) {
      std::string why;
      const auto from = session::to_ip(from_.address());
      auto b = from == opts_.to ? decode_beacon(std::span<const uint8_t>(buf_.data(), n), opts_.key, why)
                                : std::nullopt;
      if (from != opts_.to) why = "not from the other node (" + opts_.to.to_string() + ")";
      if (!b) {
        ++counters_.rejected;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_reject_log_ > std::chrono::seconds(10)) {
          last_reject_log_ = now;
          spdlog::warn("witness: beacon from {} rejected: {} ({} rejected so far)", from.to_string(), why,
                       counters_.rejected);
        }
      } else if (b->sender != self_) {
        ++counters_.received;
        last_heard_ = std::chrono::steady_clock::now();
        on_beacon_(*b, from);
      }
    }
    receive();
  });
}

}  // namespace tandem::replicator::witness
