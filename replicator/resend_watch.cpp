#include "replicator/resend_watch.hpp"

#include <spdlog/spdlog.h>

#include <string>

#include "bgpd/session/peer.hpp"

namespace tandem::replicator {

namespace {
constexpr std::chrono::milliseconds kEvery{10};
}

void ResendWatch::start(session::Speaker& speaker, std::vector<ResendWait> sessions, std::chrono::milliseconds wait) {
  if (sessions.empty()) return;
  auto w = std::make_shared<ResendWatch>(Private{}, speaker, std::move(sessions), wait);
  w->tick();
}

ResendWatch::ResendWatch(Private, session::Speaker& speaker, std::vector<ResendWait> sessions,
                         std::chrono::milliseconds wait)
    : speaker_(speaker),
      waiting_(std::move(sessions)),
      wait_(wait),
      started_(std::chrono::steady_clock::now()),
      timer_(speaker.io()) {}

void ResendWatch::tick() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(waiting_, [&](const ResendWait& s) { return decided(s, now); });
  if (waiting_.empty()) return;
  timer_.expires_after(kEvery);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e) self->tick();
  });
}

bool ResendWatch::decided(const ResendWait& s, std::chrono::steady_clock::time_point now) {
  const double ms = std::chrono::duration<double, std::milli>(now - started_).count();
  session::Peer* peer = speaker_.find_peer(s.peer);
  session::Connection* c = peer ? peer->established_connection() : nullptr;
  if (!c) {
    spdlog::warn("takeover: session {}: ended {:.0f} ms after the takeover, before the peer sent again the {} bytes "
                 "this node never held",
                 s.peer.to_string(), ms, s.missing);
    return true;
  }
  std::string why;
  const auto info = c->tcp_info(why);
  if (info && info->bytes_received > 0) {
    spdlog::info("takeover: session {}: non-stop confirmed: the peer sent again the {} bytes this node never held "
                 "({} bytes received in order, {:.0f} ms after the takeover): they had never been acknowledged",
                 s.peer.to_string(), s.missing, info->bytes_received, ms);
    return true;
  }
  if (!info) spdlog::debug("takeover: session {}: TCP_INFO: {}", s.peer.to_string(), why);
  if (now - started_ < wait_) return false;
  peer->set_restarting_after_takeover();
  spdlog::warn("takeover: session {}: graceful-restart path: {} inbound bytes the peer sent are not held here and were "
               "not sent again within {} ms (acknowledged by the dead primary); RST from the session's own socket, "
               "reconnecting as the restarting speaker",
               s.peer.to_string(), s.missing, wait_.count());
  c->abort_transport("the peer's bytes acknowledged by the failed primary are lost: graceful restart");
  return true;
}

}  // namespace tandem::replicator
