// Fuzz what live capture does with a session's bytes (bgpd/capture): frame a byte stream
// cut into chunks of fuzzer-chosen sizes into messages with offsets, summarise each
// message with fuzzer-chosen codec options, and wrap it in Ethernet/IP/TCP frames.
// Properties: never a crash; messages are contiguous from the start offset, each at
// least a header long, and together never more than the bytes fed; frames carry the
// whole payload.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bgpd/capture/stream_framer.hpp"
#include "bgpd/capture/summary.hpp"
#include "bgpd/capture/tcp_packet.hpp"
#include "fuzz_common.hpp"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0], chunk = static_cast<uint8_t>(data[1] | 1);
  std::span<const uint8_t> bytes(data + 2, size - 2);

  capture::SummaryOptions opt;
  opt.codec.four_octet_as = flags & 1;
  opt.codec.add_path_rx_ipv4 = flags & 2;
  opt.codec.add_path_rx_ipv6 = flags & 4;
  opt.max_prefixes = flags >> 4;
  // The bytes as one message, whatever they are.
  FUZZ_CHECK(!capture::summarize(bytes, opt).empty());

  // The bytes as a stream from offset 1000, in chunks of `chunk` bytes.
  capture::StreamFramer f;
  f.start(1000);
  uint64_t next = 1000, framed = 0;
  for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
    const auto part = bytes.subspan(pos, std::min<size_t>(chunk, bytes.size() - pos));
    f.feed(1000 + pos, part, [&](uint64_t at, std::span<const uint8_t> msg) {
      FUZZ_CHECK(at == next);
      FUZZ_CHECK(msg.size() >= 19);
      next += msg.size();
      framed += msg.size();
      FUZZ_CHECK(!capture::summarize(msg, opt).empty());
      capture::TcpSegment seg;
      seg.src = wire::IpAddr::v4(0xC0000201);
      seg.dst = (flags & 8) ? *wire::IpAddr::parse("2001:db8::3") : wire::IpAddr::v4(0xC0000203);
      seg.payload = msg;
      const size_t headers = 14 + ((flags & 8) ? 40 : 20) + 20;  // Ethernet, IP, TCP
      size_t carried = 0;
      for (const auto& frame : capture::ethernet_frames(seg)) carried += frame.size() - headers;
      FUZZ_CHECK(carried == msg.size());
    });
  }
  FUZZ_CHECK(framed <= bytes.size());
  return 0;
}
