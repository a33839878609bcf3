// Log set-up: spdlog to stderr, as text (ms timestamps) or one JSON object per line.
#pragma once

#include <optional>
#include <string>

namespace tandem::app {

// Returns an error message when the level or format is unknown.
std::optional<std::string> setup_logging(const std::string& level, const std::string& format);
// Change the level at run time (config reload).
std::optional<std::string> set_log_level(const std::string& level);

}  // namespace tandem::app
