// MRT recording (RFC 6396) for tandemd: every BGP message sent and received, per peer,
// as BGP4MP_MESSAGE_AS4 (received) / BGP4MP_MESSAGE_AS4_LOCAL (sent, subtype 7), every
// FSM transition as BGP4MP_STATE_CHANGE_AS4, and periodic TABLE_DUMP_V2 snapshots of
// the Loc-RIB paths. Runs on the event loop: messages come from the session byte tap
// (whole messages cut by mrt::MessageFramer), transitions from the speaker observer;
// records are encoded here and handed to mrt::Writer, whose thread does the I/O, so a
// slow disk drops records (counted) instead of blocking a session.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/mrt/framer.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "bgpd/mrt/writer.hpp"
#include "bgpd/session/speaker.hpp"

namespace tandem::app {

class MrtRecorder : public session::SessionTap, public session::SpeakerObserver {
 public:
  MrtRecorder(boost::asio::io_context& io, session::Speaker& speaker, const config::MrtConfig& cfg);
  ~MrtRecorder() override;
  void start();
  void stop();  // flush and close the files (clean shutdown)
  std::optional<mrt::WriterStats> updates_stats() const;
  std::optional<mrt::WriterStats> rib_stats() const;

  // SessionTap
  void on_open(const wire::IpAddr& peer, uint64_t connection_id, const session::Endpoints& ep) override;
  void on_bytes(uint64_t connection_id, session::Direction dir, uint64_t offset,
                std::span<const uint8_t> bytes) override;
  void on_close(uint64_t connection_id) override;
  // SpeakerObserver
  void on_peer_state(const wire::IpAddr& peer, fsm::State from, fsm::State to, const std::string& reason) override;

 private:
  struct Conn {
    wire::IpAddr peer;
    session::Endpoints ep;
    mrt::MessageFramer in, out;
  };
  mrt::Bgp4mpPeer bgp4mp_peer(const wire::IpAddr& peer, const session::Endpoints* ep) const;
  void schedule_dump(std::chrono::seconds after);
  void start_dump();
  void dump_batch();

  boost::asio::io_context& io_;
  session::Speaker& speaker_;
  config::MrtConfig cfg_;
  std::unique_ptr<mrt::Writer> updates_;
  std::unique_ptr<mrt::Writer> rib_;
  std::map<uint64_t, Conn> conns_;
  std::map<wire::IpAddr, session::Endpoints> last_endpoints_;  // for state changes after close
  // The table dump in progress: walked in batches, one per visit to the loop.
  boost::asio::steady_timer dump_timer_;
  struct Dump {
    std::unique_ptr<mrt::TableDumpWriter> writer;
    std::chrono::system_clock::time_point started;
    std::map<rib::PeerId, uint16_t> peer_index;
    size_t family = 0;  // index into {IPv4, IPv6}
    rib::ListCursor cursor;
    size_t records = 0;
  };
  std::optional<Dump> dump_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::app
