#include "replicator/frozen_state.hpp"

#include <chrono>

namespace tandem::replicator {

namespace {

std::string address_text(const session::TcpEndpoint& e) {
  std::string s = e.to_string();  // "192.0.2.1:179" or "[2001:db8::1]:179"
  if (!s.empty() && s.front() == '[') return s.substr(1, s.rfind(']') - 1);
  return s.substr(0, s.rfind(':'));
}

}  // namespace

void to_proto(const session::FrozenTcp& f, repl::FrozenTcpState& out) {
  out.set_local_address(address_text(f.local));
  out.set_local_port(f.local.port);
  out.set_remote_address(address_text(f.remote));
  out.set_remote_port(f.remote.port);
  out.set_write_seq(f.write_seq);
  out.set_snd_una(f.snd_una);
  out.set_snd_nxt(f.snd_nxt);
  out.set_send_queue(f.send_queue.data(), f.send_queue.size());
  out.set_rcv_nxt(f.rcv_nxt);
  out.set_recv_queue(f.recv_queue.data(), f.recv_queue.size());
  out.set_mss(f.mss);
  out.set_wscale(f.wscale);
  out.set_snd_wscale(f.snd_wscale);
  out.set_rcv_wscale(f.rcv_wscale);
  out.set_sack(f.sack);
  out.set_timestamps(f.timestamps);
  out.set_tsval(f.tsval);
  out.set_snd_wl1(f.window.snd_wl1);
  out.set_snd_wnd(f.window.snd_wnd);
  out.set_max_window(f.window.max_window);
  out.set_rcv_wnd(f.window.rcv_wnd);
  out.set_rcv_wup(f.window.rcv_wup);
  auto age = std::chrono::steady_clock::now() - f.taken;
  out.set_age_us(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(age).count()));
}

std::optional<session::FrozenTcp> from_proto(const repl::FrozenTcpState& p, std::string& why) {
  session::FrozenTcp f;
  auto local = session::TcpEndpoint::parse(p.local_address(), static_cast<uint16_t>(p.local_port()));
  auto remote = session::TcpEndpoint::parse(p.remote_address(), static_cast<uint16_t>(p.remote_port()));
  if (!local || !remote || p.local_port() > 65535 || p.remote_port() > 65535 || local->family != remote->family) {
    why = "bad endpoints " + p.local_address() + " -> " + p.remote_address();
    return std::nullopt;
  }
  if (p.snd_wscale() > 14 || p.rcv_wscale() > 14 || p.mss() == 0 || p.mss() > 65535) {
    why = "window scale or MSS out of range";
    return std::nullopt;
  }
  // The send queue spans [snd_una, write_seq), the unsent part [snd_nxt, write_seq).
  if (static_cast<uint32_t>(p.write_seq() - p.snd_una()) != p.send_queue().size() ||
      static_cast<uint32_t>(p.snd_nxt() - p.snd_una()) > p.send_queue().size()) {
    why = "send queue does not match the sequence numbers";
    return std::nullopt;
  }
  f.local = *local;
  f.remote = *remote;
  f.write_seq = p.write_seq();
  f.snd_una = p.snd_una();
  f.snd_nxt = p.snd_nxt();
  f.send_queue.assign(p.send_queue().begin(), p.send_queue().end());
  f.rcv_nxt = p.rcv_nxt();
  f.recv_queue.assign(p.recv_queue().begin(), p.recv_queue().end());
  f.mss = p.mss();
  f.wscale = p.wscale();
  f.snd_wscale = static_cast<uint8_t>(p.snd_wscale());
  f.rcv_wscale = static_cast<uint8_t>(p.rcv_wscale());
  f.sack = p.sack();
  f.timestamps = p.timestamps();
  f.tsval = p.tsval();
  f.window = {p.snd_wl1(), p.snd_wnd(), p.max_window(), p.rcv_wnd(), p.rcv_wup()};
  // Rebased onto this host's clock: as old as it was when sent (plus the transit, unknown
  // and small; the TSval only has to move forward).
  f.taken = std::chrono::steady_clock::now() - std::chrono::microseconds(p.age_us());
  return f;
}

}  // namespace tandem::replicator
