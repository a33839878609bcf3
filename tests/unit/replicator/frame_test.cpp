// Framing: round trip under any chunking, and every tampering, replay, reordering or
// oversized length refused.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "replicator/channel/frame.hpp"

namespace tandem::replicator {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes key_a() { return Bytes(32, 0xA5); }
Bytes key_b() { return Bytes(32, 0x5A); }

Bytes payload_of(size_t n, uint8_t seed) {
  Bytes p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return p;
}

Bytes encode_all(const std::vector<Bytes>& payloads, const Bytes& key, uint64_t first_seq) {
  FrameEncoder enc(key, first_seq);
  Bytes out;
  for (const auto& p : payloads) EXPECT_TRUE(enc.encode(p, out));
  return out;
}

// Feeds the stream in the given chunk sizes (cycled) and collects every result.
std::vector<FrameResult> decode_chunked(const Bytes& stream, const Bytes& key, uint64_t first_seq,
                                        const std::vector<size_t>& chunks) {
  FrameDecoder dec(key, first_seq);
  std::vector<FrameResult> results;
  size_t at = 0, c = 0;
  while (at < stream.size()) {
    const size_t n = std::min(chunks[c++ % chunks.size()], stream.size() - at);
    dec.feed(std::span<const uint8_t>(stream.data() + at, n));
    at += n;
    for (;;) {
      auto r = dec.next();
      if (r.need_more()) break;
      const bool failed = r.failed();
      results.push_back(std::move(r));
      if (failed) return results;
    }
  }
  return results;
}

TEST(ReplFrame, HmacMatchesRfc4231TestCase2) {
  const std::string key = "Jefe", data = "what do ya want for nothing?";
  const std::array<std::span<const uint8_t>, 1> parts{
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size())};
  const auto mac = hmac_sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                               parts);
  const Bytes expected{0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                       0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  EXPECT_EQ(mac, expected);
}

TEST(ReplFrame, LayoutIsLengthPayloadMac) {
  const Bytes payload{1, 2, 3};
  const Bytes frame = encode_all({payload}, key_a(), 7);
  ASSERT_EQ(frame.size(), 4u + 3u + 32u);
  EXPECT_EQ(Bytes(frame.begin(), frame.begin() + 4), (Bytes{0, 0, 0, 3}));
  EXPECT_EQ(Bytes(frame.begin() + 4, frame.begin() + 7), payload);
  // MAC over seq (8 bytes BE) || length || payload.
  const Bytes covered{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 1, 2, 3};
  const std::array<std::span<const uint8_t>, 1> parts{std::span<const uint8_t>(covered)};
  EXPECT_EQ(Bytes(frame.begin() + 7, frame.end()), hmac_sha256(key_a(), parts));
  EXPECT_EQ(frame_mac(key_a(), 7, payload), hmac_sha256(key_a(), parts));
}

TEST(ReplFrame, RoundTripAcrossArbitraryChunking) {
  const std::vector<Bytes> payloads{{}, payload_of(1, 1), payload_of(100, 2), payload_of(70000, 3), {},
                                    payload_of(31, 4), payload_of(32, 5), payload_of(33, 6)};
  const Bytes stream = encode_all(payloads, key_a(), 1);
  std::mt19937 rng(42);
  std::vector<std::vector<size_t>> chunkings{{1}, {2}, {3}, {7}, {36}, {37}, {4096}, {stream.size()}};
  for (int i = 0; i < 20; ++i) {
    std::vector<size_t> c;
    for (int j = 0; j < 50; ++j) c.push_back(1 + rng() % 300);
    chunkings.push_back(c);
  }
  for (const auto& chunks : chunkings) {
    const auto results = decode_chunked(stream, key_a(), 1, chunks);
    ASSERT_EQ(results.size(), payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) {
      ASSERT_TRUE(results[i].frame()) << results[i].reason;
      EXPECT_EQ(results[i].payload, payloads[i]);
    }
  }
}

TEST(ReplFrame, FlippedBitAnywhereIsRefused) {
  const Bytes stream = encode_all({payload_of(40, 9), payload_of(40, 10)}, key_a(), 1);
  const size_t first_frame = 4 + 40 + 32;
  for (size_t byte = 0; byte < first_frame; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes t = stream;
      t[byte] ^= static_cast<uint8_t>(1u << bit);
      const auto results = decode_chunked(t, key_a(), 1, {t.size()});
      // Nothing may come out before the error: a longer length just waits (or is too large).
      for (const auto& r : results) {
        ASSERT_FALSE(r.frame()) << "byte " << byte << " bit " << bit;
      }
      if (!results.empty()) {
        EXPECT_TRUE(results.back().error == FrameError::BadMac || results.back().error == FrameError::TooLarge);
      }
    }
  }
}

TEST(ReplFrame, ReplayedReorderedDroppedFramesAreRefused) {
  FrameEncoder enc(key_a(), 1);
  Bytes f1, f2, f3;
  enc.encode(payload_of(10, 1), f1);
  enc.encode(payload_of(10, 2), f2);
  enc.encode(payload_of(10, 3), f3);
  const auto run = [&](std::vector<const Bytes*> order) {
    Bytes s;
    for (const auto* f : order) s.insert(s.end(), f->begin(), f->end());
    return decode_chunked(s, key_a(), 1, {s.size()});
  };
  auto replay = run({&f1, &f1});
  ASSERT_EQ(replay.size(), 2u);
  EXPECT_TRUE(replay[0].frame());
  EXPECT_EQ(replay[1].error, FrameError::BadMac);
  EXPECT_NE(replay[1].reason.find("frame 2"), std::string::npos) << replay[1].reason;

  auto reorder = run({&f2, &f1});
  ASSERT_EQ(reorder.size(), 1u);
  EXPECT_EQ(reorder[0].error, FrameError::BadMac);

  auto dropped = run({&f1, &f3});
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[1].error, FrameError::BadMac);
}

TEST(ReplFrame, WrongKeyIsRefused) {
  const Bytes s = encode_all({payload_of(5, 1)}, key_a(), 0);
  auto r = decode_chunked(s, key_b(), 0, {s.size()});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error, FrameError::BadMac);
  EXPECT_NE(r[0].reason.find("authentication"), std::string::npos);
}

TEST(ReplFrame, OversizedLengthRefusedFromTheHeaderAlone) {
  FrameDecoder dec(key_a(), 1);
  const uint32_t len = kMaxFramePayload + 1;
  const Bytes header{static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
                     static_cast<uint8_t>(len)};
  dec.feed(std::span<const uint8_t>(header.data(), 2));
  EXPECT_TRUE(dec.next().need_more());
  dec.feed(std::span<const uint8_t>(header.data() + 2, 2));
  auto r = dec.next();
  ASSERT_TRUE(r.failed());
  EXPECT_EQ(r.error, FrameError::TooLarge);
  EXPECT_EQ(dec.buffered(), 0u);  // nothing kept, nothing allocated for the payload
  // Dead from now on: more input is ignored and the error repeats.
  dec.feed(Bytes(1000, 0));
  EXPECT_EQ(dec.buffered(), 0u);
  EXPECT_EQ(dec.next().error, FrameError::TooLarge);

  // Exactly the limit is allowed (it waits for the bytes).
  FrameDecoder ok(key_a(), 1);
  const uint32_t max = kMaxFramePayload;
  ok.feed(Bytes{static_cast<uint8_t>(max >> 24), static_cast<uint8_t>(max >> 16), static_cast<uint8_t>(max >> 8),
                static_cast<uint8_t>(max)});
  EXPECT_TRUE(ok.next().need_more());
}

TEST(ReplFrame, LowerLimitWhileUnauthenticated) {
  FrameDecoder dec(key_a(), 0, 4096);
  dec.feed(Bytes{'G', 'E', 'T', ' ', '/'});
  auto r = dec.next();
  EXPECT_EQ(r.error, FrameError::TooLarge);
}

TEST(ReplFrame, EncoderRefusesOversizedPayload) {
  FrameEncoder enc(key_a(), 5);
  Bytes out;
  EXPECT_FALSE(enc.encode(Bytes(kMaxFramePayload + 1), out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(enc.next_seq(), 5u);
}

TEST(ReplFrame, RekeyBetweenFramesOfOneChunk) {
  // The Hello (PSK, seq 0) and the first session frame (session key, seq 1) can arrive
  // in one read: the decoder yields one at a time so the caller can rekey in between.
  FrameEncoder enc(key_a(), 0);
  Bytes s;
  enc.encode(payload_of(3, 1), s);
  enc.rekey(key_b(), 1);
  enc.encode(payload_of(3, 2), s);
  FrameDecoder dec(key_a(), 0);
  dec.feed(s);
  auto r1 = dec.next();
  ASSERT_TRUE(r1.frame());
  dec.rekey(key_b(), 1);
  auto r2 = dec.next();
  ASSERT_TRUE(r2.frame()) << r2.reason;
  EXPECT_EQ(r2.payload, payload_of(3, 2));
}

}  // namespace
}  // namespace tandem::replicator
