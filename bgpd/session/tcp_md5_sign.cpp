#include "bgpd/session/tcp_md5_sign.hpp"

#include <netinet/in.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace tandem::session {

std::array<uint8_t, 16> tcp_md5_digest(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                                       std::span<const uint8_t> tcp_header20, std::span<const uint8_t> payload,
                                       size_t tcp_length, std::string_view key) {
  std::vector<uint8_t> msg;
  msg.reserve(src.size() * 2 + 8 + 20 + payload.size() + key.size());
  msg.insert(msg.end(), src.begin(), src.end());
  msg.insert(msg.end(), dst.begin(), dst.end());
  if (src.size() == 4) {
    msg.push_back(0);
    msg.push_back(IPPROTO_TCP);
    msg.push_back(static_cast<uint8_t>(tcp_length >> 8));
    msg.push_back(static_cast<uint8_t>(tcp_length));
  } else {
    for (int shift = 24; shift >= 0; shift -= 8) msg.push_back(static_cast<uint8_t>(tcp_length >> shift));
    msg.insert(msg.end(), {0, 0, 0, IPPROTO_TCP});
  }
  const size_t header_at = msg.size();
  msg.insert(msg.end(), tcp_header20.begin(), tcp_header20.begin() + 20);
  msg[header_at + 16] = msg[header_at + 17] = 0;  // the checksum is hashed as zero
  msg.insert(msg.end(), payload.begin(), payload.end());
  msg.insert(msg.end(), key.begin(), key.end());
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  if (EVP_Digest(msg.data(), msg.size(), out.data(), &len, EVP_md5(), nullptr) != 1 || len != out.size())
    throw std::runtime_error("EVP_Digest(MD5) failed");
  return out;
}

}  // namespace tandem::session
