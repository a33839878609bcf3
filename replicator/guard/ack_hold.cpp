// The ACK hold's half of EgressGuard (egress_guard.hpp, docs/ha.md "The ACK hold"): the
// `holds` map user space writes, the `ack_states` map the program writes, and the
// acknowledgment a moved limit makes owed.
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>

#include "egress_guard.skel.h"
#include "replicator/guard/bpf/egress_guard_abi.h"
#include "replicator/guard/egress_guard.hpp"

namespace tandem::replicator::guard {

static_assert(sizeof(eg_hold) == 8 && sizeof(eg_ack_state) == 48, "ABI layout");

namespace {

bool seq_after(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

std::string failed(const char* what, const session::TcpEndpoint& remote, int err) {
  return std::string(what) + " for the connection to port " + std::to_string(remote.port) + ": " +
         std::strerror(err);
}

}  // namespace

int EgressGuard::holds_fd() const { return bpf_map__fd(skel_->maps.holds); }
int EgressGuard::ack_states_fd() const { return bpf_map__fd(skel_->maps.ack_states); }

bool EgressGuard::hold_acks(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
                            uint32_t ack_limit, uint8_t rcv_wscale, bool md5, std::string& error) {
  eg_key key;
  if (!key_for(local, remote, key, error)) return false;
  eg_hold hold{};
  hold.ack_limit = ack_limit;
  hold.rcv_wscale = rcv_wscale;
  hold.bare_only = md5 ? 1 : 0;
  if (int err = bpf_map_update_elem(holds_fd(), &key, &hold, BPF_ANY); err != 0) {
    error = failed("cannot hold the acknowledgments", remote, -err);
    return false;
  }
  return true;
}

bool EgressGuard::release_acks(const session::TcpEndpoint& local, const session::TcpEndpoint& remote,
                               std::string& error) {
  eg_key key;
  if (!key_for(local, remote, key, error)) return false;
  int err = bpf_map_delete_elem(holds_fd(), &key);
  bpf_map_delete_elem(ack_states_fd(), &key);  // a new hold starts from what it sees
  if (err == 0 || err == -ENOENT) return true;
  error = failed("cannot release the acknowledgments", remote, -err);
  return false;
}

std::optional<EgressGuard::AckState> EgressGuard::ack_state(const session::TcpEndpoint& local,
                                                           const session::TcpEndpoint& remote) const {
  eg_key key;
  std::string ignored;
  if (!key_for(local, remote, key, ignored)) return std::nullopt;
  eg_ack_state st{};
  if (bpf_map_lookup_elem(ack_states_fd(), &key, &st) != 0) return std::nullopt;
  AckState out;
  out.snd_nxt = st.snd_nxt;
  out.ack_real = st.ack_real;
  out.ack_out = st.ack_out;
  out.win_raw = st.win_raw;
  out.has_ts = st.has_ts != 0;
  out.ts_val = ntohl(st.ts_val);
  out.ts_ecr = ntohl(st.ts_ecr);
  out.clamped = st.clamped;
  out.duplicates = st.duplicates;
  return out;
}

std::optional<session::AckSegment> EgressGuard::owed_ack(const AckState& state, uint32_t limit,
                                                         uint8_t rcv_wscale) {
  if (!seq_after(state.ack_real, state.ack_out) || !seq_after(limit, state.ack_out)) return std::nullopt;
  session::AckSegment a;
  a.seq = state.snd_nxt;
  a.ack = seq_after(state.ack_real, limit) ? limit : state.ack_real;
  const uint32_t ws = rcv_wscale > 14 ? 14 : rcv_wscale;
  // The right edge the kernel advertised stays where it was.
  const uint32_t edge = state.ack_real + (static_cast<uint32_t>(state.win_raw) << ws);
  const uint32_t window = (edge - a.ack) >> ws;
  a.window = static_cast<uint16_t>(window > 0xffff ? 0xffff : window);
  a.has_ts = state.has_ts;
  a.ts_val = state.ts_val;
  a.ts_ecr = state.ts_ecr;
  a.mark = EG_CRAFTED_MARK;
  return a;
}

}  // namespace tandem::replicator::guard
