// BfdService.ListSessions over a real gRPC channel: the driver's status (here a fixed
// snapshot standing in for healthbpf::Driver::status) and the disabled case.
#include "api_test_util.hpp"
#include "tandem/v1/bfd.grpc.pb.h"

namespace api_test {
namespace {

namespace v1 = tandem::v1;

healthbpf::DriverStatus sample() {
  healthbpf::DriverStatus st;
  st.path = "xdp-native";
  st.interfaces = {"eth0 (native)"};
  st.counters = {{"valid", 1234}, {"bad_ttl", 2}};
  st.unknown_events = 1;
  healthbpf::SessionStatus s;
  s.peer = "192.0.2.2";
  s.local_address = "192.0.2.1";
  s.local_discriminator = 7;
  s.remote_discriminator = 99;
  s.local_state = "Up";
  s.remote_state = "Up";
  s.local_diag = "No Diagnostic";
  s.remote_diag = "No Diagnostic";
  s.desired_min_tx_us = s.required_min_rx_us = 10'000;
  s.detect_mult = 3;
  s.remote_min_tx_us = s.remote_min_rx_us = 10'000;
  s.remote_detect_mult = 3;
  s.tx_interval_us = s.rx_interval_us = 10'000;
  s.detect_time_us = 30'000;
  s.last_rx_age_ms = 4;
  s.packets_in = 500;
  s.packets_out = 501;
  s.up_transitions = 2;
  s.down_transitions = 1;
  s.last_change_age_ms = 1500;
  st.sessions.push_back(s);
  s.peer = "2001:db8::2";
  s.local_state = "Down";
  st.sessions.push_back(s);
  return st;
}

TEST(BfdApi, ListSessions) {
  config::ApiConfig a;
  a.socket = "";
  Daemon d(a, daemon_config(), [] { return std::optional<healthbpf::DriverStatus>(sample()); });
  ASSERT_TRUE(d.started()) << d.error();
  auto stub = v1::BfdService::NewStub(d.channel());
  v1::ListBfdSessionsResponse r;
  ASSERT_TRUE(stub->ListSessions(ctx().get(), v1::ListBfdSessionsRequest{}, &r).ok());
  EXPECT_TRUE(r.enabled());
  EXPECT_EQ(r.path(), "xdp-native");
  ASSERT_EQ(r.interfaces_size(), 1);
  EXPECT_EQ(r.interfaces(0), "eth0 (native)");
  ASSERT_EQ(r.counters_size(), 2);
  EXPECT_EQ(r.counters(0).name(), "valid");
  EXPECT_EQ(r.counters(0).value(), 1234u);
  EXPECT_EQ(r.unknown_events(), 1u);
  ASSERT_EQ(r.sessions_size(), 2);
  const auto& s = r.sessions(0);
  EXPECT_EQ(s.peer(), "192.0.2.2");
  EXPECT_EQ(s.local_address(), "192.0.2.1");
  EXPECT_EQ(s.local_discriminator(), 7u);
  EXPECT_EQ(s.remote_discriminator(), 99u);
  EXPECT_EQ(s.local_state(), "Up");
  EXPECT_EQ(s.remote_state(), "Up");
  EXPECT_EQ(s.tx_interval_us(), 10'000u);
  EXPECT_EQ(s.detect_time_us(), 30'000u);
  EXPECT_EQ(s.last_rx_age_ms(), 4);
  EXPECT_EQ(s.packets_in(), 500u);
  EXPECT_EQ(s.packets_out(), 501u);
  EXPECT_EQ(s.down_transitions(), 1u);
  EXPECT_EQ(s.last_change_age_ms(), 1500);

  // One peer, written in another form of the same address.
  v1::ListBfdSessionsRequest one;
  one.set_peer("2001:DB8:0::2");
  ASSERT_TRUE(stub->ListSessions(ctx().get(), one, &r).ok());
  ASSERT_EQ(r.sessions_size(), 1);
  EXPECT_EQ(r.sessions(0).peer(), "2001:db8::2");
  EXPECT_EQ(r.sessions(0).local_state(), "Down");

  one.set_peer("192.0.2.200");
  EXPECT_EQ(stub->ListSessions(ctx().get(), one, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  one.set_peer("not an address");
  EXPECT_EQ(stub->ListSessions(ctx().get(), one, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(BfdApi, DisabledSaysSo) {
  config::ApiConfig a;
  a.socket = "";
  for (bool with_fn : {false, true}) {
    std::function<std::optional<healthbpf::DriverStatus>()> fn;
    if (with_fn) fn = [] { return std::optional<healthbpf::DriverStatus>(); };
    Daemon d(a, daemon_config(), fn);
    ASSERT_TRUE(d.started()) << d.error();
    auto stub = v1::BfdService::NewStub(d.channel());
    v1::ListBfdSessionsResponse r;
    ASSERT_TRUE(stub->ListSessions(ctx().get(), v1::ListBfdSessionsRequest{}, &r).ok());
    EXPECT_FALSE(r.enabled());
    EXPECT_EQ(r.sessions_size(), 0);
    EXPECT_TRUE(r.path().empty());
  }
}

}  // namespace
}  // namespace api_test
