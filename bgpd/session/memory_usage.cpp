#include "bgpd/session/memory_usage.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "bgpd/session/speaker.hpp"

namespace tandem::session {

uint64_t read_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

MemoryUsage measure_memory(const Speaker& speaker) {
  MemoryUsage m;
  m.rss_bytes = read_rss_bytes();
  m.budget_bytes = uint64_t{speaker.config().memory_budget_mb} << 20;
  const auto& rib = speaker.rib();
  for (auto f : {wire::kIpv4Unicast, wire::kIpv6Unicast}) {
    m.rib_prefixes += rib.prefix_count(f);
    m.rib_paths += rib.path_count(f);
  }
  m.attribute_sets = rib.attribute_sets();
  m.output_queued_bytes = speaker.queued_output_bytes();
  m.unacked_output_kept_bytes = speaker.unacked_output_kept_bytes();
  return m;
}

std::string MemoryUsage::describe() const {
  auto mib = [](uint64_t b) { return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1 << 20)); };
  return fmt::format("RSS {}{}; RIB {} prefixes, {} paths, {} attribute sets; {} queued to peers{}", mib(rss_bytes),
                     budget_bytes ? " of a budget of " + mib(budget_bytes) : std::string(), rib_prefixes, rib_paths,
                     attribute_sets, mib(output_queued_bytes),
                     unacked_output_kept_bytes ? ", " + mib(unacked_output_kept_bytes) + " kept until acknowledged"
                                               : std::string());
}

}  // namespace tandem::session
