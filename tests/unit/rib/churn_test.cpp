// Randomised churn: announcements, withdrawals, session flaps and partial output takes
// in random order. Invariants checked after draining: what each peer received (applied
// in order) equals its Adj-RIB-Out, and the Adj-RIB-Out of an eBGP peer holds exactly
// the Loc-RIB prefixes whose best path is not its own.
#include <random>

#include "rib_test_util.hpp"

namespace rib_test {
namespace {

void apply_stream(const std::vector<uint8_t>& bytes, const wire::CodecOptions& codec,
                  std::map<Prefix, PathAttributes>& table) {
  Received r;
  decode_stream(bytes, codec, r);
  for (const auto& [announce, pa] : r.events) {
    if (announce) {
      table[pa.first] = pa.second;
    } else {
      table.erase(pa.first);
    }
  }
}

TEST(Churn, ReceivedEqualsAdjRibOutAndLocRib) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    Rib rib(config());
    std::vector<PeerInfo> peers = {ebgp(1, 65001, "10.9.0.1", 1), ebgp(2, 65002, "10.9.0.2", 2),
                                   ibgp(3, "10.9.0.3", 3), ibgp(4, "10.9.0.4", 4)};
    peers[3].rr_client = true;
    std::vector<bool> up(peers.size(), false);
    std::vector<std::map<Prefix, PathAttributes>> seen(peers.size());
    auto bring_up = [&](size_t i) {
      rib.peer_up(peers[i]);
      up[i] = true;
      seen[i].clear();
    };
    for (size_t i = 0; i < peers.size(); ++i) bring_up(i);

    std::vector<Prefix> prefixes;
    for (uint32_t i = 0; i < 300; ++i) {
      prefixes.push_back(Prefix(wire::IpAddr::v4(0x0A000000u + (i << 8)), 24));
    }
    auto attrs_for = [&](size_t p, uint32_t variant) {
      const PeerInfo& pi = peers[p];
      PathAttributes a;
      if (pi.remote_as != kLocalAs) {
        a = attrs({pi.remote_as, 64000 + variant % 7}, "10.9.0.100");
        a.med = variant % 3;
      } else {
        a = attrs({64500, 64000 + variant % 5}, "10.20.0.1");
        a.local_pref = 100 + variant % 4 * 10;
      }
      return a;
    };
    auto take = [&](size_t i, size_t budget) {
      std::vector<uint8_t> bytes;
      rib.take_output(peers[i].id, budget, bytes);
      if (!bytes.empty()) apply_stream(bytes, peers[i].codec, seen[i]);
    };

    for (int step = 0; step < 600; ++step) {
      size_t p = rng() % peers.size();
      int op = static_cast<int>(rng() % 20);
      if (op < 9) {
        if (!up[p]) continue;
        std::vector<Prefix> ps;
        size_t n = 1 + rng() % 40;
        for (size_t k = 0; k < n; ++k) ps.push_back(prefixes[rng() % prefixes.size()]);
        std::sort(ps.begin(), ps.end());
        ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
        auto r = announce(rib, peers[p], ps, attrs_for(p, static_cast<uint32_t>(rng())));
        ASSERT_EQ(r.announced, ps.size()) << r.reason;
      } else if (op < 13) {
        if (!up[p]) continue;
        std::vector<Prefix> ps;
        size_t n = 1 + rng() % 40;
        for (size_t k = 0; k < n; ++k) ps.push_back(prefixes[rng() % prefixes.size()]);
        std::sort(ps.begin(), ps.end());
        ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
        withdraw(rib, peers[p], ps);
      } else if (op < 18) {
        if (up[p]) take(p, 64 + rng() % 2000);
      } else if (op == 18) {
        if (up[p]) {
          rib.peer_down(peers[p].id);
          up[p] = false;
        } else {
          bring_up(p);
        }
      } else {
        if (up[p]) rib.request_refresh(peers[p].id, wire::kIpv4Unicast, rng() % 2 == 0);
      }
    }

    // Drain everyone and check the invariants.
    for (size_t i = 0; i < peers.size(); ++i) {
      if (!up[i]) continue;
      for (;;) {
        std::vector<uint8_t> bytes;
        if (rib.take_output(peers[i].id, 1 << 20, bytes) == 0) break;
        apply_stream(bytes, peers[i].codec, seen[i]);
      }
      std::map<Prefix, PathAttributes> adj;
      rib.for_each_adj_out(peers[i].id, wire::kIpv4Unicast,
                           [&](const Prefix& q, const PathAttributes& a) { adj[q] = a; });
      ASSERT_EQ(seen[i].size(), adj.size()) << "seed " << seed << " peer " << i;
      for (const auto& [q, a] : adj) {
        auto it = seen[i].find(q);
        ASSERT_NE(it, seen[i].end()) << q.to_string();
        EXPECT_EQ(it->second.as_path, a.as_path) << q.to_string();
        EXPECT_EQ(it->second.next_hop, a.next_hop) << q.to_string();
      }
      if (peers[i].remote_as != kLocalAs) {
        size_t expect = 0;
        rib.for_each_best(wire::kIpv4Unicast, [&](const Prefix& q, const rib::PathView& v) {
          if (v.peer != peers[i].id) {
            ++expect;
            EXPECT_TRUE(adj.count(q)) << "seed " << seed << " peer " << i << " " << q.to_string();
          }
        });
        EXPECT_EQ(adj.size(), expect);
      }
    }
    // Everything goes: every attribute set is released.
    for (size_t i = 0; i < peers.size(); ++i) {
      if (up[i]) rib.peer_down(peers[i].id);
    }
    EXPECT_EQ(rib.loc_rib_size(wire::kIpv4Unicast), 0u);
    EXPECT_EQ(rib.attribute_sets(), 0u);
  }
}

}  // namespace
}  // namespace rib_test
