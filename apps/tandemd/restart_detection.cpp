#include "apps/tandemd/restart_detection.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "bgpd/session/family_list.hpp"

namespace tandem::app {

RestartDetection detect_restart(const config::Config& cfg, fib::Fib* fib) {
  const auto& gr = cfg.graceful_restart;
  RestartDetection d;
  std::error_code ec;
  const bool marker_found = std::filesystem::exists(gr.marker_file, ec);
  if (fib) {
    std::string err;
    if (!fib->dump(d.kept, err)) spdlog::warn("fib: cannot read the routes left by a previous run: {}", err);
  }
  d.restarting = marker_found || !d.kept.empty();
  if (!d.restarting) return d;
  if (gr.enabled) d.deferred = gr.families;
  std::string why = marker_found ? fmt::format("marker {} found", gr.marker_file) : "";
  if (!d.kept.empty())
    why += fmt::format("{}{} kernel routes with protocol {} in table {} kept", why.empty() ? "" : "; ", d.kept.size(),
                       cfg.fib.protocol, cfg.fib.table);
  if (!d.deferred.empty())
    spdlog::warn("graceful restart: restarting ({}): Restart State set, routes and End-of-RIB for {} held back until "
                 "End-of-RIB from every graceful-restart peer or {} s (selection_deferral_time); kernel routes kept "
                 "until then", why, session::families_text(gr.families), gr.selection_deferral_time);
  else
    spdlog::warn("graceful restart: the previous run did not exit cleanly ({}), but the restarting-speaker role is "
                 "off ([graceful_restart] enabled = false or families = []): starting afresh", why);
  return d;
}

void write_restart_marker(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  f << ::getpid() << "\n";
  if (!f)
    spdlog::warn("graceful restart: cannot write the marker file {}: a crash will not be recognised as a restart "
                 "unless kernel routes are kept", path);
}

void remove_restart_marker(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

}  // namespace tandem::app
