// The memory budget's measurements: the resident set read from /proc follows what the
// process touches; the budget check and the log line.
#include "bgpd/session/memory_usage.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tandem::session {
namespace {

TEST(MemoryUsage, ResidentSetFollowsTouchedMemory) {
  const uint64_t before = read_rss_bytes();
  ASSERT_GT(before, 0u) << "/proc/self/statm unreadable";
  std::vector<char> block(64u << 20);
  std::memset(block.data(), 1, block.size());  // resident now
  const uint64_t after = read_rss_bytes();
  EXPECT_GE(after, before + (48u << 20)) << "before " << before << ", after " << after;
  EXPECT_EQ(block[block.size() / 2], 1);
}

TEST(MemoryUsage, OverBudgetOnlyWithABudget) {
  MemoryUsage m;
  m.rss_bytes = 300u << 20;
  EXPECT_FALSE(m.over_budget());  // no budget
  m.budget_bytes = 256u << 20;
  EXPECT_TRUE(m.over_budget());
  m.budget_bytes = 300u << 20;
  EXPECT_FALSE(m.over_budget());  // at the budget is within it
  m.rib_prefixes = 10;
  m.rib_paths = 20;
  m.attribute_sets = 3;
  m.output_queued_bytes = 1u << 20;
  EXPECT_EQ(m.describe(),
            "RSS 300.0 MiB of a budget of 300.0 MiB; RIB 10 prefixes, 20 paths, 3 attribute sets; 1.0 MiB queued to "
            "peers");
  m.unacked_output_kept_bytes = 3u << 19;  // HA: shown only when something is kept
  EXPECT_EQ(m.describe(),
            "RSS 300.0 MiB of a budget of 300.0 MiB; RIB 10 prefixes, 20 paths, 3 attribute sets; 1.0 MiB queued to "
            "peers, 1.5 MiB kept until acknowledged");
}

}  // namespace
}  // namespace tandem::session
