// tandemd's BFD: the healthbpf driver built from [bfd] and the peers with bfd = true,
// its state changes fed to Speaker::peer_liveness (RFC 5882: a BFD Down closes the
// BGP session at once and blocks reconnecting until the BFD session is Up again).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#include "healthbpf/driver.hpp"

namespace tandem::app {

// The driver's options for a configuration: one session per peer with bfd = true.
healthbpf::DriverOptions bfd_driver_options(const config::Config& cfg);

class BfdWiring {
 public:
  // Creates and starts the driver ([bfd] enabled). nullptr and `error` when it cannot
  // (e.g. receive_path = "xdp" and the program cannot be loaded): tandemd exits 1.
  static std::unique_ptr<BfdWiring> start(boost::asio::io_context& io, session::Speaker& speaker,
                                          const config::Config& cfg, std::string& error);
  ~BfdWiring();

  healthbpf::DriverStatus status() const { return driver_->status(); }
  // For the API (runs on the event loop): the status, or nullopt when `w` is null (BFD off).
  static std::function<std::optional<healthbpf::DriverStatus>()> status_fn(const BfdWiring* w);
  // SIGHUP: [bfd] and per-peer bfd changes need a restart; says so.
  static void warn_reload(const config::Config& running, const config::Config& next);

 private:
  BfdWiring() = default;
  std::unique_ptr<healthbpf::Driver> driver_;
};

}  // namespace tandem::app
