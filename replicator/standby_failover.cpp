// The standby's unplanned takeover (docs/ha.md, "Unplanned takeover"): the primary's
// process ended (the channel closed without a Closing frame) or the pair's heartbeat was
// lost. Per session, best first:
//   NSR:  a probe (an out-of-window ACK from the VIP) draws the peer's duplicate ACK,
//         whose SEQ is the peer's snd_nxt and ACK its rcv_nxt. If this node holds every
//         inbound byte the peer sent (SEQ = the replicated inbound end) and every
//         outbound byte the peer lacks (ACK within the retained outbound bytes), the
//         socket is rebuilt at exactly that point and the shadow goes live: the peer
//         sees nothing. Anything else would corrupt the byte stream.
//   GR:   otherwise a RST with the peer's rcv_nxt (probed, else the replicated outbound
//         end) drops the peer's session at once; it keeps our routes (helper) while the
//         new primary reconnects with the Restart State bit set, sends its whole
//         Adj-RIB-Out, then End-of-RIB. This node keeps the peer's routes meanwhile
//         (its own helper role), until the peer's End-of-RIB.

#include <algorithm>
#include <future>
#include <spdlog/spdlog.h>

#include "bgpd/session/connection.hpp"
#include "bgpd/session/peer.hpp"
#include "bgpd/session/tcp_repair.hpp"
#include "replicator/resend_watch.hpp"
#include "replicator/standby.hpp"

namespace tandem::replicator {

namespace {

// What the probe and the mirror say about one session.
struct Plan {
  uint64_t id = 0;
  wire::IpAddr peer;
  session::TcpEndpoint local, remote;
  std::optional<session::ProbeResult> probe;
  std::string probe_error;
  std::optional<session::FrozenTcp> frozen;  // set: NSR
  std::string fallback_why;                  // set: GR path
  std::string md5_key;                       // the session's TCP-MD5 key: probe and RST signed
  uint32_t unheld = 0;  // NSR at the held end, the peer ahead by this much: to be proven (ResendWatch)
};

}  // namespace

std::string StandbyReplicator::takeover_refusal() const {
  if (stopped_) return "this node is stopping";
  if (took_over_) return "already taken over";
  if (ha_.takeover == "none") return "[ha] takeover = \"none\": only a planned switchover moves the sessions";
  if (!config_ok_ || stats_.snapshots == 0)
    return "this node was never in sync with the primary: it holds no mirror to take over from";
  if (vips_.link_up && !vips_.link_up())
    return "this node's own link to the peers (vip_interface) is down: it is the one cut off";
  return "";
}

void StandbyReplicator::note_primary_alive(std::optional<std::chrono::steady_clock::time_point> at) {
  if (at && (!primary_seen_ || *at > *primary_seen_)) primary_seen_ = at;
}

void StandbyReplicator::on_primary_heartbeat(bool up, bool primary_heard, const std::string& why) {
  // Down because the primary's packet said so (it lost this node's, e.g. while this
  // process was stopped): that packet is a sign of life, not of death.
  if (primary_heard) note_primary_alive(std::chrono::steady_clock::now());
  heartbeat_lost_ = !up;
  heartbeat_why_ = why;
  witness_logged_ = false;
  if (!up) check_primary_lost();
}

// Heartbeat lost: the primary is gone only if the replication channel is silent too
// (the primary sends on it at least every heartbeat interval) and so is its term beacon
// on the peers' segment: a failure of the heartbeat's path or of the link between the
// nodes alone must not make two speakers. Checked again when the silence would be long
// enough.
void StandbyReplicator::check_primary_lost() {
  if (!heartbeat_lost_ || took_over_ || stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto detect = std::chrono::milliseconds(uint64_t{ha_.heartbeat_interval_ms} * ha_.heartbeat_detect_mult);
  const auto silence = detect * ha_.takeover_silence_mult;
  if (channel_ && channel_->bytes_waiting() > 0) {
    // Its frames wait unread: the primary was alive lately, this process was not running.
    // Looked at again once they are read: a primary that stopped right after them is
    // still lost (integration.takeover under ASan: a SIGSTOP during a bulk sync).
    spdlog::warn("takeover: heartbeat lost ({}) but frames from the primary wait to be read: not taking over now",
                 heartbeat_why_);
    recheck_primary_lost_at(now + detect);
    return;
  }
  // Silent for takeover_silence_mult detection times (default 2: silent for one, then
  // confirmed once more a detection time later; a standby that was itself stopped or
  // starved (its own loss of the heartbeat) reads the primary's frames and sees the
  // heartbeat come back within that second period).
  std::optional<std::chrono::steady_clock::time_point> last = primary_seen_;  // its last sign of life
  if (channel_ && (!last || channel_->last_rx() > *last)) last = channel_->last_rx();
  const auto beacon = witness_ ? witness_() : std::nullopt;
  const bool by_beacon = beacon && (!last || *beacon > *last) && now - *beacon < silence;
  if (beacon && (!last || *beacon > *last)) last = beacon;
  if (last && now - *last < silence) {
    if (by_beacon && !witness_logged_) {
      witness_logged_ = true;
      spdlog::warn("takeover: heartbeat lost ({}) and the channel silent, but the primary's term beacon arrived over "
                   "the peers' segment {} ms ago: the link between the nodes failed, not the primary; no takeover "
                   "while the beacon arrives",
                   heartbeat_why_, std::chrono::duration_cast<std::chrono::milliseconds>(now - *beacon).count());
    }
    recheck_primary_lost_at(*last + silence + std::chrono::milliseconds(1));
    return;
  }
  take_over_unplanned("the primary's heartbeat was lost (" + heartbeat_why_ + ") and the replication channel is silent" +
                      (witness_ ? " and so is its term beacon" : ""));
}

void StandbyReplicator::recheck_primary_lost_at(std::chrono::steady_clock::time_point when) {
  if (!lost_timer_) lost_timer_ = std::make_unique<boost::asio::steady_timer>(speaker_.io());
  lost_timer_->expires_at(when);
  std::weak_ptr<bool> alive = alive_;
  lost_timer_->async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) check_primary_lost();
  });
}

void StandbyReplicator::take_over_unplanned(const std::string& why) {
  if (std::string refusal = takeover_refusal(); !refusal.empty()) {
    spdlog::warn("takeover: not taking over after \"{}\": {}", why, refusal);
    return;
  }
  took_over_ = true;
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t term = std::max<uint64_t>(identity_.epoch, epoch_.value()) + 1;
  spdlog::warn("takeover: {}: taking over {} sessions in term {} (mode {})", why, shadows_.size(), term, ha_.takeover);
  prepare_.preparing = false;
  consume();  // every replicated inbound byte goes to the shadows first

  // The peers' replies must come here: point their neighbour entries at this node
  // without owning the VIPs yet (no RST from a VIP without sockets).
  std::string error;
  if (vips_.announce_only && !vips_.announce_only(error)) spdlog::error("takeover: announcing the VIPs: {}", error);

  std::vector<Plan> plans;
  for (auto& [id, s] : shadows_) {
    Plan p;
    p.id = id;
    p.peer = s.peer;
    const auto& ep = s.object.endpoints();
    auto local = session::TcpEndpoint::parse(ep.local_address(), static_cast<uint16_t>(ep.local_port()));
    auto remote = session::TcpEndpoint::parse(ep.remote_address(), static_cast<uint16_t>(ep.remote_port()));
    if (local) p.local = *local;
    if (remote) p.remote = *remote;
    if (const session::Peer* peer = speaker_.find_peer(s.peer)) p.md5_key = peer->config().password;
    if (s.closed_by_primary || !s.conn) continue;  // ends as on the primary
    if (!local || !remote) p.fallback_why = "no endpoints replicated";
    else if (s.broken) p.fallback_why = "the mirror is broken (a stream gap)";
    else if (!s.snapshot_done) p.fallback_why = "its bulk sync had not finished";
    else if (!s.object.tcp().seq_known()) p.fallback_why = "no TCP sequence numbers: " + s.object.tcp().seq_error();
    else if (s.buffered > 0 || s.consumed < s.in_next) p.fallback_why = "the shadow could not consume every byte";
    else if (ha_.takeover == "graceful-restart") p.fallback_why = "[ha] takeover = \"graceful-restart\"";
    plans.push_back(std::move(p));
  }

  // Probe every session at once (each probe waits for its reply on its own thread).
  const auto probe_timeout = std::chrono::milliseconds(ha_.takeover_probe_timeout_ms);
  std::vector<std::future<void>> probes;
  for (auto& p : plans) {
    if (p.local.family == 0 || p.remote.family == 0) continue;
    const uint32_t out_end = shadows_[p.id].object.tcp().send_seq_base() + static_cast<uint32_t>(shadows_[p.id].out_next);
    probes.push_back(std::async(std::launch::async, [&p, out_end, probe_timeout] {
      session::ProbeOptions o;
      o.seq = out_end + 0x80000000u;  // as far from the peer's window as it gets
      o.resend_every = std::chrono::milliseconds(50);
      o.md5_key = p.md5_key;
      p.probe = session::probe_peer(p.local, p.remote, probe_timeout, p.probe_error, o);
    }));
  }
  for (auto& f : probes) f.wait();
  const uint64_t probe_us = us_since(t0);

  for (auto& p : plans) {
    Shadow& s = shadows_[p.id];
    const auto& tcp = s.object.tcp();
    const uint32_t in_end = tcp.recv_seq_base() + static_cast<uint32_t>(s.in_next);
    const uint32_t out_end = tcp.send_seq_base() + static_cast<uint32_t>(s.out_next);
    if (p.probe && p.probe->rst()) {
      p.fallback_why = "the peer has no such connection any more (it answered the probe with RST)";
      p.probe.reset();
    }
    if (!p.fallback_why.empty()) continue;
    if (!p.probe) {
      p.fallback_why = "no reply to the sequence probe (" + p.probe_error + ")";
      continue;
    }
    const int32_t in_gap = static_cast<int32_t>(p.probe->seq - in_end);
    const int32_t out_missing = static_cast<int32_t>(out_end - p.probe->ack);
    if (in_gap > 0 && ha_.takeover_resend_wait_ms > 0) {
      // In flight (the peer sends them again) or acknowledged by the dead primary (it
      // never does): carried on at the held end, told apart afterwards (resend_watch.hpp).
      p.unheld = static_cast<uint32_t>(in_gap);
    } else if (in_gap != 0) {
      p.fallback_why = in_gap > 0 ? std::to_string(in_gap) +
                                        " inbound bytes the peer sent are not held here (acknowledged by the dead "
                                        "primary, or in flight)"
                                  : "the peer is behind the replicated inbound stream by " + std::to_string(-in_gap) +
                                        " bytes (impossible: the mirror is wrong)";
      continue;
    }
    if (out_missing < 0) {
      p.fallback_why = "the peer acknowledged " + std::to_string(-out_missing) + " outbound bytes this node never held";
      continue;
    }
    const uint64_t from = s.out_next - static_cast<uint64_t>(out_missing);
    if (from < s.out_retained_start && out_missing > 0) {
      p.fallback_why = "the peer lacks outbound bytes from offset " + std::to_string(from) +
                       ", no longer retained here (from " + std::to_string(s.out_retained_start) + ")";
      continue;
    }
    // Exactly where the peer is: rebuild there.
    session::FrozenTcp f;
    f.local = p.local;
    f.remote = p.remote;
    f.write_seq = out_end;
    f.snd_una = f.snd_nxt = p.probe->ack;  // what the peer lacks is sent again at once
    uint64_t at = s.out_retained_start;
    for (const auto& chunk : s.out_retained) {
      for (size_t i = 0; i < chunk.size(); ++i, ++at)
        if (at >= from) f.send_queue.push_back(static_cast<uint8_t>(chunk[i]));
    }
    f.rcv_nxt = in_end;
    f.mss = mss(s);
    f.wscale = tcp.snd_wscale() > 0 || tcp.rcv_wscale() > 0;
    f.snd_wscale = static_cast<uint8_t>(tcp.snd_wscale());
    f.rcv_wscale = static_cast<uint8_t>(tcp.rcv_wscale());
    f.sack = tcp.sack();
    f.timestamps = tcp.timestamps();
    f.tsval = tcp.tsval();
    f.taken = std::chrono::steady_clock::now();
    const uint32_t peer_window = static_cast<uint32_t>(p.probe->window) << f.snd_wscale;
    // snd_wl1 at the held end, not at the peer's snd_nxt: a peer ahead of it by more than
    // the receive window made the kernel refuse the window (TCP_REPAIR_WINDOW: EINVAL, the
    // session lost to graceful restart; bench/chaos, SIGSTOP during a transfer), and the
    // peer's next segment, sent again from there, updates the window anyway.
    f.window = {in_end, peer_window, peer_window, std::max<uint32_t>(tcp.rcv_window(), 65535), in_end};
    p.frozen = std::move(f);
  }

  // Rebuild the NSR sessions in repair mode, then own the VIPs, then go live.
  std::vector<Handoff> handoffs;
  for (auto& p : plans) {
    if (!p.frozen) continue;
    // PAWS: never below what the peer last accepted (its TSecr), whatever the clocks.
    std::optional<uint32_t> tsval;
    if (p.frozen->timestamps && p.probe->has_timestamp) tsval = p.probe->tsecr + 1000;
    handoffs.push_back({p.id, *p.frozen, tsval, "", shadows_[p.id].out_next});
  }
  auto live = go_live(handoffs, "takeover");
  std::vector<std::pair<wire::IpAddr, std::vector<wire::Prefix>>> resend;
  for (const auto& h : handoffs) {
    Plan& p = *std::find_if(plans.begin(), plans.end(), [&](const Plan& x) { return x.id == h.shadow_id; });
    if (!h.failed.empty()) {
      p.fallback_why = h.failed;
      p.frozen.reset();
      continue;
    }
    if (p.unheld > 0) {
      spdlog::warn("takeover: session {}: non-stop pending: the peer sent {} bytes beyond what this node holds; "
                   "rebuilt at the held end, rcv_nxt {} / the peer's rcv_nxt {}; waiting up to {} ms for the peer to "
                   "send them again",
                   p.peer.to_string(), p.unheld, p.probe->seq - p.unheld, p.probe->ack, ha_.takeover_resend_wait_ms);
      continue;
    }
    spdlog::info("takeover: session {}: non-stop: rebuilt at the peer's snd_nxt {} / rcv_nxt {}, {} bytes re-queued",
                 p.peer.to_string(), p.probe->seq, p.probe->ack, p.frozen->send_queue.size());
  }

  // The rest: RST, then a graceful restart as the restarting speaker.
  size_t fallbacks = 0;
  for (auto& p : plans) {
    if (p.frozen) continue;
    Shadow& s = shadows_[p.id];
    ++fallbacks;
    const uint32_t out_end = s.object.tcp().send_seq_base() + static_cast<uint32_t>(s.out_next);
    std::string rst_note = "no RST (no endpoints)";
    if (p.local.family != 0 && p.remote.family != 0 && !(p.probe && p.probe->rst())) {
      // RFC 5961: only the peer's exact rcv_nxt resets; an in-window miss draws a challenge ACK.
      const uint32_t seq = p.probe ? p.probe->ack : out_end;
      std::string rst_error;
      if (session::send_rst(p.local, p.remote, seq, rst_error, p.md5_key))
        rst_note = "RST sent with seq " + std::to_string(seq) + (p.probe ? " (probed)" : " (replicated outbound end)") +
                   (p.md5_key.empty() ? "" : ", TCP-MD5 signed");
      else
        rst_note = "RST failed: " + rst_error;
    }
    spdlog::warn("takeover: session {}: graceful-restart path: {}; {}", p.peer.to_string(), p.fallback_why, rst_note);
    session::Peer* peer = speaker_.find_peer(p.peer);
    if (peer) peer->set_restarting_after_takeover();
    // The session ends here as a transport failure: the peer's routes stay, stale, until
    // it sends them again (our helper role), and nothing is withdrawn elsewhere.
    if (s.conn) s.conn->shadow_closed();
    s.conn.reset();
  }
  spdlog::warn("takeover: {} sessions non-stop, {} by graceful restart; {} us after the decision (probes {} us)",
               live.size(), fallbacks, us_since(t0), probe_us);
  // Tell a primary that is only hung (its kernel still reads the channel): it must
  // never write again. Sent before the channel closes with the old replicator.
  if (channel_) {
    repl::Envelope e;
    e.mutable_takeover_notice()->set_term(term);
    e.mutable_takeover_notice()->set_reason(why);
    channel_->send(e);
  }
  // Only now, with every session live: what the primary sent differently from the
  // shadow, sent again below. It walks each session's Adj-RIB-Out twice (about 80 ms
  // for 1M routes), so it stays off the takeover's critical path.
  for (const auto& p : plans) {
    if (!p.frozen) continue;
    Shadow& s = shadows_[p.id];
    auto diff = AdvertisedTable::differing(s.sent_by_primary, s.would_send);
    if (diff.empty()) continue;
    spdlog::info("takeover: session {}: {} prefixes were sent differently by the primary than by this node's shadow: "
                 "they are sent again",
                 p.peer.to_string(), diff.size());
    resend.emplace_back(p.peer, std::move(diff));
  }
  std::vector<ResendWait> unheld;
  for (const auto& p : plans)
    if (p.frozen && p.unheld > 0) unheld.push_back({p.peer, p.unheld});
  const auto resend_wait = std::chrono::milliseconds(ha_.takeover_resend_wait_ms);
  auto& speaker = speaker_;
  shadows_.clear();
  identity_.epoch = term;
  if (on_promoted_) on_promoted_(term, live);
  ResendWatch::start(speaker, std::move(unheld), resend_wait);
  // The outputs of the two nodes run at their own pace (the shadow's is never slowed by
  // the peer's window): the peer may hold routes the shadow's Adj-RIB-Out does not, or
  // lack some it does. Send each such prefix again: the current route or a withdrawal
  // (an implicit replacement where the peer had it right already).
  for (const auto& [address, prefixes] : resend) {
    if (session::Peer* peer = speaker_.find_peer(address)) speaker_.rib().resend_prefixes(peer->id(), prefixes);
  }
}

}  // namespace tandem::replicator
