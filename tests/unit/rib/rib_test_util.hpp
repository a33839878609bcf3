// Helpers for the RIB unit tests: attribute/peer builders, UPDATE encoding on the way
// in, and decoding of take_output() on the way out.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "bgpd/rib/rib.hpp"
#include "bgpd/wire/message.hpp"

namespace rib_test {

using namespace tandem;
using rib::IngestResult;
using rib::PeerId;
using rib::PeerInfo;
using rib::Rib;
using wire::PathAttributes;
using wire::Prefix;

inline constexpr uint32_t kLocalAs = 65000;
inline constexpr uint32_t kRouterId = 0x0A000001;  // 10.0.0.1

inline Prefix P(const char* s) { return *Prefix::parse(s); }
inline wire::IpAddr A(const char* s) { return *wire::IpAddr::parse(s); }
inline uint32_t ip4(const char* s) { return A(s).v4_host_order(); }

inline rib::RibConfig config() {
  rib::RibConfig c;
  c.local_as = kLocalAs;
  c.router_id = kRouterId;
  return c;
}

inline PathAttributes attrs(std::vector<uint32_t> path, const char* next_hop = "192.0.2.1") {
  PathAttributes a;
  a.origin = wire::Origin::Igp;
  a.has_origin = true;
  a.has_as_path = true;
  if (!path.empty()) {
    a.as_path.segments.push_back(wire::AsPathSegment{wire::AsPathSegment::Sequence, path});
  }
  if (next_hop != nullptr) a.next_hop = A(next_hop);
  return a;
}

inline PeerInfo peer(PeerId id, uint32_t remote_as, const char* address, uint32_t router_id) {
  PeerInfo p;
  p.id = id;
  p.address = A(address);
  p.remote_as = remote_as;
  p.router_id = router_id;
  p.local_v4 = A("192.0.2.254");
  p.local_v6 = A("2001:db8::fe");
  p.codec.ebgp = remote_as != kLocalAs;
  p.codec.four_octet_as = true;
  p.families = {wire::kIpv4Unicast, wire::kIpv6Unicast};
  return p;
}
inline PeerInfo ebgp(PeerId id, uint32_t as, const char* address, uint32_t router_id) {
  return peer(id, as, address, router_id);
}
inline PeerInfo ibgp(PeerId id, const char* address, uint32_t router_id) {
  return peer(id, kLocalAs, address, router_id);
}

inline std::vector<uint8_t> body_of(const std::vector<uint8_t>& msg) {
  return std::vector<uint8_t>(msg.begin() + wire::kHeaderLen, msg.end());
}

inline void add(IngestResult& sum, const IngestResult& r) {
  sum.announced += r.announced;
  sum.withdrawn += r.withdrawn;
  sum.rejected += r.rejected;
  sum.ignored += r.ignored;
  sum.treat_as_withdraw |= r.treat_as_withdraw;
  if (!r.reason.empty()) sum.reason = r.reason;
  if (r.session_error) sum.session_error = r.session_error;
  if (r.end_of_rib) sum.end_of_rib = r.end_of_rib;
}

// Encode the announcement as the peer would send it, and ingest it.
inline IngestResult announce(Rib& rib, const PeerInfo& from, const std::vector<Prefix>& prefixes,
                             const PathAttributes& a) {
  IngestResult sum;
  if (prefixes.empty()) return sum;
  auto msgs = wire::encode_announcements(a, prefixes[0].family(), prefixes, from.codec);
  EXPECT_FALSE(msgs.empty());
  for (const auto& m : msgs) add(sum, rib.ingest_update(from.id, body_of(m)));
  return sum;
}

inline IngestResult withdraw(Rib& rib, const PeerInfo& from, const std::vector<Prefix>& prefixes) {
  IngestResult sum;
  if (prefixes.empty()) return sum;
  for (const auto& m : wire::encode_withdrawals(prefixes[0].family(), prefixes, from.codec)) {
    add(sum, rib.ingest_update(from.id, body_of(m)));
  }
  return sum;
}

// Best path of a prefix: {peer, attrs} (attrs null when none).
inline std::pair<PeerId, const PathAttributes*> best(const Rib& rib, const Prefix& p) {
  std::pair<PeerId, const PathAttributes*> out{0, nullptr};
  rib.for_each_best(p.family(), [&](const Prefix& q, const rib::PathView& v) {
    if (q == p) out = {v.peer, v.attrs};
  });
  return out;
}

// What a peer received, decoded.
struct Received {
  std::vector<std::pair<Prefix, PathAttributes>> announced;  // in order
  std::vector<Prefix> withdrawn;
  std::vector<wire::Family> eor;
  std::vector<wire::RouteRefresh> refresh;  // BoRR / EoRR markers
  std::vector<std::string> order;           // "A", "W", "EOR", "BORR", "EORR" per message
  // Every announcement (true) and withdrawal (false) in wire order.
  std::vector<std::pair<bool, std::pair<Prefix, PathAttributes>>> events;
  size_t updates = 0;
  size_t bytes = 0;

  std::map<Prefix, PathAttributes> table() const {
    std::map<Prefix, PathAttributes> t;
    for (const auto& [p, a] : announced) t[p] = a;
    for (const auto& p : withdrawn) t.erase(p);
    return t;
  }
};

// Decode a byte stream of whole messages.
inline void decode_stream(const std::vector<uint8_t>& bytes, const wire::CodecOptions& codec,
                          Received& out) {
  size_t off = 0;
  while (off < bytes.size()) {
    ASSERT_GE(bytes.size() - off, wire::kHeaderLen);
    auto h = wire::decode_header(std::span<const uint8_t>(bytes).subspan(off), 65535);
    ASSERT_TRUE(h.ok());
    ASSERT_LE(off + h->length, bytes.size());
    std::span<const uint8_t> body(bytes.data() + off + wire::kHeaderLen,
                                  h->length - wire::kHeaderLen);
    if (h->type == wire::MessageType::Update) {
      ++out.updates;
      auto u = wire::decode_update(body, codec);
      ASSERT_TRUE(u.ok()) << u.error().reason;
      EXPECT_FALSE(u->treat_as_withdraw) << u->treat_as_withdraw_reason;
      if (u->end_of_rib) {
        out.eor.push_back(*u->end_of_rib);
        out.order.push_back("EOR");
      }
      for (const auto& set : u->withdrawn) {
        for (const auto& p : set.prefixes) {
          out.withdrawn.push_back(p);
          out.events.push_back({false, {p, PathAttributes{}}});
        }
        if (!set.prefixes.empty()) out.order.push_back("W");
      }
      for (const auto& set : u->announced) {
        PathAttributes a = u->attrs;
        if (set.family == wire::kIpv6Unicast && u->mp_next_hop) {
          a.next_hop = u->mp_next_hop;
          a.next_hop_link_local = u->mp_next_hop_link_local;
        }
        for (const auto& p : set.prefixes) {
          out.announced.emplace_back(p, a);
          out.events.push_back({true, {p, a}});
        }
        if (!set.prefixes.empty()) out.order.push_back("A");
      }
    } else if (h->type == wire::MessageType::RouteRefresh) {
      auto rr = wire::decode_route_refresh(body);
      ASSERT_TRUE(rr.ok());
      out.refresh.push_back(*rr);
      out.order.push_back(rr->subtype == wire::RouteRefresh::BeginOfRefresh ? "BORR" : "EORR");
    }
    off += h->length;
  }
}

// Take everything pending for the peer (in chunks of max_bytes) and decode it.
inline Received drain(Rib& rib, const PeerInfo& to, size_t max_bytes = 1 << 20) {
  Received out;
  wire::CodecOptions codec = to.codec;
  for (int guard = 0; guard < 1000000; ++guard) {
    std::vector<uint8_t> bytes;
    size_t n = rib.take_output(to.id, max_bytes, bytes);
    EXPECT_EQ(n, bytes.size());
    if (n == 0) break;
    out.bytes += n;
    decode_stream(bytes, codec, out);
  }
  EXPECT_FALSE(rib.has_output(to.id));
  return out;
}

}  // namespace rib_test
