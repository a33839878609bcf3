// BGP4MP / BGP4MP_ET bodies (RFC 6396 §4.4, RFC 8050 §4 for the ADDPATH subtypes).
#include "bgpd/mrt/bytes.hpp"
#include "bgpd/mrt/decode.hpp"

namespace tandem::mrt::detail {

namespace {

bool is_as4(uint16_t subtype) {
  return subtype == bgp4mp::kMessageAs4 || subtype == bgp4mp::kStateChangeAs4 ||
         subtype == bgp4mp::kMessageAs4Local || subtype == bgp4mp::kMessageAs4Addpath ||
         subtype == bgp4mp::kMessageAs4LocalAddpath;
}

std::optional<std::string> read_peer(Reader& r, bool as4, Bgp4mpPeer& p) {
  if (as4) {
    if (!r.u32(p.peer_as) || !r.u32(p.local_as)) return "truncated AS numbers";
  } else {
    uint16_t a = 0, b = 0;
    if (!r.u16(a) || !r.u16(b)) return "truncated AS numbers";
    p.peer_as = a;
    p.local_as = b;
  }
  uint16_t afi = 0;
  if (!r.u16(p.ifindex) || !r.u16(afi)) return "truncated interface index / AFI";
  if (afi != 1 && afi != 2) return "unknown address family " + std::to_string(afi);
  const auto fam = static_cast<wire::Afi>(afi);
  if (!r.addr(fam, p.peer_ip) || !r.addr(fam, p.local_ip)) return "truncated peer/local address";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> decode_bgp4mp(std::span<const uint8_t> body, uint16_t subtype,
                                         Record& rec) {
  Reader r(body);
  switch (subtype) {
    case bgp4mp::kStateChange:
    case bgp4mp::kStateChangeAs4: {
      Bgp4mpStateChange s;
      s.as4 = is_as4(subtype);
      if (auto e = read_peer(r, s.as4, s.peer)) return "STATE_CHANGE: " + *e;
      if (!r.u16(s.old_state) || !r.u16(s.new_state)) return "STATE_CHANGE: truncated states";
      rec.body = std::move(s);
      return std::nullopt;
    }
    case bgp4mp::kMessage:
    case bgp4mp::kMessageAs4:
    case bgp4mp::kMessageLocal:
    case bgp4mp::kMessageAs4Local:
    case bgp4mp::kMessageAddpath:
    case bgp4mp::kMessageAs4Addpath:
    case bgp4mp::kMessageLocalAddpath:
    case bgp4mp::kMessageAs4LocalAddpath: {
      Bgp4mpMessage m;
      m.as4 = is_as4(subtype);
      m.local = subtype == bgp4mp::kMessageLocal || subtype == bgp4mp::kMessageAs4Local ||
                subtype == bgp4mp::kMessageLocalAddpath || subtype == bgp4mp::kMessageAs4LocalAddpath;
      m.add_path = subtype >= bgp4mp::kMessageAddpath;
      if (auto e = read_peer(r, m.as4, m.peer)) return "MESSAGE: " + *e;
      const auto msg = r.rest();
      // The BGP header (marker, length, type) must be there and agree with the record.
      if (msg.size() < 19) return "MESSAGE: BGP message shorter than its 19-byte header";
      const size_t len = load_u16(msg.data() + 16);
      if (len != msg.size())
        return "MESSAGE: BGP length " + std::to_string(len) + " but " + std::to_string(msg.size()) +
               " bytes in the record";
      m.message.assign(msg.begin(), msg.end());
      rec.body = std::move(m);
      return std::nullopt;
    }
    default:
      rec.body = OtherRecord{{body.begin(), body.end()}};
      return std::nullopt;
  }
}

}  // namespace tandem::mrt::detail
