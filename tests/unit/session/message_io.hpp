// Blocking BGP message I/O for tests that play a peer over a real socket.
#pragma once

#include <poll.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "bgpd/wire/message.hpp"

namespace tandem::session::msgio {

struct Msg {
  wire::MessageType type;
  std::vector<uint8_t> body;
};

// Blocking read of one whole message (nullopt: closed or garbage).
inline std::optional<Msg> read_msg(boost::asio::ip::tcp::socket& s) {
  std::vector<uint8_t> hdr(wire::kHeaderLen);
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::buffer(hdr), ec);
  if (ec) return std::nullopt;
  auto h = wire::decode_header(hdr, wire::kMaxExtendedMessageLen);
  if (!h) return std::nullopt;
  Msg m{h->type, std::vector<uint8_t>(h->length - wire::kHeaderLen)};
  boost::asio::read(s, boost::asio::buffer(m.body), ec);
  if (ec) return std::nullopt;
  return m;
}

// True when data (or EOF) can be read within `timeout`.
inline bool readable(boost::asio::ip::tcp::socket& s, std::chrono::milliseconds timeout) {
  pollfd p{s.native_handle(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace tandem::session::msgio
