#include "apps/tandemctl/capture_pcapng.hpp"

#include <algorithm>

#include "apps/tandemctl/capture_text.hpp"
#include "bgpd/capture/tcp_packet.hpp"

namespace tandemctl {

namespace tv1 = tandem::v1;
namespace cap = tandem::capture;

CapturePcapng::CapturePcapng(std::ostream& out) : writer_(out, "tandemctl capture") {}

void CapturePcapng::add(const tv1::CaptureRecord& record) {
  if (!record.has_message()) return;
  const auto& m = record.message();
  if (m.data().empty()) return;
  const auto& e = m.endpoints();
  auto local = tandem::wire::IpAddr::parse(e.local_address());
  auto remote = tandem::wire::IpAddr::parse(e.remote_address());
  if (!local || !remote) return;
  const bool sent = m.direction() == tv1::CAPTURE_DIRECTION_SENT;
  Stream& st = streams_[m.connection_id()];
  const std::uint64_t end = m.stream_offset() + m.data().size();
  (sent ? st.sent_end : st.received_end) = std::max(sent ? st.sent_end : st.received_end, end);

  cap::TcpSegment seg;
  seg.src = sent ? *local : *remote;
  seg.dst = sent ? *remote : *local;
  seg.src_port = static_cast<std::uint16_t>(sent ? e.local_port() : e.remote_port());
  seg.dst_port = static_cast<std::uint16_t>(sent ? e.remote_port() : e.local_port());
  if (!sent) std::swap(seg.src_mac, seg.dst_mac);
  if (m.tcp_seq_known()) {
    seg.seq = m.tcp_seq();
    seg.ack = m.tcp_ack_known() ? m.tcp_ack() : 0;
  } else {
    // Relative numbers, as if both initial sequence numbers were 0.
    seg.seq = static_cast<std::uint32_t>(m.stream_offset() + 1);
    seg.ack = static_cast<std::uint32_t>((sent ? st.received_end : st.sent_end) + 1);
  }
  seg.payload = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(m.data().data()), m.data().size());
  const std::string comment = packet_comment(m);
  bool first = true;
  for (const auto& frame : cap::ethernet_frames(seg)) {
    writer_.packet(record.time_unix_nanos(), frame, first ? comment : std::string());
    first = false;
  }
}

}  // namespace tandemctl
