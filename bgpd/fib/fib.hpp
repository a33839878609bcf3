// Kernel FIB programming over rtnetlink (libmnl): best paths are installed into a
// configurable table, marked with tandem's own route protocol id so they can be
// recognised (and kept, then swept) across a restart. Changes are queued and sent in
// batches; only failures are reported back by the kernel (no per-route ACK).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bgpd/wire/types.hpp"

struct mnl_socket;

namespace tandem::fib {

struct Options {
  uint32_t table = 254;
  uint8_t protocol = 201;
  uint32_t metric = 20;
};

struct FibError {
  wire::Prefix prefix;
  std::string message;  // strerror of the kernel's answer
};

class Fib {
 public:
  // Opens the netlink socket; nullptr and `error` set when it cannot.
  static std::unique_ptr<Fib> open(const Options& options, std::string& error);
  ~Fib();

  void replace(const wire::Prefix& prefix, const wire::IpAddr& gateway);
  void remove(const wire::Prefix& prefix);
  bool pending() const { return !queue_.empty(); }
  // The routes in our table with our protocol id (e.g. kept from before a restart).
  // False + error when the dump fails.
  struct Route {
    wire::Prefix prefix;
    std::optional<wire::IpAddr> gateway;
  };
  bool dump(std::vector<Route>& out, std::string& error);
  // Send every queued change; returns the kernel's rejections.
  std::vector<FibError> flush();

 private:
  Fib(mnl_socket* sock, const Options& options);
  struct Change {
    wire::Prefix prefix;
    bool add;
    wire::IpAddr gateway;
  };
  mnl_socket* sock_;
  Options options_;
  uint32_t seq_ = 1;
  std::vector<Change> queue_;
};

}  // namespace tandem::fib
