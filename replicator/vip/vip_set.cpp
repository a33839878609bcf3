#include "replicator/vip/vip_set.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

namespace tandem::replicator::vip {

std::unique_ptr<VipSet> VipSet::open(const std::string& ifname, const std::vector<std::pair<wire::IpAddr, uint8_t>>& vips,
                                     std::string& error) {
  std::unique_ptr<VipSet> s(new VipSet());
  s->ifname_ = ifname;
  for (const auto& [a, len] : vips) s->vips_.push_back(IfAddr{a, len});
  s->rtnl_ = Rtnl::open(error);
  if (!s->rtnl_) return nullptr;
  s->ifindex_ = s->rtnl_->ifindex(ifname, error);
  if (s->ifindex_ == 0) return nullptr;
  s->announcer_ = Announcer::open(ifname, error);
  if (!s->announcer_) return nullptr;
  // A takeover that ended half way (the process died between announcing and claiming)
  // leaves its blackhole routes behind: they would drop this node's own traffic to the
  // VIPs (the other node's, now) for good.
  for (const auto& v : s->vips_) {
    std::string why;
    switch (s->rtnl_->remove_blackhole(v.addr, why)) {
      case Outcome::Changed:
        spdlog::warn("VIP {}: removed the blackhole route an unfinished takeover left behind", v.to_string());
        break;
      case Outcome::Failed: spdlog::warn("VIP {}: cannot check for a leftover {}", v.to_string(), why); break;
      case Outcome::AlreadyDone: break;
    }
  }
  return s;
}

bool VipSet::claim(std::string& error) {
  for (const auto& v : vips_)
    if (rtnl_->add_address(ifindex_, v, error) == Outcome::Failed) return false;
  error.clear();
  if (!remove_blackholes(error)) return false;
  for (const auto& v : vips_)
    if (!announcer_->announce(v.addr, error)) return false;
  return true;
}

bool VipSet::release(std::string& error) {
  for (const auto& v : vips_)
    if (rtnl_->remove_address(ifindex_, v, error) == Outcome::Failed) return false;
  error.clear();
  return remove_blackholes(error);
}

bool VipSet::announce_only(std::string& error) {
  // Announcing matters more than the routes: a failure to add one is reported, and the
  // takeover goes on as it would without them.
  std::string route_error;
  for (const auto& v : vips_) {
    std::string why;
    if (rtnl_->add_blackhole(v.addr, why) == Outcome::Failed && route_error.empty()) route_error = why;
  }
  for (const auto& v : vips_)
    if (!announcer_->announce(v.addr, error)) return false;
  error = route_error;
  return route_error.empty();
}

bool VipSet::remove_blackholes(std::string& error) {
  for (const auto& v : vips_)
    if (rtnl_->remove_blackhole(v.addr, error) == Outcome::Failed) return false;
  error.clear();
  return true;
}

void VipSet::keep_warm(const std::vector<wire::IpAddr>& peers) {
  for (const auto& p : peers) {
    std::string why;
    if (!rtnl_->warm_neighbour(ifindex_, p, why, 0, true))
      spdlog::warn("replication: keeping the neighbour entry of {} on {} resolved: {}", p.to_string(), ifname_, why);
  }
}

bool VipSet::link_up() const {
  std::ifstream f("/sys/class/net/" + ifname_ + "/operstate");
  std::string state;
  f >> state;
  return state == "up" || state == "unknown";  // "unknown": e.g. a loopback or tun without carrier reporting
}

std::string VipSet::describe() const {
  std::string s;
  for (const auto& v : vips_) s += (s.empty() ? "" : ", ") + v.to_string();
  return s + " on " + ifname_;
}

}  // namespace tandem::replicator::vip
