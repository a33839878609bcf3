// Handshake checks and session key derivation (pure; the channel tests run it over TCP).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <variant>

#include "replicator/channel/frame.hpp"
#include "replicator/channel/handshake.hpp"

namespace tandem::replicator {
namespace {

using Bytes = std::vector<uint8_t>;

HelloInfo hello(NodeRole role, uint8_t nonce_byte, uint32_t version = kProtocolVersion) {
  HelloInfo h;
  h.version = version;
  h.node_id = role == NodeRole::Primary ? "a" : "b";
  h.role = role;
  h.epoch = 7;
  h.nonce = Bytes(kNonceLen, nonce_byte);
  h.software = "test";
  return h;
}

const Bytes kPsk(32, 0x11);

TEST(ReplHandshake, ComplementaryRolesDeriveMatchingKeys) {
  const auto p = hello(NodeRole::Primary, 1), s = hello(NodeRole::Standby, 2);
  auto client = complete_handshake(kPsk, true, p, s);
  auto server = complete_handshake(kPsk, false, s, p);
  ASSERT_TRUE(std::holds_alternative<SessionKeys>(client));
  ASSERT_TRUE(std::holds_alternative<SessionKeys>(server));
  const auto& c = std::get<SessionKeys>(client);
  const auto& sv = std::get<SessionKeys>(server);
  EXPECT_EQ(c.send, sv.recv);
  EXPECT_EQ(c.recv, sv.send);
  EXPECT_NE(c.send, c.recv);  // each direction its own key
  EXPECT_EQ(c.send.size(), 32u);
  EXPECT_NE(c.send, kPsk);
}

TEST(ReplHandshake, KeyIsTheDocumentedHmac) {
  const Bytes cn(kNonceLen, 1), sn(kNonceLen, 2);
  const std::string label = "tandem-repl-v1 client->server";
  Bytes msg(label.begin(), label.end());
  msg.insert(msg.end(), cn.begin(), cn.end());
  msg.insert(msg.end(), sn.begin(), sn.end());
  const std::array<std::span<const uint8_t>, 1> parts{std::span<const uint8_t>(msg)};
  EXPECT_EQ(derive_session_keys(kPsk, true, cn, sn).send, hmac_sha256(kPsk, parts));
}

TEST(ReplHandshake, FreshNoncesGiveFreshKeys) {
  const auto a = derive_session_keys(kPsk, true, Bytes(kNonceLen, 1), Bytes(kNonceLen, 2));
  const auto b = derive_session_keys(kPsk, true, Bytes(kNonceLen, 1), Bytes(kNonceLen, 3));
  EXPECT_NE(a.send, b.send);
  const auto other_psk = derive_session_keys(Bytes(32, 0x22), true, Bytes(kNonceLen, 1), Bytes(kNonceLen, 2));
  EXPECT_NE(a.send, other_psk.send);
}

TEST(ReplHandshake, VersionMismatch) {
  auto err = check_hello(hello(NodeRole::Primary, 1), hello(NodeRole::Standby, 2, 2));
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, HandshakeErrorCode::Version);
  EXPECT_NE(err->message.find("version"), std::string::npos);
}

TEST(ReplHandshake, SameRoleOrUnspecifiedIsRoleError) {
  for (auto [l, r] : {std::pair{NodeRole::Primary, NodeRole::Primary}, std::pair{NodeRole::Standby, NodeRole::Standby},
                      std::pair{NodeRole::Primary, NodeRole::Unspecified},
                      std::pair{NodeRole::Unspecified, NodeRole::Standby},
                      std::pair{NodeRole::Primary, static_cast<NodeRole>(9)}}) {
    auto err = check_hello(hello(l, 1), hello(r, 2));
    ASSERT_TRUE(err);
    EXPECT_EQ(err->code, HandshakeErrorCode::Role) << err->message;
  }
  auto err = check_hello(hello(NodeRole::Primary, 1), hello(NodeRole::Primary, 2));
  EXPECT_NE(err->message.find("primary"), std::string::npos) << err->message;
}

TEST(ReplHandshake, NonceMustBe32Bytes) {
  auto bad = hello(NodeRole::Standby, 2);
  bad.nonce.resize(31);
  auto err = check_hello(hello(NodeRole::Primary, 1), bad);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, HandshakeErrorCode::Protocol);
}

TEST(ReplHandshake, EpochIsNotJudged) {
  auto s = hello(NodeRole::Standby, 2);
  s.epoch = 0;
  EXPECT_FALSE(check_hello(hello(NodeRole::Primary, 1), s));
}

}  // namespace
}  // namespace tandem::replicator
