// Writes the seed corpora under tests/fuzz/corpus/<target>/ from messages built with the
// codec itself plus a few hand-made malformed ones. Run once by hand:
//   gen_seeds <path-to-tests/fuzz/corpus>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bgpd/wire/message.hpp"
#include "healthbpf/bfd_packet.hpp"

using namespace tandem::wire;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& dir, const std::string& name, const Bytes& b) {
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_text(const fs::path& dir, const std::string& name, const std::string& text) {
  write(dir, name, Bytes(text.begin(), text.end()));
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
  // Configuration texts: the example files under etc/ and hand-written edge cases.
  const fs::path etc = fs::path(TANDEM_SOURCE_DIR) / "etc";
  for (const char* f : {"tandemd.toml", "primary.toml", "standby.toml", "lab/tandemd.toml"}) {
    std::ifstream in(etc / f, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string name = std::string("etc_") + f;
    std::replace(name.begin(), name.end(), '/', '_');
    if (!text.empty()) write_text(root / "fuzz_config", name, text);
  }
  const std::string minimal = "[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 65001\n";
  write_text(root / "fuzz_config", "empty", "");
  write_text(root / "fuzz_config", "minimal", minimal);
  write_text(root / "fuzz_config", "nested_tables",
             "[a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p]\nx = 1\ny = [[[[[[[[1]]]]]]]]\n"
             "z = {a = {b = {c = {d = {e = {f = 1}}}}}}\n" + minimal);
  write_text(root / "fuzz_config", "huge_integers",
             minimal + "port = 9223372036854775807\n[fib]\ntable = -9223372036854775808\n"
                       "metric = 0x7fffffffffffffff\nprotocol = 18446744073709551616\n");
  write_text(root / "fuzz_config", "unicode_keys",
             minimal + "\"r\u00e9seau\" = \"\u00fc\"\n[\"\u2603\"]\n\"\xf0\x9f\x90\xa7\" = \"\\u0000\"\n");
  write_text(root / "fuzz_config", "peers_networks",
             minimal + "[bfd]\nenabled = true\n[[peer]]\naddress = \"192.0.2.2\"\nremote_as = 65001\n"
                       "route_reflector_client = true\nbfd = true\nmax_prefixes = 10\n"
                       "[[peer]]\naddress = \"2001:db8::2\"\nremote_as = 4200000000\nfamilies = [\"ipv6-unicast\"]\n"
                       "[[network]]\nprefix = \"198.51.100.0/24\"\ncommunities = [\"65001:1\"]\n"
                       "large_communities = [\"4200000000:1:2\"]\norigin = \"egp\"\n");
  write_text(root / "fuzz_config", "bad_syntax", "[global\nrouter_id = \n\"unterminated\r\n");

  // BFD datagram payloads (byte 0 = mode: 0 codec, 1 SoftTable script).
  auto bfd_bytes = [](const tandem::bfd::ControlPacket& p) {
    auto a = tandem::bfd::encode(p);
    return Bytes(a.begin(), a.end());
  };
  tandem::bfd::ControlPacket up;
  up.diag = tandem::bfd::Diag::NeighborSignaledDown;
  up.state = tandem::bfd::State::Up;
  up.poll = up.control_plane_independent = true;
  up.detect_mult = 5;
  up.my_discriminator = 0x01020304;
  up.your_discriminator = 0xa0b0c0d0;
  up.desired_min_tx_us = 10'000;
  up.required_min_rx_us = 20'000;
  up.required_min_echo_rx_us = 0x11223344;
  const fs::path bfd = root / "fuzz_bfd_packet";
  for (auto st : {tandem::bfd::State::AdminDown, tandem::bfd::State::Down, tandem::bfd::State::Init,
                  tandem::bfd::State::Up}) {
    tandem::bfd::ControlPacket p = up;
    p.state = st;
    if (st == tandem::bfd::State::Down) p.your_discriminator = 0;  // first packet of a session
    write(bfd, std::string("state_") + tandem::bfd::to_string(st), prefixed(0, bfd_bytes(p)));
  }
  tandem::bfd::ControlPacket fin = up;
  fin.poll = false;
  fin.final = fin.demand = true;
  write(bfd, "final_demand", prefixed(0, bfd_bytes(fin)));
  // The malformed cases of tests/unit/healthbpf/bfd_packet_test.cpp.
  struct Bad {
    const char* name;
    void (*mutate)(Bytes&);
  };
  const Bad bad[] = {
      {"empty", [](Bytes& b) { b.clear(); }},
      {"23_bytes", [](Bytes& b) { b.resize(23); }},
      {"version_0", [](Bytes& b) { b[0] &= 0x1f; }},
      {"version_2", [](Bytes& b) { b[0] = static_cast<uint8_t>((2 << 5) | (b[0] & 0x1f)); }},
      {"length_23", [](Bytes& b) { b[3] = 23; }},
      {"length_0", [](Bytes& b) { b[3] = 0; }},
      {"length_beyond", [](Bytes& b) { b[3] = 25; }},
      {"detect_mult_0", [](Bytes& b) { b[2] = 0; }},
      {"multipoint", [](Bytes& b) { b[1] |= 0x01; }},
      {"my_disc_0", [](Bytes& b) { b[4] = b[5] = b[6] = b[7] = 0; }},
      {"your_disc_0_up", [](Bytes& b) { b[8] = b[9] = b[10] = b[11] = 0; }},
      {"your_disc_0_init",
       [](Bytes& b) {
         b[1] = static_cast<uint8_t>((2 << 6) | (b[1] & 0x3f));
         b[8] = b[9] = b[10] = b[11] = 0;
       }},
      {"auth", [](Bytes& b) { b[1] |= 0x04; }},
      {"auth_len_26",
       [](Bytes& b) {
         b[1] |= 0x04;
         b[3] = 26;
         b.push_back(1);
         b.push_back(2);
       }},
      {"trailing_bytes", [](Bytes& b) { b.push_back(0xee); }},
  };
  for (const Bad& c : bad) {
    Bytes b = bfd_bytes(up);
    c.mutate(b);
    write(bfd, std::string("bad_") + c.name, prefixed(0, b));
  }
  // SoftTable script: a Down packet from an address (ADDR slot), then Up with Your
  // Discriminator (DISC slot), arm detection, let it expire, recover, release; plus a
  // bad TTL and a malformed datagram. Record: op, then per op (see fuzz_bfd_packet.cpp).
  {
    tandem::bfd::ControlPacket down = up;
    down.state = tandem::bfd::State::Down;
    down.your_discriminator = 0;
    down.poll = false;
    Bytes script{1};
    auto datagram = [&](uint8_t op, uint8_t ttl_sel, uint8_t src_sel, const Bytes& payload) {
      script.insert(script.end(), {op, ttl_sel, src_sel, static_cast<uint8_t>(payload.size())});
      script.insert(script.end(), payload.begin(), payload.end());
    };
    const uint8_t disc_slot = (2 << 1) | 1;  // the slot of the third event (the Up packet's)
    datagram(4 * 10, 0, 0, bfd_bytes(down));
    datagram(4 * 10, 0, 5, bfd_bytes(down));
    datagram(4 * 10, 0, 0, bfd_bytes(up));
    script.insert(script.end(), {2, disc_slot, 20});  // arm: 5 x 20 ms
    script.push_back(4 * 63 + 1);                     // expire at +63 ms: nothing
    script.push_back(4 * 63 + 1);                     // +126 ms: EXPIRED
    datagram(4 * 1, 0, 0, bfd_bytes(up));
    datagram(4 * 1, 0x80 | 64, 0, bfd_bytes(up));  // TTL 192
    Bytes truncated = bfd_bytes(up);
    truncated.resize(10);
    datagram(4 * 1, 0, 1, truncated);
    script.insert(script.end(), {3, disc_slot});  // release
    write(bfd, "table_script", script);
  }

  std::printf("seeds written to %s\n", root.c_str());
  return 0;
}
