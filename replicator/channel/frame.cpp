#include "replicator/channel/frame.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <memory>
#include <new>

namespace tandem::replicator {
namespace {

void put_be(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
}

// OpenSSL 3 HMAC through EVP_MAC (the HMAC_CTX API is deprecated). The algorithm is
// fetched once; a context per call keeps this re-entrant.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

}  // namespace

std::vector<uint8_t> hmac_sha256(std::span<const uint8_t> key,
                                 std::span<const std::span<const uint8_t>> parts) {
  EVP_MAC* alg = hmac_algorithm();
  if (alg == nullptr) throw std::bad_alloc();
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(alg));
  if (!ctx) throw std::bad_alloc();
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // HMAC accepts an empty key only as a non-null pointer.
  static const uint8_t kEmpty = 0;
  const uint8_t* k = key.empty() ? &kEmpty : key.data();
  std::vector<uint8_t> out(kFrameMacLen);
  size_t out_len = 0;
  bool ok = EVP_MAC_init(ctx.get(), k, key.size(), params) == 1;
  for (const auto& p : parts) {
    if (ok && !p.empty()) ok = EVP_MAC_update(ctx.get(), p.data(), p.size()) == 1;
  }
  ok = ok && EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) == 1;
  if (!ok || out_len != kFrameMacLen) throw std::bad_alloc();  // only on resource exhaustion
  return out;
}

std::vector<uint8_t> frame_mac(std::span<const uint8_t> key, uint64_t seq,
                               std::span<const uint8_t> payload) {
  std::array<uint8_t, 12> prefix{};
  put_be(prefix.data(), seq, 8);
  put_be(prefix.data() + 8, payload.size(), 4);
  const std::array<std::span<const uint8_t>, 2> parts{std::span<const uint8_t>(prefix), payload};
  return hmac_sha256(key, parts);
}

bool FrameEncoder::encode(std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (payload.size() > kMaxFramePayload) return false;
  const auto mac = frame_mac(key_, seq_, payload);
  const size_t at = out.size();
  out.resize(at + kFrameHeaderLen);
  put_be(out.data() + at, payload.size(), 4);
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), mac.begin(), mac.end());
  ++seq_;
  return true;
}

const char* to_string(FrameError e) {
  switch (e) {
    case FrameError::None: return "no error";
    case FrameError::TooLarge: return "frame too large";
    case FrameError::BadMac: return "authentication failed (bad MAC)";
  }
  return "unknown frame error";
}

void FrameDecoder::feed(std::span<const uint8_t> bytes) {
  if (failed() || bytes.empty()) return;
  // Drop the consumed prefix once it dominates, so the buffer stays about one frame.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

FrameResult FrameDecoder::fail(FrameError e, std::string reason) {
  error_ = e;
  reason_ = std::move(reason);
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  FrameResult r;
  r.kind = FrameResult::Kind::Error;
  r.error = error_;
  r.reason = reason_;
  return r;
}

FrameResult FrameDecoder::next() {
  if (failed()) {
    FrameResult r;
    r.kind = FrameResult::Kind::Error;
    r.error = error_;
    r.reason = reason_;
    return r;
  }
  const size_t avail = buf_.size() - pos_;
  if (avail < kFrameHeaderLen) return {};
  const uint8_t* p = buf_.data() + pos_;
  const size_t len = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
  // Judged on the header alone: an oversized frame is never buffered.
  if (len > max_payload_) {
    return fail(FrameError::TooLarge, "frame " + std::to_string(seq_) + " announces " +
                                          std::to_string(len) + " bytes (limit " +
                                          std::to_string(max_payload_) + ")");
  }
  if (avail < kFrameHeaderLen + len + kFrameMacLen) return {};
  const std::span<const uint8_t> payload(p + kFrameHeaderLen, len);
  const auto mac = frame_mac(key_, seq_, payload);
  if (CRYPTO_memcmp(mac.data(), p + kFrameHeaderLen + len, kFrameMacLen) != 0) {
    return fail(FrameError::BadMac, "authentication failed: bad MAC on frame " + std::to_string(seq_));
  }
  FrameResult r;
  r.kind = FrameResult::Kind::Frame;
  r.payload.assign(payload.begin(), payload.end());
  pos_ += kFrameHeaderLen + len + kFrameMacLen;
  ++seq_;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return r;
}

}  // namespace tandem::replicator
