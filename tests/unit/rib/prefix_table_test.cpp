// The compact prefix tables against a std::map model.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "bgpd/rib/prefix_table.hpp"

namespace tandem::rib {
namespace {

TEST(PrefixTable, RandomOpsMatchModelStable) {
  DenseTable<V4, AdjOutEntry<V4>> t;
  std::map<std::pair<uint32_t, uint8_t>, uint32_t> model;
  std::mt19937 rng(1);
  for (int step = 0; step < 200000; ++step) {
    uint8_t len = static_cast<uint8_t>(8 + rng() % 25);
    uint32_t addr = V4::mask(static_cast<uint32_t>(rng() % 4096) << 12, len);
    auto key = std::make_pair(addr, len);
    int op = static_cast<int>(rng() % 3);
    if (op < 2) {
      auto [i, inserted] = t.insert(addr, len);
      ASSERT_NE(i, t.npos);
      EXPECT_EQ(inserted, model.count(key) == 0);
      t.at(i).attr = static_cast<uint32_t>(step);
      model[key] = static_cast<uint32_t>(step);
    } else {
      uint32_t i = t.find(addr, len);
      EXPECT_EQ(i != t.npos, model.count(key) == 1);
      if (i != t.npos) {
        EXPECT_EQ(t.at(i).attr, model[key]);
        t.erase_stable(i);
        model.erase(key);
      }
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const auto& [k, v] : model) {
    uint32_t i = t.find(k.first, k.second);
    ASSERT_NE(i, t.npos);
    EXPECT_EQ(t.at(i).attr, v);
  }
  size_t live = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) live += t.live(i) ? 1 : 0;
  EXPECT_EQ(live, model.size());
}

TEST(PrefixTable, SwapEraseDrains) {
  DenseTable<V6, KeyEntry<V6>> t;
  std::mt19937 rng(2);
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, int> model;
  for (int i = 0; i < 20000; ++i) {
    V6::Addr a{};
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = static_cast<uint8_t>(rng());
    a[3] = static_cast<uint8_t>(rng());
    a[4] = static_cast<uint8_t>(rng());
    uint8_t len = static_cast<uint8_t>(32 + rng() % 17);
    a = V6::mask(a, len);
    t.insert(a, len);
    model[{a, len}] = 1;
    if (i % 3 == 0) {
      uint32_t last = t.slots() - 1;
      auto e = t.at(last);
      t.erase_swap(last);
      model.erase({e.addr, e.len});
    }
    ASSERT_EQ(t.size(), model.size());
  }
  for (const auto& [k, v] : model) ASSERT_NE(t.find(k.first, k.second), t.npos);
  // Erase from the middle with swaps.
  while (!t.empty()) {
    uint32_t i = t.slots() / 2;
    auto e = t.at(i);
    t.erase_swap(i);
    model.erase({e.addr, e.len});
    ASSERT_EQ(t.size(), model.size());
    ASSERT_EQ(t.find(e.addr, e.len), t.npos);
  }
}

TEST(PrefixTable, KeyConversion) {
  auto p = *wire::Prefix::parse("10.1.2.0/23");
  auto k = V4::from_prefix(p);
  EXPECT_EQ(k.len, 23);
  EXPECT_EQ(V4::to_prefix(k.addr, k.len), p);
  auto q = *wire::Prefix::parse("2001:db8:1234::/47");
  auto k6 = V6::from_prefix(q);
  EXPECT_EQ(V6::to_prefix(k6.addr, k6.len), q);
}

}  // namespace
}  // namespace tandem::rib
