// Internal to bgpd/wire: helpers that build classified WireErrors. Only used on error
// paths, so building strings here is fine.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bgpd/wire/errors.hpp"

namespace tandem::wire::detail {

// describe_error_code with a chosen separator between code and subcode names.
std::string describe_error_code_sep(uint8_t code, uint8_t subcode, const char* sep);

inline WireError session_reset(uint8_t code, uint8_t subcode, std::string reason,
                               std::vector<uint8_t> data = {}) {
  WireError e;
  e.action = ErrorAction::SessionReset;
  e.code = code;
  e.subcode = subcode;
  e.data = std::move(data);
  e.reason = std::move(reason);
  return e;
}

inline WireError classified(ErrorAction action, uint8_t code, uint8_t subcode, std::string reason,
                            std::vector<uint8_t> data = {}) {
  WireError e = session_reset(code, subcode, std::move(reason), std::move(data));
  e.action = action;
  return e;
}

inline std::vector<uint8_t> to_vec(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

}  // namespace tandem::wire::detail
