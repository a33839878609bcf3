// Writes the seed corpora under tests/fuzz/corpus/<target>/ from messages built with the
// codec itself plus a few hand-made malformed ones. Run once by hand:
//   gen_seeds <path-to-tests/fuzz/corpus>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bgpd/wire/message.hpp"

using namespace tandem::wire;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& dir, const std::string& name, const Bytes& b) {
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes body(const Bytes& msg) { return Bytes(msg.begin() + kHeaderLen, msg.end()); }
Bytes prefixed(uint8_t b0, const Bytes& rest) {
  Bytes out{b0};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

PathAttributes sample_attrs(bool v6) {
  PathAttributes a;
  a.has_origin = true;
  a.origin = Origin::Igp;
  a.has_as_path = true;
  a.as_path.segments = {{AsPathSegment::ConfedSequence, {65100}},
                        {AsPathSegment::Sequence, {65001, 4200000000u}},
                        {AsPathSegment::Set, {7, 8}}};
  a.next_hop = v6 ? *IpAddr::parse("2001:db8::1") : IpAddr::v4(0x0A000001);
  if (v6) a.next_hop_link_local = *IpAddr::parse("fe80::1");
  a.med = 10;
  a.local_pref = 100;
  a.atomic_aggregate = true;
  a.aggregator = Aggregator{70000, 0x0A0000FE};
  a.communities = {0xFDE90001, 0xFFFFFF01};
  a.originator_id = 1;
  a.cluster_list = {2, 3};
  a.ext_communities = {0x0002FDE900000064ULL};
  a.large_communities = {{1, 2, 3}};
  a.unknown = {RawAttribute{0xC0, 99, {1, 2, 3}}};
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];

  // OPEN bodies.
  Open o;
  o.my_as = 65001;
  o.bgp_id = 0x0A000001;
  o.caps.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  o.caps.four_octet_as = 4200000000u;
  o.caps.route_refresh = o.caps.enhanced_route_refresh = o.caps.extended_message = true;
  o.caps.graceful_restart = GracefulRestartCap{true, true, 120, {{kIpv4Unicast, true}}};
  o.caps.llgr = LlgrCap{{{kIpv6Unicast, true, 3600}}};
  o.caps.add_path = AddPathCap{{{kIpv4Unicast, AddPathCap::Both}}};
  write(root / "fuzz_open", "full", body(encode_open(o)));
  Open small;
  small.my_as = 1;
  small.bgp_id = 1;
  write(root / "fuzz_open", "minimal", body(encode_open(small)));
  Open big = o;
  for (int i = 0; i < 30; ++i) big.caps.unknown.push_back(RawCapability{200, Bytes(10, 1)});
  write(root / "fuzz_open", "rfc9072", body(encode_open(big)));

  // Capabilities (byte 0 = extended flag).
  write(root / "fuzz_capabilities", "full", prefixed(0, encode_capabilities(o.caps)));
  write(root / "fuzz_capabilities", "extended",
        prefixed(1, Bytes{2, 0, 6, 65, 4, 0, 0, 0xFD, 0xE9}));
  write(root / "fuzz_capabilities", "cisco_rr", prefixed(0, Bytes{2, 4, 128, 0, 2, 0}));

  // NOTIFICATION bodies.
  write(root / "fuzz_notification", "shutdown",
        body(encode_notification(make_shutdown_notification(2, "maintenance window"))));
  write(root / "fuzz_notification", "update_err", Bytes{3, 11, 0x40, 2, 0});
  write(root / "fuzz_notification", "short", Bytes{6});

  // ROUTE-REFRESH bodies.
  write(root / "fuzz_route_refresh", "v4", body(encode_route_refresh({kIpv4Unicast, RouteRefresh::Normal})));
  write(root / "fuzz_route_refresh", "v6_borr",
        body(encode_route_refresh({kIpv6Unicast, RouteRefresh::BeginOfRefresh})));
  write(root / "fuzz_route_refresh", "bad_len", Bytes{0, 1, 0, 1, 0});

  // Whole messages for the header fuzzer (byte 0 = max length selector).
  write(root / "fuzz_header", "keepalive", prefixed(0, encode_keepalive()));
  write(root / "fuzz_header", "open", prefixed(0, encode_open(o)));
  write(root / "fuzz_header", "notification", prefixed(0, encode_notification({6, 4, {}})));
  write(root / "fuzz_header", "route_refresh", prefixed(0, encode_route_refresh({kIpv6Unicast, RouteRefresh::EndOfRefresh})));
  write(root / "fuzz_header", "eor6", prefixed(1, encode_end_of_rib(kIpv6Unicast)));

  // UPDATE bodies (byte 0 = options: bit0 2-octet AS, bit1 ext msg, bit2 eBGP,
  // bit3/4 ADD-PATH v4/v6).
  std::vector<Prefix> v4 = {Prefix(IpAddr::v4(0x0A000000), 8), Prefix(IpAddr::v4(0xC0000200), 24),
                            Prefix(IpAddr::v4(0xC6336400), 22)};
  std::vector<Prefix> v6 = {Prefix(*IpAddr::parse("2001:db8::"), 32),
                            Prefix(*IpAddr::parse("2001:db8:1::"), 48)};
  CodecOptions ib;
  ib.ebgp = false;
  auto a4 = encode_announcements(sample_attrs(false), kIpv4Unicast, v4, ib);
  write(root / "fuzz_update", "announce_v4_ibgp", prefixed(0, body(a4.at(0))));
  auto a6 = encode_announcements(sample_attrs(true), kIpv6Unicast, v6, ib);
  write(root / "fuzz_update", "announce_v6_ibgp", prefixed(0, body(a6.at(0))));
  CodecOptions two;
  two.four_octet_as = false;
  auto a42 = encode_announcements(sample_attrs(false), kIpv4Unicast, v4, two);
  write(root / "fuzz_update", "announce_v4_as2_ebgp", prefixed(1 | 4, body(a42.at(0))));
  write(root / "fuzz_update", "withdraw_v4", prefixed(0, body(encode_withdrawals(kIpv4Unicast, v4, ib).at(0))));
  write(root / "fuzz_update", "withdraw_v6", prefixed(0, body(encode_withdrawals(kIpv6Unicast, v6, ib).at(0))));
  write(root / "fuzz_update", "eor_v4", prefixed(0, body(encode_end_of_rib(kIpv4Unicast))));
  write(root / "fuzz_update", "eor_v6", prefixed(0, body(encode_end_of_rib(kIpv6Unicast))));
  // ADD-PATH IPv4 NLRI: path id 1, 10.0.0.0/8.
  Bytes addpath = {0, 0, 0, 0x14, 0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9, 0x40, 3, 4, 10, 0, 0, 1,
                   0, 0, 0, 1, 8, 10};
  write(root / "fuzz_update", "addpath_v4", prefixed(8, addpath));
  // Malformed: attribute length overrun, bad AS_PATH segment.
  write(root / "fuzz_update", "overrun", prefixed(0, Bytes{0, 0, 0, 7, 0x40, 1, 1, 0, 0xC0, 8, 20, 8, 10}));
  write(root / "fuzz_update", "bad_as_path",
        prefixed(0, Bytes{0, 0, 0, 0x0B, 0x40, 1, 1, 0, 0x40, 2, 4, 2, 3, 0, 1, 8, 10}));
  std::printf("seeds written to %s\n", root.c_str());
  return 0;
}
