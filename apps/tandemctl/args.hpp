// Token cursor and value parsers shared by the command parsers. Every problem with the
// command line is a UsageError (exit status 2).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/v1/common.pb.h"

namespace tandemctl {

// A usage error; `topic` selects the usage text printed after the message
// ("" = the top-level usage).
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string topic)
      : std::runtime_error(message), topic_(std::move(topic)) {}
  const std::string& topic() const { return topic_; }

 private:
  std::string topic_;
};

// The remaining words of a command line.
class Args {
 public:
  Args(std::vector<std::string> words, std::string topic)
      : words_(std::move(words)), topic_(std::move(topic)) {}

  bool empty() const { return pos_ >= words_.size(); }
  const std::string& peek() const { return words_.at(pos_); }
  bool peek_is(std::string_view word) const { return !empty() && peek() == word; }
  // The next word; a usage error naming `what` if there is none.
  std::string next(std::string_view what);
  // The value of keyword `key` (the word after it).
  std::string value_of(std::string_view key) { return next(std::string(key) + " value"); }
  const std::string& topic() const { return topic_; }
  void set_topic(std::string topic) { topic_ = std::move(topic); }
  [[noreturn]] void fail(const std::string& message) const;
  // Fails unless every word was consumed.
  void expect_end() const;

 private:
  std::vector<std::string> words_;
  std::size_t pos_ = 0;
  std::string topic_;
};

// Parsers: throw UsageError(message, topic) on a bad value. `what` names the value.
std::uint32_t parse_u32(std::string_view text, std::string_view what, const std::string& topic,
                        std::uint64_t min = 0, std::uint64_t max = 0xffffffffULL);
bool is_ipv4(std::string_view text);
bool is_ipv6(std::string_view text);
// An IPv4 or IPv6 address; returned unchanged.
std::string parse_address(std::string_view text, std::string_view what, const std::string& topic);
// "192.0.2.0/24" or "2001:db8::/32"; returns the family.
tandem::v1::Family parse_prefix(std::string_view text, const std::string& topic);
// "ipv4-unicast" (or "ipv4"), "ipv6-unicast" (or "ipv6").
tandem::v1::Family parse_family(std::string_view text, const std::string& topic);
std::vector<std::string> split(std::string_view text, char sep);

}  // namespace tandemctl
