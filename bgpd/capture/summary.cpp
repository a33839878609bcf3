#include "bgpd/capture/summary.hpp"

#include <fmt/format.h>

#include "bgpd/wire/message.hpp"

namespace tandem::capture {

namespace {

const char* origin_text(wire::Origin o) {
  switch (o) {
    case wire::Origin::Igp: return "igp";
    case wire::Origin::Egp: return "egp";
    default: return "incomplete";
  }
}

std::string community_text(uint32_t c) {
  switch (c) {
    case wire::community::kNoExport: return "no-export";
    case wire::community::kNoAdvertise: return "no-advertise";
    case wire::community::kNoExportSubconfed: return "no-export-subconfed";
    case wire::community::kNoPeer: return "no-peer";
    case wire::community::kBlackhole: return "blackhole";
    case wire::community::kGracefulShutdown: return "graceful-shutdown";
    case wire::community::kLlgrStale: return "llgr-stale";
    case wire::community::kNoLlgr: return "no-llgr";
    default: return fmt::format("{}:{}", c >> 16, c & 0xFFFF);
  }
}

// "[a b c ...]" with at most `max` prefixes.
std::string prefix_list(const std::vector<wire::Prefix>& ps, size_t max) {
  std::string out = "[";
  for (size_t i = 0; i < ps.size() && i < max; ++i) {
    if (i) out += ' ';
    out += ps[i].to_string();
  }
  if (ps.size() > max) out += " ...";
  return out + "]";
}

void append_nlri(std::string& out, const char* what, const std::vector<wire::NlriSet>& sets, size_t max) {
  size_t total = 0;
  for (const auto& s : sets) total += s.prefixes.size();
  out += fmt::format(" {} {}", what, total);
  for (const auto& s : sets) {
    if (s.prefixes.empty()) continue;
    if (sets.size() > 1) out += " " + s.family.to_string();
    out += " " + prefix_list(s.prefixes, max);
  }
}

std::string open_text(std::span<const uint8_t> body) {
  auto o = wire::decode_open(body);
  if (!o) return "OPEN (malformed: " + o.error().reason + ")";
  const auto& c = o->caps;
  std::string out = fmt::format("OPEN as {} hold {} id {}", o->asn(), o->hold_time,
                                wire::IpAddr::v4(o->bgp_id).to_string());
  std::string caps;
  if (!c.multiprotocol.empty()) {
    caps += " mp(";
    for (size_t i = 0; i < c.multiprotocol.size(); ++i) caps += (i ? "," : "") + c.multiprotocol[i].to_string();
    caps += ")";
  }
  if (c.route_refresh) caps += " rr";
  if (c.enhanced_route_refresh) caps += " err";
  if (c.four_octet_as) caps += " 4as";
  if (c.extended_message) caps += " ext-msg";
  if (c.add_path) caps += " add-path";
  if (c.graceful_restart) {
    caps += fmt::format(" gr({}s{}{})", c.graceful_restart->restart_time, c.graceful_restart->restart_state ? " R" : "",
                        c.graceful_restart->notification ? " N" : "");
  }
  if (c.llgr) caps += " llgr";
  for (const auto& u : c.unknown) caps += fmt::format(" cap{}", u.code);
  if (!caps.empty()) out += " caps" + caps;
  return out;
}

std::string update_text(std::span<const uint8_t> body, const SummaryOptions& opt) {
  wire::CodecOptions codec = opt.codec;
  codec.extended_message = true;
  codec.ebgp = false;  // describe every attribute present
  auto u = wire::decode_update(body, codec);
  if (!u) return "UPDATE (malformed: " + u.error().reason + ")";
  if (u->end_of_rib) return "UPDATE End-of-RIB " + u->end_of_rib->to_string();
  std::string out = "UPDATE";
  append_nlri(out, "announce", u->announced, opt.max_prefixes);
  append_nlri(out, "withdraw", u->withdrawn, opt.max_prefixes);
  bool announces = false;
  for (const auto& s : u->announced) announces = announces || !s.prefixes.empty();
  if (announces) {
    wire::PathAttributes a = u->attrs;
    if (!a.next_hop && u->mp_next_hop) a.next_hop = u->mp_next_hop;
    out += " " + attributes_text(a);
  }
  if (u->treat_as_withdraw) out += " (treat-as-withdraw: " + u->treat_as_withdraw_reason + ")";
  for (const auto& d : u->discarded) out += fmt::format(" (attribute {} discarded: {})", d.type, d.reason);
  return out;
}

}  // namespace

std::string attributes_text(const wire::PathAttributes& a) {
  std::string out;
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += ' ';
    out += s;
  };
  if (a.next_hop) add("nh " + a.next_hop->to_string());
  if (a.has_as_path) add("path " + (a.as_path.empty() ? std::string("-") : a.as_path.to_string()));
  if (a.has_origin) add(std::string("origin ") + origin_text(a.origin));
  if (a.med) add(fmt::format("med {}", *a.med));
  if (a.local_pref) add(fmt::format("lp {}", *a.local_pref));
  if (!a.communities.empty()) {
    std::string c;
    for (auto x : a.communities) c += (c.empty() ? "" : ",") + community_text(x);
    add("comm " + c);
  }
  if (!a.large_communities.empty()) {
    std::string c;
    for (const auto& x : a.large_communities)
      c += fmt::format("{}{}:{}:{}", c.empty() ? "" : ",", x.global_admin, x.local1, x.local2);
    add("lcomm " + c);
  }
  if (!a.ext_communities.empty()) add(fmt::format("ext-comm {}", a.ext_communities.size()));
  if (a.atomic_aggregate) add("atomic-aggregate");
  if (a.aggregator)
    add(fmt::format("aggregator {} {}", a.aggregator->asn, wire::IpAddr::v4(a.aggregator->address).to_string()));
  if (a.originator_id) add("originator " + wire::IpAddr::v4(*a.originator_id).to_string());
  if (!a.cluster_list.empty()) add(fmt::format("cluster-list {}", a.cluster_list.size()));
  for (const auto& u : a.unknown) add(fmt::format("attr{}({}B)", u.type, u.value.size()));
  return out;
}

std::string summarize(std::span<const uint8_t> message, const SummaryOptions& options) {
  if (message.size() < wire::kHeaderLen) return fmt::format("(truncated message, {} bytes)", message.size());
  auto h = wire::decode_header(message, wire::kMaxExtendedMessageLen);
  if (!h) return "(malformed header: " + h.error().reason + ")";
  if (h->length != message.size()) return fmt::format("(length {} in a {}-byte message)", h->length, message.size());
  const auto body = message.subspan(wire::kHeaderLen);
  switch (h->type) {
    case wire::MessageType::Open: return open_text(body);
    case wire::MessageType::Update: return update_text(body, options);
    case wire::MessageType::Notification: {
      auto n = wire::decode_notification(body);
      return n ? "NOTIFICATION " + n->describe() : "NOTIFICATION (malformed: " + n.error().reason + ")";
    }
    case wire::MessageType::Keepalive: return "KEEPALIVE";
    case wire::MessageType::RouteRefresh: {
      auto r = wire::decode_route_refresh(body);
      if (!r) return "ROUTE-REFRESH (malformed: " + r.error().reason + ")";
      const char* sub = r->subtype == wire::RouteRefresh::BeginOfRefresh ? " begin"
                        : r->subtype == wire::RouteRefresh::EndOfRefresh ? " end"
                                                                         : "";
      return "ROUTE-REFRESH " + r->family.to_string() + sub;
    }
  }
  return fmt::format("type {}", static_cast<unsigned>(message[18]));
}

}  // namespace tandem::capture
