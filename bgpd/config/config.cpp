#include "bgpd/config/config.hpp"

#include <algorithm>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace tandem::config {
namespace {

bool parse_u32(std::string_view s, uint64_t max, uint32_t& out);

// Thrown inside the parser only; parse_config turns it into a ConfigError.
struct Failure {
  int line;
  std::string key;
  std::string message;
};

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// One TOML table being read: knows its dotted path, checks types and rejects keys it
// was not asked for (a typo must not be silently ignored).
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path) : t_(t), path_(std::move(path)) {}

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  const toml::node* get(std::string_view key) {
    seen_.insert(std::string(key));
    return t_.get(key);
  }
  [[noreturn]] void fail(std::string_view key, const toml::node* n, std::string message) const {
    throw Failure{n ? line_of(*n) : line_of(t_), key_path(key), std::move(message)};
  }

  std::optional<std::string> string(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) fail(key, n, "must be a string");
    return std::string(*n->value<std::string_view>());
  }
  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) fail(key, n, "must be true or false");
    return *n->value<bool>();
  }
  std::optional<uint64_t> integer(std::string_view key, uint64_t min, uint64_t max) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (!n->is_integer()) fail(key, n, "must be an integer");
    int64_t v = *n->value<int64_t>();
    if (v < 0 || static_cast<uint64_t>(v) < min || static_cast<uint64_t>(v) > max)
      fail(key, n, fmt::format("must be between {} and {}, not {}", min, max, v));
    return static_cast<uint64_t>(v);
  }
  std::vector<std::pair<std::string, const toml::node*>> strings(std::string_view key) {
    std::vector<std::pair<std::string, const toml::node*>> out;
    const toml::node* n = get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) fail(key, n, "must be an array of strings");
    for (const toml::node& e : *a) {
      if (!e.is_string()) fail(key, &e, "must be an array of strings");
      out.emplace_back(std::string(*e.value<std::string_view>()), &e);
    }
    return out;
  }
  wire::IpAddr address(std::string_view key, const std::string& text, const toml::node* n) const {
    auto a = wire::IpAddr::parse(text);
    if (!a) fail(key, n, fmt::format("'{}' is not an IPv4 or IPv6 address", text));
    return *a;
  }
  std::optional<wire::IpAddr> address(std::string_view key) {
    auto s = string(key);
    if (!s) return std::nullopt;
    return address(key, *s, get(key));
  }
  const toml::table* subtable(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(key, n, "must be a table");
    return n->as_table();
  }
  // Call after reading: any key not asked for is an error.
  void reject_unknown() const {
    for (auto&& [k, v] : t_) {
      if (!seen_.count(std::string(k.str())))
        throw Failure{line_of(v), key_path(k.str()), "unknown key"};
    }
  }
  int line() const { return line_of(t_); }

 private:
  const toml::table& t_;
  std::string path_;
  std::set<std::string> seen_;
};

std::vector<wire::Family> read_families(TableReader& r, std::string_view key,
                                        std::vector<wire::Family> dflt, bool allow_empty = false) {
  if (!r.get(key)) return dflt;
  std::vector<wire::Family> out;
  for (auto& [s, n] : r.strings(key)) {
    auto f = wire::Family::parse(s);
    if (!f) r.fail(key, n, fmt::format("unknown family '{}' (ipv4-unicast or ipv6-unicast)", s));
    for (auto& e : out)
      if (e == *f) r.fail(key, n, fmt::format("family '{}' listed twice", s));
    out.push_back(*f);
  }
  if (out.empty() && !allow_empty) r.fail(key, r.get(key), "must name at least one family");
  return out;
}

uint16_t read_hold_time(TableReader& r, uint16_t dflt) {
  auto v = r.integer("hold_time", 0, 65535);
  if (!v) return dflt;
  if (*v == 1 || *v == 2) r.fail("hold_time", r.get("hold_time"), "must be 0 or at least 3 (RFC 4271)");
  return static_cast<uint16_t>(*v);
}

struct PeerDefaults {
  uint16_t hold_time = 90;
  uint16_t connect_retry = 30;
  std::vector<wire::Family> families{wire::kIpv4Unicast, wire::kIpv6Unicast};
};

PeerConfig read_peer(TableReader& r, const PeerDefaults& d, uint32_t local_as) {
  PeerConfig p;
  auto addr = r.address("address");
  if (!addr) r.fail("address", nullptr, "missing (the neighbour's IP address)");
  p.address = *addr;
  auto as = r.integer("remote_as", 1, 4294967295ULL);
  if (!as) r.fail("remote_as", nullptr, "missing (the neighbour's AS number)");
  p.remote_as = static_cast<uint32_t>(*as);
  p.description = r.string("description").value_or("");
  p.local_address = r.address("local_address");
  if (p.local_address && p.local_address->afi != p.address.afi)
    r.fail("local_address", r.get("local_address"), "must be of the same family as address");
  p.passive = r.boolean("passive").value_or(false);
  p.hold_time = read_hold_time(r, d.hold_time);
  p.connect_retry = static_cast<uint16_t>(r.integer("connect_retry", 1, 65535).value_or(d.connect_retry));
  p.families = read_families(r, "families", d.families);
  p.next_hop_self = r.boolean("next_hop_self").value_or(false);
  p.route_reflector_client = r.boolean("route_reflector_client").value_or(false);
  if (p.route_reflector_client && p.remote_as != local_as)
    r.fail("route_reflector_client", r.get("route_reflector_client"),
           "only an iBGP peer (remote_as = local_as) can be a route-reflector client");
  p.port = static_cast<uint16_t>(r.integer("port", 1, 65535).value_or(179));
  p.enabled = r.boolean("enabled").value_or(true);
  p.graceful_restart = r.boolean("graceful_restart");
  if (auto pw = r.string("password")) {
    // TCP_MD5SIG_MAXKEYLEN; RFC 2385 keys are printable shared secrets.
    if (pw->empty() || pw->size() > 80) r.fail("password", r.get("password"), "must be 1..80 characters");
    p.password = *pw;
  }
  p.ttl_security = r.boolean("ttl_security").value_or(false);
  p.send_hold_time = static_cast<uint32_t>(r.integer("send_hold_time", 0, 86400).value_or(0));
  p.max_prefixes = static_cast<uint32_t>(r.integer("max_prefixes", 0, 4294967295ULL).value_or(0));
  p.max_prefixes_warning_only = r.boolean("max_prefixes_warning_only").value_or(false);
  p.max_prefixes_restart = static_cast<uint32_t>(r.integer("max_prefixes_restart", 0, 86400 * 7).value_or(0));
  p.max_as_path_length = static_cast<uint32_t>(r.integer("max_as_path_length", 0, 65535).value_or(0));
  if (p.max_prefixes == 0)
    for (const char* k : {"max_prefixes_warning_only", "max_prefixes_restart"})
      if (r.get(k)) r.fail(k, r.get(k), "only applies with max_prefixes > 0");
  p.bfd = r.boolean("bfd").value_or(false);
  if (auto v = r.integer("bfd_desired_min_tx_ms", 1, 60000)) p.bfd_desired_min_tx_ms = static_cast<uint32_t>(*v);
  if (auto v = r.integer("bfd_required_min_rx_ms", 1, 60000)) p.bfd_required_min_rx_ms = static_cast<uint32_t>(*v);
  if (auto v = r.integer("bfd_detect_mult", 1, 255)) p.bfd_detect_mult = static_cast<uint8_t>(*v);
  if (!p.bfd)
    for (const char* k : {"bfd_desired_min_tx_ms", "bfd_required_min_rx_ms", "bfd_detect_mult"})
      if (r.get(k)) r.fail(k, r.get(k), "only applies with bfd = true");
  r.reject_unknown();
  return p;
}

NetworkConfig read_network(TableReader& r) {
  NetworkConfig n;
  auto text = r.string("prefix");
  if (!text) r.fail("prefix", nullptr, "missing (e.g. \"198.51.100.0/24\")");
  auto p = wire::Prefix::parse(*text);
  if (!p) r.fail("prefix", r.get("prefix"), fmt::format("'{}' is not a prefix", *text));
  n.prefix = *p;
  n.next_hop = r.address("next_hop");
  for (auto& [s, node] : r.strings("communities")) {
    auto c = parse_community(s);
    if (!c) r.fail("communities", node, fmt::format("'{}' is not a community (ASN:VALUE, each 0..65535)", s));
    n.communities.push_back(*c);
  }
  for (auto& [s, node] : r.strings("large_communities")) {
    auto c = parse_large_community(s);
    if (!c) r.fail("large_communities", node, fmt::format("'{}' is not a large community (A:B:C)", s));
    n.large_communities.push_back(*c);
  }
  if (auto v = r.integer("med", 0, 4294967295ULL)) n.med = static_cast<uint32_t>(*v);
  if (auto v = r.integer("local_pref", 0, 4294967295ULL)) n.local_pref = static_cast<uint32_t>(*v);
  if (auto o = r.string("origin")) {
    if (*o == "igp") n.origin = wire::Origin::Igp;
    else if (*o == "egp") n.origin = wire::Origin::Egp;
    else if (*o == "incomplete") n.origin = wire::Origin::Incomplete;
    else r.fail("origin", r.get("origin"), "must be igp, egp or incomplete");
  }
  r.reject_unknown();
  return n;
}

// Arrays of tables ([[peer]]): each element read with its own reader.
template <class Fn>
void for_each_table(TableReader& top, std::string_view key, Fn fn) {
  const toml::node* n = top.get(key);
  if (!n) return;
  const toml::array* a = n->as_array();
  if (!a) top.fail(key, n, fmt::format("must be written as [[{}]] tables", key));
  size_t i = 0;
  for (const toml::node& e : *a) {
    if (!e.is_table()) top.fail(key, &e, fmt::format("must be written as [[{}]] tables", key));
    TableReader r(*e.as_table(), fmt::format("{}[{}]", key, i++));
    fn(r);
  }
}

// [ha]: the replication pair. Only the presence of key_file is checked here: the
// replicator reads (and checks the permissions of) the key itself.
void read_ha(TableReader& r, Config& c) {
  HaConfig& h = c.ha;
  if (auto role = r.string("role")) {
    if (*role != "none" && *role != "primary" && *role != "standby")
      r.fail("role", r.get("role"), fmt::format("'{}' is not \"none\", \"primary\" or \"standby\"", *role));
    h.role = *role;
  }
  if (auto id = r.string("node_id")) {
    bool ok = !id->empty() && id->size() <= 64;
    for (char ch : *id)
      if (ch <= ' ' || ch == 0x7f) ok = false;
    if (!ok) r.fail("node_id", r.get("node_id"), "must be 1..64 characters without spaces");
    h.node_id = *id;
  }
  for (auto [key, dst] : {std::pair<const char*, std::optional<std::pair<wire::IpAddr, uint16_t>>*>{"listen", &h.listen},
                          std::pair<const char*, std::optional<std::pair<wire::IpAddr, uint16_t>>*>{"peer", &h.peer}}) {
    if (auto v = r.string(key)) {
      auto hp = parse_host_port(*v);
      if (!hp || hp->second == 0)
        r.fail(key, r.get(key),
               fmt::format("'{}' is not ADDRESS:PORT (e.g. \"192.0.2.10:7179\", \"[2001:db8::10]:7179\")", *v));
      *dst = *hp;
    }
  }
  for (auto [key, dst] : {std::pair<const char*, std::string*>{"key_file", &h.key_file},
                          std::pair<const char*, std::string*>{"epoch_file", &h.epoch_file}}) {
    if (auto v = r.string(key)) {
      if (v->empty() || (*v)[0] != '/') r.fail(key, r.get(key), "must be an absolute path");
      *dst = *v;
    }
  }
  auto u32 = [&](const char* key, uint64_t min, uint64_t max, uint32_t& dst) {
    dst = static_cast<uint32_t>(r.integer(key, min, max).value_or(dst));
  };
  u32("connect_retry_ms", 10, 600000, h.connect_retry_ms);
  u32("channel_dead_ms", 10, 600000, h.channel_dead_ms);
  u32("standby_buffer_bytes", 16384, 1u << 30, h.standby_buffer_bytes);
  if (const toml::node* n = r.get("window_update_mss")) {
    if (!n->is_integer() || (*n->value<int64_t>() != 1 && *n->value<int64_t>() != 2))
      r.fail("window_update_mss", n, "must be 1 or 2 (a window update after every 1 or 2 MSS read)");
    h.window_update_mss = static_cast<uint32_t>(*n->value<int64_t>());
  }
  u32("window_update_timer_ms", 1, 10000, h.window_update_timer_ms);
  // Below 16 KiB the primary would stall on every BGP message of maximal size.
  u32("max_unreplicated_bytes", 16384, 1u << 30, h.max_unreplicated_bytes);
  u32("checkpoint_interval_ms", 1, 600000, h.checkpoint_interval_ms);
  u32("checkpoint_threshold_bytes", 1, 1u << 30, h.checkpoint_threshold_bytes);
  if (auto v = r.string("takeover")) {
    if (*v != "nsr" && *v != "graceful-restart" && *v != "none")
      r.fail("takeover", r.get("takeover"),
             fmt::format("'{}' is not \"nsr\", \"graceful-restart\" or \"none\"", *v));
    h.takeover = *v;
  }
  u32("takeover_probe_timeout_ms", 10, 10000, h.takeover_probe_timeout_ms);
  u32("takeover_resend_wait_ms", 0, 60000, h.takeover_resend_wait_ms);
  if (auto v = r.boolean("crash_guard")) h.crash_guard = *v;
  if (auto v = r.boolean("hold_acks")) h.hold_acks = *v;
  if (auto v = r.string("crash_guard_pin_dir")) {
    if (v->empty() || (*v)[0] != '/') r.fail("crash_guard_pin_dir", r.get("crash_guard_pin_dir"), "must be an absolute path");
    h.crash_guard_pin_dir = *v;
  }
  // The standby must be able to hold everything the primary may have acknowledged.
  if (h.standby_buffer_bytes < h.max_unreplicated_bytes) {
    const char* key = r.get("standby_buffer_bytes") ? "standby_buffer_bytes" : "max_unreplicated_bytes";
    r.fail(key, r.get(key),
           fmt::format("standby_buffer_bytes ({}) must be at least max_unreplicated_bytes ({})",
                       h.standby_buffer_bytes, h.max_unreplicated_bytes));
  }
  for (auto& [text, n] : r.strings("vips")) {
    auto slash = text.find('/');
    auto a = wire::IpAddr::parse(text.substr(0, slash));
    uint32_t len = 0;
    const uint32_t max = a && a->is_v6() ? 128 : 32;
    if (!a || slash == std::string::npos || !parse_u32(std::string_view(text).substr(slash + 1), max, len))
      r.fail("vips", n, fmt::format("'{}' is not ADDRESS/LENGTH (e.g. \"192.0.2.1/24\")", text));
    h.vips.emplace_back(*a, static_cast<uint8_t>(len));
  }
  if (auto v = r.string("vip_interface")) {
    if (v->empty() || v->size() > 15 || v->find_first_of("/ \t") != std::string::npos)
      r.fail("vip_interface", r.get("vip_interface"), fmt::format("'{}' is not an interface name", *v));
    h.vip_interface = *v;
  }
  if (!h.vips.empty() && h.vip_interface.empty())
    r.fail("vips", r.get("vips"), "needs vip_interface (where the addresses live, e.g. \"eth0\")");
  if (auto v = r.string("witness_address")) {
    auto a = wire::IpAddr::parse(*v);
    if (!a) r.fail("witness_address", r.get("witness_address"), fmt::format("'{}' is not an IPv4 or IPv6 address", *v));
    h.witness_address = *a;
    if (h.vip_interface.empty())
      r.fail("witness_address", r.get("witness_address"),
             "needs vip_interface (the beacon runs over the peers' segment, where the VIPs live)");
  }
  if (auto v = r.integer("witness_port", 1, 65535)) h.witness_port = static_cast<uint16_t>(*v);
  if (auto v = r.boolean("heartbeat")) h.heartbeat = *v;
  for (auto [key, dst] : {std::pair<const char*, std::optional<wire::IpAddr>*>{"heartbeat_address", &h.heartbeat_address},
                          std::pair<const char*, std::optional<wire::IpAddr>*>{"heartbeat_local_address",
                                                                               &h.heartbeat_local_address}}) {
    if (auto v = r.string(key)) {
      auto a = wire::IpAddr::parse(*v);
      if (!a) r.fail(key, r.get(key), fmt::format("'{}' is not an IPv4 or IPv6 address", *v));
      *dst = *a;
    }
  }
  u32("heartbeat_interval_ms", 1, 60000, h.heartbeat_interval_ms);
  h.heartbeat_detect_mult = static_cast<uint8_t>(r.integer("heartbeat_detect_mult", 1, 255).value_or(3));
  h.takeover_silence_mult = static_cast<uint8_t>(r.integer("takeover_silence_mult", 1, 10).value_or(2));
  if (h.heartbeat) {
    if (!c.bfd.enabled)
      r.fail("heartbeat", r.get("heartbeat"), "the heartbeat is a BFD session: set [bfd] enabled = true");
    if (!h.heartbeat_peer())
      r.fail("heartbeat", r.get("heartbeat"), "needs the other node's address: set peer or heartbeat_address");
    const auto local = h.heartbeat_local_address ? h.heartbeat_local_address
                                                 : (h.listen ? std::optional<wire::IpAddr>(h.listen->first) : std::nullopt);
    if (local && local->is_v6() != h.heartbeat_peer()->is_v6())
      r.fail(h.heartbeat_local_address ? "heartbeat_local_address" : "heartbeat",
             r.get(h.heartbeat_local_address ? "heartbeat_local_address" : "heartbeat"),
             "the heartbeat's local and remote addresses must be of one family");
  } else {
    for (const char* k : {"heartbeat_address", "heartbeat_local_address", "heartbeat_interval_ms", "heartbeat_detect_mult",
                          "takeover_silence_mult"})
      if (r.get(k)) r.fail(k, r.get(k), "only applies with heartbeat = true");
  }
  if (h.role == "primary" && !h.listen)
    r.fail("listen", nullptr, "required with role = \"primary\" (where the standby connects, e.g. \"192.0.2.10:7179\")");
  if (h.role == "standby" && !h.peer)
    r.fail("peer", nullptr, "required with role = \"standby\" (the primary's replication address, e.g. \"192.0.2.10:7179\")");
  if (h.enabled() && h.key_file.empty())
    r.fail("key_file", nullptr,
           fmt::format("required with role = \"{}\" (pre-shared key file, e.g. \"/etc/tandem/ha.key\")", h.role));
  if (h.node_id.empty()) h.node_id = wire::IpAddr::v4(c.router_id).to_string();
  r.reject_unknown();
}

Config read_config(const toml::table& root) {
  Config c;
  TableReader top(root, "");

  const toml::table* g = top.subtable("global");
  if (!g) top.fail("global", nullptr, "missing [global] table (router_id, local_as)");
  TableReader gr(*g, "global");
  auto rid_text = gr.string("router_id");
  if (!rid_text) gr.fail("router_id", nullptr, "missing (a dotted quad, e.g. \"192.0.2.1\")");
  auto rid = wire::IpAddr::parse(*rid_text);
  if (!rid || !rid->is_v4() || rid->v4_host_order() == 0)
    gr.fail("router_id", gr.get("router_id"), fmt::format("'{}' is not a non-zero IPv4 dotted quad", *rid_text));
  c.router_id = rid->v4_host_order();
  auto las = gr.integer("local_as", 1, 4294967295ULL);
  if (!las) gr.fail("local_as", nullptr, "missing (1..4294967295)");
  c.local_as = static_cast<uint32_t>(*las);
  if (gr.get("listen")) {
    for (auto& [s, n] : gr.strings("listen")) c.listen.push_back(gr.address("listen", s, n));
  } else {
    c.listen = {*wire::IpAddr::parse("0.0.0.0"), *wire::IpAddr::parse("::")};
  }
  c.port = static_cast<uint16_t>(gr.integer("port", 1, 65535).value_or(179));
  c.state_dump = gr.string("state_dump").value_or("");
  c.memory_budget_mb = static_cast<uint32_t>(gr.integer("memory_budget_mb", 0, 16u << 20).value_or(0));
  gr.reject_unknown();

  if (const toml::table* l = top.subtable("log")) {
    TableReader lr(*l, "log");
    c.log_level = lr.string("level").value_or("info");
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error"};
    if (!levels.count(c.log_level)) lr.fail("level", lr.get("level"), "must be trace, debug, info, warn or error");
    c.log_format = lr.string("format").value_or("text");
    if (c.log_format != "text" && c.log_format != "json") lr.fail("format", lr.get("format"), "must be text or json");
    lr.reject_unknown();
  }

  if (const toml::table* f = top.subtable("fib")) {
    TableReader fr(*f, "fib");
    c.fib.enabled = fr.boolean("enabled").value_or(false);
    c.fib.table = static_cast<uint32_t>(fr.integer("table", 1, 4294967295ULL).value_or(254));
    c.fib.protocol = static_cast<uint8_t>(fr.integer("protocol", 5, 255).value_or(201));
    c.fib.metric = static_cast<uint32_t>(fr.integer("metric", 0, 4294967295ULL).value_or(20));
    fr.reject_unknown();
  }

  if (const toml::table* a = top.subtable("api")) {
    TableReader ar(*a, "api");
    if (auto s = ar.string("socket")) {
      if (s->empty() || (*s)[0] != '/') ar.fail("socket", ar.get("socket"), "must be an absolute path");
      if (s->size() >= 108) ar.fail("socket", ar.get("socket"), "is too long for a UNIX socket path (max 107 bytes)");
      c.api.socket = *s;
    }
    if (auto m = ar.string("socket_mode")) {
      uint32_t mode = 0;
      bool ok = !m->empty() && m->size() <= 4;
      for (char ch : *m) {
        if (ch < '0' || ch > '7') ok = false;
        else mode = mode * 8 + static_cast<uint32_t>(ch - '0');
      }
      if (!ok) ar.fail("socket_mode", ar.get("socket_mode"), fmt::format("'{}' is not an octal mode like \"0660\"", *m));
      c.api.socket_mode = mode;
    }
    c.api.tcp_listen = ar.string("tcp_listen").value_or("");
    c.api.tls_cert = ar.string("tls_cert").value_or("");
    c.api.tls_key = ar.string("tls_key").value_or("");
    c.api.tls_client_ca = ar.string("tls_client_ca").value_or("");
    if (!c.api.tcp_listen.empty()) {
      if (!parse_host_port(c.api.tcp_listen))
        ar.fail("tcp_listen", ar.get("tcp_listen"),
                fmt::format("'{}' is not ADDRESS:PORT (e.g. \"127.0.0.1:50051\", \"[::1]:50051\")", c.api.tcp_listen));
      const std::pair<const char*, const std::string*> tls[] = {
          {"tls_cert", &c.api.tls_cert}, {"tls_key", &c.api.tls_key}, {"tls_client_ca", &c.api.tls_client_ca}};
      for (const auto& [k, v] : tls) {
        if (v->empty())
          ar.fail(k, ar.get(k) ? ar.get(k) : ar.get("tcp_listen"),
                  "required when tcp_listen is set (TCP is only offered with mutual TLS: tls_cert, tls_key, tls_client_ca)");
      }
    }
    ar.reject_unknown();
  }

  if (const toml::table* m = top.subtable("metrics")) {
    TableReader mr(*m, "metrics");
    c.metrics.enabled = mr.boolean("enabled").value_or(false);
    if (auto l = mr.string("listen")) {
      if (!parse_host_port(*l))
        mr.fail("listen", mr.get("listen"), fmt::format("'{}' is not ADDRESS:PORT (e.g. \"127.0.0.1:9179\")", *l));
      c.metrics.listen = *l;
    }
    mr.reject_unknown();
  }

  if (const toml::table* t = top.subtable("mrt")) {
    TableReader mr(*t, "mrt");
    auto& m = c.mrt;
    for (auto [key, dst] : {std::pair<const char*, std::string*>{"updates_file", &m.updates_file},
                            std::pair<const char*, std::string*>{"rib_file", &m.rib_file}}) {
      if (auto v = mr.string(key)) {
        if (v->empty() || (*v)[0] != '/') mr.fail(key, mr.get(key), "must be an absolute path (strftime pattern)");
        *dst = *v;
      }
    }
    m.updates_interval = static_cast<uint32_t>(mr.integer("updates_interval", 10, 86400).value_or(m.updates_interval));
    m.rib_interval = static_cast<uint32_t>(mr.integer("rib_interval", 10, 86400 * 7).value_or(m.rib_interval));
    if (auto v = mr.string("compression")) {
      if (*v != "none" && *v != "gzip" && *v != "bzip2")
        mr.fail("compression", mr.get("compression"), fmt::format("'{}' is not none, gzip or bzip2", *v));
      m.compression = *v;
    }
    m.extended_time = mr.boolean("extended_time").value_or(false);
    m.queue_max_bytes = static_cast<uint64_t>(
        mr.integer("queue_max_bytes", 1 << 20, int64_t{1} << 34).value_or(static_cast<int64_t>(m.queue_max_bytes)));
    mr.reject_unknown();
  }

  if (const toml::table* t = top.subtable("graceful_restart")) {
    TableReader gr2(*t, "graceful_restart");
    c.graceful_restart.enabled = gr2.boolean("enabled").value_or(true);
    c.graceful_restart.restart_time = static_cast<uint16_t>(gr2.integer("restart_time", 1, 4095).value_or(120));
    c.graceful_restart.notification = gr2.boolean("notification").value_or(true);
    c.graceful_restart.stale_time = static_cast<uint32_t>(gr2.integer("stale_time", 1, 86400).value_or(360));
    auto& grc = c.graceful_restart;
    grc.families = read_families(gr2, "families", grc.families, true);
    grc.forwarding_state = read_families(gr2, "forwarding_state", grc.families, true);
    for (const auto& f : grc.forwarding_state)
      if (std::find(grc.families.begin(), grc.families.end(), f) == grc.families.end())
        gr2.fail("forwarding_state", gr2.get("forwarding_state"),
                 fmt::format("family '{}' is not in graceful_restart.families", f.to_string()));
    grc.selection_deferral_time =
        static_cast<uint32_t>(gr2.integer("selection_deferral_time", 1, 3600).value_or(grc.selection_deferral_time));
    if (auto m = gr2.string("marker_file")) {
      if (m->empty() || (*m)[0] != '/') gr2.fail("marker_file", gr2.get("marker_file"), "must be an absolute path");
      grc.marker_file = *m;
    }
    // RFC 9494: the stale time is 24 bits.
    grc.long_lived_stale_time =
        static_cast<uint32_t>(gr2.integer("long_lived_stale_time", 0, 0xFFFFFF).value_or(0));
    gr2.reject_unknown();
  }

  if (const toml::table* t = top.subtable("bfd")) {
    TableReader br(*t, "bfd");
    auto& b = c.bfd;
    b.enabled = br.boolean("enabled").value_or(false);
    if (auto rp = br.string("receive_path")) {
      if (*rp != "auto" && *rp != "xdp" && *rp != "user-space")
        br.fail("receive_path", br.get("receive_path"), "must be \"auto\", \"xdp\" or \"user-space\"");
      b.receive_path = *rp;
    }
    for (auto& [name, n] : br.strings("interfaces")) {
      if (name.empty() || name.size() > 15 || name.find_first_of("/ \t") != std::string::npos)
        br.fail("interfaces", n, fmt::format("'{}' is not an interface name", name));
      if (std::find(b.interfaces.begin(), b.interfaces.end(), name) != b.interfaces.end())
        br.fail("interfaces", n, fmt::format("interface '{}' listed twice", name));
      b.interfaces.push_back(name);
    }
    if (auto m = br.string("xdp_mode")) {
      if (*m != "auto" && *m != "native" && *m != "generic")
        br.fail("xdp_mode", br.get("xdp_mode"), "must be \"auto\", \"native\" or \"generic\"");
      b.xdp_mode = *m;
    }
    if (auto tp = br.string("transmit_path")) {
      if (*tp != "auto" && *tp != "xdp" && *tp != "user-space")
        br.fail("transmit_path", br.get("transmit_path"), "must be \"auto\", \"xdp\" or \"user-space\"");
      b.transmit_path = *tp;
    }
    b.desired_min_tx_ms = static_cast<uint32_t>(br.integer("desired_min_tx_ms", 1, 60000).value_or(300));
    b.required_min_rx_ms = static_cast<uint32_t>(br.integer("required_min_rx_ms", 1, 60000).value_or(300));
    b.detect_mult = static_cast<uint8_t>(br.integer("detect_mult", 1, 255).value_or(3));
    if (b.enabled && b.receive_path == "xdp" && b.interfaces.empty())
      br.fail("receive_path", br.get("receive_path"),
              "\"xdp\" needs the interfaces to attach the program to (interfaces = [\"eth0\"])");
    if (b.enabled && b.transmit_path == "xdp" && (b.receive_path == "user-space" || b.interfaces.empty()))
      br.fail("transmit_path", br.get("transmit_path"),
              "\"xdp\" needs the XDP receive path (receive_path not \"user-space\", and interfaces)");
    br.reject_unknown();
  }

  if (const toml::table* t = top.subtable("ha")) {
    TableReader hr(*t, "ha");
    read_ha(hr, c);
  } else {
    c.ha.node_id = wire::IpAddr::v4(c.router_id).to_string();
  }

  PeerDefaults d;
  if (const toml::table* pd = top.subtable("peer_defaults")) {
    TableReader dr(*pd, "peer_defaults");
    d.hold_time = read_hold_time(dr, d.hold_time);
    d.connect_retry = static_cast<uint16_t>(dr.integer("connect_retry", 1, 65535).value_or(d.connect_retry));
    d.families = read_families(dr, "families", d.families);
    dr.reject_unknown();
  }

  for_each_table(top, "peer", [&](TableReader& r) {
    PeerConfig p = read_peer(r, d, c.local_as);
    if (p.bfd && !c.bfd.enabled)
      r.fail("bfd", r.get("bfd"), "BFD is not enabled: set [bfd] enabled = true (or remove bfd = true)");
    if (p.bfd && c.ha.heartbeat && c.ha.heartbeat_peer() == p.address)
      r.fail("bfd", r.get("bfd"), "this address has the [ha] heartbeat session: one BFD session per address");
    if (c.find_peer(p.address))
      r.fail("address", r.get("address"), fmt::format("peer {} is configured twice", p.address.to_string()));
    c.peers.push_back(std::move(p));
  });
  for_each_table(top, "network", [&](TableReader& r) {
    NetworkConfig n = read_network(r);
    for (auto& e : c.networks)
      if (e.prefix == n.prefix)
        r.fail("prefix", r.get("prefix"), fmt::format("network {} is configured twice", n.prefix.to_string()));
    c.networks.push_back(std::move(n));
  });
  top.reject_unknown();
  return c;
}

bool parse_u32(std::string_view s, uint64_t max, uint32_t& out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v > max) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

const PeerConfig* Config::find_peer(const wire::IpAddr& address) const {
  for (const auto& p : peers)
    if (p.address == address) return &p;
  return nullptr;
}

std::optional<std::pair<wire::IpAddr, uint16_t>> parse_host_port(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs [brackets]
  }
  auto a = wire::IpAddr::parse(host);
  uint32_t p = 0;
  if (!a || !parse_u32(port, 65535, p)) return std::nullopt;
  if (text[0] == '[' && !a->is_v6()) return std::nullopt;
  return std::make_pair(*a, static_cast<uint16_t>(p));
}

std::string ConfigError::to_string() const {
  std::string where = line > 0 ? fmt::format("{}:{}", file, line) : file;
  return key.empty() ? fmt::format("{}: {}", where, message)
                     : fmt::format("{}: {}: {}", where, key, message);
}

std::optional<uint32_t> parse_community(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  uint32_t hi = 0, lo = 0;
  if (!parse_u32(text.substr(0, colon), 65535, hi) || !parse_u32(text.substr(colon + 1), 65535, lo))
    return std::nullopt;
  return (hi << 16) | lo;
}

std::optional<wire::LargeCommunity> parse_large_community(std::string_view text) {
  auto c1 = text.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  auto c2 = text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  wire::LargeCommunity lc;
  if (!parse_u32(text.substr(0, c1), 4294967295ULL, lc.global_admin) ||
      !parse_u32(text.substr(c1 + 1, c2 - c1 - 1), 4294967295ULL, lc.local1) ||
      !parse_u32(text.substr(c2 + 1), 4294967295ULL, lc.local2))
    return std::nullopt;
  return lc;
}

LoadResult parse_config(std::string_view text, const std::string& file) {
  try {
    toml::table root = toml::parse(text, file);
    Config c = read_config(root);
    c.file = file;
    return c;
  } catch (const toml::parse_error& e) {
    return ConfigError{file, static_cast<int>(e.source().begin.line), "",
                       fmt::format("TOML syntax error: {}", e.description())};
  } catch (const Failure& f) {
    return ConfigError{file, f.line, f.key, f.message};
  }
}

LoadResult load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError{path, 0, "", "cannot open the file"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

// ---- canonical descriptions (HA configuration comparison) ----

namespace {

// If one of these fires, a field was added: decide whether it shapes the session or
// its routes, add it to describe_peer/describe_global (and a test), then fix the size.
#if defined(__GLIBCXX__) && defined(__x86_64__)
static_assert(sizeof(PeerConfig) == 200, "PeerConfig changed: update describe_peer");
static_assert(sizeof(NetworkConfig) == 112, "NetworkConfig changed: update describe_global");
static_assert(sizeof(GracefulRestartConfig) == 112, "GracefulRestartConfig changed: update describe_global");
#endif

const char* yes_no(bool b) { return b ? "yes" : "no"; }

template <class T>
std::string opt_text(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : std::string("-");
}

std::string families_text(std::vector<wire::Family> fs) {
  std::sort(fs.begin(), fs.end());
  std::string out;
  for (const auto& f : fs) out += fmt::format("{}{}", out.empty() ? "" : ",", f.to_string());
  return out.empty() ? "-" : out;
}

std::string community_text(uint32_t c) { return fmt::format("{}:{}", c >> 16, c & 0xFFFF); }

}  // namespace

std::string describe_peer(const PeerConfig& p) {
  std::string s = fmt::format("{} remote_as={} local_address={} passive={} hold={} connect_retry={} families={}",
                              p.address.to_string(), p.remote_as,
                              p.local_address ? p.local_address->to_string() : "-", yes_no(p.passive),
                              p.hold_time, p.connect_retry, families_text(p.families));
  s += fmt::format(" next_hop_self={} rr_client={} port={} enabled={} graceful_restart={}", yes_no(p.next_hop_self),
                   yes_no(p.route_reflector_client), p.port, yes_no(p.enabled),
                   p.graceful_restart ? yes_no(*p.graceful_restart) : "default");
  s += fmt::format(" max_prefixes={} max_prefixes_warning_only={} max_prefixes_restart={} send_hold={}",
                   p.max_prefixes, yes_no(p.max_prefixes_warning_only), p.max_prefixes_restart, p.send_hold_time);
  s += fmt::format(" max_as_path_length={}", p.max_as_path_length);
  s += fmt::format(" md5={} ttl_security={} bfd={} bfd_tx={} bfd_rx={} bfd_mult={}", yes_no(!p.password.empty()),
                   yes_no(p.ttl_security), yes_no(p.bfd), opt_text(p.bfd_desired_min_tx_ms),
                   opt_text(p.bfd_required_min_rx_ms),
                   p.bfd_detect_mult ? std::to_string(*p.bfd_detect_mult) : std::string("-"));
  return s;
}

std::string describe_global(const Config& c) {
  const auto& g = c.graceful_restart;
  std::string s = fmt::format("router_id={} local_as={} port={}", wire::IpAddr::v4(c.router_id).to_string(),
                              c.local_as, c.port);
  s += fmt::format(" gr={} gr_restart_time={} gr_notification={} gr_stale_time={} gr_families={}", yes_no(g.enabled),
                   g.restart_time, yes_no(g.notification), g.stale_time, families_text(g.families));
  s += fmt::format(" gr_forwarding_state={} gr_selection_deferral_time={} llgr_stale_time={}",
                   families_text(g.forwarding_state), g.selection_deferral_time, g.long_lived_stale_time);
  s += fmt::format(" bfd={} bfd_tx={} bfd_rx={} bfd_mult={}", yes_no(c.bfd.enabled), c.bfd.desired_min_tx_ms,
                   c.bfd.required_min_rx_ms, c.bfd.detect_mult);
  std::vector<const NetworkConfig*> nets;
  for (const auto& n : c.networks) nets.push_back(&n);
  std::sort(nets.begin(), nets.end(), [](const auto* a, const auto* b) { return a->prefix < b->prefix; });
  for (const NetworkConfig* n : nets) {
    std::string comms, large;
    for (uint32_t x : n->communities) comms += fmt::format("{}{}", comms.empty() ? "" : ",", community_text(x));
    for (const auto& x : n->large_communities)
      large += fmt::format("{}{}:{}:{}", large.empty() ? "" : ",", x.global_admin, x.local1, x.local2);
    s += fmt::format(" network={}[next_hop={} communities={} large_communities={} med={} local_pref={} origin={}]",
                     n->prefix.to_string(), n->next_hop ? n->next_hop->to_string() : "-", comms.empty() ? "-" : comms,
                     large.empty() ? "-" : large, opt_text(n->med), opt_text(n->local_pref),
                     n->origin == wire::Origin::Igp ? "igp" : n->origin == wire::Origin::Egp ? "egp" : "incomplete");
  }
  return s;
}

}  // namespace tandem::config
