#include "bgpd/mrt/encode.hpp"

#include "bgpd/mrt/bytes.hpp"
#include "bgpd/mrt/constants.hpp"

namespace tandem::mrt {

using namespace detail;

Timestamp Timestamp::from(std::chrono::system_clock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  if (us <= 0) return {};
  return Timestamp{static_cast<uint32_t>(us / 1000000), static_cast<uint32_t>(us % 1000000)};
}

size_t begin_record(std::vector<uint8_t>& out, Timestamp t, uint16_t type, uint16_t subtype,
                    bool extended_time) {
  const size_t start = out.size();
  put_u32(out, t.seconds);
  put_u16(out, extended_time ? type::kBgp4mpEt : type);
  put_u16(out, subtype);
  put_u32(out, 0);
  if (extended_time) put_u32(out, t.microseconds);
  return start;
}

void end_record(std::vector<uint8_t>& out, size_t start) {
  store_u32(out.data() + start + 8, static_cast<uint32_t>(out.size() - start - kHeaderLen));
}

namespace {

// peer AS, local AS, interface index, AFI, peer IP, local IP (§4.4.2/§4.4.3).
void put_bgp4mp_peer(std::vector<uint8_t>& out, const Bgp4mpPeer& p) {
  put_u32(out, p.peer_as);
  put_u32(out, p.local_as);
  put_u16(out, p.ifindex);
  put_u16(out, static_cast<uint16_t>(p.peer_ip.afi));
  put_addr(out, p.peer_ip);
  if (p.local_ip.afi == p.peer_ip.afi) {
    put_addr(out, p.local_ip);
  } else {
    out.insert(out.end(), p.peer_ip.size(), 0);  // both addresses must share the AFI
  }
}

}  // namespace

std::vector<uint8_t> encode_bgp4mp_message(Timestamp t, const Bgp4mpPeer& peer,
                                           std::span<const uint8_t> message, bool extended_time,
                                           Direction dir) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderLen + 4 + 44 + message.size());
  const uint16_t subtype = dir == Direction::Sent ? bgp4mp::kMessageAs4Local : bgp4mp::kMessageAs4;
  const size_t start = begin_record(out, t, type::kBgp4mp, subtype, extended_time);
  put_bgp4mp_peer(out, peer);
  put_bytes(out, message);
  end_record(out, start);
  return out;
}

std::vector<uint8_t> encode_bgp4mp_state_change(Timestamp t, const Bgp4mpPeer& peer,
                                                FsmState old_state, FsmState new_state,
                                                bool extended_time) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderLen + 4 + 48);
  const size_t start = begin_record(out, t, type::kBgp4mp, bgp4mp::kStateChangeAs4, extended_time);
  put_bgp4mp_peer(out, peer);
  put_u16(out, static_cast<uint16_t>(old_state));
  put_u16(out, static_cast<uint16_t>(new_state));
  end_record(out, start);
  return out;
}

}  // namespace tandem::mrt
