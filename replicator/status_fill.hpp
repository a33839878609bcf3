// Filling the status structs from what both halves of replication share: the channel's
// counters and a checkpoint.
#pragma once

#include "replicator/channel/channel.hpp"
#include "replicator/status.hpp"

namespace tandem::replicator {

inline void fill_channel(ReplStatus& r, const std::shared_ptr<Channel>& channel) {
  if (!channel) return;
  const auto c = channel->counters();
  r.frames_in = c.frames_in;
  r.frames_out = c.frames_out;
  r.bytes_in = c.bytes_in;
  r.bytes_out = c.bytes_out;
  r.auth_failures = c.auth_failures;
}

inline void fill_checkpoint(SessionReplStatus& r, const repl::Checkpoint& c, bool has, uint64_t count) {
  r.has_checkpoint = has;
  r.snd_una = c.snd_una();
  r.snd_nxt = c.snd_nxt();
  r.rcv_nxt = c.rcv_nxt();
  r.peer_window = c.peer_window();
  r.checkpoint_time_us = c.time_us();
  r.checkpoints = count;
}

}  // namespace tandem::replicator
