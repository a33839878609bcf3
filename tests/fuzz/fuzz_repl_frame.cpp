// Fuzz the replication channel's pure layers. Byte 0 selects:
//   0: the FrameDecoder fed the rest in chunks (sizes from byte 1), as the channel does:
//      first frame under the PSK at sequence 0 (the Hello verification step), then a
//      session key from sequence 1. Nothing may abort; errors are sticky.
//   1: round trip: the rest split into payloads, framed, decoded in chunks, must come
//      back identical; then one flipped bit must stop the stream at or before its frame.
//   2: Hello checks on a Hello built from the rest; an accepted one derives symmetric keys.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "fuzz_common.hpp"
#include "replicator/channel/frame.hpp"
#include "replicator/channel/handshake.hpp"

using namespace tandem::replicator;
using Bytes = std::vector<uint8_t>;

namespace {

const Bytes kPsk(32, 0x42);
const Bytes kSessionKey(32, 0x24);

// Decodes stream fed in chunks of 1 + (k % 61) bytes; stops at the first error.
std::vector<FrameResult> decode(const Bytes& stream, uint8_t chunk_seed, bool rekey_after_first) {
  FrameDecoder dec(kPsk, kHelloSeq, kMaxHelloPayload);
  std::vector<FrameResult> out;
  size_t at = 0, k = chunk_seed;
  while (at < stream.size()) {
    const size_t n = std::min<size_t>(1 + (k++ * 7919) % 61, stream.size() - at);
    dec.feed(std::span<const uint8_t>(stream.data() + at, n));
    at += n;
    for (;;) {
      auto r = dec.next();
      if (r.need_more()) break;
      if (r.failed()) {
        FUZZ_CHECK(!r.reason.empty());
        FUZZ_CHECK(dec.failed() && dec.buffered() == 0);
        FUZZ_CHECK(dec.next().failed());
        out.push_back(std::move(r));
        return out;
      }
      FUZZ_CHECK(r.payload.size() <= (out.empty() ? kMaxHelloPayload : kMaxFramePayload));
      if (out.empty() && rekey_after_first) {
        dec.rekey(kSessionKey, kFirstSessionSeq);
        dec.set_max_payload(kMaxFramePayload);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

void round_trip(std::span<const uint8_t> in) {
  if (in.size() < 2) return;
  const uint8_t chunk_seed = in[0];
  const uint8_t flip = in[1];
  in = in.subspan(2);
  // Payloads: a length byte, then that many bytes (truncated at the end).
  std::vector<Bytes> payloads;
  while (!in.empty() && payloads.size() < 32) {
    const size_t n = std::min<size_t>(in[0], in.size() - 1);
    payloads.emplace_back(in.begin() + 1, in.begin() + 1 + static_cast<std::ptrdiff_t>(n));
    in = in.subspan(1 + n);
  }
  FrameEncoder enc(kPsk, kHelloSeq);
  Bytes stream;
  std::vector<size_t> ends;
  for (size_t i = 0; i < payloads.size(); ++i) {
    FUZZ_CHECK(enc.encode(payloads[i], stream));
    ends.push_back(stream.size());
    if (i == 0) enc.rekey(kSessionKey, kFirstSessionSeq);
  }
  const auto got = decode(stream, chunk_seed, true);
  FUZZ_CHECK(got.size() == payloads.size());
  for (size_t i = 0; i < got.size(); ++i) FUZZ_CHECK(got[i].frame() && got[i].payload == payloads[i]);
  if (stream.empty()) return;
  // One flipped bit: every frame before the damaged one still decodes, none after it.
  const size_t pos = (static_cast<size_t>(flip) * 131) % stream.size();
  stream[pos] ^= static_cast<uint8_t>(1u << (flip % 8));
  size_t damaged = 0;
  while (ends[damaged] <= pos) ++damaged;
  const auto bad = decode(stream, chunk_seed, true);
  size_t frames = 0;
  while (frames < bad.size() && bad[frames].frame()) ++frames;
  FUZZ_CHECK(frames == damaged);
  for (size_t i = 0; i < frames; ++i) FUZZ_CHECK(bad[i].payload == payloads[i]);
}

void hello_checks(std::span<const uint8_t> in) {
  if (in.size() < 8) return;
  HelloInfo local, remote;
  local.role = (in[0] & 1) ? NodeRole::Primary : NodeRole::Standby;
  local.nonce = Bytes(kNonceLen, 0x11);
  remote.version = (in[1] & 0x80) ? (uint32_t{in[1]} << 24 | uint32_t{in[2]} << 16 | in[3]) : kProtocolVersion;
  remote.role = static_cast<NodeRole>(static_cast<int8_t>(in[4]) % 4);
  remote.epoch = in[5];
  const size_t nonce_len = std::min<size_t>(in[6] % 40, in.size() - 8);
  remote.nonce.assign(in.begin() + 8, in.begin() + 8 + static_cast<std::ptrdiff_t>(nonce_len));
  remote.node_id.assign(in.begin() + 8 + static_cast<std::ptrdiff_t>(nonce_len), in.end());
  const bool client = in[7] & 1;
  auto outcome = complete_handshake(kPsk, client, local, remote);
  if (auto* err = std::get_if<HandshakeError>(&outcome)) {
    FUZZ_CHECK(!err->message.empty());
    return;
  }
  FUZZ_CHECK(remote.version == kProtocolVersion && remote.nonce.size() == kNonceLen);
  FUZZ_CHECK(static_cast<int>(remote.role) + static_cast<int>(local.role) == 3);  // primary + standby
  const auto& mine = std::get<SessionKeys>(outcome);
  const auto theirs = derive_session_keys(kPsk, !client, remote.nonce, local.nonce);
  FUZZ_CHECK(mine.send == theirs.recv && mine.recv == theirs.send && mine.send != mine.recv);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      if (!rest.empty()) (void)decode(Bytes(rest.begin() + 1, rest.end()), rest[0], true);
      break;
    case 1: round_trip(rest); break;
    case 2: hello_checks(rest); break;
  }
  return 0;
}
