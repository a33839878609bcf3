#include "apps/tandemctl/args.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace tandemctl {

std::string Args::next(std::string_view what) {
  if (empty()) fail("missing " + std::string(what));
  return words_[pos_++];
}

void Args::fail(const std::string& message) const { throw UsageError(message, topic_); }

void Args::expect_end() const {
  if (!empty()) fail("unexpected argument '" + peek() + "'");
}

std::uint32_t parse_u32(std::string_view text, std::string_view what, const std::string& topic,
                        std::uint64_t min, std::uint64_t max) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    throw UsageError("invalid " + std::string(what) + " '" + std::string(text) + "' (expected " +
                         std::to_string(min) + ".." + std::to_string(max) + ")",
                     topic);
  }
  return static_cast<std::uint32_t>(value);
}

bool is_ipv4(std::string_view text) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(text).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view text) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(text).c_str(), &a) == 1;
}

std::string parse_address(std::string_view text, std::string_view what, const std::string& topic) {
  if (!is_ipv4(text) && !is_ipv6(text)) {
    throw UsageError("invalid " + std::string(what) + " '" + std::string(text) +
                         "' (expected an IPv4 or IPv6 address)",
                     topic);
  }
  return std::string(text);
}

tandem::v1::Family parse_prefix(std::string_view text, const std::string& topic) {
  auto bad = [&]() {
    return UsageError("invalid prefix '" + std::string(text) +
                          "' (expected e.g. 192.0.2.0/24 or 2001:db8::/32)",
                      topic);
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) throw bad();
  auto addr = text.substr(0, slash);
  auto len_text = text.substr(slash + 1);
  std::uint64_t len = 0;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size()) throw bad();
  if (is_ipv4(addr) && len <= 32) return tandem::v1::FAMILY_IPV4_UNICAST;
  if (is_ipv6(addr) && len <= 128) return tandem::v1::FAMILY_IPV6_UNICAST;
  throw bad();
}

tandem::v1::Family parse_family(std::string_view text, const std::string& topic) {
  if (text == "ipv4-unicast" || text == "ipv4") return tandem::v1::FAMILY_IPV4_UNICAST;
  if (text == "ipv6-unicast" || text == "ipv6") return tandem::v1::FAMILY_IPV6_UNICAST;
  throw UsageError("invalid family '" + std::string(text) + "' (expected ipv4-unicast or ipv6-unicast)",
                   topic);
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

}  // namespace tandemctl
