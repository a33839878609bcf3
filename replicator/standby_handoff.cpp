// The step both takeovers end with (docs/ha.md): rebuild each session's socket in
// repair mode (TCP-MD5 / GTSM set before its first segment), claim the VIPs only then
// (a local VIP without the sockets would make the kernel answer the peers with RST),
// leave repair mode, and turn the shadows into the live sessions.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "bgpd/session/peer.hpp"
#include "bgpd/session/sock_destroy.hpp"
#include "replicator/standby.hpp"

namespace tandem::replicator {

std::vector<std::pair<uint64_t, wire::IpAddr>> StandbyReplicator::go_live(std::vector<Handoff>& handoffs,
                                                                          const char* what) {
  struct Restored {
    Handoff* handoff;
    session::RestoreOptions options;
    int fd;
  };
  std::vector<Restored> restored;
  for (auto& h : handoffs) {
    auto it = shadows_.find(h.shadow_id);
    session::Peer* peer = it == shadows_.end() ? nullptr : speaker_.find_peer(it->second.peer);
    if (!peer) {
      h.failed = "no shadow for it";
      continue;
    }
    session::RestoreOptions o;
    o.leave_repair = false;
    o.tsval = h.tsval;
    const config::PeerConfig pc = peer->config();
    o.prepare = [pc](int fd, std::string& error) {
      error = session::protect(fd, pc);
      return error.empty();
    };
    std::string why;
    int fd = session::restore(h.frozen, o, why);
    if (fd < 0 && why.find("Cannot assign requested address") != std::string::npos) {
      // This node's own orphan of the 4-tuple (it was the primary before a crash): gone now.
      std::string e;
      if (session::destroy_socket(h.frozen.local, h.frozen.remote, e)) {
        spdlog::info("{}: session {}: destroyed this node's orphaned socket of the connection", what,
                     it->second.peer.to_string());
        fd = session::restore(h.frozen, o, why);
      }
    }
    if (fd < 0) {
      h.failed = "restore failed: " + why;
      continue;
    }
    restored.push_back({&h, std::move(o), fd});
  }
  std::string error;
  if (vips_.claim && !vips_.claim(error)) spdlog::error("{}: claiming the VIPs: {}", what, error);
  std::vector<std::pair<uint64_t, wire::IpAddr>> live;
  for (auto& r : restored) {
    Shadow& s = shadows_[r.handoff->shadow_id];
    session::Peer* peer = speaker_.find_peer(s.peer);
    std::string why;
    if (!session::finish_restore(r.fd, r.handoff->frozen, r.options, why) || !peer ||
        !peer->promote_shadow(r.fd, r.handoff->frozen.send_queue, r.handoff->outbound_end, why)) {
      ::close(r.fd);  // still in repair mode after a failed finish: silent
      r.handoff->failed = "cannot go live: " + why;
      continue;
    }
    s.conn.reset();  // the Peer owns the live connection now
    if (auto* conn = peer->established_connection()) live.emplace_back(conn->id(), s.peer);
  }
  if (on_live_) on_live_();
  return live;
}

}  // namespace tandem::replicator
