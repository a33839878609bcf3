// tandem-mrtdump: print the records of an MRT file (plain, .gz, .bz2) one line each,
// in the layout of `bgpdump -m`, using tandem's own MRT reader and BGP decoder. For
// checking what tandemd recorded (and other tools' files) without trusting one reader.
// Exit codes: 0 all records read, 1 a record was malformed (reported on stderr with its
// offset), 2 usage or the file cannot be opened.
#include <cstdio>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "bgpd/mrt/file_reader.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/wire/message.hpp"

using namespace tandem;

namespace {

const char* origin_text(const wire::PathAttributes& a) {
  if (!a.has_origin) return "";
  switch (a.origin) {
    case wire::Origin::Igp: return "IGP";
    case wire::Origin::Egp: return "EGP";
    default: return "INCOMPLETE";
  }
}

std::string communities_text(const wire::PathAttributes& a) {
  std::string out;
  for (auto c : a.communities) {
    if (!out.empty()) out += ' ';
    switch (c) {  // the names bgpdump uses
      case wire::community::kNoExport: out += "no-export"; break;
      case wire::community::kNoAdvertise: out += "no-advertise"; break;
      case 0xFFFFFF03: out += "no-export-subconfed"; break;
      default: out += fmt::format("{}:{}", c >> 16, c & 0xFFFF);
    }
  }
  return out;
}

// "AS_PATH|ORIGIN|NEXT_HOP|LOCAL_PREF|MED|COMMUNITIES|ATOMIC|AGGREGATOR|"
std::string attrs_text(const wire::PathAttributes& a, const std::optional<wire::IpAddr>& next_hop) {
  std::string aggregator;
  if (a.aggregator) aggregator = fmt::format("{} {}", a.aggregator->asn, wire::IpAddr::v4(a.aggregator->address).to_string());
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|", a.as_path.to_string(), origin_text(a),
                     next_hop ? next_hop->to_string() : "", a.local_pref.value_or(0), a.med.value_or(0),
                     communities_text(a), a.atomic_aggregate ? "AG" : "NAG", aggregator);
}

void print_message(const mrt::Record& r, const mrt::Bgp4mpMessage& m) {
  auto h = wire::decode_header(m.message, wire::kMaxExtendedMessageLen);
  if (!h || h->type != wire::MessageType::Update) return;  // like bgpdump -m: UPDATEs only
  wire::CodecOptions o;
  o.four_octet_as = m.as4;
  o.extended_message = true;
  o.ebgp = false;  // a reader keeps every attribute (RFC 7606 drops LOCAL_PREF from eBGP)
  auto u = wire::decode_update(std::span<const uint8_t>(m.message).subspan(wire::kHeaderLen), o);
  if (!u) {
    std::cerr << fmt::format("offset {}: UPDATE from {} not decodable: {}\n", r.offset, m.peer.peer_ip.to_string(),
                             u.error().reason);
    return;
  }
  // bgpdump's names: BGP4MP_LOCAL for what the recording speaker sent.
  const std::string head = fmt::format("{}|{}|", m.local ? "BGP4MP_LOCAL" : "BGP4MP", r.time.seconds);
  const std::string who = fmt::format("{}|{}|", m.peer.peer_ip.to_string(), m.peer.peer_as);
  for (const auto& w : u->withdrawn)
    for (const auto& p : w.prefixes) std::cout << head << "W|" << who << p.to_string() << "\n";
  for (const auto& a : u->announced) {
    std::optional<wire::IpAddr> nh = a.family.afi == wire::Afi::Ipv6 ? u->mp_next_hop : u->attrs.next_hop;
    if (!nh) nh = u->attrs.next_hop;
    for (const auto& p : a.prefixes)
      std::cout << head << "A|" << who << p.to_string() << "|" << attrs_text(u->attrs, nh) << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    std::cerr << "usage: tandem-mrtdump FILE\n  prints each record like `bgpdump -m`\n";
    return 2;
  }
  auto reader = mrt::FileReader::open(argv[1]);
  if (!reader) {
    std::cerr << "tandem-mrtdump: " << argv[1] << ": " << reader.error().to_string() << "\n";
    return 2;
  }
  int rc = 0;
  mrt::PeerIndexTable peers;
  while (auto rec = reader->next()) {
    if (!*rec) {
      std::cerr << "tandem-mrtdump: " << argv[1] << ": " << rec->error().to_string() << "\n";
      rc = 1;
      continue;
    }
    const mrt::Record& r = rec->value();
    if (const auto* m = std::get_if<mrt::Bgp4mpMessage>(&r.body)) {
      print_message(r, *m);
    } else if (const auto* s = std::get_if<mrt::Bgp4mpStateChange>(&r.body)) {
      std::cout << fmt::format("BGP4MP|{}|STATE|{}|{}|{}|{}\n", r.time.seconds, s->peer.peer_ip.to_string(),
                               s->peer.peer_as, s->old_state, s->new_state);
    } else if (const auto* td = std::get_if<mrt::TableDumpEntry>(&r.body)) {
      wire::CodecOptions o;
      o.four_octet_as = false;  // legacy TABLE_DUMP: 2-octet AS numbers
      o.ebgp = false;
      auto a = wire::decode_attributes(td->attributes, o);
      if (!a) {
        std::cerr << fmt::format("offset {}: TABLE_DUMP entry of {}: {}\n", r.offset, td->prefix.to_string(),
                                 a.error().reason);
        rc = 1;
        continue;
      }
      std::cout << fmt::format("TABLE_DUMP|{}|B|{}|{}|{}|{}\n", r.time.seconds, td->peer_ip.to_string(), td->peer_as,
                               td->prefix.to_string(), attrs_text(a->attrs, a->attrs.next_hop));
    } else if (const auto* t = std::get_if<mrt::PeerIndexTable>(&r.body)) {
      peers = *t;
    } else if (const auto* rib = std::get_if<mrt::RibRecord>(&r.body)) {
      for (const auto& e : rib->entries) {
        if (e.peer_index >= peers.peers.size()) continue;  // the reader already reported it
        const auto& peer = peers.peers[e.peer_index];
        auto a = mrt::decode_rib_attributes(e.attributes, rib->prefix.afi());
        if (!a) {
          std::cerr << fmt::format("offset {}: RIB entry of {}: {}\n", r.offset, rib->prefix.to_string(),
                                   a.error().reason);
          rc = 1;
          continue;
        }
        std::cout << fmt::format("TABLE_DUMP2|{}|B|{}|{}|{}|{}\n", r.time.seconds, peer.ip.to_string(), peer.asn,
                                 rib->prefix.to_string(), attrs_text(*a, a->next_hop));
      }
    }
  }
  return rc;
}
