// Moving the pair's virtual IP address (VIP) between the two nodes (docs: NSR-NOTES,
// "Order of operations"): adding / removing the address on an interface, and the
// neighbour-table chores around a takeover (warming the entry for the peer ahead of
// time, flushing the old primary's table to fence it). Everything is rtnetlink over
// libmnl, synchronous and with an ACK, on a socket opened once and kept (no fork of
// ip(8): that was most of the prototype's 2.4-9 ms freeze-to-keepalive gap).
//
// Namespaces: an Rtnl talks to the network namespace that was current (for the calling
// thread) when it was opened, whatever namespace it is later used from; interface names
// are resolved through it too (RTM_GETLINK), never with if_nametoindex(), which would
// look in the caller's namespace.
//
// Not thread-safe: one Rtnl per thread, or a lock around it.
//
// The gratuitous ARP / unsolicited Neighbor Advertisement sender is in garp.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bgpd/wire/types.hpp"

struct mnl_socket;

namespace tandem::replicator::vip {

// An interface address: the address itself and its prefix length ("10.0.0.1/24").
// Unlike wire::Prefix, the host bits are kept.
struct IfAddr {
  wire::IpAddr addr;
  uint8_t prefix_len = 32;

  // "198.51.100.7/24", "2001:db8::7/64"; a bare address means /32 or /128. nullopt when
  // malformed or the length exceeds the family's.
  static std::optional<IfAddr> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const IfAddr&) const = default;
};

// An interface, by name or by index (an index is used as is; a name is resolved in the
// Rtnl's namespace on every call: ~10 us; pass the index on the hot path).
using Link = std::variant<std::string, int>;

// The result of a change that may already have been made.
//   Changed     - the kernel made the change.
//   AlreadyDone - nothing to do: the address was already there (add) or already gone
//                 (remove). Success; `error` carries a note saying so, e.g.
//                 "eth0: 10.0.0.1/24: already present (File exists)".
//   Failed      - `error` says why, with the interface, the address and the kernel's
//                 errno text, e.g. "nope0: no such interface (No such device)".
// Idempotence is deliberate: the freeze removes the VIP first, and a retried or
// duplicated takeover must not fail because an earlier attempt got half way; a caller
// that needs to know can still tell AlreadyDone from Changed.
enum class Outcome { Changed, AlreadyDone, Failed };

// The routing protocol number of the takeover's blackhole routes (Rtnl::add_blackhole):
// `ip route show proto 203`. Removal matches it, so an operator's own routes stay.
inline constexpr uint8_t kTakeoverRouteProtocol = 203;
const char* to_string(Outcome o);

// A neighbour entry as the kernel has it (for tests and diagnostics).
struct Neighbour {
  wire::IpAddr addr;
  int ifindex = 0;
  uint16_t state = 0;  // NUD_* bits
  uint8_t flags = 0;   // NTF_* bits
  std::optional<std::array<uint8_t, 6>> lladdr;
};

class Rtnl {
 public:
  // Opens and binds the rtnetlink socket in the calling thread's current namespace.
  // nullptr and `error` set when it cannot.
  static std::unique_ptr<Rtnl> open(std::string& error);
  ~Rtnl();
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  // Interface index for a name, in this socket's namespace; 0 + error when unknown.
  int ifindex(const std::string& ifname, std::string& error);

  // RTM_NEWADDR with NLM_F_EXCL and an ACK. IPv6 addresses are added with IFA_F_NODAD
  // (see vip.cpp for why): usable (bind, source) as soon as this returns. The kernel
  // joins the address's solicited-node multicast group from a work item just after the
  // ACK, so a multicast NS from a peer with *no* entry that arrives in that window (well
  // under 1 ms) goes unanswered until its retry 1 s later; a takeover does not depend on
  // it (the peer has an entry, re-pointed by the NA, later confirmed by unicast NS).
  // IPv4: prefer a /32 VIP, or one in a subnet where the node already has a primary
  // address: removing a *primary* IPv4 address also removes its secondaries unless
  // net.ipv4.conf.<if>.promote_secondaries is set. A duplicate is AlreadyDone (note in `error`). For IPv6 the
  // kernel also refuses the same address with another prefix length: that is reported
  // as AlreadyDone too, so check has_address() if the length matters.
  Outcome add_address(const Link& link, const IfAddr& a, std::string& error);
  // RTM_DELADDR with an ACK; an address that is not there is AlreadyDone.
  Outcome remove_address(const Link& link, const IfAddr& a, std::string& error);
  // A blackhole host route (/32, /128) for `addr` in the main table, protocol
  // kTakeoverRouteProtocol. An unplanned takeover announces the VIPs (gratuitous ARP /
  // NA) before it owns them; with IP forwarding on (any router) the peers' segments that
  // then arrive for a VIP would be forwarded to its current owner, the hung primary, whose
  // kernel acknowledges bytes the rebuilt socket will never see (docs/ha.md, "Unplanned
  // takeover"). The route makes the kernel drop them silently instead (no ICMP); the
  // peer sends them again to the socket. Owning the address overrides it (the local
  // table is looked up first). Already there / already gone: AlreadyDone.
  Outcome add_blackhole(const wire::IpAddr& addr, std::string& error);
  Outcome remove_blackhole(const wire::IpAddr& addr, std::string& error);

  // Whether the interface has exactly this address and prefix length. nullopt + error
  // when the interface is unknown or the dump fails.
  std::optional<bool> has_address(const Link& link, const IfAddr& a, std::string& error);

  // Makes the kernel resolve `peer` on the interface now (RTM_NEWNEIGH with NTF_USE:
  // the kernel's own ARP request / Neighbor Solicitation, on that link only: no datagram
  // to the peer, no traffic beyond the segment, no invented MAC), then waits up to
  // `wait_ms` for the entry to become REACHABLE (or be PERMANENT/NOARP). An entry that
  // is already REACHABLE is left alone (no packet). With wait_ms = 0 it only triggers.
  // With `keep_warm` the entry is marked managed (NTF_EXT_MANAGED, kernel >= 5.16): the
  // kernel then keeps it resolved on its own, re-probing before it goes stale, until the
  // entry is deleted (e.g. by flush_neighbours) - what a standby wants for its peers.
  // IPv6: the kernel sends the NS from the interface's link-local address and sends none
  // while that is still tentative (DAD, the first ~1 s after the link came up); the
  // next try is a retransmission 1 s later. Warm well ahead of a takeover.
  // False + error when the interface is unknown, the kernel refuses, the resolution
  // failed (no answer: "FAILED") or did not finish in time.
  bool warm_neighbour(const Link& link, const wire::IpAddr& peer, std::string& error,
                      int wait_ms = 1000, bool keep_warm = false);

  // Fencing the old primary: deletes every neighbour entry (IPv4 and IPv6) on the
  // interface except PERMANENT and NOARP ones (static / multicast: they hold no queued
  // packets). Deleting an entry that is still resolving drops the packets queued on it,
  // which would otherwise leave the node once the entry resolves (NSR-NOTES: a segment
  // stuck there left the old primary 1 s after the freeze). Returns the number of
  // entries deleted, or -1 + error. Entries that vanish meanwhile are not errors.
  int flush_neighbours(const Link& link, std::string& error);

  // The interface's neighbour entries (both families); nullopt + error on failure.
  std::optional<std::vector<Neighbour>> neighbours(const Link& link, std::string& error);
  // One entry (RTM_GETNEIGH for that address); nullopt when there is none or on error
  // (error is left empty when there is simply no entry).
  std::optional<Neighbour> neighbour(const Link& link, const wire::IpAddr& addr,
                                     std::string& error);

 private:
  explicit Rtnl(mnl_socket* sock);
  // Index for a Link; 0 + error ("<name>: no such interface (...)") when unknown.
  int resolve(const Link& link, std::string& error);
  // Name of a Link for messages ("eth0", or "if#3" for an index).
  static std::string describe(const Link& link);
  // Sends one request with NLM_F_ACK and waits for the ACK: 0, or the kernel's errno
  // (positive) with its extended-ACK message, if any, in `kernel_msg`.
  int request(void* nlh, std::string& kernel_msg);
  // Sends a dump request and calls `on_message` (a const nlmsghdr*) for every answer;
  // 0 or the errno.
  int dump(void* nlh, const std::function<void(const void*)>& on_message);
  Outcome change_address(bool add, const Link& link, const IfAddr& a, std::string& error);
  Outcome change_blackhole(bool add, const wire::IpAddr& addr, std::string& error);

  mnl_socket* sock_;
  uint32_t seq_ = 1;
  uint32_t portid_ = 0;
};

}  // namespace tandem::replicator::vip
