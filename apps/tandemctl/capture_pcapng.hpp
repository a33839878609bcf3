// `tandemctl capture --pcapng FILE`: each captured message (with its bytes) becomes a
// TCP segment in an Ethernet frame (bgpd/capture/tcp_packet) between the connection's
// real addresses and ports, in a pcapng file whose packet comments hold the session
// state. Sequence numbers are the real ones when the daemon knew them; otherwise they
// are made up from the stream offsets (as if the initial sequence numbers were 0), so
// that tshark still reassembles and dissects the stream.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>

#include "bgpd/capture/pcapng.hpp"
#include "tandem/v1/capture.pb.h"

namespace tandemctl {

class CapturePcapng {
 public:
  explicit CapturePcapng(std::ostream& out);
  // Writes a packet for a message record with data; ignores every other record.
  void add(const tandem::v1::CaptureRecord& record);
  std::uint64_t packets() const { return writer_.packets(); }
  bool good() const { return writer_.good(); }

 private:
  struct Stream {
    std::uint64_t sent_end = 0, received_end = 0;  // stream positions seen
  };
  tandem::capture::PcapngWriter writer_;
  std::map<std::uint64_t, Stream> streams_;  // by connection id
};

}  // namespace tandemctl
