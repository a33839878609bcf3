// Regression tests for inputs found by the fuzzers (tests/fuzz).
#include <gtest/gtest.h>

#include "wire_test_util.hpp"

namespace tandem::wire {
namespace {
using namespace test;

// fuzz_open: a 255-octet capability value (257-octet TLV) fits only the RFC 9072 form;
// encode_open used to drop it (and every capability after it) in the classic form.
TEST(FuzzRegression, OpenWithCapabilityLongerThan253Octets) {
  Open o;
  o.my_as = 65001;
  o.bgp_id = 1;
  o.caps.route_refresh = true;
  o.caps.unknown = {RawCapability{255, Bytes(255, 7)}, RawCapability{200, Bytes(10, 1)}};
  auto bytes = encode_open(o);
  auto r = decode_open(body_of(bytes));
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(*r, o);
  // The classic single-parameter encoding leaves the oversized capability out but keeps
  // the rest.
  auto params = encode_capabilities(o.caps);
  auto c = decode_capabilities(params, false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->route_refresh);
  ASSERT_EQ(c->unknown.size(), 1u);
  EXPECT_EQ(c->unknown[0].code, 200);
}

// fuzz_notification: a shutdown text of 256 UTF-8 continuation octets (invalid UTF-8)
// used to be cut to nothing while looking for a sequence boundary.
TEST(FuzzRegression, ShutdownTextOfInvalidUtf8IsCutAt255) {
  std::string text(256, '\x82');
  auto n = make_shutdown_notification(err::kAdminShutdown, text);
  ASSERT_EQ(n.data.size(), 256u);
  EXPECT_EQ(n.data[0], 255);
  // Other Cease subcodes carry the text the same way.
  auto m = make_shutdown_notification(16, text);
  EXPECT_EQ(m.data.size(), 256u);
  EXPECT_FALSE(m.describe().empty());
}

}  // namespace
}  // namespace tandem::wire
