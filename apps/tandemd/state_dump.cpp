#include "apps/tandemd/state_dump.hpp"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tandem::app {
namespace {

using nlohmann::json;

const char* origin_name(wire::Origin o) {
  switch (o) {
    case wire::Origin::Igp: return "igp";
    case wire::Origin::Egp: return "egp";
    default: return "incomplete";
  }
}

std::string ext_community_text(uint64_t v) {
  uint8_t type = static_cast<uint8_t>(v >> 56), sub = static_cast<uint8_t>(v >> 48);
  if ((type == 0x00 || type == 0x40) && (sub == 0x02 || sub == 0x03))  // 2-octet AS specific RT/SoO
    return fmt::format("{}:{}:{}", sub == 0x02 ? "rt" : "soo", (v >> 32) & 0xFFFF, v & 0xFFFFFFFF);
  if ((type == 0x02 || type == 0x42) && (sub == 0x02 || sub == 0x03))  // 4-octet AS specific
    return fmt::format("{}:{}:{}", sub == 0x02 ? "rt" : "soo", (v >> 16) & 0xFFFFFFFF, v & 0xFFFF);
  return fmt::format("0x{:016x}", v);
}

json path_json(const wire::Prefix& p, const rib::PathView& v, const session::Speaker& sp) {
  const auto& a = *v.attrs;
  json j;
  j["prefix"] = p.to_string();
  std::string peer = "local";
  if (v.peer != rib::kLocalPeer) {
    if (const auto* pr = sp.peer_by_id(v.peer)) peer = pr->name();
    else peer = fmt::format("peer#{}", v.peer);
  }
  j["peer"] = peer;
  j["best"] = v.best;
  j["next_hop"] = a.next_hop ? json(a.next_hop->to_string()) : json(nullptr);
  j["as_path"] = a.as_path.to_string();
  j["origin"] = origin_name(a.origin);
  j["med"] = a.med ? json(*a.med) : json(nullptr);
  j["local_pref"] = a.local_pref ? json(*a.local_pref) : json(nullptr);
  json comms = json::array();
  for (uint32_t c : a.communities) comms.push_back(fmt::format("{}:{}", c >> 16, c & 0xFFFF));
  j["communities"] = comms;
  json large = json::array();
  for (const auto& l : a.large_communities) large.push_back(fmt::format("{}:{}:{}", l.global_admin, l.local1, l.local2));
  j["large_communities"] = large;
  json ext = json::array();
  for (uint64_t e : a.ext_communities) ext.push_back(ext_community_text(e));
  j["ext_communities"] = ext;
  return j;
}

}  // namespace

std::string write_state_dump(const session::Speaker& speaker, const std::string& path) {
  json doc;
  const auto& cfg = speaker.config();
  doc["router_id"] = wire::IpAddr::v4(cfg.router_id).to_string();
  doc["local_as"] = cfg.local_as;
  json peers = json::array();
  for (const auto& s : speaker.status()) {
    json p;
    p["address"] = s.address.to_string();
    p["remote_as"] = s.remote_as;
    p["description"] = s.description;
    p["enabled"] = s.enabled;
    p["state"] = fsm::to_string(s.state);
    p["received"] = s.counters.received;
    p["accepted"] = s.counters.accepted;
    p["advertised"] = s.counters.advertised;
    p["messages_in"] = s.messages_in;
    p["messages_out"] = s.messages_out;
    p["last_error"] = s.last_error;
    if (s.negotiated) {
      json fams = json::array();
      for (auto& f : s.negotiated->families) fams.push_back(f.to_string());
      p["families"] = fams;
      p["four_octet_as"] = s.negotiated->four_octet_as;
      p["hold_time"] = s.negotiated->hold_time;
    }
    peers.push_back(std::move(p));
  }
  doc["peers"] = std::move(peers);
  json rib;
  for (auto fam : {wire::kIpv4Unicast, wire::kIpv6Unicast}) {
    json routes = json::array();
    speaker.rib().for_each_path(fam, [&](const wire::Prefix& p, const rib::PathView& v) {
      routes.push_back(path_json(p, v, speaker));
    });
    rib[fam.to_string()] = std::move(routes);
  }
  doc["rib"] = std::move(rib);

  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return "cannot write " + tmp;
    out << doc.dump(1) << "\n";
    if (!out) return "cannot write " + tmp;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return "cannot rename " + tmp + " to " + path;
  return "";
}

}  // namespace tandem::app
