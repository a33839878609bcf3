// Announcing that the VIP has moved: a gratuitous ARP (IPv4) or an unsolicited Neighbor
// Advertisement (IPv6) from the new owner's MAC, so the peer re-points its neighbour
// entry at once instead of sending to the old MAC until the entry goes stale.
//
// The Announcer is made ahead of time (on the standby, long before a takeover) and
// keeps its AF_PACKET socket open: NSR-NOTES measured ~13 ms for closing such a socket,
// so it must not be opened and closed on the takeover path. One socket serves both
// families: frames are built whole here (Ethernet header included), which keeps the
// NA independent of the kernel's state for the address (a raw ICMPv6 socket would need
// the VIP usable as a source first) and costs nothing measurable.
//
// The socket receives nothing (bound with protocol 0), so it never fills up.
// Like an Rtnl, it stays in the network namespace it was opened in. The interface's
// index and MAC are read once, at open(): re-open after the interface is re-created or
// its MAC changes (e.g. a bond failing over to a port with another MAC).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bgpd/wire/types.hpp"

namespace tandem::replicator::vip {

using Mac = std::array<uint8_t, 6>;
std::string mac_to_string(const Mac& mac);  // "02:00:5e:10:00:01"

struct AnnounceOptions {
  // IPv4: a gratuitous ARP *request* (sender = target = VIP, target MAC zero) is what
  // Linux (arp_is_garp), arping -U and keepalived use and what most stacks honour; a
  // gratuitous *reply* (target MAC = our MAC) is also accepted by Linux and preferred by
  // a few others. Either, or both (two frames per announcement).
  bool arp_request = true;
  bool arp_reply = false;
  // IPv6: the NA's Router flag. tandem is a router, and its kernel answers solicitations
  // with R set when forwarding is on; an NA with R clear would make the peer demote the
  // entry to a host (and drop it as a default router, if it had learnt it as one).
  bool ipv6_router = true;
};

class Announcer {
 public:
  // Opens the AF_PACKET socket on `ifname` (in the calling thread's namespace) and reads
  // the interface's index and MAC. nullptr + error when it cannot (no such interface,
  // not Ethernet, no CAP_NET_RAW).
  static std::unique_ptr<Announcer> open(const std::string& ifname, std::string& error,
                                         const AnnounceOptions& options = {});
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Sends the announcement for `vip` (gratuitous ARP for IPv4, unsolicited NA to ff02::1
  // with the Override flag and our MAC as target link-layer address for IPv6), `count`
  // times, sleeping `spacing` between two (this blocks; the default is once, and a caller
  // on an event loop repeats with its own timer instead). False + error (errno text) if
  // a frame could not be sent, e.g. the interface is down.
  bool announce(const wire::IpAddr& vip, std::string& error, int count = 1,
                std::chrono::microseconds spacing = std::chrono::microseconds{0});

  const Mac& mac() const { return mac_; }
  int ifindex() const { return ifindex_; }
  const std::string& ifname() const { return ifname_; }

  // The frames announce() sends for `vip` (for tests and packet dumps).
  std::vector<std::vector<uint8_t>> frames(const wire::IpAddr& vip) const;

 private:
  Announcer(int fd, int ifindex, const Mac& mac, std::string ifname, const AnnounceOptions& o);
  int fd_;
  int ifindex_;
  Mac mac_;
  std::string ifname_;
  AnnounceOptions options_;
};

// Frame builders (pure; exposed for tests).
std::vector<uint8_t> build_garp(const Mac& mac, const wire::IpAddr& vip, bool reply);
std::vector<uint8_t> build_unsolicited_na(const Mac& mac, const wire::IpAddr& vip, bool router);

}  // namespace tandem::replicator::vip
