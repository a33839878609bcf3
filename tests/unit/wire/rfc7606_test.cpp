// RFC 7606 classification: one test per rule.
#include <gtest/gtest.h>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using namespace test;

const Bytes kNlri{24, 192, 0, 2};

Update expect_ok(const Bytes& body, const CodecOptions& o = ibgp4()) {
  auto r = decode_update(body, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().reason);
  return r.ok() ? r.value() : Update{};
}

void expect_reset(const Bytes& body, uint8_t subcode, const CodecOptions& o = ibgp4()) {
  auto r = decode_update(body, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().action, ErrorAction::SessionReset);
  EXPECT_EQ(r.error().code, err::kUpdate);
  EXPECT_EQ(r.error().subcode, subcode) << r.error().reason;
  EXPECT_FALSE(r.error().reason.empty());
}

void expect_withdraw(const Bytes& body, uint8_t subcode, const CodecOptions& o = ibgp4()) {
  auto u = expect_ok(body, o);
  EXPECT_TRUE(u.treat_as_withdraw);
  EXPECT_EQ(u.treat_as_withdraw_subcode, subcode) << u.treat_as_withdraw_reason;
  EXPECT_FALSE(u.treat_as_withdraw_reason.empty());
  // The NLRI is still reported, so the receiver can withdraw it.
  ASSERT_FALSE(u.announced.empty());
}

void expect_discard(const Bytes& body, uint8_t type, uint8_t subcode,
                    const CodecOptions& o = ibgp4()) {
  auto u = expect_ok(body, o);
  EXPECT_FALSE(u.treat_as_withdraw) << u.treat_as_withdraw_reason;
  ASSERT_EQ(u.discarded.size(), 1u);
  EXPECT_EQ(u.discarded[0].type, type);
  EXPECT_EQ(u.discarded[0].subcode, subcode);
  EXPECT_FALSE(u.discarded[0].reason.empty());
}

Bytes with(const Bytes& extra) { return update_body({}, cat({mandatory4(), extra}), kNlri); }

// §4 / §5.3: section lengths.
TEST(Rfc7606, WithdrawnLengthOverrunResets) {
  expect_reset(Bytes{0, 9, 8, 10, 0, 0}, err::kMalformedAttributeList);
}
TEST(Rfc7606, TotalAttributeLengthOverrunResets) {
  expect_reset(Bytes{0, 0, 0, 30, 0x40, 1, 1, 0}, err::kMalformedAttributeList);
}
TEST(Rfc7606, TooShortBodyResets) { expect_reset(Bytes{0, 0, 0}, err::kMalformedAttributeList); }

TEST(Rfc7606, AttributeLengthOverrunIsTreatAsWithdraw) {
  // A COMMUNITIES attribute claiming 20 octets with only 4 left in the section.
  Bytes attrs = cat({mandatory4(), {0xC0, 8, 20, 0, 0, 0, 1}});
  expect_withdraw(update_body({}, attrs, kNlri), err::kAttributeLengthError);
}
TEST(Rfc7606, TruncatedAttributeHeaderIsTreatAsWithdraw) {
  expect_withdraw(update_body({}, cat({mandatory4(), {0x40, 5}}), kNlri),
                  err::kMalformedAttributeList);
  // Extended length flag with only 3 octets left.
  expect_withdraw(update_body({}, cat({mandatory4(), {0x50, 5, 0}}), kNlri),
                  err::kAttributeLengthError);
}
TEST(Rfc7606, MpReachLengthOverrunResets) {
  Bytes attrs = cat({mandatory4(), {0x90, 14, 0, 50, 0, 2, 1}});
  expect_reset(update_body({}, attrs, {}), err::kAttributeLengthError);
}

// §5.3: NLRI syntax.
TEST(Rfc7606, NlriPrefixTooLongResets) {
  expect_reset(update_body({}, mandatory4(), {33, 1, 2, 3, 4, 5}), err::kInvalidNetworkField);
}
TEST(Rfc7606, NlriOverrunResets) {
  expect_reset(update_body({}, mandatory4(), {24, 1, 2}), err::kInvalidNetworkField);
}
TEST(Rfc7606, WithdrawnPrefixTooLongResets) {
  expect_reset(update_body({40, 1, 2, 3, 4, 5}, {}, {}), err::kInvalidNetworkField);
}
TEST(Rfc7606, MpReachNlriErrorResets) {
  Bytes mp = cat({u16(2), {1, 16}, Bytes(16, 0x20), {0}, {129, 1}});
  expect_reset(update_body({}, cat({origin_attr(), as_path_attr4({1}), mkattr(0x80, 14, mp)}), {}),
               err::kOptionalAttributeError);
}
TEST(Rfc7606, MpUnreachNlriErrorResets) {
  expect_reset(update_body({}, mkattr(0x80, 15, cat({u16(2), {1}, {64, 1}})), {}),
               err::kOptionalAttributeError);
}

// §3g: duplicates.
TEST(Rfc7606, DuplicateAttributeKeepsFirst) {
  auto u2 = expect_ok(with(cat({mkattr(0x80, attr::kMed, u32(5)), mkattr(0x80, attr::kMed, u32(99))})));
  EXPECT_EQ(u2.attrs.med, 5u);
  ASSERT_EQ(u2.discarded.size(), 1u);
  EXPECT_EQ(u2.discarded[0].type, attr::kMed);
  EXPECT_FALSE(u2.treat_as_withdraw);
  // A duplicate ORIGIN too.
  expect_discard(with(origin_attr(2)), attr::kOrigin, err::kMalformedAttributeList);
}
TEST(Rfc7606, DuplicateMpReachResets) {
  Bytes mp = cat({u16(2), {1, 16}, Bytes(16, 0x20), {0}});
  expect_reset(with(cat({mkattr(0x80, 14, mp), mkattr(0x80, 14, mp)})), err::kMalformedAttributeList);
}
TEST(Rfc7606, DuplicateMpUnreachResets) {
  Bytes mp = cat({u16(2), {1}});
  expect_reset(update_body({}, cat({mkattr(0x80, 15, mp), mkattr(0x80, 15, mp)}), {}),
               err::kMalformedAttributeList);
}

// §3d: missing well-known mandatory attributes.
TEST(Rfc7606, MissingOriginIsTreatAsWithdraw) {
  expect_withdraw(update_body({}, cat({as_path_attr4({1}), next_hop_attr()}), kNlri),
                  err::kMissingWellKnownAttribute);
}
TEST(Rfc7606, MissingAsPathIsTreatAsWithdraw) {
  expect_withdraw(update_body({}, cat({origin_attr(), next_hop_attr()}), kNlri),
                  err::kMissingWellKnownAttribute);
}
TEST(Rfc7606, MissingNextHopForIpv4NlriIsTreatAsWithdraw) {
  expect_withdraw(update_body({}, cat({origin_attr(), as_path_attr4({1})}), kNlri),
                  err::kMissingWellKnownAttribute);
}
TEST(Rfc7606, NoAttributesWithNlriIsTreatAsWithdraw) {
  expect_withdraw(update_body({}, {}, kNlri), err::kMissingWellKnownAttribute);
}
TEST(Rfc7606, MissingAttributesWithoutNlriIsFine) {
  auto u = expect_ok(update_body({8, 10}, {}, {}));
  EXPECT_FALSE(u.treat_as_withdraw);
}
TEST(Rfc7606, MpReachNeedsOriginAndAsPathButNotNextHop) {
  Bytes mp = cat({u16(2), {1, 16}, Bytes(16, 0x20), {0}, {16, 0x20, 0x01}});
  auto ok = expect_ok(update_body({}, cat({mkattr(0x80, 14, mp), origin_attr(), as_path_attr4({1})}), {}));
  EXPECT_FALSE(ok.treat_as_withdraw);
  expect_withdraw(update_body({}, cat({mkattr(0x80, 14, mp), origin_attr()}), {}),
                  err::kMissingWellKnownAttribute);
}

// §3a: flags.
TEST(Rfc7606, WellKnownWithOptionalFlagIsTreatAsWithdraw) {
  Bytes attrs = cat({mkattr(0xC0, attr::kOrigin, {0}), as_path_attr4({1}), next_hop_attr()});
  expect_withdraw(update_body({}, attrs, kNlri), err::kAttributeFlagsError);
}
TEST(Rfc7606, MedWithTransitiveFlagIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0xC0, attr::kMed, u32(1))), err::kAttributeFlagsError);
}
TEST(Rfc7606, AggregatorFlagsErrorIsDiscard) {
  expect_discard(with(mkattr(0x40, attr::kAggregator, cat({u32(1), u32(2)}))), attr::kAggregator,
                 err::kAttributeFlagsError);
}
TEST(Rfc7606, AtomicAggregateFlagsErrorIsDiscard) {
  expect_discard(with(mkattr(0xC0, attr::kAtomicAggregate, {})), attr::kAtomicAggregate,
                 err::kAttributeFlagsError);
}
TEST(Rfc7606, MpReachFlagsErrorResets) {
  Bytes mp = cat({u16(2), {1, 16}, Bytes(16, 0x20), {0}});
  expect_reset(with(mkattr(0xC0, 14, mp)), err::kAttributeFlagsError);
}
TEST(Rfc7606, ExtendedLengthFlagIsAccepted) {
  auto u = expect_ok(with(mkattr(0x90, attr::kMed, u32(7))));
  EXPECT_EQ(u.attrs.med, 7u);
  EXPECT_FALSE(u.treat_as_withdraw);
}

// §7.1 ORIGIN.
TEST(Rfc7606, OriginBadLengthIsTreatAsWithdraw) {
  Bytes attrs = cat({mkattr(0x40, 1, {0, 0}), as_path_attr4({1}), next_hop_attr()});
  expect_withdraw(update_body({}, attrs, kNlri), err::kAttributeLengthError);
}
TEST(Rfc7606, OriginBadValueIsTreatAsWithdraw) {
  Bytes attrs = cat({origin_attr(3), as_path_attr4({1}), next_hop_attr()});
  expect_withdraw(update_body({}, attrs, kNlri), err::kInvalidOriginAttribute);
}

// §7.2 AS_PATH.
Bytes with_as_path(const Bytes& value) {
  return update_body({}, cat({origin_attr(), mkattr(0x40, 2, value), next_hop_attr()}), kNlri);
}
TEST(Rfc7606, AsPathSegmentOverrunIsTreatAsWithdraw) {
  expect_withdraw(with_as_path(cat({{2, 3}, u32(1), u32(2)})), err::kMalformedAsPath);
}
TEST(Rfc7606, AsPathSingleTrailingOctetIsTreatAsWithdraw) {
  expect_withdraw(with_as_path(cat({{2, 1}, u32(1), {2}})), err::kMalformedAsPath);
}
TEST(Rfc7606, AsPathZeroLengthSegmentIsTreatAsWithdraw) {
  expect_withdraw(with_as_path({2, 0}), err::kMalformedAsPath);
}
TEST(Rfc7606, AsPathUnknownSegmentTypeIsTreatAsWithdraw) {
  expect_withdraw(with_as_path(cat({{5, 1}, u32(1)})), err::kMalformedAsPath);
}
TEST(Rfc7606, AsPathWithAsZeroIsTreatAsWithdraw) {
  expect_withdraw(with_as_path(cat({{2, 2}, u32(1), u32(0)})), err::kMalformedAsPath);
}
TEST(Rfc7606, EmptyAsPathIsValid) {
  auto u = expect_ok(with_as_path({}));
  EXPECT_FALSE(u.treat_as_withdraw);
  EXPECT_TRUE(u.attrs.has_as_path);
  EXPECT_TRUE(u.attrs.as_path.empty());
}

// §7.3 NEXT_HOP.
TEST(Rfc7606, NextHopBadLengthIsTreatAsWithdraw) {
  Bytes attrs = cat({origin_attr(), as_path_attr4({1}), mkattr(0x40, 3, {1, 2, 3})});
  expect_withdraw(update_body({}, attrs, kNlri), err::kAttributeLengthError);
}
TEST(Rfc7606, NextHopInvalidAddressIsTreatAsWithdraw) {
  for (uint32_t bad : {0u, 0x7F000001u, 0xE0000001u, 0xFFFFFFFFu}) {
    Bytes attrs = cat({origin_attr(), as_path_attr4({1}), next_hop_attr(bad)});
    expect_withdraw(update_body({}, attrs, kNlri), err::kInvalidNextHopAttribute);
  }
}

// §7.4 MED, §7.5 LOCAL_PREF.
TEST(Rfc7606, MedBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0x80, 4, {1, 2})), err::kAttributeLengthError);
}
TEST(Rfc7606, LocalPrefBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0x40, 5, {1, 2, 3, 4, 5})), err::kAttributeLengthError);
}
TEST(Rfc7606, LocalPrefFromEbgpIsDiscarded) {
  CodecOptions ebgp;
  ebgp.ebgp = true;
  auto u = expect_ok(with(mkattr(0x40, 5, u32(300))), ebgp);
  EXPECT_FALSE(u.attrs.local_pref);
  ASSERT_EQ(u.discarded.size(), 1u);
  EXPECT_EQ(u.discarded[0].type, attr::kLocalPref);
  EXPECT_FALSE(u.discarded[0].reason.empty());
  // From iBGP it is kept.
  EXPECT_EQ(expect_ok(with(mkattr(0x40, 5, u32(300)))).attrs.local_pref, 300u);
}

// §7.6 ATOMIC_AGGREGATE, §7.7 AGGREGATOR.
TEST(Rfc7606, AtomicAggregateBadLengthIsDiscard) {
  expect_discard(with(mkattr(0x40, 6, {1})), attr::kAtomicAggregate, err::kAttributeLengthError);
}
TEST(Rfc7606, AggregatorBadLengthIsDiscard) {
  expect_discard(with(mkattr(0xC0, 7, cat({u16(1), u32(2)}))), attr::kAggregator,
                 err::kAttributeLengthError);
  CodecOptions two = ibgp4();
  two.four_octet_as = false;
  Bytes attrs = cat({origin_attr(), as_path_attr2({1}), next_hop_attr(),
                     mkattr(0xC0, 7, cat({u32(1), u32(2)}))});
  expect_discard(update_body({}, attrs, kNlri), attr::kAggregator, err::kAttributeLengthError, two);
}
TEST(Rfc7606, AggregatorAsZeroIsDiscard) {
  expect_discard(with(mkattr(0xC0, 7, cat({u32(0), u32(2)}))), attr::kAggregator,
                 err::kOptionalAttributeError);
}

// §7.8 COMMUNITIES, §7.9 ORIGINATOR_ID, §7.10 CLUSTER_LIST.
TEST(Rfc7606, CommunitiesBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0xC0, 8, {1, 2, 3})), err::kAttributeLengthError);
  expect_withdraw(with(mkattr(0xC0, 8, {})), err::kAttributeLengthError);
}
TEST(Rfc7606, OriginatorIdBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0x80, 9, {1, 2, 3})), err::kAttributeLengthError);
}
TEST(Rfc7606, ClusterListBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0x80, 10, {1, 2, 3, 4, 5})), err::kAttributeLengthError);
}
TEST(Rfc7606, OriginatorIdAndClusterListFromEbgpAreDiscarded) {
  CodecOptions ebgp;
  auto u = expect_ok(with(cat({mkattr(0x80, 9, u32(1)), mkattr(0x80, 10, u32(2))})), ebgp);
  EXPECT_FALSE(u.attrs.originator_id);
  EXPECT_TRUE(u.attrs.cluster_list.empty());
  ASSERT_EQ(u.discarded.size(), 2u);
  EXPECT_EQ(u.discarded[0].type, attr::kOriginatorId);
  EXPECT_EQ(u.discarded[1].type, attr::kClusterList);
}

// §7.11 MP_REACH_NLRI / §7.12 MP_UNREACH_NLRI.
TEST(Rfc7606, MpReachBadNextHopLengthResets) {
  Bytes mp = cat({u16(2), {1, 12}, Bytes(12, 1), {0}, {16, 0x20, 0x01}});
  expect_reset(update_body({}, cat({origin_attr(), as_path_attr4({1}), mkattr(0x80, 14, mp)}), {}),
               err::kOptionalAttributeError);
  Bytes mp4 = cat({u16(1), {1, 16}, Bytes(16, 1), {0}, {8, 10}});
  expect_reset(update_body({}, cat({origin_attr(), as_path_attr4({1}), mkattr(0x80, 14, mp4)}), {}),
               err::kOptionalAttributeError);
}
TEST(Rfc7606, MpReachTooShortResets) {
  expect_reset(update_body({}, mkattr(0x80, 14, {0, 2, 1}), {}), err::kAttributeLengthError);
}
TEST(Rfc7606, MpReachNextHopOverrunResets) {
  expect_reset(update_body({}, mkattr(0x80, 14, {0, 2, 1, 16, 0}), {}), err::kOptionalAttributeError);
}
TEST(Rfc7606, MpUnreachTooShortResets) {
  expect_reset(update_body({}, mkattr(0x80, 15, {0, 2}), {}), err::kAttributeLengthError);
}
TEST(Rfc7606, MpReachUnsupportedFamilyIsIgnored) {
  Bytes mp = cat({u16(1), {128, 12}, Bytes(12, 0), {0}, {88, 1, 2, 3}});
  auto u = expect_ok(with(mkattr(0x80, 14, mp)));
  EXPECT_FALSE(u.treat_as_withdraw);
  ASSERT_EQ(u.discarded.size(), 1u);
  EXPECT_EQ(u.discarded[0].type, attr::kMpReach);
  EXPECT_EQ(u.announced.size(), 1u);
}

// §7.14 EXTENDED_COMMUNITIES, RFC 8092 §6 LARGE_COMMUNITY.
TEST(Rfc7606, ExtCommunitiesBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0xC0, 16, Bytes(12, 1))), err::kAttributeLengthError);
}
TEST(Rfc7606, LargeCommunitiesBadLengthIsTreatAsWithdraw) {
  expect_withdraw(with(mkattr(0xC0, 32, Bytes(8, 1))), err::kAttributeLengthError);
}

// Unknown attributes (RFC 4271 §5, §6.3).
TEST(Rfc7606, UnrecognizedWellKnownResets) {
  Bytes a = mkattr(0x40, 120, {1, 2});
  auto r = decode_update(with(a), ibgp4());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().subcode, err::kUnrecognizedWellKnownAttribute);
  EXPECT_EQ(r.error().data, a);  // the offending attribute
  EXPECT_FALSE(r.error().reason.empty());
}
TEST(Rfc7606, UnknownOptionalNonTransitiveIsDropped) {
  expect_discard(with(mkattr(0x80, 120, {1, 2})), 120, 0);
}
TEST(Rfc7606, UnknownOptionalTransitiveIsKept) {
  auto u = expect_ok(with(cat({mkattr(0xC0, 121, {9}), mkattr(0xD0, 120, {1, 2})})));
  ASSERT_EQ(u.attrs.unknown.size(), 2u);
  EXPECT_EQ(u.attrs.unknown[0].type, 120);  // sorted by type
  EXPECT_EQ(u.attrs.unknown[0].flags, 0xC0);  // Extended Length is not part of the value
  EXPECT_EQ(u.attrs.unknown[1].value, Bytes{9});
}

// RFC 6793 §6 and the 4-octet speaker rule.
TEST(Rfc7606, As4PathFromFourOctetSpeakerIsDiscarded) {
  Bytes as4 = mkattr(0xC0, 17, cat({{2, 1}, u32(70000)}));
  expect_discard(with(as4), attr::kAs4Path, 0);
  expect_discard(with(mkattr(0xC0, 18, cat({u32(70000), u32(1)}))), attr::kAs4Aggregator, 0);
}
TEST(Rfc7606, MalformedAs4PathIsDiscarded) {
  CodecOptions two = ibgp4();
  two.four_octet_as = false;
  auto body = [](const Bytes& as4) {
    return update_body({}, cat({origin_attr(), as_path_attr2({23456}), next_hop_attr(), as4}), kNlri);
  };
  expect_discard(body(mkattr(0xC0, 17, cat({{2, 2}, u32(70000)}))), attr::kAs4Path,
                 err::kMalformedAsPath, two);
  // Confederation segments are not allowed in AS4_PATH.
  expect_discard(body(mkattr(0xC0, 17, cat({{3, 1}, u32(70000)}))), attr::kAs4Path,
                 err::kMalformedAsPath, two);
  expect_discard(body(mkattr(0xC0, 18, {1, 2, 3})), attr::kAs4Aggregator, err::kAttributeLengthError,
                 two);
}

// §3h: the strongest action wins when several errors are present.
TEST(Rfc7606, StrongestActionWins) {
  // Discard (ATOMIC_AGGREGATE) + treat-as-withdraw (MED): both reported.
  auto u = expect_ok(with(cat({mkattr(0x80, 4, {1}), mkattr(0x40, 6, {1})})));
  EXPECT_TRUE(u.treat_as_withdraw);
  EXPECT_EQ(u.discarded.size(), 1u);
  // ... + a session reset error: the reset wins.
  Bytes mp = cat({u16(2), {1, 3}, Bytes(3, 1), {0}});
  expect_reset(with(cat({mkattr(0x80, 4, {1}), mkattr(0x40, 6, {1}), mkattr(0x80, 14, mp)})),
               err::kOptionalAttributeError);
}

}  // namespace
}  // namespace tandem::wire
