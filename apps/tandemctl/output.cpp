#include "apps/tandemctl/output.hpp"

#include <charconv>
#include <initializer_list>
#include <ctime>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

namespace tandemctl {

Table::Table(std::vector<std::string> headers, std::vector<bool> right_aligned)
    : headers_(std::move(headers)), right_(std::move(right_aligned)) {
  right_.resize(headers_.size(), false);
  for (const auto& h : headers_) widths_.push_back(h.size());
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  for (std::size_t i = 0; i < row.size(); ++i) widths_[i] = std::max(widths_[i], row[i].size());
  rows_.push_back(std::move(row));
}

void Table::print_row(std::ostream& out, const std::vector<std::string>& row) const {
  std::string line;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const bool last = i + 1 == row.size();
    const std::size_t pad = widths_[i] - std::min(widths_[i], row[i].size());
    if (right_[i]) line.append(pad, ' ');
    line += row[i];
    if (!right_[i] && !last) line.append(pad, ' ');
    if (!last) line += "  ";
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out << line << '\n';
}

void Table::print(std::ostream& out) {
  if (!header_printed_) {
    print_row(out, headers_);
    header_printed_ = true;
  }
  for (const auto& row : rows_) print_row(out, row);
  printed_ += rows_.size();
  rows_.clear();
}

std::string to_json(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) throw std::runtime_error("cannot encode JSON: " + std::string(status.message()));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

namespace tv1 = tandem::v1;

bool ascii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Every string of the route is ASCII (the fast path handles those only).
bool all_ascii(const tv1::Route& route) {
  if (!ascii(route.prefix()) || !ascii(route.peer())) return false;
  if (!route.has_attributes()) return true;
  const auto& a = route.attributes();
  if (!ascii(a.next_hop()) || !ascii(a.next_hop_link_local()) || !ascii(a.aggregator_address()) ||
      !ascii(a.originator_id())) {
    return false;
  }
  for (const auto& c : a.cluster_list()) {
    if (!ascii(c)) return false;
  }
  return true;
}

// An ASCII string, escaped as protobuf's JSON printer does (<, > and DEL too).
void append_string(std::string& out, const std::string& s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != 0x7F) {
      out += ch;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
        break;
    }
  }
  out += '"';
}

template <typename T>
void append_number(std::string& out, T value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, end);
}

void append_bool(std::string& out, bool value) { out += value ? "true" : "false"; }

// Enums by name; a value the schema does not know as a number, as protobuf does.
void append_enum(std::string& out, int value, const google::protobuf::EnumDescriptor* descriptor) {
  if (const auto* v = descriptor->FindValueByNumber(value)) {
    out += '"';
    out += v->name();
    out += '"';
  } else {
    append_number(out, value);
  }
}

// Standard base64 with padding (proto3 JSON bytes).
void append_base64(std::string& out, const std::string& bytes) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out += '"';
  std::size_t i = 0;
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += table[v >> 18];
    out += table[(v >> 12) & 0x3F];
    out += table[(v >> 6) & 0x3F];
    out += table[v & 0x3F];
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = b(i) << 16;
    out += table[v >> 18];
    out += table[(v >> 12) & 0x3F];
    out += "==";
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out += table[v >> 18];
    out += table[(v >> 12) & 0x3F];
    out += table[(v >> 6) & 0x3F];
    out += '=';
  }
  out += '"';
}

void append_attributes(std::string& out, const tv1::PathAttributes& a) {
  out += "{\"origin\":";
  append_enum(out, a.origin(), tv1::Origin_descriptor());
  out += ",\"as_path\":[";
  bool first = true;
  for (const auto& seg : a.as_path()) {
    if (!first) out += ',';
    first = false;
    out += "{\"type\":";
    append_enum(out, seg.type(), tv1::AsPathSegment::Type_descriptor());
    out += ",\"asns\":[";
    bool first_asn = true;
    for (auto asn : seg.asns()) {
      if (!first_asn) out += ',';
      first_asn = false;
      append_number(out, asn);
    }
    out += "]}";
  }
  out += "],\"next_hop\":";
  append_string(out, a.next_hop());
  out += ",\"next_hop_link_local\":";
  append_string(out, a.next_hop_link_local());
  out += ",\"atomic_aggregate\":";
  append_bool(out, a.atomic_aggregate());
  out += ",\"aggregator_address\":";
  append_string(out, a.aggregator_address());
  out += ",\"communities\":[";
  first = true;
  for (auto c : a.communities()) {
    if (!first) out += ',';
    first = false;
    append_number(out, c);
  }
  out += "],\"ext_communities\":[";  // 64-bit: JSON strings
  first = true;
  for (auto c : a.ext_communities()) {
    if (!first) out += ',';
    first = false;
    out += '"';
    append_number(out, c);
    out += '"';
  }
  out += "],\"large_communities\":[";
  first = true;
  for (const auto& lc : a.large_communities()) {
    if (!first) out += ',';
    first = false;
    out += "{\"global_admin\":";
    append_number(out, lc.global_admin());
    out += ",\"local_data1\":";
    append_number(out, lc.local_data1());
    out += ",\"local_data2\":";
    append_number(out, lc.local_data2());
    out += '}';
  }
  out += "],\"originator_id\":";
  append_string(out, a.originator_id());
  out += ",\"cluster_list\":[";
  first = true;
  for (const auto& c : a.cluster_list()) {
    if (!first) out += ',';
    first = false;
    append_string(out, c);
  }
  out += "],\"unknown\":[";
  first = true;
  for (const auto& u : a.unknown()) {
    if (!first) out += ',';
    first = false;
    out += "{\"flags\":";
    append_number(out, u.flags());
    out += ",\"type\":";
    append_number(out, u.type());
    out += ",\"value\":";
    append_base64(out, u.value());
    out += '}';
  }
  out += ']';
  // proto3 `optional` fields: absent when unset; protobuf's printer puts them after
  // the others, in field-number order.
  if (a.has_med()) {
    out += ",\"med\":";
    append_number(out, a.med());
  }
  if (a.has_local_pref()) {
    out += ",\"local_pref\":";
    append_number(out, a.local_pref());
  }
  if (a.has_aggregator_as()) {
    out += ",\"aggregator_as\":";
    append_number(out, a.aggregator_as());
  }
  out += '}';
}

// The fields the encoder writes, in order, per message: if the schema gains, loses
// or renames a field, the encoder is out of date and to_json() is used instead.
bool fields_are(const google::protobuf::Descriptor* d, std::initializer_list<const char*> names) {
  if (static_cast<std::size_t>(d->field_count()) != names.size()) return false;
  int i = 0;
  for (const char* name : names) {
    if (d->field(i++)->name() != name) return false;
  }
  return true;
}

}  // namespace

bool route_json_schema_known() {
  static const bool known =
      fields_are(tv1::Route::descriptor(), {"prefix", "family", "peer", "best", "eligible", "attributes"}) &&
      fields_are(tv1::PathAttributes::descriptor(),
                 {"origin", "as_path", "next_hop", "next_hop_link_local", "med", "local_pref", "atomic_aggregate",
                  "aggregator_as", "aggregator_address", "communities", "ext_communities", "large_communities",
                  "originator_id", "cluster_list", "unknown"}) &&
      fields_are(tv1::AsPathSegment::descriptor(), {"type", "asns"}) &&
      fields_are(tv1::LargeCommunity::descriptor(), {"global_admin", "local_data1", "local_data2"}) &&
      fields_are(tv1::UnknownAttribute::descriptor(), {"flags", "type", "value"});
  return known;
}

void append_route_json(std::string& out, const tv1::Route& route) {
  if (!route_json_schema_known() || !all_ascii(route)) {
    out += to_json(route, false);
    return;
  }
  out += "{\"prefix\":";
  append_string(out, route.prefix());
  out += ",\"family\":";
  append_enum(out, route.family(), tv1::Family_descriptor());
  out += ",\"peer\":";
  append_string(out, route.peer());
  out += ",\"best\":";
  append_bool(out, route.best());
  out += ",\"eligible\":";
  append_bool(out, route.eligible());
  if (route.has_attributes()) {
    out += ",\"attributes\":";
    append_attributes(out, route.attributes());
  }
  out += '}';
}

void key_value_line(std::ostream& out, std::string_view key, const std::string& value, std::size_t width) {
  out << fmt::format("{:<{}}{}\n", std::string(key) + ":", width, value);
}

std::string family_name(tandem::v1::Family family) {
  switch (family) {
    case tandem::v1::FAMILY_IPV4_UNICAST: return "ipv4-unicast";
    case tandem::v1::FAMILY_IPV6_UNICAST: return "ipv6-unicast";
    default: return "unspecified";
  }
}

std::string families_text(const google::protobuf::RepeatedField<int>& families) {
  std::string out;
  for (int f : families) {
    if (!out.empty()) out += ",";
    out += family_name(static_cast<tandem::v1::Family>(f));
  }
  return out.empty() ? "-" : out;
}

std::string state_name(tandem::v1::SessionState state) {
  switch (state) {
    case tandem::v1::SESSION_STATE_IDLE: return "Idle";
    case tandem::v1::SESSION_STATE_CONNECT: return "Connect";
    case tandem::v1::SESSION_STATE_ACTIVE: return "Active";
    case tandem::v1::SESSION_STATE_OPEN_SENT: return "OpenSent";
    case tandem::v1::SESSION_STATE_OPEN_CONFIRM: return "OpenConfirm";
    case tandem::v1::SESSION_STATE_ESTABLISHED: return "Established";
    default: return "Unknown";
  }
}

std::string origin_name(tandem::v1::Origin origin) {
  switch (origin) {
    case tandem::v1::ORIGIN_IGP: return "igp";
    case tandem::v1::ORIGIN_EGP: return "egp";
    case tandem::v1::ORIGIN_INCOMPLETE: return "incomplete";
    default: return "?";
  }
}

std::string duration_text(std::uint64_t seconds) {
  const std::uint64_t days = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60,
                      s = seconds % 60;
  if (days > 0) return fmt::format("{}d{:02}h{:02}m", days, h, m);
  return fmt::format("{:02}:{:02}:{:02}", h, m, s);
}

std::string as_path_text(const tandem::v1::PathAttributes& attributes) {
  std::string out;
  for (const auto& seg : attributes.as_path()) {
    std::string asns;
    for (auto asn : seg.asns()) {
      if (!asns.empty()) asns += ' ';
      asns += std::to_string(asn);
    }
    if (!out.empty()) out += ' ';
    switch (seg.type()) {
      case tandem::v1::AsPathSegment::AS_SET: out += "{" + asns + "}"; break;
      case tandem::v1::AsPathSegment::CONFED_SEQUENCE: out += "(" + asns + ")"; break;
      case tandem::v1::AsPathSegment::CONFED_SET: out += "[" + asns + "]"; break;
      default: out += asns; break;
    }
  }
  return out;
}

std::string community_text(std::uint32_t community) {
  switch (community) {
    case 0xFFFF0000: return "graceful-shutdown";
    case 0xFFFF0006: return "llgr-stale";
    case 0xFFFF0007: return "no-llgr";
    case 0xFFFF029A: return "blackhole";
    case 0xFFFFFF01: return "no-export";
    case 0xFFFFFF02: return "no-advertise";
    case 0xFFFFFF03: return "no-export-subconfed";
    case 0xFFFFFF04: return "no-peer";
    default: return fmt::format("{}:{}", community >> 16, community & 0xFFFF);
  }
}

std::string communities_text(const tandem::v1::PathAttributes& attributes) {
  std::string out;
  for (auto c : attributes.communities()) {
    if (!out.empty()) out += ' ';
    out += community_text(c);
  }
  for (const auto& lc : attributes.large_communities()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}:{}:{}", lc.global_admin(), lc.local_data1(), lc.local_data2());
  }
  return out;
}

std::string time_text(std::int64_t unix_nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::int64_t millis = (unix_nanos % 1'000'000'000) / 1'000'000;
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, millis);
}

std::string yes_no(bool value) { return value ? "yes" : "no"; }

}  // namespace tandemctl
