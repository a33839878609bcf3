#include "replicator/startup_role.hpp"

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <memory>

namespace tandem::replicator {

const char* to_string(OtherNode o) {
  switch (o) {
    case OtherNode::Absent: return "absent";
    case OtherNode::Primary: return "primary";
    case OtherNode::Unverified: return "unverified";
  }
  return "?";
}

namespace {

// What the channel found; filled by its handlers on the query's own loop.
struct ChannelFinding {
  bool done = false;
  bool connected = false;
  bool primary = false;
  uint64_t term = 0;
  std::string what;
};

}  // namespace

StartupAnswer ask_other_node(const StartupQuery& q) {
  asio::io_context io(1);
  const auto start = std::chrono::steady_clock::now();
  auto found = std::make_shared<ChannelFinding>();
  std::shared_ptr<Channel> channel;
  if (q.channel) {
    ChannelIdentity id = q.identity;
    id.role = repl::ROLE_STANDBY;
    id.startup_query = true;  // the primary answers it without beginning a bulk sync
    Channel::Handlers h;
    const std::string where = describe_endpoint(*q.channel);
    h.on_ready = [found, where, &channel](const repl::Hello& hello) {
      // The handshake refuses anything but a primary's Hello to a standby's.
      found->primary = hello.role() == repl::ROLE_PRIMARY;
      found->term = hello.epoch();
      found->what = fmt::format("node {} at {} answered the replication handshake as the primary in term {}",
                                hello.node_id(), where, hello.epoch());
      channel->close("a node configured as the primary asked at its start who is the primary: it starts as the "
                     "standby");
    };
    h.on_closed = [found, where, &channel](const std::string& why) {
      found->connected = channel->connected();
      if (!found->primary)
        found->what = found->connected ? fmt::format("{} accepted the connection but gave no primary's answer: {}",
                                                     where, why)
                                       : fmt::format("nothing listens at {}: {}", where, why);
      found->done = true;
    };
    ChannelOptions o;
    o.dead_after = q.channel_timeout;
    channel = Channel::connect(io, *q.channel, id, std::move(h), o);
  } else {
    found->done = true;
    found->what = "no [ha] peer to ask";
  }

  std::optional<witness::Beacon> heard;
  std::unique_ptr<witness::TermBeacon> beacon;
  std::string beacon_what = "no term beacon configured ([ha] witness_address)";
  if (q.beacon) {
    beacon = std::make_unique<witness::TermBeacon>(
        io, *q.beacon, [&heard](const witness::Beacon& b, const wire::IpAddr&) { heard = b; });
    std::string err;
    if (!beacon->start(err)) {
      beacon_what = "the term beacon cannot listen: " + err;
      beacon.reset();
    } else {
      beacon_what = fmt::format("no term beacon from {} on {} within {} ms", q.beacon->to.to_string(),
                                q.beacon->interface, q.beacon_window.count());
    }
  }

  // Until the channel has its answer (it bounds itself by channel_timeout) and the beacon
  // window is over; a primary's answer or beacon ends it at once.
  const auto hard_stop = start + std::max(q.channel_timeout + std::chrono::seconds(1), q.beacon_window);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (heard || found->primary || now >= hard_stop) break;
    if (found->done && (!beacon || now - start >= q.beacon_window)) break;
    io.run_one_for(std::chrono::milliseconds(5));
    if (io.stopped()) io.restart();
  }
  if (beacon) beacon->stop();
  if (channel && !channel->closed()) channel->close("startup: done asking");
  // Let a Closing frame leave (bounded by the channel's own linger).
  io.run_for(std::chrono::milliseconds(300));

  StartupAnswer a;
  if (found->primary) {
    a.other = OtherNode::Primary;
    a.term = found->term;
    a.evidence = found->what;
  } else if (heard) {
    a.other = OtherNode::Primary;
    a.term = heard->term;
    a.evidence = fmt::format("the term beacon from {} on {} announces the primary in term {}",
                             q.beacon->to.to_string(), q.beacon->interface, heard->term);
  } else if (found->connected) {
    a.other = OtherNode::Unverified;
    a.evidence = found->what + "; " + beacon_what;
  } else {
    a.other = OtherNode::Absent;
    a.evidence = (found->done ? found->what : "no answer from the channel") + "; " + beacon_what;
  }
  return a;
}

}  // namespace tandem::replicator
