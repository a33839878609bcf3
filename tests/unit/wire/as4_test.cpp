// RFC 6793: 4-octet AS numbers towards and from 2-octet (OLD) speakers.
#include <gtest/gtest.h>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using namespace test;

AsPathSegment seq(std::vector<uint32_t> a) { return {AsPathSegment::Sequence, std::move(a)}; }
AsPathSegment set(std::vector<uint32_t> a) { return {AsPathSegment::Set, std::move(a)}; }
AsPathSegment cseq(std::vector<uint32_t> a) { return {AsPathSegment::ConfedSequence, std::move(a)}; }

CodecOptions two_octet() {
  CodecOptions o;
  o.four_octet_as = false;
  o.ebgp = true;
  return o;
}

TEST(As4, ReconcileSimple) {
  // OLD speakers 65001, 65002 prepended in front of the NEW part 70000 70001.
  AsPath as_path{{seq({65001, 65002, kAsTrans, kAsTrans})}};
  AsPath as4{{seq({70000, 70001})}};
  EXPECT_EQ(reconcile_as4_path(as_path, as4), (AsPath{{seq({65001, 65002, 70000, 70001})}}));
}

TEST(As4, ReconcileAs4LongerIsIgnored) {
  AsPath as_path{{seq({kAsTrans})}};
  AsPath as4{{seq({70000, 70001})}};
  EXPECT_EQ(reconcile_as4_path(as_path, as4), as_path);
}

TEST(As4, ReconcileWithSetsAndConfed) {
  // AS_SET counts 1; confederation segments count 0 and stay in front.
  AsPath as_path{{cseq({65500}), seq({65001, kAsTrans}), set({kAsTrans, 65003})}};
  AsPath as4{{seq({70000}), set({70001, 65003})}};
  AsPath expected{{cseq({65500}), seq({65001, 70000}), set({70001, 65003})}};
  EXPECT_EQ(reconcile_as4_path(as_path, as4), expected);
  EXPECT_EQ(expected.selection_length(), 3u);
}

TEST(As4, ReconcileEqualLengthReplacesAll) {
  AsPath as_path{{seq({kAsTrans, kAsTrans})}};
  AsPath as4{{seq({70000, 70001})}};
  EXPECT_EQ(reconcile_as4_path(as_path, as4), as4);
}

TEST(As4, EncodeTowardsTwoOctetSpeaker) {
  PathAttributes a;
  a.has_origin = true;
  a.origin = Origin::Igp;
  a.has_as_path = true;
  a.as_path = AsPath{{seq({65001, 4200000000u})}};
  a.next_hop = IpAddr::v4(0x0A000001);
  a.aggregator = Aggregator{4200000001u, 0x0A000002};
  Bytes out;
  encode_attributes(a, two_octet(), out);
  Bytes expected = cat({
      origin_attr(0),
      mkattr(0x40, 2, cat({{2, 2}, u16(65001), u16(23456)})),
      next_hop_attr(0x0A000001),
      mkattr(0xC0, 7, cat({u16(23456), u32(0x0A000002)})),
      mkattr(0xC0, 17, cat({{2, 2}, u32(65001), u32(4200000000u)})),
      mkattr(0xC0, 18, cat({u32(4200000001u), u32(0x0A000002)})),
  });
  EXPECT_EQ(out, expected);

  // Decoding it back as the OLD speaker's peer (2-octet session) restores the 4-octet path.
  auto r = decode_update(update_body({}, out, {8, 10}), two_octet());
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->attrs.as_path, a.as_path);
  EXPECT_EQ(r->attrs.aggregator, a.aggregator);
  EXPECT_TRUE(r->discarded.empty());
}

TEST(As4, NoAs4PathWhenAllAsnsFit) {
  PathAttributes a;
  a.has_as_path = true;
  a.as_path = AsPath{{seq({65001, 65002})}};
  Bytes out;
  encode_attributes(a, two_octet(), out);
  EXPECT_EQ(out, cat({origin_attr(2), mkattr(0x40, 2, cat({{2, 2}, u16(65001), u16(65002)}))}));
}

TEST(As4, ConfedSegmentsNotInAs4Path) {
  PathAttributes a;
  a.has_as_path = true;
  a.as_path = AsPath{{cseq({70000}), seq({80000})}};
  Bytes out;
  CodecOptions o = two_octet();
  o.ebgp = false;
  encode_attributes(a, o, out);
  Bytes expected = cat({origin_attr(2),
                        mkattr(0x40, 2, cat({{3, 1}, u16(23456), {2, 1}, u16(23456)})),
                        mkattr(0xC0, 17, cat({{2, 1}, u32(80000)}))});
  EXPECT_EQ(out, expected);
  auto r = decode_update(update_body({}, cat({out, next_hop_attr()}), {8, 10}), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attrs.as_path, (AsPath{{cseq({kAsTrans}), seq({80000})}}));
}

TEST(As4, AggregatorNotAsTransIgnoresAs4Attributes) {
  // RFC 6793 §4.2.3: AGGREGATOR with a real AS means AS4_PATH and AS4_AGGREGATOR are ignored.
  Bytes attrs = cat({origin_attr(), mkattr(0x40, 2, cat({{2, 1}, u16(23456)})), next_hop_attr(),
                     mkattr(0xC0, 7, cat({u16(65001), u32(1)})),
                     mkattr(0xC0, 17, cat({{2, 1}, u32(70000)})),
                     mkattr(0xC0, 18, cat({u32(70001), u32(1)}))});
  auto r = decode_update(update_body({}, attrs, {8, 10}), two_octet());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attrs.as_path, (AsPath{{seq({kAsTrans})}}));
  EXPECT_EQ(r->attrs.aggregator, (Aggregator{65001, 1}));
  EXPECT_EQ(r->discarded.size(), 2u);
}

TEST(As4, As4PathLongerThanAsPathIsIgnored) {
  Bytes attrs = cat({origin_attr(), mkattr(0x40, 2, cat({{2, 1}, u16(23456)})), next_hop_attr(),
                     mkattr(0xC0, 17, cat({{2, 2}, u32(70000), u32(70001)}))});
  auto r = decode_update(update_body({}, attrs, {8, 10}), two_octet());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attrs.as_path, (AsPath{{seq({kAsTrans})}}));
  ASSERT_EQ(r->discarded.size(), 1u);
  EXPECT_EQ(r->discarded[0].type, attr::kAs4Path);
}

TEST(As4, FourOctetSessionEncodesNoAs4Attributes) {
  PathAttributes a;
  a.has_as_path = true;
  a.as_path = AsPath{{seq({4200000000u})}};
  a.aggregator = Aggregator{4200000000u, 5};
  CodecOptions o;
  Bytes out;
  encode_attributes(a, o, out);
  EXPECT_EQ(out, cat({origin_attr(2), as_path_attr4({4200000000u}),
                      mkattr(0xC0, 7, cat({u32(4200000000u), u32(5)}))}));
}

TEST(AsPath, Helpers) {
  AsPath p{{cseq({65500}), seq({65001, 65002}), set({1, 2, 3})}};
  EXPECT_EQ(p.selection_length(), 3u);
  EXPECT_TRUE(p.contains(65500));
  EXPECT_TRUE(p.contains(2));
  EXPECT_FALSE(p.contains(4));
  EXPECT_EQ(p.neighbor_as(), 65001u);
  EXPECT_EQ(p.origin_as(), 3u);
  EXPECT_EQ(p.to_string(), "(65500) 65001 65002 {1,2,3}");
  p.prepend(64512, 2);
  EXPECT_EQ(p.segments.size(), 4u);  // confed segment in front: a new sequence is added
  EXPECT_EQ(p.to_string(), "64512 64512 (65500) 65001 65002 {1,2,3}");
  AsPath q{{seq({1})}};
  q.prepend(2);
  EXPECT_EQ(q, (AsPath{{seq({2, 1})}}));
  AsPath e;
  EXPECT_EQ(e.neighbor_as(), 0u);
  EXPECT_EQ(e.origin_as(), 0u);
  EXPECT_EQ(e.to_string(), "");
  e.prepend(5, 0);
  EXPECT_TRUE(e.empty());
}

}  // namespace
}  // namespace tandem::wire
