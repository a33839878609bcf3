#include "apps/tandemd/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace tandem::app {
namespace {

// %j: the message escaped as a JSON string body, for --log-format json.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            int n = std::snprintf(buf, sizeof buf, "\\u%04x", c);
            dest.append(buf, buf + n);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

}  // namespace

std::optional<std::string> set_log_level(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off") return "unknown log level '" + level + "'";
  spdlog::set_level(l);
  return std::nullopt;
}

std::optional<std::string> setup_logging(const std::string& level, const std::string& format) {
  // _mt: BFD runs on a thread of its own (bfd_wiring.hpp) and logs from there.
  auto logger = spdlog::stderr_logger_mt("tandemd");
  spdlog::set_default_logger(logger);
  if (format == "text") {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
  } else if (format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonEscapedMessage>('j').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%j"})");
    spdlog::set_formatter(std::move(f));
  } else {
    return "unknown log format '" + format + "' (text or json)";
  }
  spdlog::flush_on(spdlog::level::trace);
  return set_log_level(level);
}

}  // namespace tandem::app
