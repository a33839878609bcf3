#include "bgpd/fib/fib.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tandem::fib {

std::unique_ptr<Fib> Fib::open(const Options& options, std::string& error) {
  mnl_socket* sock = mnl_socket_open(NETLINK_ROUTE);
  if (!sock) {
    error = std::string("netlink socket: ") + std::strerror(errno);
    return nullptr;
  }
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    error = std::string("netlink bind: ") + std::strerror(errno);
    mnl_socket_close(sock);
    return nullptr;
  }
  // Ask for extended ACKs so rejections carry the kernel's reason where it has one.
  int one = 1;
  mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
  return std::unique_ptr<Fib>(new Fib(sock, options));
}

Fib::Fib(mnl_socket* sock, const Options& options) : sock_(sock), options_(options) {}
Fib::~Fib() { mnl_socket_close(sock_); }

void Fib::replace(const wire::Prefix& prefix, const wire::IpAddr& gateway) {
  queue_.push_back({prefix, true, gateway});
}
void Fib::remove(const wire::Prefix& prefix) { queue_.push_back({prefix, false, {}}); }

namespace {

void build_route(nlmsghdr* nlh, const Options& o, const wire::Prefix& prefix, bool add,
                 const wire::IpAddr& gw, uint32_t seq) {
  nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | (add ? (NLM_F_CREATE | NLM_F_REPLACE) : 0);
  nlh->nlmsg_seq = seq;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = prefix.addr.is_v4() ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = prefix.len;
  rtm->rtm_table = o.table < 256 ? static_cast<uint8_t>(o.table) : static_cast<uint8_t>(RT_TABLE_UNSPEC);
  rtm->rtm_protocol = o.protocol;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(nlh, RTA_DST, prefix.addr.size(), prefix.addr.bytes.data());
  mnl_attr_put_u32(nlh, RTA_TABLE, o.table);
  mnl_attr_put_u32(nlh, RTA_PRIORITY, o.metric);
  if (add) mnl_attr_put(nlh, RTA_GATEWAY, gw.size(), gw.bytes.data());
}

}  // namespace

std::vector<FibError> Fib::flush() {
  std::vector<FibError> errors;
  // seq -> change, to name the prefix the kernel rejected.
  std::unordered_map<uint32_t, size_t> by_seq;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 2);
  size_t i = 0;
  while (i < queue_.size()) {
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), MNL_SOCKET_BUFFER_SIZE);
    by_seq.clear();
    for (; i < queue_.size(); ++i) {
      const Change& c = queue_[i];
      // A route message is < 100 bytes; stop before the batch could overflow.
      if (mnl_nlmsg_batch_size(batch) + 128 > static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE)) break;
      nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
      uint32_t seq = seq_++;
      build_route(nlh, options_, c.prefix, c.add, c.gateway, seq);
      by_seq[seq] = i;
      mnl_nlmsg_batch_next(batch);
    }
    if (mnl_socket_sendto(sock_, mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch)) < 0) {
      for (auto& [seq, idx] : by_seq)
        errors.push_back({queue_[idx].prefix, std::string("netlink send: ") + std::strerror(errno)});
      mnl_nlmsg_batch_stop(batch);
      continue;
    }
    mnl_nlmsg_batch_stop(batch);
    // Without NLM_F_ACK the kernel answers only failures, synchronously: drain them.
    std::vector<char> rx(MNL_SOCKET_BUFFER_SIZE);
    for (;;) {
      ssize_t n = recv(mnl_socket_get_fd(sock_), rx.data(), rx.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      auto* nlh = reinterpret_cast<nlmsghdr*>(rx.data());
      int len = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) continue;
        auto it = by_seq.find(err->msg.nlmsg_seq);
        if (it == by_seq.end()) continue;
        const Change& c = queue_[it->second];
        // Deleting a route that is already gone is not worth reporting.
        if (!c.add && err->error == -ESRCH) continue;
        errors.push_back({c.prefix, std::strerror(-err->error)});
      }
    }
  }
  queue_.clear();
  return errors;
}

namespace {

struct DumpContext {
  const Options* options;
  std::vector<Fib::Route>* out;
};

int dump_attr(const nlattr* attr, void* data) {
  auto** tb = static_cast<const nlattr**>(data);
  int type = mnl_attr_get_type(attr);
  if (type >= 0 && type <= RTA_MAX && mnl_attr_type_valid(attr, RTA_MAX) >= 0) tb[type] = attr;
  return MNL_CB_OK;
}

std::optional<wire::IpAddr> addr_of(const nlattr* a, int family) {
  if (!a) return std::nullopt;
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  if (family == AF_INET && mnl_attr_get_payload_len(a) == 4)
    return wire::IpAddr::v4((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]);
  if (family == AF_INET6 && mnl_attr_get_payload_len(a) == 16) return wire::IpAddr::v6(p);
  return std::nullopt;
}

int dump_route(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<DumpContext*>(data);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_protocol != ctx->options->protocol) return MNL_CB_OK;
  const nlattr* tb[RTA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*rtm), dump_attr, tb);
  uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
  if (table != ctx->options->table) return MNL_CB_OK;
  int fam = rtm->rtm_family;
  std::optional<wire::IpAddr> dst = addr_of(tb[RTA_DST], fam);
  if (!dst) dst = fam == AF_INET ? wire::IpAddr::v4(0) : wire::IpAddr::v6(std::array<uint8_t, 16>{}.data());
  ctx->out->push_back({wire::Prefix(*dst, rtm->rtm_dst_len), addr_of(tb[RTA_GATEWAY], fam)});
  return MNL_CB_OK;
}

}  // namespace

bool Fib::dump(std::vector<Route>& out, std::string& error) {
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    uint32_t seq = seq_++;
    nlh->nlmsg_seq = seq;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<uint8_t>(family);
    if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) {
      error = std::string("netlink route dump: ") + std::strerror(errno);
      return false;
    }
    DumpContext ctx{&options_, &out};
    uint32_t portid = mnl_socket_get_portid(sock_);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
      if (n < 0) {
        error = std::string("netlink route dump: ") + std::strerror(errno);
        return false;
      }
      int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, dump_route, &ctx);
      if (r == MNL_CB_STOP) break;
      if (r < 0) {
        error = std::string("netlink route dump: ") + std::strerror(errno);
        return false;
      }
    }
  }
  return true;
}

}  // namespace tandem::fib
