#include "apps/tandemd/state_dump.hpp"

#include <array>
#include <cstdio>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace tandem::app {
namespace {

namespace asio = boost::asio;
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

json path_json(const rib::ListedRoute& r, const session::Speaker& sp) {
  const auto& a = *r.attrs;
  json j;
  j["prefix"] = r.prefix.to_string();
  std::string peer = "local";
  if (r.peer != rib::kLocalPeer) {
    if (const auto* pr = sp.peer_by_id(r.peer)) peer = pr->name();
    else peer = fmt::format("peer#{}", r.peer);
  }
  j["peer"] = peer;
  j["best"] = r.best;
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

json peers_json(const session::Speaker& speaker) {
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
  return peers;
}

// Every eligible path of these families, in this order (what for_each_path visits).
constexpr std::array<wire::Family, 2> kDumpedFamilies{wire::kIpv4Unicast, wire::kIpv6Unicast};

}  // namespace

StateDumper::StateDumper(asio::io_context& io, const session::Speaker& speaker) : io_(io), speaker_(speaker) {}

StateDumper::~StateDumper() {
  if (!writing_) return;
  out_.close();
  std::remove(tmp_.c_str());
}

void StateDumper::request(const std::string& path) {
  if (writing_) {
    if (next_path_.empty())
      spdlog::info("state dump requested while one is being written: another follows it ({} routes written so far)",
                   routes_);
    next_path_ = path;
    return;
  }
  path_ = path;
  begin();
}

void StateDumper::begin() {
  tmp_ = path_ + ".tmp";
  out_ = std::ofstream(tmp_, std::ios::trunc);
  if (!out_) return fail("cannot write " + tmp_);
  writing_ = true;
  started_ = std::chrono::steady_clock::now();
  family_ = 0;
  cursor_ = {};
  routes_ = family_routes_ = slices_ = 0;
  const auto& cfg = speaker_.config();
  out_ << "{\"router_id\": " << json(wire::IpAddr::v4(cfg.router_id).to_string()).dump()
       << ",\n\"local_as\": " << cfg.local_as << ",\n\"peers\": " << peers_json(speaker_).dump(1)
       << ",\n\"rib\": {\n" << json(kDumpedFamilies[0].to_string()).dump() << ": [";
  write_slice();
}

void StateDumper::write_slice() {
  std::vector<rib::ListedRoute> batch;
  batch.reserve(kRoutesPerSlice);
  rib::ListQuery q;
  q.table = rib::ListTable::LocRib;
  q.family = kDumpedFamilies[static_cast<size_t>(family_)];
  speaker_.rib().list_routes(q, cursor_, kRoutesPerSlice, batch);
  ++slices_;
  std::string text;
  for (const auto& r : batch) {
    text += family_routes_++ == 0 ? "\n" : ",\n";
    text += path_json(r, speaker_).dump();
    ++routes_;
  }
  out_ << text;
  if (cursor_.done) {
    out_ << "]";
    if (static_cast<size_t>(++family_) == kDumpedFamilies.size()) return finish();
    out_ << ",\n" << json(kDumpedFamilies[static_cast<size_t>(family_)].to_string()).dump() << ": [";
    cursor_ = {};
    family_routes_ = 0;
  }
  // The next slice after whatever else is ready to run: sessions and the channel go first.
  asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.expired()) write_slice();
  });
}

void StateDumper::finish() {
  out_ << "}}\n";
  out_.close();
  writing_ = false;
  if (!out_) return fail("cannot write " + tmp_);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return fail("cannot rename " + tmp_ + " to " + path_);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  spdlog::info("state written to {} ({} routes in {} slices, {} ms)", path_, routes_, slices_, ms.count());
  next();
}

void StateDumper::fail(const std::string& why) {
  if (out_.is_open()) out_.close();
  std::remove(tmp_.c_str());
  writing_ = false;
  spdlog::error("state dump failed: {}", why);
  next();
}

void StateDumper::next() {
  if (next_path_.empty()) return;
  path_ = std::exchange(next_path_, {});
  begin();
}

}  // namespace tandem::app
