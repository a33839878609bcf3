#include "apps/tandemctl/output.hpp"

#include <ctime>

#include <fmt/format.h>
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
