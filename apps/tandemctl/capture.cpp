#include "apps/tandemctl/capture.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "apps/tandemctl/capture_pcapng.hpp"
#include "apps/tandemctl/capture_text.hpp"
#include "apps/tandemctl/output.hpp"
#include "tandem/v1/capture.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

namespace {

tv1::BgpMessageType parse_type(const std::string& word, const std::string& topic) {
  if (word == "open") return tv1::BGP_MESSAGE_TYPE_OPEN;
  if (word == "update") return tv1::BGP_MESSAGE_TYPE_UPDATE;
  if (word == "notification") return tv1::BGP_MESSAGE_TYPE_NOTIFICATION;
  if (word == "keepalive") return tv1::BGP_MESSAGE_TYPE_KEEPALIVE;
  if (word == "route-refresh") return tv1::BGP_MESSAGE_TYPE_ROUTE_REFRESH;
  throw UsageError("unknown message type '" + word + "' (update, open, notification, keepalive, route-refresh)",
                   topic);
}

// SIGINT/SIGTERM end the capture cleanly (the stream is cancelled, the files closed).
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

class InterruptGuard {
 public:
  explicit InterruptGuard(grpc::ClientContext& context) {
    g_interrupted = false;
    old_int_ = std::signal(SIGINT, on_interrupt);
    old_term_ = std::signal(SIGTERM, on_interrupt);
    watcher_ = std::thread([this, &context] {
      while (!done_.load()) {
        if (g_interrupted.load()) {
          context.TryCancel();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  ~InterruptGuard() {
    done_ = true;
    watcher_.join();
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  bool interrupted() const { return g_interrupted.load(); }

 private:
  std::atomic<bool> done_{false};
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
  std::thread watcher_;
};

}  // namespace

Command parse_capture(Args& args) {
  args.set_topic("capture");
  CaptureCommand c;
  while (!args.empty()) {
    const std::string word = args.next("argument");
    if (word == "help" || word == "--help" || word == "-h") return Help{"capture"};
    if (word == "--peer") {
      if (!c.request.peer().empty()) args.fail("--peer given twice");
      c.request.set_peer(parse_address(args.next("--peer address"), "peer address", args.topic()));
    } else if (word == "--type") {
      for (const auto& t : split(args.next("--type value"), ',')) {
        auto type = parse_type(t, args.topic());
        bool seen = false;
        for (int x : c.request.types()) seen = seen || x == type;
        if (!seen) c.request.add_types(type);
      }
    } else if (word == "--count") {
      c.request.set_count(parse_u32(args.next("--count value"), "--count", args.topic(), 1));
    } else if (word == "--pcapng") {
      if (!c.pcapng.empty()) args.fail("--pcapng given twice");
      c.pcapng = args.next("--pcapng file");
      if (c.pcapng.empty()) args.fail("empty --pcapng file name");
    } else {
      args.fail("unknown capture option '" + word + "'");
    }
  }
  c.request.set_include_data(!c.pcapng.empty());
  return c;
}

int execute(Context& ctx, const CaptureCommand& command) {
  std::unique_ptr<std::ofstream> file;
  std::unique_ptr<CapturePcapng> pcapng;
  if (!command.pcapng.empty()) {
    file = std::make_unique<std::ofstream>(command.pcapng, std::ios::binary | std::ios::trunc);
    if (!*file) throw CommandError("cannot write " + command.pcapng + ": " + std::strerror(errno));
    pcapng = std::make_unique<CapturePcapng>(*file);
  }
  auto stub = tv1::CaptureService::NewStub(ctx.connection.channel());
  grpc::ClientContext context;  // no deadline: runs until interrupted
  InterruptGuard guard(context);
  auto reader = stub->Capture(&context, command.request);
  tv1::CaptureRecord record;
  std::uint64_t messages = 0, dropped = 0;
  std::string text;
  while (reader->Read(&record)) {
    if (record.has_message()) ++messages;
    if (record.has_dropped()) dropped += record.dropped().records();
    if (pcapng) {
      pcapng->add(record);
      if (!pcapng->good()) {
        context.TryCancel();
        reader->Finish();
        throw CommandError("writing " + command.pcapng + " failed");
      }
      if (record.has_message()) record.mutable_message()->clear_data();  // in the file; not printed
    }
    if (ctx.options.json) {
      ctx.out << to_json(record, false) << '\n';
    } else {
      ctx.out << capture_line(record) << '\n';
    }
    ctx.out.flush();
    if (!ctx.out) {  // output closed: stop capturing
      context.TryCancel();
      break;
    }
  }
  auto status = reader->Finish();
  if (!ctx.out) return 1;
  if (!guard.interrupted() && status.error_code() != grpc::StatusCode::CANCELLED) ctx.connection.check(status);
  if (!ctx.options.json) {
    ctx.out << fmt::format("-- {} messages{}{}\n", messages,
                           dropped ? fmt::format(", {} records dropped by the daemon", dropped) : "",
                           pcapng ? fmt::format(", {} packets written to {}", pcapng->packets(), command.pcapng) : "");
  }
  return 0;
}

}  // namespace tandemctl
