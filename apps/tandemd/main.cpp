// tandemd: the BGP daemon. Wires config, logging, the speaker (sessions + RIB), the
// FIB and signals together. Exit codes: 0 clean exit, 1 runtime failure, 2 bad
// configuration or usage.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <boost/asio.hpp>
#include <boost/program_options.hpp>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "apps/tandemd/bfd_wiring.hpp"
#include "apps/tandemd/fib_sync.hpp"
#include "apps/tandemd/logging.hpp"
#include "apps/tandemd/metrics.hpp"
#include "apps/tandemd/loop_watch.hpp"
#include "apps/tandemd/memory_watch.hpp"
#include "apps/tandemd/mrt_recorder.hpp"
#include "apps/tandemd/privileges.hpp"
#include "apps/tandemd/replication_wiring.hpp"
#include "apps/tandemd/restart_detection.hpp"
#include "apps/tandemd/startup_role.hpp"
#include "apps/tandemd/state_dump.hpp"
#include "bgpd/config/config.hpp"
#include "bgpd/session/speaker.hpp"
#ifdef TANDEM_HAVE_API
#include "api/server.hpp"
#endif

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace tandem;

namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;
// Not an exit code: run() asks main() to start this program again as the standby (the
// sessions were handed over in a planned switchover).
constexpr int kRestartAsStandby = -1;

struct Options {
  std::string config;
  std::string check_config;
  std::string log_level;
  std::string log_format;
  std::string ha_role;  // overrides [ha] role (a restart after a switchover)
  bool keep_capabilities = false;  // debugging: no least-privilege reduction after start-up
};

std::optional<Options> parse_args(int argc, char** argv, int& exit_code) {
  Options o;
  po::options_description desc("tandemd: high-availability BGP daemon\n\nOptions");
  desc.add_options()("help,h", "show this help")("version", "print the version")(
      "config,c", po::value(&o.config), "configuration file (TOML)")(
      "check-config", po::value(&o.check_config), "validate a configuration file and exit (0 ok, 2 errors)")(
      "log-level", po::value(&o.log_level), "trace, debug, info, warn, error (overrides the config)")(
      "log-format", po::value(&o.log_format), "text or json (overrides the config)")(
      "ha-role", po::value(&o.ha_role), "primary or standby: overrides [ha] role (tandemd restarts itself with "
                                        "--ha-role standby after handing its sessions over)")(
      "keep-capabilities", po::bool_switch(&o.keep_capabilities),
      "debugging: keep every capability after start-up (by default only those the configuration needs)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tandemd: " << e.what() << "\n" << desc << "\n";
    exit_code = kExitUsage;
    return std::nullopt;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    exit_code = kExitOk;
    return std::nullopt;
  }
  if (vm.count("version")) {
    std::cout << "tandemd " << TANDEM_VERSION << "\n";
    exit_code = kExitOk;
    return std::nullopt;
  }
  if (!o.ha_role.empty() && o.ha_role != "primary" && o.ha_role != "standby") {
    std::cerr << "tandemd: --ha-role must be primary or standby\n";
    exit_code = kExitUsage;
    return std::nullopt;
  }
  if (o.config.empty() && o.check_config.empty()) {
    std::cerr << "tandemd: --config FILE is required\n" << desc << "\n";
    exit_code = kExitUsage;
    return std::nullopt;
  }
  return o;
}

std::optional<config::Config> load(const std::string& path) {
  auto r = config::load_config(path);
  if (auto* e = std::get_if<config::ConfigError>(&r)) {
    std::cerr << "tandemd: configuration error: " << e->to_string() << "\n";
    return std::nullopt;
  }
  return std::get<config::Config>(std::move(r));
}

// Feeds best-path changes to the FIB (one of the speaker's observers; the API's event
// hub is another).
class FibObserver : public session::SpeakerObserver {
 public:
  FibObserver(app::FibSync& fib, const rib::Rib& rib) : fib_(fib), rib_(rib) {}
  void on_best_change(const rib::BestChange& c) override { fib_.on_best_change(c); }
  void on_selection_deferral_over(wire::Family f, const std::string&) override { fib_.release(f, rib_); }

 private:
  app::FibSync& fib_;
  const rib::Rib& rib_;
};

// Owns everything that runs on the event loop.
class Daemon {
 public:
  Daemon(asio::io_context& io, config::Config cfg, Options opts)
      : io_(io), opts_(std::move(opts)), speaker_(io, std::move(cfg)), signals_(io, SIGTERM, SIGINT, SIGHUP) {
    signals_.add(SIGUSR1);
  }

  int run() {
    const auto& cfg = speaker_.config();
    std::unique_ptr<fib::Fib> fib;
    if (cfg.fib.enabled) {
      std::string err;
      fib = fib::Fib::open({cfg.fib.table, cfg.fib.protocol, cfg.fib.metric}, err);
      if (!fib) {
        spdlog::error("fib: {}", err);
        return kExitFailure;
      }
    }
    app::RestartDetection restart = app::detect_restart(cfg, fib.get());
    std::string err;
    if (cfg.ha.enabled() && !(repl_ = app::ReplicationWiring::prepare(speaker_, cfg, err))) {
      spdlog::error("{}", err);
      return kExitFailure;
    }
    if (cfg.ha.role == "standby" && restart.restarting) {
      // A standby has no sessions of its own to restart: its routes come from the primary.
      spdlog::info("standby node: not acting as a graceful-restart restarting speaker");
      restart.restarting = false;
    }
    if (fib) {
      fib_sync_ = std::make_unique<app::FibSync>(io_, std::move(fib), std::move(restart.kept), restart.deferred);
      fib_observer_ = std::make_unique<FibObserver>(*fib_sync_, speaker_.rib());
      speaker_.add_observer(fib_observer_.get());
      spdlog::info("fib: installing best paths into table {} with protocol {}", cfg.fib.table, cfg.fib.protocol);
    } else {
      spdlog::info("fib: disabled ([fib] enabled = false): routes are not installed in the kernel");
    }
    if (!cfg.mrt.updates_file.empty() || !cfg.mrt.rib_file.empty()) {
      mrt_ = std::make_unique<app::MrtRecorder>(io_, speaker_, cfg.mrt);
      speaker_.add_tap(mrt_.get());
      speaker_.add_observer(mrt_.get());
      mrt_->start();
    }
    // The VIPs first: BGP and BFD sessions are bound to them.
    if (repl_ && !repl_->take_vips(err)) {
      spdlog::error("replication: {}", err);
      return kExitFailure;
    }
    if (cfg.bfd.enabled && !(bfd_ = app::BfdWiring::start(io_, speaker_, cfg, err))) {
      spdlog::error("{}", err);
      return kExitFailure;
    }
    if (!speaker_.start(err, restart.restarting)) {
      spdlog::error("{}", err);
      return kExitFailure;
    }
    if (repl_ && bfd_) {
      bfd_->set_pair_liveness(
          [this](bool up, bool heard, const std::string& why) { repl_->on_pair_liveness(up, heard, why); });
      bfd_->set_role_check([this](auto done) { repl_->confirm_primary(std::move(done)); });
    }
    if (repl_) repl_->set_on_handed_over([this] { restart_as_standby(); });
    if (repl_ && bfd_) {
      repl_->set_on_released([this] { bfd_->hand_over(); });
      repl_->set_bfd_handover([this] { return bfd_->handover_states(); },
                              [this](const auto& sessions) { bfd_->resume(sessions); });
      bfd_->set_on_peer_change([this](const healthbpf::SessionHandover& s) { repl_->bfd_changed(s); });
    }
    if (repl_ && !repl_->start(err)) {
      spdlog::error("replication: {}", err);
      return kExitFailure;
    }
#ifdef TANDEM_HAVE_API
    api::ServerOptions api_opts{cfg.api, TANDEM_VERSION};
    api_opts.bfd_status = app::BfdWiring::status_fn(bfd_.get());
    api_opts.ha_status = app::ReplicationWiring::status_fn(repl_.get());
    if (mrt_)
      api_opts.mrt_status = [rec = mrt_.get()] {
        std::vector<api::MrtWriterInfo> out;
        if (auto s = rec->updates_stats()) out.push_back({"updates", *s});
        if (auto s = rec->rib_stats()) out.push_back({"rib", *s});
        return out;
      };
    if (repl_)
      api_opts.ha_switchover = [this](std::function<void(bool, const std::string&)> done) {
        repl_->switchover(std::move(done));
      };
    api_ = std::make_unique<api::Server>(io_, speaker_, std::move(api_opts));
    if (!api_->start(err)) {
      spdlog::error("{}", err);
      return kExitFailure;
    }
#endif
    memory_ = std::make_unique<app::MemoryWatch>(io_, speaker_);
    memory_->start();
    loop_watch_.start();
    if (cfg.metrics.enabled) {
      metrics_ = std::make_unique<app::MetricsServer>(io_, speaker_, cfg.metrics.listen);
      if (!metrics_->start(err)) {
        spdlog::error("metrics: {}", err);
        stop_api();
        return kExitFailure;
      }
      spdlog::info("metrics: Prometheus text on http://{}/metrics", cfg.metrics.listen);
    }
    // Everything that needs full root is set up: keep only what the configuration needs.
    if (opts_.keep_capabilities) {
      spdlog::warn("privileges: --keep-capabilities: every capability kept");
    } else if (!app::drop_privileges(cfg, err)) {
      spdlog::error("{}", err);
      stop_api();
      return kExitFailure;
    }
    spdlog::info("tandemd {} started: router id {}, AS {}, {} peers, config {}", TANDEM_VERSION,
                 wire::IpAddr::v4(cfg.router_id).to_string(), cfg.local_as, cfg.peers.size(), cfg.file);
    app::write_restart_marker(cfg.graceful_restart.marker_file);
    wait_signal();
    io_.run();
    stop_api();
    if (mrt_) mrt_->stop();  // flush what was recorded up to the last NOTIFICATION
    if (restart_as_standby_) {
      // A handover, not a crash: the next start is no graceful restart.
      app::remove_restart_marker(cfg.graceful_restart.marker_file);
      spdlog::info("tandemd: the sessions are with the other node; restarting as the standby");
      return kRestartAsStandby;
    }
    // A clean exit: the next start is not a restart (peers were sent Cease).
    app::remove_restart_marker(cfg.graceful_restart.marker_file);
    spdlog::info("tandemd stopped");
    return kExitOk;
  }

 private:
  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& e, int sig) {
      if (e) return;
      switch (sig) {
        case SIGHUP: reload(); break;
        case SIGUSR1: dump(); break;
        default:
          spdlog::info("signal {}: sending Cease to every peer and exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
          // The API goes first (its handlers need the loop to answer), then the peers.
          stop_api();
          if (bfd_) bfd_->shutdown();  // AdminDown first: the peers must not see a failure
          speaker_.shutdown([this] {
            signals_.cancel();
            io_.stop();
          });
          return;
      }
      wait_signal();
    });
  }

  // After a switchover or a fence handed the sessions over: no Cease (the peers' sessions
  // live on at the other node), the peers' BFD sessions end at once without a word (the
  // other node's sessions with those peers must not see a Down from this one), the
  // heartbeat says AdminDown, the loop ends, main() starts the program again as the
  // standby. A short delay lets the API answer the request.
  void restart_as_standby() {
    restart_as_standby_ = true;
    if (bfd_) bfd_->hand_over();
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
    t->async_wait([this, t](const boost::system::error_code&) {
      stop_api();
      if (bfd_) bfd_->shutdown();
      signals_.cancel();
      io_.stop();
    });
  }

  void stop_api() {
#ifdef TANDEM_HAVE_API
    if (api_) api_->stop();
#endif
  }

  void reload() {
    const std::string& path = opts_.config;
    spdlog::info("SIGHUP: re-reading {}", path);
    auto r = config::load_config(path);
    if (auto* e = std::get_if<config::ConfigError>(&r)) {
      spdlog::error("config reload refused, keeping the running configuration: {}", e->to_string());
      return;
    }
    auto& cfg = std::get<config::Config>(r);
    if (opts_.log_level.empty()) app::set_log_level(cfg.log_level);
    if (cfg.fib != speaker_.config().fib) spdlog::warn("config reload: [fib] changes need a restart; ignored");
    if (cfg.api != speaker_.config().api) spdlog::warn("config reload: [api] changes need a restart; ignored");
    if (cfg.mrt != speaker_.config().mrt) spdlog::warn("config reload: [mrt] changes need a restart; ignored");
    if (cfg.metrics != speaker_.config().metrics)
      spdlog::warn("config reload: [metrics] changes need a restart; ignored");
    app::BfdWiring::warn_reload(speaker_.config(), cfg);
    app::ReplicationWiring::warn_reload(speaker_.config(), cfg);
    speaker_.reconfigure(cfg);
  }

  void dump() {
    const std::string& path = speaker_.config().state_dump;
    if (path.empty()) {
      spdlog::warn("SIGUSR1: no [global] state_dump path configured");
      return;
    }
    dumper_.request(path);
  }

  asio::io_context& io_;
  Options opts_;
  // Before speaker_: its connections keep a pointer to the tap until they are destroyed.
  std::unique_ptr<app::MrtRecorder> mrt_;
  std::unique_ptr<app::MemoryWatch> memory_;
  app::LoopWatch loop_watch_{io_};
  std::unique_ptr<app::ReplicationWiring> repl_;
  session::Speaker speaker_;
  app::StateDumper dumper_{io_, speaker_};  // after speaker_: it reads the speaker
  asio::signal_set signals_;
  std::unique_ptr<app::FibSync> fib_sync_;
  std::unique_ptr<FibObserver> fib_observer_;
  std::unique_ptr<app::MetricsServer> metrics_;
  std::unique_ptr<app::BfdWiring> bfd_;  // before api_: the API reads it
  bool restart_as_standby_ = false;
#ifdef TANDEM_HAVE_API
  std::unique_ptr<api::Server> api_;
#endif
};

}  // namespace

int main(int argc, char** argv) {
  // Until the event loop's signal_set takes over, a USR1 or HUP must not kill us.
  std::signal(SIGUSR1, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  int code = kExitOk;
  auto opts = parse_args(argc, argv, code);
  if (!opts) return code;

  if (!opts->check_config.empty()) {
    auto cfg = load(opts->check_config);
    if (!cfg) return kExitUsage;
    // The key file belongs to the node it runs on (an example config is checked
    // elsewhere): a problem with it is reported, and is fatal at start, not here.
    if (auto e = app::ReplicationWiring::check(*cfg); !e.empty())
      std::cerr << "tandemd: warning: " << opts->check_config << ": " << e << "\n";
    std::cout << opts->check_config << ": ok (" << cfg->peers.size() << " peers, " << cfg->networks.size()
              << " networks)\n";
    return kExitOk;
  }

  auto cfg = load(opts->config);
  if (!cfg) return kExitUsage;
  if (!opts->ha_role.empty()) {
    if (!cfg->ha.enabled() || (opts->ha_role == "standby" && !cfg->ha.peer) ||
        (opts->ha_role == "primary" && !cfg->ha.listen)) {
      std::cerr << "tandemd: --ha-role " << opts->ha_role << ": needs an [ha] section with "
                << (opts->ha_role == "standby" ? "peer" : "listen") << "\n";
      return kExitUsage;
    }
    cfg->ha.role = opts->ha_role;
  }
  std::string level = opts->log_level.empty() ? cfg->log_level : opts->log_level;
  std::string format = opts->log_format.empty() ? cfg->log_format : opts->log_format;
  if (auto err = app::setup_logging(level, format)) {
    std::cerr << "tandemd: " << *err << "\n";
    return kExitUsage;
  }
  if (opts->ha_role.empty()) {
    // The configured role: a primary asks the other node first (--ha-role: as told).
    std::string err;
    if (!app::settle_startup_role(*cfg, err)) {
      spdlog::error("{}", err);
      return kExitFailure;
    }
  }
  int rc = kExitFailure;
  try {
    asio::io_context io(1);
    Daemon daemon(io, std::move(*cfg), *opts);
    rc = daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return kExitFailure;
  }
  if (rc != kRestartAsStandby) return rc;
  // Everything is torn down (sockets, XDP, API): the same program, the same arguments,
  // as the standby.
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ha-role") {
      ++i;
      continue;
    }
    if (a.rfind("--ha-role=", 0) == 0) continue;
    args.push_back(a);
  }
  args.push_back("--ha-role");
  args.push_back("standby");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  spdlog::default_logger()->flush();
  ::execv("/proc/self/exe", cargs.data());
  spdlog::critical("cannot restart as the standby: execv: {}", std::strerror(errno));
  return kExitFailure;
}
