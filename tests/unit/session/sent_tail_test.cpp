// SentTail: the outbound bytes a peer may not have acknowledged, by stream offset.
#include "bgpd/session/sent_tail.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace tandem::session {
namespace {

std::vector<uint8_t> bytes(uint8_t first, size_t n) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(SentTail, KeepsContiguousWritesAndDropsWhatWasAcknowledged) {
  SentTail t;
  t.append(100, bytes(0, 10));
  t.append(110, bytes(10, 5));
  EXPECT_EQ(t.start(), 100u);
  EXPECT_EQ(t.end(), 115u);
  EXPECT_EQ(t.from(0), bytes(0, 15));
  EXPECT_EQ(t.from(112), bytes(12, 3));
  t.trim(107);  // inside the first write
  EXPECT_EQ(t.start(), 107u);
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.from(107), bytes(7, 8));
  t.trim(110);  // exactly at a write's end
  EXPECT_EQ(t.from(0), bytes(10, 5));
  t.trim(105);  // behind the start: nothing changes
  EXPECT_EQ(t.start(), 110u);
  EXPECT_TRUE(t.from(115).empty());
}

TEST(SentTail, EverythingAcknowledgedLeavesItEmptyAtTheEnd) {
  SentTail t;
  t.append(0, bytes(0, 4));
  t.trim(4);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.start(), 4u);
  t.append(4, bytes(4, 2));
  EXPECT_EQ(t.start(), 4u);
  EXPECT_EQ(t.from(0), bytes(4, 2));
}

TEST(SentTail, AJumpStartsItAfresh) {
  SentTail t;
  t.append(0, bytes(0, 4));
  t.append(50, bytes(50, 3));  // bytes 4..49 never came here: nothing before 50 is kept
  EXPECT_EQ(t.start(), 50u);
  EXPECT_EQ(t.from(0), bytes(50, 3));
}

TEST(SentTail, TheLimitDropsTheOldestBytes) {
  SentTail t(10);
  t.append(0, bytes(0, 6));
  t.append(6, bytes(6, 6));
  EXPECT_EQ(t.size(), 10u);
  EXPECT_EQ(t.start(), 2u);
  EXPECT_EQ(t.from(0), bytes(2, 10));
  t.append(12, bytes(12, 25));  // one write over the limit: its own tail only
  EXPECT_EQ(t.start(), 27u);
  EXPECT_EQ(t.from(0), bytes(27, 10));
}

}  // namespace
}  // namespace tandem::session
