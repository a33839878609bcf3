// Replication channel framing (docs/replication.md). Pure: no protobuf, no I/O, so it
// can be fuzzed. A frame is
//
//   length (4 bytes, big-endian) | payload (length bytes) | MAC (32 bytes)
//   MAC = HMAC-SHA256(key, sequence (8 bytes, big-endian) || length || payload)
//
// The sequence number is per direction and never sent: both ends count frames, so a
// replayed, reordered or dropped frame fails the MAC like a forged one does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tandem::replicator {

inline constexpr size_t kFrameHeaderLen = 4;
inline constexpr size_t kFrameMacLen = 32;
inline constexpr size_t kMaxFramePayload = 16u * 1024 * 1024;  // 16 MiB

// HMAC-SHA256(key, seq || length || payload): the MAC of one frame.
std::vector<uint8_t> frame_mac(std::span<const uint8_t> key, uint64_t seq,
                               std::span<const uint8_t> payload);

// HMAC-SHA256 of the concatenation of parts (key derivation uses it too).
std::vector<uint8_t> hmac_sha256(std::span<const uint8_t> key,
                                 std::span<const std::span<const uint8_t>> parts);

// Frames payloads with a key and the next sequence number of its direction.
class FrameEncoder {
 public:
  FrameEncoder() = default;
  FrameEncoder(std::vector<uint8_t> key, uint64_t first_seq) : key_(std::move(key)), seq_(first_seq) {}

  // Appends the frame to out. False (nothing appended, sequence unchanged) when the
  // payload exceeds kMaxFramePayload.
  bool encode(std::span<const uint8_t> payload, std::vector<uint8_t>& out);
  void rekey(std::vector<uint8_t> key, uint64_t next_seq) {
    key_ = std::move(key);
    seq_ = next_seq;
  }
  uint64_t next_seq() const { return seq_; }

 private:
  std::vector<uint8_t> key_;
  uint64_t seq_ = 0;
};

enum class FrameError {
  None,
  TooLarge,     // the length field exceeds the limit (refused before buffering it)
  BadMac,       // forged, corrupted, replayed, reordered or dropped frame, or wrong key
};
const char* to_string(FrameError e);

struct FrameResult {
  enum class Kind { NeedMore, Frame, Error };
  Kind kind = Kind::NeedMore;
  std::vector<uint8_t> payload;      // Kind::Frame: the verified payload
  FrameError error = FrameError::None;
  std::string reason;                // Kind::Error: for logs, e.g. "bad MAC on frame 7"

  bool need_more() const { return kind == Kind::NeedMore; }
  bool frame() const { return kind == Kind::Frame; }
  bool failed() const { return kind == Kind::Error; }
};

// Fed arbitrary chunks of the byte stream; next() yields one verified payload at a time
// so that the caller can rekey between two frames (after the Hello). After an error the
// decoder is dead: it ignores input and repeats the error. Never aborts on any input.
class FrameDecoder {
 public:
  FrameDecoder() = default;
  FrameDecoder(std::vector<uint8_t> key, uint64_t first_seq, size_t max_payload = kMaxFramePayload)
      : key_(std::move(key)), seq_(first_seq), max_payload_(max_payload) {}

  void feed(std::span<const uint8_t> bytes);
  FrameResult next();

  // The key and sequence number of the frames after the one last returned.
  void rekey(std::vector<uint8_t> key, uint64_t next_seq) {
    key_ = std::move(key);
    seq_ = next_seq;
  }
  // Lower limit while unauthenticated (a Hello is small): garbage fails fast.
  void set_max_payload(size_t max_payload) { max_payload_ = max_payload; }

  uint64_t next_seq() const { return seq_; }
  size_t buffered() const { return buf_.size() - pos_; }
  bool failed() const { return error_ != FrameError::None; }

 private:
  FrameResult fail(FrameError e, std::string reason);

  std::vector<uint8_t> key_;
  uint64_t seq_ = 0;
  size_t max_payload_ = kMaxFramePayload;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;  // consumed prefix of buf_ (compacted lazily)
  FrameError error_ = FrameError::None;
  std::string reason_;
};

}  // namespace tandem::replicator
