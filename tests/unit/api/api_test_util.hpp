// An in-process daemon for the API tests: a Speaker on its own event loop thread and
// the API server on a UNIX socket in a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "api/server.hpp"

namespace api_test {

using namespace tandem;
namespace asio = boost::asio;

inline std::filesystem::path make_temp_dir() {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("tandem-api-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline config::Config daemon_config() {
  config::Config c;
  c.file = "test";
  c.router_id = 0x0A000001;
  c.local_as = 65000;
  c.listen = {};  // no BGP listener needed
  return c;
}

class Daemon {
 public:
  explicit Daemon(config::ApiConfig api, config::Config cfg = daemon_config(),
                  std::function<std::optional<healthbpf::DriverStatus>()> bfd_status = {},
                  std::function<std::optional<replicator::ReplStatus>()> ha_status = {})
      : dir_(make_temp_dir()) {
    if (api.socket.empty() || api.socket == config::ApiConfig{}.socket) api.socket = (dir_ / "api.sock").string();
    socket_ = api.socket;
    speaker_ = std::make_unique<session::Speaker>(io_, std::move(cfg));
    std::string err;
    EXPECT_TRUE(speaker_->start(err)) << err;
    api::ServerOptions opts{api, "test", std::chrono::seconds(5)};
    opts.bfd_status = std::move(bfd_status);
    opts.ha_status = std::move(ha_status);
    server_ = std::make_unique<api::Server>(io_, *speaker_, std::move(opts));
    started_ = server_->start(err);
    error_ = err;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Daemon() {
    server_->stop();
    asio::post(io_, [this] { work_.reset(); speaker_->shutdown([this] { io_.stop(); }); });
    thread_.join();
    server_.reset();
    speaker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  std::string target() const { return "unix:" + socket_; }
  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
  }
  const std::filesystem::path& dir() const { return dir_; }
  asio::io_context& io() { return io_; }
  api::Server& server() { return *server_; }

  // Run fn on the event loop and wait.
  template <class Fn>
  void on_loop(Fn fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn(*speaker_);
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  std::filesystem::path dir_;
  std::string socket_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<session::Speaker> speaker_;
  std::unique_ptr<api::Server> server_;
  bool started_ = false;
  std::string error_;
  std::thread thread_;
};

inline std::unique_ptr<grpc::ClientContext> ctx(int seconds = 10) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

}  // namespace api_test
