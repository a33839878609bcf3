// Parsing one config section in a test: a minimal [global], then "[NAME]" on line 5, so
// the first key under it is on line 6 (the line numbers error messages must name).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "bgpd/config/config.hpp"

namespace tandem::config::test {

class Section {
 public:
  explicit Section(std::string name) : name_(std::move(name)), file_(name_ + ".toml") {}

  LoadResult parse(const std::string& keys) const {
    return parse_config("\n[global]\nrouter_id = \"192.0.2.1\"\nlocal_as = 65000\n[" + name_ + "]\n" + keys, file_);
  }

  Config ok(const std::string& keys) const {
    auto r = parse(keys);
    if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << "expected the config accepted, got " << e->to_string();
    return std::holds_alternative<Config>(r) ? std::get<Config>(r) : Config{};
  }

  ConfigError bad(const std::string& keys) const {
    auto r = parse(keys);
    EXPECT_TRUE(std::holds_alternative<ConfigError>(r)) << "expected an error, config was accepted:\n" << keys;
    return std::holds_alternative<ConfigError>(r) ? std::get<ConfigError>(r) : ConfigError{};
  }

  // The error names FILE:LINE: KEY: and, when given, contains `words`.
  void expect_error_at(const std::string& keys, int line, const std::string& key, const std::string& words = "") const {
    auto e = bad(keys);
    EXPECT_EQ(e.key, key) << e.to_string();
    EXPECT_EQ(e.line, line) << e.to_string();
    std::string where = file_ + ":" + std::to_string(line) + ": " + key + ": ";
    EXPECT_NE(e.to_string().find(where), std::string::npos) << "expected '" << where << "' in: " << e.to_string();
    if (!words.empty()) {
      EXPECT_NE(e.message.find(words), std::string::npos) << e.to_string();
    }
  }

 private:
  std::string name_, file_;
};

}  // namespace tandem::config::test
