// Header, OPEN + capabilities, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.
#include <gtest/gtest.h>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using test::Bytes;
using test::cat;
using test::u16;
using test::u32;

Bytes header(uint16_t len, uint8_t type) {
  Bytes h(16, 0xFF);
  h.push_back(static_cast<uint8_t>(len >> 8));
  h.push_back(static_cast<uint8_t>(len));
  h.push_back(type);
  return h;
}

// ---- header ----

TEST(Header, Keepalive) {
  auto k = encode_keepalive();
  ASSERT_EQ(k, header(19, 4));
  auto h = decode_header(k, 4096);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->type, MessageType::Keepalive);
  EXPECT_EQ(h->length, 19);
}

TEST(Header, BadMarker) {
  Bytes h = header(19, 4);
  h[3] = 0;
  auto r = decode_header(h, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().action, ErrorAction::SessionReset);
  EXPECT_EQ(r.error().code, err::kHeader);
  EXPECT_EQ(r.error().subcode, err::kConnectionNotSynchronized);
  EXPECT_FALSE(r.error().reason.empty());
}

TEST(Header, BadLength) {
  for (auto [len, type, max] : {std::tuple{18, 4, 4096}, {20, 4, 4096}, {4097, 2, 4096},
                                {22, 2, 4096}, {28, 1, 4096}, {5000, 1, 65535}, {20, 3, 4096}}) {
    auto r = decode_header(header(static_cast<uint16_t>(len), static_cast<uint8_t>(type)),
                           static_cast<size_t>(max));
    ASSERT_FALSE(r.ok()) << len << " " << type;
    EXPECT_EQ(r.error().code, err::kHeader);
    EXPECT_EQ(r.error().subcode, err::kBadMessageLength);
    EXPECT_EQ(r.error().data, u16(static_cast<uint16_t>(len)));
  }
  // Extended messages: an UPDATE of 5000 octets is fine when 65535 is allowed.
  EXPECT_TRUE(decode_header(header(5000, 2), 65535).ok());
}

TEST(Header, BadType) {
  auto r = decode_header(header(19, 9), 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kBadMessageType);
  EXPECT_EQ(r.error().data, Bytes{9});
}

TEST(Header, ShortInput) {
  Bytes h(10, 0xFF);
  auto r = decode_header(h, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().action, ErrorAction::SessionReset);
}

TEST(MessageType, Names) {
  EXPECT_STREQ(to_string(MessageType::Update), "UPDATE");
  EXPECT_STREQ(to_string(MessageType::RouteRefresh), "ROUTE-REFRESH");
}

// ---- OPEN ----

Capabilities full_caps() {
  Capabilities c;
  c.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  c.four_octet_as = 4200000001u;
  c.route_refresh = true;
  c.enhanced_route_refresh = true;
  c.extended_message = true;
  GracefulRestartCap gr;
  gr.restart_state = true;
  gr.notification = true;
  gr.restart_time = 300;
  gr.families = {{kIpv4Unicast, true}, {kIpv6Unicast, false}};
  c.graceful_restart = gr;
  LlgrCap llgr;
  llgr.families = {{kIpv4Unicast, true, 86400}, {kIpv6Unicast, false, 0xFFFFFF}};
  c.llgr = llgr;
  AddPathCap ap;
  ap.families = {{kIpv4Unicast, AddPathCap::Receive}, {kIpv6Unicast, AddPathCap::Both}};
  c.add_path = ap;
  c.unknown = {RawCapability{73, {1, 'a', 0}}};
  return c;
}

TEST(Open, HandBuiltBytes) {
  // version 4, AS 65001, hold 90, id 10.0.0.1, one capabilities parameter:
  // MP ipv4-unicast, route refresh, 4-octet AS 65001.
  Bytes caps{1, 4, 0, 1, 0, 1, 2, 0, 65, 4, 0, 0, 0xFD, 0xE9};
  Bytes body = cat({{4}, u16(65001), u16(90), u32(0x0A000001),
                    {static_cast<uint8_t>(caps.size() + 2), 2, static_cast<uint8_t>(caps.size())},
                    caps});
  auto r = decode_open(body);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->version, 4);
  EXPECT_EQ(r->my_as, 65001);
  EXPECT_EQ(r->hold_time, 90);
  EXPECT_EQ(r->bgp_id, 0x0A000001u);
  EXPECT_EQ(r->caps.multiprotocol, std::vector<Family>{kIpv4Unicast});
  EXPECT_TRUE(r->caps.route_refresh);
  EXPECT_EQ(r->caps.four_octet_as, 65001u);
  EXPECT_EQ(r->asn(), 65001u);
  EXPECT_TRUE(r->caps.has_family(kIpv4Unicast));
  EXPECT_FALSE(r->caps.has_family(kIpv6Unicast));
  // And encoding that OPEN gives exactly these bytes back.
  EXPECT_EQ(encode_open(*r), cat({header(static_cast<uint16_t>(19 + body.size()), 1), body}));
}

TEST(Open, RoundTripAllCapabilities) {
  Open o;
  o.hold_time = 180;
  o.bgp_id = 0xC0000201;
  o.caps = full_caps();
  auto bytes = encode_open(o);
  ASSERT_TRUE(decode_header(bytes, 4096).ok());
  auto r = decode_open(test::body_of(bytes));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->my_as, kAsTrans);  // 4200000001 does not fit 2 octets
  EXPECT_EQ(r->asn(), 4200000001u);
  Open expected = o;
  expected.my_as = static_cast<uint16_t>(kAsTrans);
  EXPECT_EQ(*r, expected);
}

TEST(Open, MyAsFromSmallFourOctetAs) {
  Open o;
  o.bgp_id = 1;
  o.caps.four_octet_as = 65010;
  auto r = decode_open(test::body_of(encode_open(o)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->my_as, 65010);
}

TEST(Open, ExtendedOptionalParametersRfc9072) {
  Open o;
  o.my_as = 65001;
  o.bgp_id = 7;
  // Enough unknown capabilities to exceed 255 octets of optional parameters.
  for (uint8_t i = 0; i < 40; ++i) o.caps.unknown.push_back(RawCapability{200, Bytes(10, i)});
  auto bytes = encode_open(o);
  auto body = test::body_of(bytes);
  EXPECT_EQ(body[9], 255);   // non-extended length
  EXPECT_EQ(body[10], 255);  // non-extended parameter type
  auto r = decode_open(body);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(*r, o);
}

TEST(Open, ExtendedOptionalParametersHandBuilt) {
  // RFC 9072 form: 255, 255, 2-octet length, parameters with 2-octet lengths.
  Bytes caps{65, 4, 0, 0, 0xFD, 0xE9};
  Bytes params = cat({{2}, u16(static_cast<uint16_t>(caps.size())), caps});
  Bytes body = cat({{4}, u16(65001), u16(90), u32(1), {255, 255},
                    u16(static_cast<uint16_t>(params.size())), params});
  auto r = decode_open(body);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->caps.four_octet_as, 65001u);
}

TEST(Open, MultipleCapabilityParameters) {
  // Three capability parameters (8 + 4 + 2 octets), the last one empty.
  Bytes body = cat({{4}, u16(65001), u16(90), u32(1), {14}, {2, 6, 65, 4, 0, 0, 0xFD, 0xE9},
                    {2, 2, 2, 0}, {2, 0}});
  auto r = decode_open(body);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_TRUE(r->caps.route_refresh);
  EXPECT_EQ(r->caps.four_octet_as, 65001u);
  // Malformed 4-octet AS capability (length 2): session reset.
  body = cat({{4}, u16(65001), u16(90), u32(1), {4}, {2, 2, 65, 0}});
  EXPECT_FALSE(decode_open(body).ok());
}

TEST(Open, Errors) {
  auto base = [](uint8_t version, uint16_t as, uint16_t hold, uint32_t id) {
    return cat({{version}, u16(as), u16(hold), u32(id), {0}});
  };
  auto r = decode_open(base(3, 65001, 90, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, err::kOpen);
  EXPECT_EQ(r.error().subcode, err::kUnsupportedVersion);
  EXPECT_EQ(r.error().data, (Bytes{0, 4}));

  r = decode_open(base(4, 65001, 2, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kUnacceptableHoldTime);
  EXPECT_TRUE(decode_open(base(4, 65001, 0, 1)).ok());  // hold time 0 is allowed

  r = decode_open(base(4, 65001, 90, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kBadBgpIdentifier);

  r = decode_open(base(4, 0, 90, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kBadPeerAs);

  // Optional parameter of an unsupported type (1, authentication).
  r = decode_open(cat({base(4, 1, 90, 1), {}}));
  Bytes with_auth = cat({{4}, u16(1), u16(90), u32(1), {3}, {1, 1, 0}});
  r = decode_open(with_auth);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kUnsupportedOptionalParameter);

  // Optional parameters length disagreeing with the body.
  Bytes bad_len = cat({{4}, u16(1), u16(90), u32(1), {5}, {2, 0}});
  r = decode_open(bad_len);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, err::kOpen);
  EXPECT_FALSE(r.error().reason.empty());

  // Truncated.
  r = decode_open(Bytes{4, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().action, ErrorAction::SessionReset);
}

TEST(Capabilities, DecodeEach) {
  // GR: R+N bits, 120 s, ipv4 F; ipv6 no F; plus an unknown AFI (skipped).
  Bytes gr{64, 14, 0xC0, 120, 0, 1, 1, 0x80, 0, 2, 1, 0x00, 0, 25, 70, 0};
  Bytes llgr{71, 7, 0, 2, 1, 0x80, 0x01, 0x51, 0x80};
  Bytes addpath{69, 8, 0, 1, 1, 1, 0, 2, 1, 9};  // second tuple has an invalid mode
  Bytes misc{2, 0, 128, 0, 70, 0, 6, 0, 1, 4, 0, 25, 0, 70};  // RR, cisco RR, ERR, ext msg, MP l2vpn
  Bytes list = cat({gr, llgr, addpath, misc});
  Bytes params = cat({{2, static_cast<uint8_t>(list.size())}, list});
  auto r = decode_capabilities(params, false);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  ASSERT_TRUE(r->graceful_restart);
  EXPECT_TRUE(r->graceful_restart->restart_state);
  EXPECT_TRUE(r->graceful_restart->notification);
  EXPECT_EQ(r->graceful_restart->restart_time, 120);
  ASSERT_EQ(r->graceful_restart->families.size(), 2u);
  EXPECT_TRUE(r->graceful_restart->families[0].forwarding_state);
  EXPECT_EQ(r->graceful_restart->families[1].family, kIpv6Unicast);
  ASSERT_TRUE(r->llgr);
  ASSERT_EQ(r->llgr->families.size(), 1u);
  EXPECT_EQ(r->llgr->families[0].stale_time, 86400u);
  EXPECT_TRUE(r->llgr->families[0].forwarding_state);
  ASSERT_TRUE(r->add_path);
  ASSERT_EQ(r->add_path->families.size(), 1u);
  EXPECT_EQ(r->add_path->families[0].mode, AddPathCap::Receive);
  EXPECT_TRUE(r->route_refresh);
  EXPECT_TRUE(r->enhanced_route_refresh);
  EXPECT_TRUE(r->extended_message);
  EXPECT_TRUE(r->multiprotocol.empty());
  ASSERT_EQ(r->unknown.size(), 1u);  // MP for l2vpn (25/70) is kept as raw
  EXPECT_EQ(r->unknown[0].code, cap::kMultiprotocol);
}

TEST(Capabilities, Malformed) {
  for (Bytes list : {Bytes{1, 3, 0, 1, 0}, Bytes{65, 3, 0, 0, 1}, Bytes{64, 1, 0},
                     Bytes{64, 5, 0, 0, 0, 1, 1}, Bytes{71, 6, 0, 1, 1, 0, 0, 0},
                     Bytes{69, 3, 0, 1, 1}, Bytes{2, 5, 0}}) {
    Bytes params = cat({{2, static_cast<uint8_t>(list.size())}, list});
    auto r = decode_capabilities(params, false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, err::kOpen);
    EXPECT_FALSE(r.error().reason.empty());
  }
}

TEST(Capabilities, EncodeBytes) {
  Capabilities c;
  c.multiprotocol = {kIpv6Unicast};
  c.route_refresh = true;
  c.four_octet_as = 65536;
  EXPECT_EQ(encode_capabilities(c), (Bytes{2, 14, 1, 4, 0, 2, 0, 1, 2, 0, 65, 4, 0, 1, 0, 0}));
  EXPECT_TRUE(encode_capabilities(Capabilities{}).empty());
}

TEST(Capabilities, EncodeSplitsLongLists) {
  Capabilities c;
  for (int i = 0; i < 30; ++i) c.unknown.push_back(RawCapability{200, Bytes(20, 1)});
  auto params = encode_capabilities(c);
  auto r = decode_capabilities(params, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, c);
  EXPECT_GT(params.size(), 255u);
}

// ---- NOTIFICATION ----

TEST(Notification, RoundTripAndBytes) {
  Notification n{err::kUpdate, err::kMalformedAsPath, {1, 2, 3}};
  auto bytes = encode_notification(n);
  EXPECT_EQ(bytes, cat({header(24, 3), {3, 11, 1, 2, 3}}));
  auto r = decode_notification(test::body_of(bytes));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, n);
}

TEST(Notification, TooShort) {
  auto r = decode_notification(Bytes{6});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, err::kHeader);
  EXPECT_EQ(r.error().subcode, err::kBadMessageLength);
}

TEST(Notification, Describe) {
  auto n = make_shutdown_notification(err::kAdminShutdown, "maintenance");
  EXPECT_EQ(n.code, err::kCease);
  EXPECT_EQ(n.data, cat({{11}, Bytes{'m', 'a', 'i', 'n', 't', 'e', 'n', 'a', 'n', 'c', 'e'}}));
  EXPECT_EQ(n.describe(), "Cease/Administrative Shutdown: maintenance");
  Notification u{err::kUpdate, err::kMalformedAsPath, {}};
  EXPECT_EQ(u.describe(), "UPDATE Message Error/Malformed AS_PATH");
  Notification odd{42, 7, {0xab}};
  EXPECT_NE(odd.describe().find("42"), std::string::npos);
  EXPECT_EQ(describe_error_code(err::kUpdate, err::kMalformedAsPath),
            "UPDATE Message Error / Malformed AS_PATH");
  EXPECT_EQ(describe_error_code(err::kCease, err::kHardReset), "Cease / Hard Reset");
  // RFC 8538 §3.1: a Hard Reset shows the NOTIFICATION it wraps.
  Notification hard{err::kCease, err::kHardReset, cat({{err::kCease, err::kAdminShutdown, 3}, Bytes{'b', 'y', 'e'}})};
  EXPECT_EQ(hard.describe(), "Cease/Hard Reset (Cease/Administrative Shutdown: bye)");
  // A shutdown communication with a length longer than the data is shown without text.
  Notification bad{err::kCease, err::kAdminShutdown, {9, 'x'}};
  EXPECT_FALSE(bad.describe().empty());
}

TEST(Notification, ShutdownTextTruncatedTo255AtUtf8Boundary) {
  std::string text(254, 'a');
  text += "\xC3\xA9";  // 2-octet UTF-8 sequence straddling octet 255
  auto n = make_shutdown_notification(err::kAdminReset, text);
  EXPECT_EQ(n.data[0], 254);
  EXPECT_EQ(n.data.size(), 255u);
}

TEST(ErrorAction, Names) {
  EXPECT_STREQ(to_string(ErrorAction::SessionReset), "session-reset");
  EXPECT_STREQ(to_string(ErrorAction::TreatAsWithdraw), "treat-as-withdraw");
  EXPECT_STREQ(to_string(ErrorAction::AttributeDiscard), "attribute-discard");
}

// ---- ROUTE-REFRESH ----

TEST(RouteRefresh, RoundTrip) {
  for (auto st : {RouteRefresh::Normal, RouteRefresh::BeginOfRefresh, RouteRefresh::EndOfRefresh}) {
    RouteRefresh rr{kIpv6Unicast, st};
    auto bytes = encode_route_refresh(rr);
    EXPECT_EQ(bytes, cat({header(23, 5), {0, 2, static_cast<uint8_t>(st), 1}}));
    ASSERT_TRUE(decode_header(bytes, 4096).ok());
    auto r = decode_route_refresh(test::body_of(bytes));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, rr);
  }
}

TEST(RouteRefresh, UnknownFamilyAndSubtypeAreNotErrors) {
  auto r = decode_route_refresh(Bytes{0, 25, 7, 70});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(static_cast<unsigned>(r->family.afi), 25u);
  EXPECT_EQ(static_cast<unsigned>(r->subtype), 7u);
}

TEST(RouteRefresh, BadLength) {
  auto r = decode_route_refresh(Bytes{0, 1, 0, 1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().action, ErrorAction::SessionReset);
  EXPECT_EQ(r.error().code, err::kRouteRefresh);
  EXPECT_EQ(r.error().subcode, err::kInvalidMessageLength);
  // RFC 7313 §5: the data is the complete message.
  EXPECT_EQ(r.error().data, cat({header(24, 5), {0, 1, 0, 1, 0}}));
  EXPECT_FALSE(r.error().reason.empty());
  // The header accepts other lengths for ROUTE-REFRESH, leaving this check to the decoder.
  EXPECT_TRUE(decode_header(header(24, 5), 4096).ok());
}

}  // namespace
}  // namespace tandem::wire
