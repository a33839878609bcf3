// Small helpers for lists of address families (logs, membership).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::session {

// "ipv4-unicast,ipv6-unicast", or "none".
inline std::string families_text(const std::vector<wire::Family>& fs) {
  std::string s;
  for (auto& f : fs) {
    if (!s.empty()) s += ',';
    s += f.to_string();
  }
  return s.empty() ? "none" : s;
}

inline bool contains(const std::vector<wire::Family>& fs, wire::Family f) {
  return std::find(fs.begin(), fs.end(), f) != fs.end();
}

}  // namespace tandem::session
