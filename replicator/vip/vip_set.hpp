// The pair's VIPs ([ha] vips on vip_interface) as one unit for the daemon: claimed by
// the node that is the primary (address added, then announced: gratuitous ARP /
// unsolicited NA), released by the one that stops being it. The netlink and packet
// sockets are opened once, at start, and kept (closing a packet socket costs ~15 ms).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "replicator/vip/garp.hpp"
#include "replicator/vip/vip.hpp"

namespace tandem::replicator::vip {

class VipSet {
 public:
  // nullptr + error when the interface is unknown or a socket cannot be opened.
  static std::unique_ptr<VipSet> open(const std::string& ifname, const std::vector<std::pair<wire::IpAddr, uint8_t>>& vips,
                                      std::string& error);
  // Adds every VIP (already there: fine), removes announce_only's blackhole routes and
  // announces each VIP once. False + error on the first failure (the addresses added so
  // far stay).
  bool claim(std::string& error);
  // Removes every VIP and blackhole route (already gone: fine). False + error on the
  // first failure.
  bool release(std::string& error);
  // Unplanned takeover: points the peers' neighbour entries for the VIPs at this node
  // (gratuitous ARP / NA) WITHOUT adding the addresses, so that the replies to the
  // sequence probes arrive here while the kernel, not owning the VIPs yet, drops the
  // rest silently (an owned VIP without the sockets would answer the peers with RST).
  // "Silently" needs a blackhole route per VIP, added first: with IP forwarding on, the
  // kernel would forward the peers' segments to the VIPs' current owner, the hung
  // primary, which acknowledges bytes that the rebuilt sockets then never get. False +
  // error when a route or an announcement failed (the announcements are sent anyway).
  bool announce_only(std::string& error);
  // Keeps this node's neighbour entries for the BGP peers resolved (a standby, ahead of
  // a takeover: the first probe must not wait for ARP / ND). Best effort: logs failures.
  void keep_warm(const std::vector<wire::IpAddr>& peers);
  // Whether the interface is up and running (carrier): a node cut off from the peers'
  // segment must neither take over nor keep writing as the primary.
  bool link_up() const;
  std::string describe() const;  // "192.0.2.1/24, 2001:db8::1/64 on eth0"

 private:
  VipSet() = default;
  bool remove_blackholes(std::string& error);
  std::string ifname_;
  std::vector<IfAddr> vips_;
  std::unique_ptr<Rtnl> rtnl_;
  std::unique_ptr<Announcer> announcer_;
  int ifindex_ = 0;
};

}  // namespace tandem::replicator::vip
