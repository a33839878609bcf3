// libbpf's own messages (netlink errors of tc calls, the verifier's log) to spdlog at
// debug level. The callback is process-wide: every BPF user (healthbpf's loader, the
// crash guard) installs this same one before it loads a program.
#pragma once

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string_view>

namespace tandem::healthbpf {

inline int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  std::string_view line(buf, n > 0 ? std::min<size_t>(size_t(n), sizeof buf - 1) : 0);
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  spdlog::debug("libbpf: {}", line);
  return n;
}

inline void route_libbpf_log() { libbpf_set_print(libbpf_to_spdlog); }

}  // namespace tandem::healthbpf
