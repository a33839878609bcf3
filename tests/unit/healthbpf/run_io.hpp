// Run an io_context in 5 ms steps until a condition holds or a time limit passes (the
// driver tests' event loop).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <chrono>

namespace tandem::healthbpf::test {

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < end) io.run_for(std::chrono::milliseconds(5));
  return pred();
}

}  // namespace tandem::healthbpf::test
