#include "replicator/vip/vip.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace tandem::replicator::vip {

// ---- IfAddr -------------------------------------------------------------------------

std::optional<IfAddr> IfAddr::parse(std::string_view text) {
  std::string_view addr_text = text;
  std::optional<unsigned> len;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    std::string_view len_text = text.substr(slash + 1);
    unsigned v = 0;
    auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), v);
    if (ec != std::errc() || p != len_text.data() + len_text.size() || len_text.empty())
      return std::nullopt;
    len = v;
  }
  auto addr = wire::IpAddr::parse(addr_text);
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128;
  if (len && *len > max) return std::nullopt;
  return IfAddr{*addr, static_cast<uint8_t>(len.value_or(max))};
}

std::string IfAddr::to_string() const { return addr.to_string() + "/" + std::to_string(prefix_len); }

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::Changed: return "changed";
    case Outcome::AlreadyDone: return "already done";
    case Outcome::Failed: return "failed";
  }
  return "?";
}

// ---- the socket ---------------------------------------------------------------------

namespace {

// Dump replies can be up to 32 KiB per datagram (libmnl's MNL_SOCKET_DUMP_SIZE).
constexpr size_t kRxSize = 32768;

int family_of(const wire::IpAddr& a) { return a.is_v4() ? AF_INET : AF_INET6; }

std::string errno_text(int e) { return std::strerror(e); }

// What the receive loop collects: the user's per-message callback, and the kernel's
// errno and extended-ACK message from the final NLMSG_ERROR.
struct RunContext {
  const std::function<void(const nlmsghdr*)>* on_message = nullptr;
  int error = 0;
  std::string kernel_msg;
};

int data_cb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<RunContext*>(data);
  if (ctx->on_message && *ctx->on_message) (*ctx->on_message)(nlh);
  return MNL_CB_OK;
}

int error_cb(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<RunContext*>(data);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    ctx->error = EBADMSG;
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) return MNL_CB_STOP;  // the ACK
  ctx->error = -err->error;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    // The TLVs follow the echoed request: its header only when capped, else all of it.
    size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    offset = MNL_ALIGN(offset);
    if (mnl_nlmsg_get_payload_len(nlh) > offset) {
      mnl_attr_parse(
          nlh, static_cast<unsigned>(offset),
          [](const nlattr* attr, void* d) -> int {
            if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
              static_cast<RunContext*>(d)->kernel_msg = mnl_attr_get_str(attr);
            }
            return MNL_CB_OK;
          },
          ctx);
    }
  }
  errno = ctx->error;
  return MNL_CB_ERROR;
}

// End of a dump; its payload is an int, negative when the dump failed part way.
int done_cb(const nlmsghdr* nlh, void* data) {
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
    int e = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
    if (e < 0) {
      static_cast<RunContext*>(data)->error = -e;
      errno = -e;
      return MNL_CB_ERROR;
    }
  }
  return MNL_CB_STOP;
}

int overrun_cb(const nlmsghdr*, void* data) {
  static_cast<RunContext*>(data)->error = ENOBUFS;
  errno = ENOBUFS;
  return MNL_CB_ERROR;
}

int attr_cb(const nlattr* attr, void* data) {
  // Collects attributes by type; callers size the table for their message's MAX.
  auto* tb = static_cast<std::vector<const nlattr*>*>(data);
  auto type = static_cast<size_t>(mnl_attr_get_type(attr));
  if (type < tb->size()) (*tb)[type] = attr;
  return MNL_CB_OK;
}

bool same_addr(const nlattr* attr, const wire::IpAddr& a) {
  return attr && mnl_attr_get_payload_len(attr) == a.size() &&
         std::memcmp(mnl_attr_get_payload(attr), a.bytes.data(), a.size()) == 0;
}

std::optional<wire::IpAddr> addr_from(const nlattr* attr, int family) {
  if (!attr) return std::nullopt;
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  if (family == AF_INET && mnl_attr_get_payload_len(attr) == 4)
    return wire::IpAddr::v4((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]);
  if (family == AF_INET6 && mnl_attr_get_payload_len(attr) == 16) return wire::IpAddr::v6(p);
  return std::nullopt;
}

// Runs the receive loop for one request until its ACK / NLMSG_DONE / error.
int run(mnl_socket* sock, uint32_t seq, uint32_t portid, RunContext& ctx) {
  std::vector<char> buf(kRxSize);
  mnl_cb_t ctl[NLMSG_MIN_TYPE] = {};
  // With a control array libmnl ignores every control type left empty: fill them all.
  ctl[NLMSG_ERROR] = error_cb;
  ctl[NLMSG_DONE] = done_cb;
  ctl[NLMSG_OVERRUN] = overrun_cb;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock, buf.data(), buf.size());
    if (n < 0) {
      ctx.error = errno;
      return -1;
    }
    int r = mnl_cb_run2(buf.data(), static_cast<size_t>(n), seq, portid, data_cb, &ctx, ctl,
                        NLMSG_MIN_TYPE);
    if (r == MNL_CB_STOP) return 0;
    if (r < 0) {
      if (ctx.error == 0) ctx.error = errno ? errno : EIO;
      return -1;
    }
  }
}

std::string with_kernel_msg(int e, const std::string& kernel_msg) {
  std::string s = errno_text(e);
  if (!kernel_msg.empty()) s += " (kernel: " + kernel_msg + ")";
  return s;
}

}  // namespace

std::unique_ptr<Rtnl> Rtnl::open(std::string& error) {
  mnl_socket* sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!sock) {
    error = "netlink socket: " + errno_text(errno);
    return nullptr;
  }
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    error = "netlink bind: " + errno_text(errno);
    mnl_socket_close(sock);
    return nullptr;
  }
  // Extended ACKs carry the kernel's reason where it has one; capped ACKs do not echo
  // the whole request back.
  int one = 1;
  mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
  return std::unique_ptr<Rtnl>(new Rtnl(sock));
}

Rtnl::Rtnl(mnl_socket* sock) : sock_(sock), portid_(mnl_socket_get_portid(sock)) {}
Rtnl::~Rtnl() { mnl_socket_close(sock_); }

int Rtnl::request(void* msg, std::string& kernel_msg) {
  auto* nlh = static_cast<nlmsghdr*>(msg);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return errno;
  RunContext ctx;
  run(sock_, nlh->nlmsg_seq, portid_, ctx);
  kernel_msg = ctx.kernel_msg;
  return ctx.error;
}

int Rtnl::dump(void* msg, const std::function<void(const void*)>& on_message) {
  auto* nlh = static_cast<nlmsghdr*>(msg);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return errno;
  std::function<void(const nlmsghdr*)> fn = [&](const nlmsghdr* m) { on_message(m); };
  RunContext ctx;
  ctx.on_message = &fn;
  run(sock_, nlh->nlmsg_seq, portid_, ctx);
  return ctx.error;
}

std::string Rtnl::describe(const Link& link) {
  if (const auto* name = std::get_if<std::string>(&link)) return *name;
  return "if#" + std::to_string(std::get<int>(link));
}

int Rtnl::ifindex(const std::string& ifname, std::string& error) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    error = "'" + ifname + "': not a valid interface name";
    return 0;
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
  // Only the index is wanted: skip the statistics and VF data.
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) {
    error = ifname + ": netlink send: " + errno_text(errno);
    return 0;
  }
  int index = 0;
  std::function<void(const nlmsghdr*)> fn = [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) return;
    index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m))->ifi_index;
  };
  RunContext ctx;
  ctx.on_message = &fn;
  run(sock_, nlh->nlmsg_seq, portid_, ctx);
  if (ctx.error != 0 || index == 0) {
    error = ifname + ": no such interface (" + with_kernel_msg(ctx.error ? ctx.error : ENODEV, ctx.kernel_msg) + ")";
    return 0;
  }
  return index;
}

int Rtnl::resolve(const Link& link, std::string& error) {
  if (const auto* name = std::get_if<std::string>(&link)) return ifindex(*name, error);
  int index = std::get<int>(link);
  if (index <= 0) {
    error = describe(link) + ": not a valid interface index";
    return 0;
  }
  return index;
}

// ---- addresses ----------------------------------------------------------------------

namespace {

// An add or a remove as the kernel answered it: an add of what exists (EEXIST) or a
// remove of what is gone (`absent`, the errno the kernel uses for it) is AlreadyDone.
Outcome outcome_of(int e, bool add, int absent, const std::string& where, const std::string& kernel_msg,
                   std::string& error) {
  if (e == 0) return Outcome::Changed;
  if ((add && e == EEXIST) || (!add && e == absent)) {
    error = where + (add ? ": already present (" : ": not present (") + errno_text(e) + ")";
    return Outcome::AlreadyDone;
  }
  error = where + ": " + with_kernel_msg(e, kernel_msg);
  return Outcome::Failed;
}

}  // namespace

// Why IFA_F_NODAD for IPv6: an address added with Duplicate Address Detection stays
// "tentative" for dad_transmits x retrans_time (1 x 1000 ms by default) - it cannot be a
// source, bind() to it fails with EADDRNOTAVAIL (the restored TCP socket binds to the
// VIP), and the kernel does not answer Neighbor Solicitations for it. A takeover cannot
// wait a second. DAD protects nothing here: the old owner removed the VIP (or is fenced)
// before the standby adds it, and a real duplicate would make DAD *disable* the address
// (dadfailed), not arbitrate the pair - fencing and the epoch are what keep two nodes
// from holding the VIP. (Optimistic DAD would not do either: an optimistic address is
// not used as a source when another is available and does not override neighbours.)
Outcome Rtnl::change_address(bool add, const Link& link, const IfAddr& a, std::string& error) {
  std::string where = describe(link) + ": " + a.to_string();
  if (a.prefix_len > (a.addr.is_v4() ? 32 : 128)) {
    error = where + ": invalid prefix length";
    return Outcome::Failed;
  }
  std::string why;
  int index = resolve(link, why);
  if (index == 0) {
    error = why;
    return Outcome::Failed;
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  // NLM_F_EXCL: never silently "replace" an existing address (which would reset its
  // lifetimes/flags); a duplicate shows as EEXIST, reported as AlreadyDone.
  nlh->nlmsg_flags = add ? (NLM_F_CREATE | NLM_F_EXCL) : 0;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(family_of(a.addr));
  ifa->ifa_prefixlen = a.prefix_len;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  mnl_attr_put(nlh, IFA_LOCAL, a.addr.size(), a.addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, a.addr.size(), a.addr.bytes.data());
  if (add && a.addr.is_v6()) {
    ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  }
  std::string kernel_msg;
  return outcome_of(request(nlh, kernel_msg), add, EADDRNOTAVAIL, where, kernel_msg, error);
}

Outcome Rtnl::add_address(const Link& link, const IfAddr& a, std::string& error) {
  return change_address(true, link, a, error);
}

Outcome Rtnl::remove_address(const Link& link, const IfAddr& a, std::string& error) {
  return change_address(false, link, a, error);
}

std::optional<bool> Rtnl::has_address(const Link& link, const IfAddr& a, std::string& error) {
  int index = resolve(link, error);
  if (index == 0) return std::nullopt;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETADDR;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(family_of(a.addr));
  bool found = false;
  int e = dump(nlh, [&](const void* m) {
    const auto* msg = static_cast<const nlmsghdr*>(m);
    if (msg->nlmsg_type != RTM_NEWADDR) return;
    const auto* im = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(msg));
    if (static_cast<int>(im->ifa_index) != index || im->ifa_prefixlen != a.prefix_len ||
        im->ifa_family != family_of(a.addr))
      return;
    std::vector<const nlattr*> tb(IFA_MAX + 1, nullptr);
    mnl_attr_parse(msg, sizeof(ifaddrmsg), attr_cb, &tb);
    // IPv4: IFA_LOCAL is the address (IFA_ADDRESS is the peer on point-to-point links).
    const nlattr* local = a.addr.is_v4() ? tb[IFA_LOCAL] : (tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
    if (same_addr(local, a.addr)) found = true;
  });
  if (e != 0) {
    error = describe(link) + ": address dump: " + errno_text(e);
    return std::nullopt;
  }
  return found;
}

// ---- the takeover's blackhole routes ------------------------------------------------

Outcome Rtnl::change_blackhole(bool add, const wire::IpAddr& addr, std::string& error) {
  const uint8_t len = addr.is_v4() ? 32 : 128;
  std::string where = "blackhole route " + addr.to_string() + "/" + std::to_string(len);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  nlh->nlmsg_flags = add ? (NLM_F_CREATE | NLM_F_EXCL) : 0;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family_of(addr));
  rtm->rtm_dst_len = len;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = kTakeoverRouteProtocol;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_BLACKHOLE;
  mnl_attr_put(nlh, RTA_DST, addr.size(), addr.bytes.data());
  std::string kernel_msg;
  return outcome_of(request(nlh, kernel_msg), add, ESRCH, where, kernel_msg, error);
}

Outcome Rtnl::add_blackhole(const wire::IpAddr& addr, std::string& error) { return change_blackhole(true, addr, error); }

Outcome Rtnl::remove_blackhole(const wire::IpAddr& addr, std::string& error) {
  return change_blackhole(false, addr, error);
}

// ---- neighbours ---------------------------------------------------------------------

namespace {

Neighbour parse_neighbour(const nlmsghdr* nlh) {
  const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  std::vector<const nlattr*> tb(NDA_MAX + 1, nullptr);
  mnl_attr_parse(nlh, sizeof(ndmsg), attr_cb, &tb);
  Neighbour n;
  n.ifindex = nd->ndm_ifindex;
  n.state = nd->ndm_state;
  n.flags = nd->ndm_flags;
  if (auto a = addr_from(tb[NDA_DST], nd->ndm_family)) n.addr = *a;
  if (tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6) {
    std::array<uint8_t, 6> mac{};
    std::memcpy(mac.data(), mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
    n.lladdr = mac;
  }
  return n;
}

}  // namespace

std::optional<Neighbour> Rtnl::neighbour(const Link& link, const wire::IpAddr& addr,
                                         std::string& error) {
  error.clear();
  int index = resolve(link, error);
  if (index == 0) return std::nullopt;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETNEIGH;
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = static_cast<uint8_t>(family_of(addr));
  nd->ndm_ifindex = index;
  mnl_attr_put(nlh, NDA_DST, addr.size(), addr.bytes.data());
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) {
    error = describe(link) + ": netlink send: " + errno_text(errno);
    return std::nullopt;
  }
  std::optional<Neighbour> out;
  std::function<void(const nlmsghdr*)> fn = [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWNEIGH) out = parse_neighbour(m);
  };
  RunContext ctx;
  ctx.on_message = &fn;
  run(sock_, nlh->nlmsg_seq, portid_, ctx);
  if (ctx.error == ENOENT) return std::nullopt;  // no entry: not an error
  if (ctx.error != 0) {
    error = describe(link) + ": " + addr.to_string() + ": " + with_kernel_msg(ctx.error, ctx.kernel_msg);
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<Neighbour>> Rtnl::neighbours(const Link& link, std::string& error) {
  int index = resolve(link, error);
  if (index == 0) return std::nullopt;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETNEIGH;
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = AF_UNSPEC;  // IPv4 and IPv6 tables
  // The kernel filters a dump by NDA_IFINDEX; we check the index again below anyway.
  mnl_attr_put_u32(nlh, NDA_IFINDEX, static_cast<uint32_t>(index));
  std::vector<Neighbour> out;
  int e = dump(nlh, [&](const void* m) {
    const auto* msg = static_cast<const nlmsghdr*>(m);
    if (msg->nlmsg_type != RTM_NEWNEIGH) return;
    const auto* n = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(msg));
    if (n->ndm_ifindex != index || (n->ndm_family != AF_INET && n->ndm_family != AF_INET6)) return;
    if (n->ndm_flags & NTF_PROXY) return;
    out.push_back(parse_neighbour(msg));
  });
  if (e != 0) {
    error = describe(link) + ": neighbour dump: " + errno_text(e);
    return std::nullopt;
  }
  return out;
}

bool Rtnl::warm_neighbour(const Link& link, const wire::IpAddr& peer, std::string& error,
                          int wait_ms, bool keep_warm) {
  std::string where = describe(link) + ": " + peer.to_string();
  std::string why;
  int index = resolve(link, why);
  if (index == 0) {
    error = why;
    return false;
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWNEIGH;
  // NTF_USE makes the kernel "use" the entry as if a packet were waiting for it
  // (neigh_event_send): a NONE/FAILED entry starts resolving (INCOMPLETE, ARP request /
  // NS out of this interface), a STALE one is re-confirmed (DELAY -> PROBE), a
  // REACHABLE one is left alone. No lladdr is given, so nothing is invented; the
  // entry is created if missing (NLM_F_CREATE) and existing state is not overridden.
  nlh->nlmsg_flags = NLM_F_CREATE;
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = static_cast<uint8_t>(family_of(peer));
  nd->ndm_ifindex = index;
  nd->ndm_state = NUD_NONE;
  nd->ndm_flags = NTF_USE;
  mnl_attr_put(nlh, NDA_DST, peer.size(), peer.bytes.data());
  if (keep_warm) {
    // Managed entry: the kernel re-resolves it by itself and keeps it out of garbage
    // collection. With NTF_USE the flag is applied and the state left as it is (an
    // entry already REACHABLE stays usable meanwhile).
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
  }
  std::string kernel_msg;
  if (int e = request(nlh, kernel_msg); e != 0) {
    error = where + ": " + with_kernel_msg(e, kernel_msg);
    return false;
  }
  if (wait_ms <= 0) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  uint16_t last = NUD_NONE;
  for (;;) {
    std::optional<Neighbour> n = neighbour(index, peer, why);
    if (!why.empty()) {
      error = why;
      return false;
    }
    if (n) {
      last = n->state;
      if (n->state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP)) return true;
      if (n->state & NUD_FAILED) {
        error = where + ": resolution failed (no ARP/ND answer from the peer)";
        return false;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  error = where + ": not reachable after " + std::to_string(wait_ms) + " ms (state 0x" +
          [&] {
            char h[8];
            std::snprintf(h, sizeof h, "%x", last);
            return std::string(h);
          }() +
          ")";
  return false;
}

int Rtnl::flush_neighbours(const Link& link, std::string& error) {
  int index = resolve(link, error);
  if (index == 0) return -1;
  auto list = neighbours(index, error);
  if (!list) return -1;
  int deleted = 0;
  for (const Neighbour& n : *list) {
    if (n.state & (NUD_PERMANENT | NUD_NOARP)) continue;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_DELNEIGH;
    auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    nd->ndm_family = static_cast<uint8_t>(family_of(n.addr));
    nd->ndm_ifindex = index;
    mnl_attr_put(nlh, NDA_DST, n.addr.size(), n.addr.bytes.data());
    std::string kernel_msg;
    int e = request(nlh, kernel_msg);
    if (e == ENOENT) continue;  // gone meanwhile (garbage-collected): fine
    if (e != 0) {
      error = describe(link) + ": delete neighbour " + n.addr.to_string() + ": " +
              with_kernel_msg(e, kernel_msg);
      return -1;
    }
    ++deleted;
  }
  return deleted;
}

}  // namespace tandem::replicator::vip
