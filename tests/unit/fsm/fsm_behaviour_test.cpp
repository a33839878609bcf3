// Framing, OPEN validation, capability negotiation, timers, collision helper.
#include <random>

#include "tests/unit/fsm/fsm_test_util.hpp"

namespace tandem::fsm::test {
namespace {

std::vector<uint8_t> body_of(const std::vector<uint8_t>& msg) {
  return std::vector<uint8_t>(msg.begin() + wire::kHeaderLen, msg.end());
}

// Copies of the UPDATE bodies handed out (spans die at the next handle()).
std::vector<std::vector<uint8_t>> update_bodies(const Actions& as) {
  std::vector<std::vector<uint8_t>> out;
  for (auto* u : find_actions<act::UpdateReceived>(as)) out.emplace_back(u->body.begin(), u->body.end());
  return out;
}

// ============================== framing ==============================

struct Stream {
  std::vector<uint8_t> bytes;
  std::vector<std::vector<uint8_t>> updates;  // expected bodies
};

Stream session_stream() {
  Stream s;
  auto u1 = make_update(50, 1), u2 = make_update(4000 - 19, 2), u3 = make_update(4, 3);
  s.bytes = cat({wire::encode_open(make_peer_open()), kKeepalive, u1, kKeepalive, u2,
                 route_refresh_msg(), u3});
  s.updates = {body_of(u1), body_of(u2), body_of(u3)};
  return s;
}

TEST(FsmFraming, OneByteChunks) {
  Fsm f = in_opensent();
  Stream s = session_stream();
  std::vector<std::vector<uint8_t>> got;
  size_t refreshes = 0;
  for (uint8_t b : s.bytes) {
    Actions a = f.handle(ev::BytesReceived{std::span<const uint8_t>(&b, 1)});
    for (auto& u : update_bodies(a)) got.push_back(std::move(u));
    refreshes += find_actions<act::RouteRefreshReceived>(a).size();
  }
  EXPECT_EQ(f.state(), State::Established);
  EXPECT_EQ(got, s.updates);
  EXPECT_EQ(refreshes, 1u);
}

TEST(FsmFraming, SeveralMessagesInOneChunk) {
  Fsm f = in_opensent();
  Stream s = session_stream();
  Actions a = feed(f, s.bytes);
  EXPECT_EQ(render(a),
            (Strings{"OpenReceived", "Send KEEPALIVE", "Arm Hold 90", "Arm Keepalive 30",
                     "State OpenSent->OpenConfirm", "State OpenConfirm->Established",
                     "Established", "Update 50", "Update 3981", "RouteRefresh ipv4-unicast/0",
                     "Update 4"}));
  EXPECT_EQ(update_bodies(a), s.updates);
}

TEST(FsmFraming, RandomChunking) {
  Stream s = session_stream();
  std::mt19937 rng(42);
  for (int iter = 0; iter < 200; ++iter) {
    Fsm f = in_opensent();
    std::vector<std::vector<uint8_t>> got;
    size_t pos = 0;
    while (pos < s.bytes.size()) {
      size_t n = std::uniform_int_distribution<size_t>(1, 700)(rng);
      n = std::min(n, s.bytes.size() - pos);
      // A fresh copy per chunk, freed right after: catches spans into the caller's
      // buffer outliving the call (with ASan) and spans into a moved reassembly buffer.
      std::vector<uint8_t> chunk(s.bytes.begin() + static_cast<ptrdiff_t>(pos),
                                 s.bytes.begin() + static_cast<ptrdiff_t>(pos + n));
      for (auto& u : update_bodies(f.handle(ev::BytesReceived{chunk}))) got.push_back(std::move(u));
      pos += n;
    }
    ASSERT_EQ(f.state(), State::Established);
    ASSERT_EQ(got, s.updates) << "iteration " << iter;
  }
}

TEST(FsmFraming, SpansStayValidUntilNextEvent) {
  Fsm f = in_established();
  auto u1 = make_update(100, 1), u2 = make_update(200, 2), u3 = make_update(3000, 3);
  std::vector<uint8_t> all = cat({u1, u2, u3});
  std::vector<uint8_t> c1(all.begin(), all.begin() + 50);
  std::vector<uint8_t> c2(all.begin() + 50, all.begin() + static_cast<ptrdiff_t>(u1.size() + u2.size() + 10));
  std::vector<uint8_t> c3(all.begin() + static_cast<ptrdiff_t>(u1.size() + u2.size() + 10), all.end());
  EXPECT_TRUE(feed(f, c1).empty());
  Actions a = feed(f, c2);  // completes u1 from the reassembly buffer, u2 in place, stashes u3
  auto ups = find_actions<act::UpdateReceived>(a);
  ASSERT_EQ(ups.size(), 2u);
  // Check only now, after the trailing bytes were stashed.
  EXPECT_EQ(std::vector<uint8_t>(ups[0]->body.begin(), ups[0]->body.end()), body_of(u1));
  EXPECT_EQ(std::vector<uint8_t>(ups[1]->body.begin(), ups[1]->body.end()), body_of(u2));
  EXPECT_EQ(update_bodies(feed(f, c3)), std::vector<std::vector<uint8_t>>{body_of(u3)});
}

TEST(FsmFraming, SpansStayValidWithLargeExtendedTail) {
  Fsm f = in_established();  // extended message negotiated
  auto u1 = make_update(200, 1), u2 = make_update(65000, 2);
  std::vector<uint8_t> all = cat({u1, u2});
  std::vector<uint8_t> c1(all.begin(), all.begin() + 100);
  std::vector<uint8_t> c2(all.begin() + 100, all.begin() + 60000);
  std::vector<uint8_t> c3(all.begin() + 60000, all.end());
  EXPECT_TRUE(feed(f, c1).empty());
  Actions a = feed(f, c2);
  auto ups = find_actions<act::UpdateReceived>(a);
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(ups[0]->body.begin(), ups[0]->body.end()), body_of(u1));
  EXPECT_EQ(update_bodies(feed(f, c3)), std::vector<std::vector<uint8_t>>{body_of(u2)});
}

TEST(FsmFraming, PartialHeaderThenRest) {
  Fsm f = in_established();
  auto u = make_update(10);
  std::vector<uint8_t> a(u.begin(), u.begin() + 7), b(u.begin() + 7, u.end());
  EXPECT_TRUE(feed(f, a).empty());
  EXPECT_EQ(render(feed(f, b)), (Strings{"Arm Hold 90", "Update 10"}));
}

TEST(FsmFraming, EmptyChunk) {
  Fsm f = in_established();
  EXPECT_TRUE(f.handle(ev::BytesReceived{}).empty());
}

TEST(FsmFraming, BadMarker) {
  Fsm f = in_established();
  std::vector<uint8_t> m = kKeepalive;
  m[15] = 0xfe;
  Actions a = feed(f, m);
  EXPECT_EQ(f.state(), State::Idle);
  wire::Notification n = sent_notification(a);
  EXPECT_EQ(notif_str(n), "1/1");
  EXPECT_TRUE(n.data.empty());
}

TEST(FsmFraming, BadLengthDetectedFromHeaderAlone) {
  struct Case {
    uint16_t length;
    uint8_t type;
  };
  Config no_ext = make_config();
  no_ext.extended_message = false;  // max length 4096
  for (Case c : {Case{18, 4}, Case{4097, 2}, Case{20, 4}, Case{22, 2}, Case{28, 1}, Case{20, 3}}) {
    Fsm f = in_established(no_ext);
    std::vector<uint8_t> hdr(16, 0xff);
    hdr.push_back(static_cast<uint8_t>(c.length >> 8));
    hdr.push_back(static_cast<uint8_t>(c.length));
    hdr.push_back(c.type);
    Actions a = feed(f, hdr);  // only the header: the error must not wait for the body
    EXPECT_EQ(f.state(), State::Idle) << c.length;
    wire::Notification n = sent_notification(a);
    EXPECT_EQ(notif_str(n), "1/2") << c.length;
    EXPECT_EQ(n.data, (std::vector<uint8_t>{hdr[16], hdr[17]})) << c.length;
  }
}

TEST(FsmFraming, BadType) {
  for (uint8_t type : {0, 6, 255}) {
    Fsm f = in_established();
    Actions a = feed(f, raw_message(type, {0, 0, 0, 0}));
    wire::Notification n = sent_notification(a);
    EXPECT_EQ(notif_str(n), "1/3");
    EXPECT_EQ(n.data, std::vector<uint8_t>{type});
  }
}

TEST(FsmFraming, ErrorInReassembledHeader) {
  Fsm f = in_established();
  std::vector<uint8_t> m = raw_message(7, {});
  std::vector<uint8_t> a(m.begin(), m.begin() + 10), b(m.begin() + 10, m.end());
  EXPECT_TRUE(feed(f, a).empty());
  EXPECT_EQ(notif_str(sent_notification(feed(f, b))), "1/3");
}

TEST(FsmFraming, BytesAfterFatalMessageDropped) {
  Fsm f = in_established();
  Actions a = feed(f, cat({notification_msg(6, 4), make_update(10), kKeepalive}));
  EXPECT_TRUE(find_actions<act::UpdateReceived>(a).empty());
  EXPECT_EQ(f.state(), State::Idle);
  EXPECT_TRUE(feed(f, make_update(10)).empty());
}

TEST(FsmFraming, StalePartialMessageDroppedOnReconnect) {
  Fsm f = in_established();
  auto u = make_update(100);
  feed(f, std::vector<uint8_t>(u.begin(), u.begin() + 60));
  f.handle(ev::TcpClosed{});
  f.handle(ev::ManualStart{});
  f.handle(ev::TcpConnected{});
  Actions a = feed(f, cat({wire::encode_open(make_peer_open()), kKeepalive, make_update(8)}));
  EXPECT_EQ(f.state(), State::Established);
  EXPECT_EQ(find_actions<act::UpdateReceived>(a).size(), 1u);
}

TEST(FsmFraming, ExtendedMessageRaisesMaxLength) {
  // Negotiated: 5000-octet UPDATE accepted.
  Fsm f = in_established();
  EXPECT_TRUE(f.negotiated()->extended_message);
  EXPECT_EQ(f.codec().max_message_size(), 65535u);
  auto big = make_update(5000);
  EXPECT_EQ(render(feed(f, big)), (Strings{"Arm Hold 90", "Update 5000"}));
  auto max = make_update(65535 - 19);
  EXPECT_EQ(render(feed(f, max)), (Strings{"Arm Hold 90", "Update 65516"}));

  // Not negotiated (we do not advertise it): Bad Message Length.
  Config c = make_config();
  c.extended_message = false;
  Fsm g = in_established(c);
  EXPECT_FALSE(g.negotiated()->extended_message);
  Actions a = feed(g, big);
  wire::Notification n = sent_notification(a);
  EXPECT_EQ(notif_str(n), "1/2");
  size_t len = big.size();
  EXPECT_EQ(n.data, (std::vector<uint8_t>{static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)}));

  // Peer does not advertise it: same.
  wire::Open peer = make_peer_open();
  peer.caps.extended_message = false;
  Fsm h = in_established(make_config(), peer);
  EXPECT_EQ(notif_str(sent_notification(feed(h, big))), "1/2");
}

TEST(FsmFraming, ExtendedMessageAppliesRightAfterOpenInSameChunk) {
  Fsm f = in_opensent();
  auto big = make_update(10000);
  Actions a = feed(f, cat({wire::encode_open(make_peer_open()), kKeepalive, big}));
  EXPECT_EQ(f.state(), State::Established);
  EXPECT_EQ(find_actions<act::UpdateReceived>(a).size(), 1u);
}

TEST(FsmFraming, LargeStreamInBigChunks) {
  // ~6 MB of UPDATEs in 64 KiB chunks, the way a full table arrives.
  Fsm f = in_established();
  std::vector<uint8_t> stream;
  size_t n_updates = 0;
  for (size_t i = 0; stream.size() < 6'000'000; ++i, ++n_updates) {
    auto u = make_update(40 + (i * 37) % 4000, static_cast<uint8_t>(i));
    stream.insert(stream.end(), u.begin(), u.end());
  }
  size_t got = 0, bytes = 0;
  for (size_t pos = 0; pos < stream.size(); pos += 65536) {
    size_t n = std::min<size_t>(65536, stream.size() - pos);
    Actions a = f.handle(ev::BytesReceived{std::span<const uint8_t>(stream).subspan(pos, n)});
    for (auto* u : find_actions<act::UpdateReceived>(a)) {
      ++got;
      bytes += u->body.size() + wire::kHeaderLen;
    }
  }
  EXPECT_EQ(got, n_updates);
  EXPECT_EQ(bytes, stream.size());
  EXPECT_EQ(f.state(), State::Established);
}

// ============================== OPEN validation ==============================

wire::Notification open_rejection(const std::vector<uint8_t>& open_msg, Config c = make_config()) {
  Fsm f = in_opensent(std::move(c));
  Actions a = feed(f, open_msg);
  EXPECT_EQ(f.state(), State::Idle);
  EXPECT_EQ(find_action<act::OpenReceived>(a), nullptr);
  EXPECT_TRUE(f.timer_armed(Timer::IdleHold));
  return sent_notification(a);
}

TEST(FsmOpen, UnsupportedVersion) {
  std::vector<uint8_t> m = wire::encode_open(make_peer_open());
  m[19] = 3;
  wire::Notification n = open_rejection(m);
  EXPECT_EQ(notif_str(n), "2/1");
  EXPECT_EQ(n.data, (std::vector<uint8_t>{0, 4}));  // largest supported version
}

TEST(FsmOpen, BadPeerAs) {
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(65099)))), "2/2");
}

TEST(FsmOpen, BadPeerAsZero) {
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(0)))), "2/2");
}

TEST(FsmOpen, FourOctetPeerAs) {
  Config c = make_config();
  c.remote_as = 4200000001u;
  Fsm f = in_established(c, make_peer_open(4200000001u));
  EXPECT_EQ(f.negotiated()->peer_as, 4200000001u);
  EXPECT_EQ(f.negotiated()->peer_open.my_as, 23456);

  // The same peer without the 4-octet capability shows AS_TRANS: Bad Peer AS.
  wire::Open o = make_peer_open(4200000001u);
  o.caps.four_octet_as.reset();
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(o), c)), "2/2");

  // A 4-octet capability that disagrees with the configured AS.
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(4200000002u)), c)), "2/2");
}

TEST(FsmOpen, TwoOctetPeerWithoutCapability) {
  wire::Open o = make_peer_open();
  o.caps.four_octet_as.reset();
  Fsm f = in_established(make_config(), o);
  EXPECT_EQ(f.negotiated()->peer_as, kRemoteAs);
  EXPECT_FALSE(f.negotiated()->four_octet_as);
  EXPECT_FALSE(f.codec().four_octet_as);
}

TEST(FsmOpen, UnacceptableHoldTime) {
  for (uint16_t hold : {1, 2})
    EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(kRemoteAs, hold)))), "2/6");
  Config c = make_config();
  c.min_hold_time = 10;
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(kRemoteAs, 9)), c)), "2/6");
  Fsm f = in_opensent(c);
  feed(f, wire::encode_open(make_peer_open(kRemoteAs, 10)));
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpen, BadBgpIdentifierZero) {
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(kRemoteAs, 90, 0)))), "2/3");
}

TEST(FsmOpen, BadBgpIdentifierSameAsOursInIbgp) {
  Config c = make_config();
  c.remote_as = kLocalAs;
  EXPECT_EQ(notif_str(open_rejection(wire::encode_open(make_peer_open(kLocalAs, 90, kLocalId)), c)),
            "2/3");
  // A different identifier is fine in iBGP.
  Fsm f = in_opensent(c);
  feed(f, wire::encode_open(make_peer_open(kLocalAs, 90, kRemoteId)));
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpen, SameIdentifierAllowedInEbgp) {  // RFC 6286 §2.2
  Fsm f = in_opensent();
  feed(f, wire::encode_open(make_peer_open(kRemoteAs, 90, kLocalId)));
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpen, MalformedOptionalParameters) {
  std::vector<uint8_t> m = wire::encode_open(make_peer_open());
  m[28] = static_cast<uint8_t>(m[28] + 1);  // optional parameters length one too large
  EXPECT_EQ(open_rejection(m).code, wire::err::kOpen);
}

TEST(FsmOpen, MalformedCapability) {
  // One optional parameter (type 2) holding a 4-octet AS capability of length 2.
  std::vector<uint8_t> body = {4, 0xfd, 0xea, 0, 90, 2, 2, 2, 2, 6, 2, 4, 65, 2, 0, 1};
  wire::Notification n = open_rejection(raw_message(1, body));
  EXPECT_EQ(n.code, wire::err::kOpen);
}

TEST(FsmOpen, ReasonExplainsRejection) {
  Fsm f = in_opensent();
  Actions a = feed(f, wire::encode_open(make_peer_open(65099)));
  auto* sc = find_action<act::StateChanged>(a);
  ASSERT_NE(sc, nullptr);
  EXPECT_NE(sc->reason.find("65099"), std::string::npos) << sc->reason;
  EXPECT_NE(sc->reason.find("65002"), std::string::npos) << sc->reason;
}

// ============================== our OPEN ==============================

wire::Open sent_open(Config c) {
  Fsm f = in_connect(std::move(c));
  Actions a = f.handle(ev::TcpConnected{});
  for (const auto& x : a) {
    auto* s = std::get_if<act::Send>(&x);
    if (s && s->type == wire::MessageType::Open) {
      auto o = wire::decode_open(std::span<const uint8_t>(s->bytes).subspan(wire::kHeaderLen));
      EXPECT_TRUE(o.ok());
      if (o) return o.value();
    }
  }
  ADD_FAILURE() << "no OPEN sent";
  return {};
}

TEST(FsmOurOpen, CarriesConfiguredCapabilities) {
  Config c = make_config();
  wire::Open o = sent_open(c);
  EXPECT_EQ(o.version, 4);
  EXPECT_EQ(o.my_as, kLocalAs);
  EXPECT_EQ(o.hold_time, 90);
  EXPECT_EQ(o.bgp_id, kLocalId);
  EXPECT_EQ(o.caps.multiprotocol, (std::vector<wire::Family>{wire::kIpv4Unicast, wire::kIpv6Unicast}));
  EXPECT_EQ(o.caps.four_octet_as, std::optional<uint32_t>(kLocalAs));
  EXPECT_TRUE(o.caps.route_refresh);
  EXPECT_TRUE(o.caps.enhanced_route_refresh);
  EXPECT_TRUE(o.caps.extended_message);
  EXPECT_FALSE(o.caps.graceful_restart);
  EXPECT_FALSE(o.caps.llgr);
  EXPECT_FALSE(o.caps.add_path);
}

TEST(FsmOurOpen, OptionalCapabilities) {
  Config c = make_config();
  c.route_refresh = false;
  c.enhanced_route_refresh = false;
  c.extended_message = false;
  c.hold_time = 30;
  c.graceful_restart = wire::GracefulRestartCap{true, true, 120, {{wire::kIpv4Unicast, true}}};
  c.llgr = wire::LlgrCap{{{wire::kIpv4Unicast, true, 3600}}};
  c.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Receive}}};
  wire::Open o = sent_open(c);
  EXPECT_EQ(o.hold_time, 30);
  EXPECT_FALSE(o.caps.route_refresh);
  EXPECT_FALSE(o.caps.enhanced_route_refresh);
  EXPECT_FALSE(o.caps.extended_message);
  EXPECT_EQ(o.caps.graceful_restart, c.graceful_restart);
  EXPECT_EQ(o.caps.llgr, c.llgr);
  EXPECT_EQ(o.caps.add_path, c.add_path);
}

TEST(FsmOurOpen, AsTransForFourOctetAs) {
  Config c = make_config();
  c.local_as = 4200000000u;
  wire::Open o = sent_open(c);
  EXPECT_EQ(o.my_as, 23456);
  EXPECT_EQ(o.caps.four_octet_as, std::optional<uint32_t>(4200000000u));
}

TEST(FsmOurOpen, ReconfigureTakesEffectAtNextOpen) {
  Fsm f = in_connect();
  Config c = make_config();
  c.hold_time = 45;
  f.reconfigure(c);
  Actions a = f.handle(ev::TcpConnected{});
  auto* s = find_action<act::Send>(a);
  ASSERT_NE(s, nullptr);
  auto o = wire::decode_open(std::span<const uint8_t>(s->bytes).subspan(wire::kHeaderLen));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->hold_time, 45);
}

TEST(FsmOurOpen, ReconfigureAfterOurOpenDoesNotSkewNegotiation) {
  Fsm f = in_opensent();  // advertised hold 90, IPv4+IPv6, extended message
  Config c = make_config();
  c.hold_time = 30;
  c.families = {wire::kIpv4Unicast};
  c.extended_message = false;
  f.reconfigure(c);
  feed(f, wire::encode_open(make_peer_open()));
  ASSERT_EQ(f.state(), State::OpenConfirm);
  EXPECT_EQ(f.negotiated()->hold_time, 90);
  EXPECT_EQ(f.negotiated()->families,
            (std::vector<wire::Family>{wire::kIpv4Unicast, wire::kIpv6Unicast}));
  EXPECT_TRUE(f.negotiated()->extended_message);
  EXPECT_EQ(f.local_open().hold_time, 90);
}

// ============================== negotiation ==============================

TEST(FsmNegotiation, FamiliesIntersection) {
  wire::Open peer = make_peer_open();
  peer.caps.multiprotocol = {wire::kIpv6Unicast};
  Fsm f = in_established(make_config(), peer);
  EXPECT_EQ(f.negotiated()->families, std::vector<wire::Family>{wire::kIpv6Unicast});
  EXPECT_TRUE(f.negotiated()->has_family(wire::kIpv6Unicast));
  EXPECT_FALSE(f.negotiated()->has_family(wire::kIpv4Unicast));
}

TEST(FsmNegotiation, ImplicitIpv4WhenPeerSendsNoMultiprotocol) {
  wire::Open peer = make_peer_open();
  peer.caps.multiprotocol.clear();
  Fsm f = in_established(make_config(), peer);
  EXPECT_EQ(f.negotiated()->families, std::vector<wire::Family>{wire::kIpv4Unicast});

  Config v6only = make_config();
  v6only.families = {wire::kIpv6Unicast};
  Fsm g = in_established(v6only, peer);
  EXPECT_TRUE(g.negotiated()->families.empty());
}

TEST(FsmNegotiation, ImplicitIpv4WhenWeSendNoMultiprotocol) {
  Config c = make_config();
  c.families.clear();
  EXPECT_TRUE(sent_open(c).caps.multiprotocol.empty());
  Fsm f = in_established(c);
  EXPECT_EQ(f.negotiated()->families, std::vector<wire::Family>{wire::kIpv4Unicast});
}

TEST(FsmNegotiation, NoImplicitIpv4WhenPeerAnnouncesOnlyUnknownFamilies) {
  // MP capability for L2VPN/EVPN (25/70) only: the codec keeps it as unknown.
  std::vector<uint8_t> caps = {2, 12, 1, 4, 0, 25, 0, 70, 65, 4, 0, 0, 0xfd, 0xea};
  std::vector<uint8_t> body = {4, 0xfd, 0xea, 0, 90, 2, 2, 2, 2, static_cast<uint8_t>(caps.size())};
  body.insert(body.end(), caps.begin(), caps.end());
  Fsm f = in_opensent();
  feed(f, raw_message(1, body));
  ASSERT_EQ(f.state(), State::OpenConfirm);
  EXPECT_TRUE(f.negotiated()->families.empty());
}

TEST(FsmNegotiation, HoldTimeIsTheMinimum) {
  {
    Fsm f = in_opensent();
    Actions a = feed(f, wire::encode_open(make_peer_open(kRemoteAs, 30)));
    EXPECT_EQ(render(a), (Strings{"OpenReceived", "Send KEEPALIVE", "Arm Hold 30",
                                  "Arm Keepalive 10", "State OpenSent->OpenConfirm"}));
    EXPECT_EQ(f.negotiated()->hold_time, 30);
    EXPECT_EQ(f.negotiated()->keepalive, 10);
  }
  {
    Fsm f = in_established(make_config(), make_peer_open(kRemoteAs, 180));
    EXPECT_EQ(f.negotiated()->hold_time, 90);
    EXPECT_EQ(f.negotiated()->keepalive, 30);
  }
}

TEST(FsmNegotiation, HoldTimeZeroDisablesTimers) {
  Fsm f = in_opensent();
  Actions a = feed(f, wire::encode_open(make_peer_open(kRemoteAs, 0)));
  EXPECT_EQ(render(a), (Strings{"OpenReceived", "Send KEEPALIVE", "Cancel Hold",
                                "State OpenSent->OpenConfirm"}));
  EXPECT_EQ(render(feed(f, kKeepalive)), (Strings{"State OpenConfirm->Established", "Established"}));
  EXPECT_TRUE(feed(f, kKeepalive).empty());
  EXPECT_EQ(render(feed(f, make_update(4))), (Strings{"Update 4"}));
  EXPECT_FALSE(f.timer_armed(Timer::Hold));
  EXPECT_FALSE(f.timer_armed(Timer::Keepalive));
  EXPECT_TRUE(f.handle(ev::TimerExpired{Timer::Keepalive}).empty());
  EXPECT_TRUE(f.handle(ev::TimerExpired{Timer::Hold}).empty());
  EXPECT_EQ(f.state(), State::Established);

  // Our side configured with 0: same.
  Config c = make_config();
  c.hold_time = 0;
  Fsm g = in_established(c);
  EXPECT_EQ(g.negotiated()->hold_time, 0);
  EXPECT_FALSE(g.timer_armed(Timer::Keepalive));
}

TEST(FsmNegotiation, BooleanCapabilities) {
  {
    Fsm f = in_established();
    const Negotiated& n = *f.negotiated();
    EXPECT_TRUE(n.four_octet_as);
    EXPECT_TRUE(n.route_refresh);
    EXPECT_TRUE(n.enhanced_route_refresh);
    EXPECT_TRUE(n.extended_message);
  }
  {
    wire::Open peer = make_peer_open();
    peer.caps.route_refresh = false;
    peer.caps.enhanced_route_refresh = false;
    peer.caps.extended_message = false;
    Fsm f = in_established(make_config(), peer);
    const Negotiated& n = *f.negotiated();
    EXPECT_FALSE(n.route_refresh);
    EXPECT_FALSE(n.enhanced_route_refresh);
    EXPECT_FALSE(n.extended_message);
  }
  {
    Config c = make_config();
    c.route_refresh = false;
    c.enhanced_route_refresh = false;
    Fsm f = in_established(c);
    EXPECT_FALSE(f.negotiated()->route_refresh);
    EXPECT_FALSE(f.negotiated()->enhanced_route_refresh);
    // We did not advertise route refresh: a ROUTE-REFRESH is ignored.
    EXPECT_EQ(render(feed(f, route_refresh_msg())), (Strings{"Arm Hold 90"}));
  }
}

TEST(FsmNegotiation, PeerGracefulRestartAndLlgrAsReceived) {
  wire::Open peer = make_peer_open();
  peer.caps.graceful_restart =
      wire::GracefulRestartCap{false, true, 90, {{wire::kIpv4Unicast, true}, {wire::kIpv6Unicast, false}}};
  peer.caps.llgr = wire::LlgrCap{{{wire::kIpv4Unicast, false, 86400}}};
  Fsm f = in_established(make_config(), peer);
  EXPECT_EQ(f.negotiated()->peer_graceful_restart, peer.caps.graceful_restart);
  EXPECT_EQ(f.negotiated()->peer_llgr, peer.caps.llgr);
  EXPECT_EQ(f.negotiated()->peer_open, peer);

  Fsm g = in_established();
  EXPECT_FALSE(g.negotiated()->peer_graceful_restart);
  EXPECT_FALSE(g.negotiated()->peer_llgr);
}

TEST(FsmNegotiation, AddPathReceive) {
  Config c = make_config();
  c.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Receive},
                                 {wire::kIpv6Unicast, wire::AddPathCap::Both}}};
  wire::Open peer = make_peer_open();
  peer.caps.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Send},
                                         {wire::kIpv6Unicast, wire::AddPathCap::Receive}}};
  Fsm f = in_established(c, peer);
  EXPECT_EQ(f.negotiated()->add_path_rx, std::vector<wire::Family>{wire::kIpv4Unicast});
  EXPECT_TRUE(f.codec().add_path_rx_ipv4);
  EXPECT_FALSE(f.codec().add_path_rx_ipv6);

  peer.caps.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Both},
                                         {wire::kIpv6Unicast, wire::AddPathCap::Both}}};
  Fsm g = in_established(c, peer);
  EXPECT_EQ(g.negotiated()->add_path_rx,
            (std::vector<wire::Family>{wire::kIpv4Unicast, wire::kIpv6Unicast}));

  // We advertise Send only for IPv4: the peer's Send does not make us receive.
  c.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Send}}};
  Fsm h = in_established(c, peer);
  EXPECT_TRUE(h.negotiated()->add_path_rx.empty());

  // No ADD-PATH from the peer.
  c.add_path = wire::AddPathCap{{{wire::kIpv4Unicast, wire::AddPathCap::Both}}};
  Fsm k = in_established(c);
  EXPECT_TRUE(k.negotiated()->add_path_rx.empty());
}

TEST(FsmNegotiation, CodecOptions) {
  EXPECT_TRUE(Fsm(make_config()).codec().four_octet_as);  // defaults before
  Fsm f = in_established();
  wire::CodecOptions o = f.codec();
  EXPECT_TRUE(o.four_octet_as);
  EXPECT_TRUE(o.extended_message);
  EXPECT_TRUE(o.ebgp);
  Config ibgp = make_config();
  ibgp.remote_as = kLocalAs;
  Fsm g = in_established(ibgp, make_peer_open(kLocalAs));
  EXPECT_FALSE(g.codec().ebgp);
  EXPECT_FALSE(g.negotiated()->codec(false).ebgp);
}

TEST(FsmNegotiation, EstablishedCarriesNegotiation) {
  Fsm f = in_openconfirm();
  Actions a = feed(f, kKeepalive);
  auto* e = find_action<act::Established>(a);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->negotiated.peer_router_id, kRemoteId);
  EXPECT_EQ(e->negotiated.families, f.negotiated()->families);
  EXPECT_EQ(e->negotiated.hold_time, 90);
}

// ============================== IdleHold backoff ==============================

uint32_t idle_hold_armed(const Actions& as) {
  for (auto* t : find_actions<act::ArmTimer>(as))
    if (t->timer == Timer::IdleHold) return t->seconds;
  ADD_FAILURE() << "IdleHold not armed";
  return 0;
}

TEST(FsmIdleHold, ExponentialBackoffCappedAndReset) {
  Fsm f(make_config());
  std::vector<uint32_t> delays;
  f.handle(ev::ManualStart{});
  for (int i = 0; i < 7; ++i) {
    f.handle(ev::TcpConnected{});
    delays.push_back(idle_hold_armed(f.handle(ev::TimerExpired{Timer::Hold})));
    f.handle(ev::TimerExpired{Timer::IdleHold});
  }
  EXPECT_EQ(delays, (std::vector<uint32_t>{5, 10, 20, 40, 80, 120, 120}));
  EXPECT_GE(f.connect_retry_counter(), 7u);
  // Reaching Established resets the backoff.
  f.handle(ev::TcpConnected{});
  feed(f, cat({wire::encode_open(make_peer_open()), kKeepalive}));
  ASSERT_EQ(f.state(), State::Established);
  EXPECT_EQ(f.connect_retry_counter(), 0u);
  EXPECT_EQ(idle_hold_armed(f.handle(ev::TcpClosed{})), 5u);
}

TEST(FsmIdleHold, ManualStartResetsBackoff) {
  Fsm f = in_idle_holding();
  EXPECT_EQ(f.next_idle_hold_time(), 10u);
  f.handle(ev::ManualStart{});
  EXPECT_EQ(f.next_idle_hold_time(), 5u);
}

TEST(FsmIdleHold, LargeConfiguredValueIsTheCap) {
  Config c = make_config();
  c.idle_hold_time = 300;
  Fsm f = in_idle_holding(c);
  EXPECT_EQ(f.next_idle_hold_time(), 300u);
}

TEST(FsmIdleHold, ManualStopDoesNotArm) {
  for (Fsm f : {in_connect(), in_active(), in_opensent(), in_openconfirm(), in_established()}) {
    f.handle(ev::ManualStop{});
    EXPECT_EQ(f.state(), State::Idle);
    EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
    EXPECT_FALSE(f.timer_armed(Timer::Hold));
    EXPECT_FALSE(f.timer_armed(Timer::Keepalive));
    EXPECT_FALSE(f.timer_armed(Timer::ConnectRetry));
  }
}

// ============================== misc ==============================

TEST(FsmMisc, ShutdownWithoutReasonHasNoData) {
  Fsm f = in_established();
  EXPECT_TRUE(sent_notification(f.handle(ev::ManualStop{})).data.empty());
}

TEST(FsmMisc, NotificationSentMatchesBytes) {
  Fsm f = in_established();
  Actions a = f.handle(ev::TimerExpired{Timer::Hold});
  auto* ns = find_action<act::NotificationSent>(a);
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->notification, sent_notification(a));
}

TEST(FsmMisc, SessionDownReasonForTransportLoss) {
  Fsm f = in_established();
  Actions a = f.handle(ev::TcpClosed{});
  auto* d = find_action<act::SessionDown>(a);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->notification_involved);
  EXPECT_NE(d->reason.find("closed"), std::string::npos);
}

TEST(FsmMisc, ToStrings) {
  EXPECT_STREQ(to_string(State::OpenConfirm), "OpenConfirm");
  EXPECT_STREQ(to_string(State::Established), "Established");
  EXPECT_STREQ(to_string(Timer::IdleHold), "IdleHold");
  EXPECT_STREQ(to_string(Timer::ConnectRetry), "ConnectRetry");
}

// ============================== collision helper ==============================

TEST(FsmCollision, HigherIdentifierKeepsItsConnection) {
  EXPECT_TRUE(keep_outgoing_on_collision(0x0a000002, 0x0a000001));
  EXPECT_FALSE(keep_outgoing_on_collision(0x0a000001, 0x0a000002));
  // Compared as unsigned host-order integers, not signed.
  EXPECT_TRUE(keep_outgoing_on_collision(0xc0000001, 0x0a000001));
  EXPECT_FALSE(keep_outgoing_on_collision(0x0a000001, 0xc0000001));
}

TEST(FsmCollision, EqualIdentifiersTieBreakOnAs) {  // RFC 6286 §2.3
  EXPECT_TRUE(keep_outgoing_on_collision(0x01010101, 0x01010101, 65002, 65001));
  EXPECT_FALSE(keep_outgoing_on_collision(0x01010101, 0x01010101, 65001, 65002));
  EXPECT_TRUE(keep_outgoing_on_collision(0x02020202, 0x01010101, 65001, 65002));
}

}  // namespace
}  // namespace tandem::fsm::test

namespace tandem::fsm::test {
namespace {

// A shadow (restore_established) runs no timers; once it becomes the live session
// (takeover) resume_timers() starts Hold and Keepalive at the negotiated values.
TEST(FsmShadow, ResumeTimersAfterRestore) {
  Fsm idle(make_config());
  EXPECT_TRUE(idle.resume_timers().empty());  // not Established: nothing
  Fsm f(make_config());
  std::string why;
  wire::Open local = make_peer_open(65000, 90, 0x01020304);
  ASSERT_TRUE(f.restore_established(local, make_peer_open(kRemoteAs, 60), 120, why)) << why;
  EXPECT_EQ(f.state(), State::Established);
  EXPECT_FALSE(f.timer_armed(Timer::Hold));
  auto as = f.resume_timers();
  auto arms = find_actions<act::ArmTimer>(as);
  ASSERT_EQ(arms.size(), 2u);
  EXPECT_EQ(arms[0]->timer, Timer::Hold);
  EXPECT_EQ(arms[0]->seconds, 60u);  // the smaller of 90 and the peer's 60
  EXPECT_EQ(arms[1]->timer, Timer::Keepalive);
  EXPECT_EQ(arms[1]->seconds, 20u);
  EXPECT_TRUE(f.timer_armed(Timer::Hold));
  // Hold time 0 negotiated: no timers at all.
  Fsm z(make_config());
  ASSERT_TRUE(z.restore_established(local, make_peer_open(kRemoteAs, 0), 0, why)) << why;
  EXPECT_TRUE(z.resume_timers().empty());
}

}  // namespace
}  // namespace tandem::fsm::test
