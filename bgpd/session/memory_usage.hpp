// The memory budget ([global] memory_budget_mb): what this process uses, and the
// structures that grow with the peers' input and output. Reported by GetGlobal /
// `tandemctl global`, and checked by the daemon every 10 s (a warning when over).
#pragma once

#include <cstdint>
#include <string>

namespace tandem::session {

class Speaker;

struct MemoryUsage {
  uint64_t rss_bytes = 0;     // resident set size (/proc/self/statm); 0 if unreadable
  uint64_t budget_bytes = 0;  // 0 = no budget
  uint64_t rib_prefixes = 0;  // prefixes with any path, both families
  uint64_t rib_paths = 0;     // paths in every Adj-RIB-In, both families
  uint64_t attribute_sets = 0;
  uint64_t output_queued_bytes = 0;  // encoded, waiting for the peers' sockets
  uint64_t unacked_output_kept_bytes = 0;  // HA: kept until the peers acknowledge it (SentTail)
  bool over_budget() const { return budget_bytes != 0 && rss_bytes > budget_bytes; }
  std::string describe() const;  // for logs
};

// Resident set size of this process in bytes; 0 when /proc is not readable.
uint64_t read_rss_bytes();
// On the event loop thread.
MemoryUsage measure_memory(const Speaker& speaker);

}  // namespace tandem::session
