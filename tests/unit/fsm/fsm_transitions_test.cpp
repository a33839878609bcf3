// RFC 4271 §8.2.2: every (state, event) pair this FSM implements, with the resulting
// state and the exact action sequence.
#include "tests/unit/fsm/fsm_test_util.hpp"

namespace tandem::fsm::test {
namespace {

using wire::MessageType;

ev::SendNotification admin_reset() {
  return ev::SendNotification{wire::Notification{wire::err::kCease, wire::err::kAdminReset, {}}};
}

ev::UpdateError malformed_as_path() {
  wire::WireError e;
  e.code = wire::err::kUpdate;
  e.subcode = wire::err::kMalformedAsPath;
  e.reason = "AS_PATH segment overruns attribute";
  return ev::UpdateError{e};
}

// ============================== Idle ==============================

TEST(FsmIdle, ManualStartConnects) {
  Fsm f(make_config());
  EXPECT_EQ(f.state(), State::Idle);
  EXPECT_EQ(render(f.handle(ev::ManualStart{})),
            (Strings{"Arm ConnectRetry 30", "Connect", "State Idle->Connect"}));
  EXPECT_EQ(f.state(), State::Connect);
  EXPECT_TRUE(f.timer_armed(Timer::ConnectRetry));
}

TEST(FsmIdle, ManualStartPassiveGoesActive) {
  Config c = make_config();
  c.passive = true;
  Fsm f(c);
  EXPECT_EQ(render(f.handle(ev::ManualStart{})),
            (Strings{"Arm ConnectRetry 30", "State Idle->Active"}));
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmIdle, AutomaticStartConnects) {
  Fsm f(make_config());
  EXPECT_EQ(render(f.handle(ev::AutomaticStart{})),
            (Strings{"Arm ConnectRetry 30", "Connect", "State Idle->Connect"}));
}

TEST(FsmIdle, AutomaticStartPassiveGoesActive) {
  Config c = make_config();
  c.passive = true;
  Fsm f(c);
  EXPECT_EQ(render(f.handle(ev::AutomaticStart{})),
            (Strings{"Arm ConnectRetry 30", "State Idle->Active"}));
}

TEST(FsmIdle, ManualStartCancelsIdleHold) {
  Fsm f = in_idle_holding();
  EXPECT_EQ(render(f.handle(ev::ManualStart{})),
            (Strings{"Cancel IdleHold", "Arm ConnectRetry 30", "Connect", "State Idle->Connect"}));
}

TEST(FsmIdle, AutomaticStartIgnoredWhileIdleHoldRuns) {
  Fsm f = in_idle_holding();
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_EQ(f.state(), State::Idle);
}

TEST(FsmIdle, IdleHoldExpiryRestarts) {
  Fsm f = in_idle_holding();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::IdleHold})),
            (Strings{"Arm ConnectRetry 30", "Connect", "State Idle->Connect"}));
  EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
}

TEST(FsmIdle, IdleHoldExpiryPassiveRestartsToActive) {
  Config c = make_config();
  c.passive = true;
  Fsm f(c);
  f.handle(ev::ManualStart{});
  f.handle(ev::TcpConnected{});
  feed(f, notification_msg(6, 2));
  ASSERT_EQ(f.state(), State::Idle);
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::IdleHold})),
            (Strings{"Arm ConnectRetry 30", "State Idle->Active"}));
}

TEST(FsmIdle, ManualStopIsIgnored) {
  Fsm f(make_config());
  EXPECT_TRUE(f.handle(ev::ManualStop{}).empty());
  EXPECT_EQ(f.state(), State::Idle);
}

TEST(FsmIdle, ManualStopCancelsAutomaticRestart) {
  Fsm f = in_idle_holding();
  EXPECT_EQ(render(f.handle(ev::ManualStop{"maintenance"})), (Strings{"Cancel IdleHold"}));
  EXPECT_EQ(f.state(), State::Idle);
  // A late expiry of the cancelled timer does nothing.
  EXPECT_TRUE(f.handle(ev::TimerExpired{Timer::IdleHold}).empty());
}

TEST(FsmIdle, IncomingConnectionRefused) {
  Fsm f(make_config());
  EXPECT_EQ(render(f.handle(ev::TcpConnected{})), (Strings{"Disconnect"}));
  EXPECT_EQ(f.state(), State::Idle);
}

TEST(FsmIdle, OtherEventsIgnored) {
  Fsm f = in_idle_holding();
  std::vector<Event> events = {
      ev::TcpConnectFailed{},
      ev::TcpClosed{},
      ev::TimerExpired{Timer::ConnectRetry},
      ev::TimerExpired{Timer::Hold},
      ev::TimerExpired{Timer::Keepalive},
      ev::TimerExpired{Timer::DelayOpen},
      ev::BytesReceived{kKeepalive},
      malformed_as_path(),
      ev::CollisionLost{},
      admin_reset(),
  };
  for (const auto& e : events) {
    EXPECT_TRUE(f.handle(e).empty()) << "event index " << e.index();
    EXPECT_EQ(f.state(), State::Idle);
  }
  EXPECT_TRUE(f.timer_armed(Timer::IdleHold));
}

// ============================== Connect ==============================

TEST(FsmConnect, StartsIgnored) {
  Fsm f = in_connect();
  EXPECT_TRUE(f.handle(ev::ManualStart{}).empty());
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_EQ(f.state(), State::Connect);
}

TEST(FsmConnect, ManualStop) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::ManualStop{"bye"})),
            (Strings{"Cancel ConnectRetry", "Disconnect", "State Connect->Idle"}));
  EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
}

TEST(FsmConnect, TcpConnectedSendsOpen) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::TcpConnected{})),
            (Strings{"Cancel ConnectRetry", "Send OPEN", "Arm Hold 240", "State Connect->OpenSent"}));
}

TEST(FsmConnect, TcpConnectFailedGoesActive) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::TcpConnectFailed{})),
            (Strings{"Arm ConnectRetry 30", "State Connect->Active"}));
  EXPECT_EQ(f.connect_retry_counter(), 1u);
}

TEST(FsmConnect, TcpClosedGoesActive) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::TcpClosed{})),
            (Strings{"Arm ConnectRetry 30", "State Connect->Active"}));
}

TEST(FsmConnect, ConnectRetryExpiryRetries) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::ConnectRetry})),
            (Strings{"Disconnect", "Arm ConnectRetry 30", "Connect"}));
  EXPECT_EQ(f.state(), State::Connect);
}

TEST(FsmConnect, StaleTimersIgnored) {
  Fsm f = in_connect();
  for (Timer t : {Timer::Hold, Timer::Keepalive, Timer::DelayOpen, Timer::IdleHold}) {
    EXPECT_TRUE(f.handle(ev::TimerExpired{t}).empty()) << to_string(t);
    EXPECT_EQ(f.state(), State::Connect);
  }
}

TEST(FsmConnect, BytesAndUpdateErrorIgnored) {
  Fsm f = in_connect();
  EXPECT_TRUE(feed(f, kKeepalive).empty());
  EXPECT_TRUE(f.handle(malformed_as_path()).empty());
  EXPECT_EQ(f.state(), State::Connect);
}

TEST(FsmConnect, CollisionLost) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(ev::CollisionLost{})),
            (Strings{"Cancel ConnectRetry", "Disconnect", "State Connect->Idle"}));
}

TEST(FsmConnect, SendNotificationWithoutConnection) {
  Fsm f = in_connect();
  EXPECT_EQ(render(f.handle(admin_reset())),
            (Strings{"Cancel ConnectRetry", "Disconnect", "Arm IdleHold 5", "State Connect->Idle"}));
}

// ============================== Active ==============================

TEST(FsmActive, StartsIgnored) {
  Fsm f = in_active();
  EXPECT_TRUE(f.handle(ev::ManualStart{}).empty());
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmActive, ManualStop) {
  Fsm f = in_active();
  EXPECT_EQ(render(f.handle(ev::ManualStop{})),
            (Strings{"Cancel ConnectRetry", "Disconnect", "State Active->Idle"}));
  EXPECT_EQ(f.connect_retry_counter(), 0u);
}

TEST(FsmActive, TcpConnectedSendsOpen) {
  Fsm f = in_active();
  EXPECT_EQ(render(f.handle(ev::TcpConnected{})),
            (Strings{"Cancel ConnectRetry", "Send OPEN", "Arm Hold 240", "State Active->OpenSent"}));
}

TEST(FsmActive, TransportFailuresAreStale) {
  Fsm f = in_active();
  EXPECT_TRUE(f.handle(ev::TcpConnectFailed{}).empty());
  EXPECT_TRUE(f.handle(ev::TcpClosed{}).empty());
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmActive, ConnectRetryExpiryConnects) {
  Fsm f = in_active();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::ConnectRetry})),
            (Strings{"Arm ConnectRetry 30", "Connect", "State Active->Connect"}));
}

TEST(FsmActive, ConnectRetryExpiryPassiveKeepsListening) {
  Config c = make_config();
  c.passive = true;
  Fsm f = in_active(c);
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::ConnectRetry})),
            (Strings{"Arm ConnectRetry 30"}));
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmActive, StaleTimersIgnored) {
  Fsm f = in_active();
  for (Timer t : {Timer::Hold, Timer::Keepalive, Timer::DelayOpen, Timer::IdleHold})
    EXPECT_TRUE(f.handle(ev::TimerExpired{t}).empty()) << to_string(t);
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmActive, BytesAndUpdateErrorIgnored) {
  Fsm f = in_active();
  EXPECT_TRUE(feed(f, wire::encode_open(make_peer_open())).empty());
  EXPECT_TRUE(f.handle(malformed_as_path()).empty());
  EXPECT_EQ(f.state(), State::Active);
}

TEST(FsmActive, CollisionLost) {
  Fsm f = in_active();
  EXPECT_EQ(render(f.handle(ev::CollisionLost{})),
            (Strings{"Cancel ConnectRetry", "Disconnect", "State Active->Idle"}));
}

TEST(FsmActive, SendNotificationWithoutConnection) {
  Fsm f = in_active();
  EXPECT_EQ(render(f.handle(admin_reset())),
            (Strings{"Cancel ConnectRetry", "Disconnect", "Arm IdleHold 5", "State Active->Idle"}));
}

// ============================== OpenSent ==============================

TEST(FsmOpenSent, StartsAndSecondConnectionIgnored) {
  Fsm f = in_opensent();
  EXPECT_TRUE(f.handle(ev::ManualStart{}).empty());
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_TRUE(f.handle(ev::TcpConnected{}).empty());
  EXPECT_EQ(f.state(), State::OpenSent);
}

TEST(FsmOpenSent, ManualStopSendsCease) {
  Fsm f = in_opensent();
  Actions a = f.handle(ev::ManualStop{});
  EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 6/2", "NotificationSent 6/2", "Cancel Hold",
                                "Disconnect", "State OpenSent->Idle"}));
  EXPECT_TRUE(sent_notification(a).data.empty());
  EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
}

TEST(FsmOpenSent, TcpClosedGoesActive) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(f.handle(ev::TcpClosed{})),
            (Strings{"Cancel Hold", "Disconnect", "Arm ConnectRetry 30", "State OpenSent->Active"}));
}

TEST(FsmOpenSent, TcpConnectFailedGoesActive) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(f.handle(ev::TcpConnectFailed{})),
            (Strings{"Cancel Hold", "Disconnect", "Arm ConnectRetry 30", "State OpenSent->Active"}));
}

TEST(FsmOpenSent, HoldTimerExpiry) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::Hold})),
            (Strings{"Send NOTIFICATION 4/0", "NotificationSent 4/0", "Disconnect",
                     "Arm IdleHold 5", "State OpenSent->Idle"}));
}

TEST(FsmOpenSent, StaleTimersIgnored) {
  Fsm f = in_opensent();
  for (Timer t : {Timer::ConnectRetry, Timer::Keepalive, Timer::DelayOpen, Timer::IdleHold})
    EXPECT_TRUE(f.handle(ev::TimerExpired{t}).empty()) << to_string(t);
  EXPECT_EQ(f.state(), State::OpenSent);
}

TEST(FsmOpenSent, OpenAccepted) {
  Fsm f = in_opensent();
  Actions a = feed(f, wire::encode_open(make_peer_open()));
  EXPECT_EQ(render(a), (Strings{"OpenReceived", "Send KEEPALIVE", "Arm Hold 90", "Arm Keepalive 30",
                                "State OpenSent->OpenConfirm"}));
  ASSERT_NE(find_action<act::OpenReceived>(a), nullptr);
  EXPECT_EQ(find_action<act::OpenReceived>(a)->open, make_peer_open());
}

TEST(FsmOpenSent, OpenRejected) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(feed(f, wire::encode_open(make_peer_open(65099)))),
            (Strings{"Send NOTIFICATION 2/2", "NotificationSent 2/2", "Cancel Hold", "Disconnect",
                     "Arm IdleHold 5", "State OpenSent->Idle"}));
}

TEST(FsmOpenSent, UnexpectedMessagesAreFsmErrors) {
  struct Case {
    std::vector<uint8_t> msg;
    uint8_t type;
  };
  for (const Case& c : {Case{kKeepalive, 4}, Case{make_update(4), 2},
                        Case{route_refresh_msg(), 5}}) {
    Fsm f = in_opensent();
    Actions a = feed(f, c.msg);
    EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 5/1", "NotificationSent 5/1", "Cancel Hold",
                                  "Disconnect", "Arm IdleHold 5", "State OpenSent->Idle"}));
    // RFC 6608 §4: the data is the type of the unexpected message.
    EXPECT_EQ(sent_notification(a).data, std::vector<uint8_t>{c.type});
  }
}

TEST(FsmOpenSent, NotificationReceived) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(feed(f, notification_msg(2, 1))),
            (Strings{"NotificationReceived 2/1", "Cancel Hold", "Disconnect", "Arm IdleHold 5",
                     "State OpenSent->Idle"}));
}

TEST(FsmOpenSent, HeaderError) {
  Fsm f = in_opensent();
  std::vector<uint8_t> bad = kKeepalive;
  bad[3] = 0;
  EXPECT_EQ(render(feed(f, bad)),
            (Strings{"Send NOTIFICATION 1/1", "NotificationSent 1/1", "Cancel Hold", "Disconnect",
                     "Arm IdleHold 5", "State OpenSent->Idle"}));
}

TEST(FsmOpenSent, UpdateErrorIgnored) {
  Fsm f = in_opensent();
  EXPECT_TRUE(f.handle(malformed_as_path()).empty());
  EXPECT_EQ(f.state(), State::OpenSent);
}

TEST(FsmOpenSent, CollisionLost) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(f.handle(ev::CollisionLost{})),
            (Strings{"Send NOTIFICATION 6/7", "NotificationSent 6/7", "Cancel Hold", "Disconnect",
                     "State OpenSent->Idle"}));
  EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
}

TEST(FsmOpenSent, SendNotification) {
  Fsm f = in_opensent();
  EXPECT_EQ(render(f.handle(admin_reset())),
            (Strings{"Send NOTIFICATION 6/4", "NotificationSent 6/4", "Cancel Hold", "Disconnect",
                     "Arm IdleHold 5", "State OpenSent->Idle"}));
}

// ============================== OpenConfirm ==============================

TEST(FsmOpenConfirm, StartsAndSecondConnectionIgnored) {
  Fsm f = in_openconfirm();
  EXPECT_TRUE(f.handle(ev::ManualStart{}).empty());
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_TRUE(f.handle(ev::TcpConnected{}).empty());
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpenConfirm, ManualStopSendsCease) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::ManualStop{})),
            (Strings{"Send NOTIFICATION 6/2", "NotificationSent 6/2", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, TcpClosedGoesIdle) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::TcpClosed{})),
            (Strings{"Cancel Hold", "Cancel Keepalive", "Disconnect", "Arm IdleHold 5",
                     "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, TcpConnectFailedGoesIdle) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::TcpConnectFailed{})),
            (Strings{"Cancel Hold", "Cancel Keepalive", "Disconnect", "Arm IdleHold 5",
                     "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, HoldTimerExpiry) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::Hold})),
            (Strings{"Send NOTIFICATION 4/0", "NotificationSent 4/0", "Cancel Keepalive",
                     "Disconnect", "Arm IdleHold 5", "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, KeepaliveTimerSendsKeepalive) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::Keepalive})),
            (Strings{"Send KEEPALIVE", "Arm Keepalive 30"}));
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpenConfirm, StaleTimersIgnored) {
  Fsm f = in_openconfirm();
  for (Timer t : {Timer::ConnectRetry, Timer::DelayOpen, Timer::IdleHold})
    EXPECT_TRUE(f.handle(ev::TimerExpired{t}).empty()) << to_string(t);
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpenConfirm, KeepaliveEstablishes) {
  Fsm f = in_openconfirm();
  Actions a = feed(f, kKeepalive);
  EXPECT_EQ(render(a), (Strings{"Arm Hold 90", "State OpenConfirm->Established", "Established"}));
  ASSERT_NE(find_action<act::Established>(a), nullptr);
  EXPECT_EQ(find_action<act::Established>(a)->negotiated.peer_as, kRemoteAs);
}

TEST(FsmOpenConfirm, UnexpectedMessagesAreFsmErrors) {
  struct Case {
    std::vector<uint8_t> msg;
    uint8_t type;
  };
  for (const Case& c : {Case{wire::encode_open(make_peer_open()), 1}, Case{make_update(4), 2},
                        Case{route_refresh_msg(), 5}}) {
    Fsm f = in_openconfirm();
    Actions a = feed(f, c.msg);
    EXPECT_EQ(render(a),
              (Strings{"Send NOTIFICATION 5/2", "NotificationSent 5/2", "Cancel Hold",
                       "Cancel Keepalive", "Disconnect", "Arm IdleHold 5", "State OpenConfirm->Idle"}));
    EXPECT_EQ(sent_notification(a).data, std::vector<uint8_t>{c.type});
  }
}

TEST(FsmOpenConfirm, NotificationReceived) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(feed(f, notification_msg(6, 2))),
            (Strings{"NotificationReceived 6/2", "Cancel Hold", "Cancel Keepalive", "Disconnect",
                     "Arm IdleHold 5", "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, HeaderError) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(feed(f, raw_message(9, {}))),
            (Strings{"Send NOTIFICATION 1/3", "NotificationSent 1/3", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "Arm IdleHold 5", "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, UpdateErrorIgnored) {
  Fsm f = in_openconfirm();
  EXPECT_TRUE(f.handle(malformed_as_path()).empty());
  EXPECT_EQ(f.state(), State::OpenConfirm);
}

TEST(FsmOpenConfirm, CollisionLost) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(ev::CollisionLost{})),
            (Strings{"Send NOTIFICATION 6/7", "NotificationSent 6/7", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "State OpenConfirm->Idle"}));
}

TEST(FsmOpenConfirm, SendNotification) {
  Fsm f = in_openconfirm();
  EXPECT_EQ(render(f.handle(admin_reset())),
            (Strings{"Send NOTIFICATION 6/4", "NotificationSent 6/4", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "Arm IdleHold 5", "State OpenConfirm->Idle"}));
}

// ============================== Established ==============================

TEST(FsmEstablished, StartsAndSecondConnectionIgnored) {
  Fsm f = in_established();
  EXPECT_TRUE(f.handle(ev::ManualStart{}).empty());
  EXPECT_TRUE(f.handle(ev::AutomaticStart{}).empty());
  EXPECT_TRUE(f.handle(ev::TcpConnected{}).empty());
  EXPECT_EQ(f.state(), State::Established);
}

TEST(FsmEstablished, ManualStopWithShutdownCommunication) {
  Fsm f = in_established();
  Actions a = f.handle(ev::ManualStop{"maintenance window"});
  EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 6/2", "NotificationSent 6/2", "Cancel Hold",
                                "Cancel Keepalive", "Disconnect", "SessionDown notif",
                                "State Established->Idle"}));
  std::vector<uint8_t> expected{18};
  for (char ch : std::string("maintenance window")) expected.push_back(static_cast<uint8_t>(ch));
  EXPECT_EQ(sent_notification(a).data, expected);
  auto* sc = find_action<act::StateChanged>(a);
  ASSERT_NE(sc, nullptr);
  EXPECT_NE(sc->reason.find("maintenance window"), std::string::npos);
  EXPECT_FALSE(f.timer_armed(Timer::IdleHold));
}

TEST(FsmEstablished, TcpClosed) {
  Fsm f = in_established();
  Actions a = f.handle(ev::TcpClosed{});
  EXPECT_EQ(render(a), (Strings{"Cancel Hold", "Cancel Keepalive", "Disconnect", "SessionDown",
                                "Arm IdleHold 5", "State Established->Idle"}));
  // The negotiated capabilities stay readable (GR helper needs them after the drop).
  ASSERT_TRUE(f.negotiated().has_value());
  EXPECT_EQ(f.negotiated()->peer_router_id, kRemoteId);
}

TEST(FsmEstablished, TcpConnectFailed) {
  Fsm f = in_established();
  EXPECT_EQ(render(f.handle(ev::TcpConnectFailed{})),
            (Strings{"Cancel Hold", "Cancel Keepalive", "Disconnect", "SessionDown",
                     "Arm IdleHold 5", "State Established->Idle"}));
}

TEST(FsmEstablished, HoldTimerExpiry) {
  Fsm f = in_established();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::Hold})),
            (Strings{"Send NOTIFICATION 4/0", "NotificationSent 4/0", "Cancel Keepalive",
                     "Disconnect", "SessionDown notif", "Arm IdleHold 5", "State Established->Idle"}));
}

TEST(FsmEstablished, KeepaliveTimerSendsKeepalive) {
  Fsm f = in_established();
  EXPECT_EQ(render(f.handle(ev::TimerExpired{Timer::Keepalive})),
            (Strings{"Send KEEPALIVE", "Arm Keepalive 30"}));
}

TEST(FsmEstablished, StaleTimersIgnored) {
  Fsm f = in_established();
  for (Timer t : {Timer::ConnectRetry, Timer::DelayOpen, Timer::IdleHold})
    EXPECT_TRUE(f.handle(ev::TimerExpired{t}).empty()) << to_string(t);
  EXPECT_EQ(f.state(), State::Established);
}

TEST(FsmEstablished, KeepaliveRearmsHold) {
  Fsm f = in_established();
  EXPECT_EQ(render(feed(f, kKeepalive)), (Strings{"Arm Hold 90"}));
}

TEST(FsmEstablished, UpdateDeliveredAndRearmsHold) {
  Fsm f = in_established();
  std::vector<uint8_t> msg = make_update(30, 7);
  Actions a = feed(f, msg);
  EXPECT_EQ(render(a), (Strings{"Arm Hold 90", "Update 30"}));
  auto* u = find_action<act::UpdateReceived>(a);
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(std::equal(u->body.begin(), u->body.end(), msg.begin() + 19, msg.end()));
}

TEST(FsmEstablished, HoldRearmedOncePerEvent) {
  Fsm f = in_established();
  EXPECT_EQ(render(feed(f, cat({make_update(10), kKeepalive, make_update(20)}))),
            (Strings{"Arm Hold 90", "Update 10", "Update 20"}));
}

TEST(FsmEstablished, RouteRefresh) {
  Fsm f = in_established();
  EXPECT_EQ(render(feed(f, route_refresh_msg(wire::kIpv6Unicast))),
            (Strings{"Arm Hold 90", "RouteRefresh ipv6-unicast/0"}));
  EXPECT_EQ(render(feed(f, route_refresh_msg(wire::kIpv4Unicast,
                                             wire::RouteRefresh::BeginOfRefresh))),
            (Strings{"Arm Hold 90", "RouteRefresh ipv4-unicast/1"}));
}

TEST(FsmEstablished, RouteRefreshForUnnegotiatedFamilyIgnored) {
  Config c = make_config();
  c.families = {wire::kIpv4Unicast};
  Fsm f = in_established(c);
  EXPECT_EQ(render(feed(f, route_refresh_msg(wire::kIpv6Unicast))), (Strings{"Arm Hold 90"}));
  // Unknown AFI and unknown subtype: ignored too (RFC 2918 §4, RFC 7313 §4).
  EXPECT_EQ(render(feed(f, raw_message(5, {0, 99, 0, 1}))), (Strings{"Arm Hold 90"}));
  EXPECT_EQ(render(feed(f, raw_message(5, {0, 1, 7, 1}))), (Strings{"Arm Hold 90"}));
  EXPECT_EQ(f.state(), State::Established);
}

TEST(FsmEstablished, MalformedRouteRefresh) {
  Fsm f = in_established();
  std::vector<uint8_t> msg = raw_message(5, {0, 1, 0, 1, 0});  // 24 octets
  Actions a = feed(f, msg);
  EXPECT_EQ(render(a), (Strings{"Arm Hold 90", "Send NOTIFICATION 7/1", "NotificationSent 7/1",
                                "Cancel Hold", "Cancel Keepalive", "Disconnect",
                                "SessionDown notif", "Arm IdleHold 5", "State Established->Idle"}));
  // RFC 7313 §5: the data is the complete offending message.
  EXPECT_EQ(sent_notification(a).data, msg);
}

TEST(FsmEstablished, NotificationReceived) {
  Fsm f = in_established();
  auto n = wire::make_shutdown_notification(wire::err::kAdminShutdown, "upgrade");
  Actions a = feed(f, wire::encode_notification(n));
  EXPECT_EQ(render(a), (Strings{"NotificationReceived 6/2", "Cancel Hold", "Cancel Keepalive",
                                "Disconnect", "SessionDown notif", "Arm IdleHold 5",
                                "State Established->Idle"}));
  EXPECT_EQ(find_action<act::NotificationReceived>(a)->notification, n);
  EXPECT_NE(find_action<act::StateChanged>(a)->reason.find("upgrade"), std::string::npos);
}

TEST(FsmEstablished, OpenIsFsmError) {
  Fsm f = in_established();
  Actions a = feed(f, wire::encode_open(make_peer_open()));
  EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 5/3", "NotificationSent 5/3", "Cancel Hold",
                                "Cancel Keepalive", "Disconnect", "SessionDown notif",
                                "Arm IdleHold 5", "State Established->Idle"}));
  EXPECT_EQ(sent_notification(a).data, std::vector<uint8_t>{1});
}

TEST(FsmEstablished, HeaderError) {
  Fsm f = in_established();
  EXPECT_EQ(render(feed(f, raw_message(4, {0}))),  // KEEPALIVE of 20 octets
            (Strings{"Send NOTIFICATION 1/2", "NotificationSent 1/2", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "SessionDown notif", "Arm IdleHold 5",
                     "State Established->Idle"}));
}

TEST(FsmEstablished, UpdateError) {
  Fsm f = in_established();
  ev::UpdateError e = malformed_as_path();
  e.error.data = {1, 2, 3};
  Actions a = f.handle(e);
  EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 3/11", "NotificationSent 3/11", "Cancel Hold",
                                "Cancel Keepalive", "Disconnect", "SessionDown notif",
                                "Arm IdleHold 5", "State Established->Idle"}));
  EXPECT_EQ(sent_notification(a).data, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_NE(find_action<act::SessionDown>(a)->reason.find("AS_PATH segment overruns"),
            std::string::npos);
}

TEST(FsmEstablished, CollisionLost) {
  Fsm f = in_established();
  EXPECT_EQ(render(f.handle(ev::CollisionLost{})),
            (Strings{"Send NOTIFICATION 6/7", "NotificationSent 6/7", "Cancel Hold",
                     "Cancel Keepalive", "Disconnect", "SessionDown notif",
                     "State Established->Idle"}));
}

TEST(FsmEstablished, SendNotification) {
  Fsm f = in_established();
  Actions a = f.handle(ev::SendNotification{
      wire::Notification{wire::err::kCease, wire::err::kMaxPrefixes, {0, 1, 1, 0, 0, 0, 100}}});
  EXPECT_EQ(render(a), (Strings{"Send NOTIFICATION 6/1", "NotificationSent 6/1", "Cancel Hold",
                                "Cancel Keepalive", "Disconnect", "SessionDown notif",
                                "Arm IdleHold 5", "State Established->Idle"}));
  EXPECT_EQ(sent_notification(a).data, (std::vector<uint8_t>{0, 1, 1, 0, 0, 0, 100}));
}

// ============================== whole-session walks ==============================

TEST(FsmWalk, FullSessionLifecycle) {
  Fsm f(make_config());
  f.handle(ev::ManualStart{});
  f.handle(ev::TcpConnectFailed{});
  f.handle(ev::TimerExpired{Timer::ConnectRetry});
  EXPECT_EQ(f.state(), State::Connect);
  f.handle(ev::TcpConnected{});
  feed(f, cat({wire::encode_open(make_peer_open()), kKeepalive}));
  EXPECT_EQ(f.state(), State::Established);
  EXPECT_EQ(f.connect_retry_counter(), 0u);
  f.handle(ev::TcpClosed{});
  EXPECT_EQ(f.state(), State::Idle);
  f.handle(ev::TimerExpired{Timer::IdleHold});
  EXPECT_EQ(f.state(), State::Connect);
}

TEST(FsmWalk, EveryStateChangeHasAReason) {
  Fsm f(make_config());
  std::vector<Actions> all;
  all.push_back(f.handle(ev::ManualStart{}));
  all.push_back(f.handle(ev::TcpConnected{}));
  all.push_back(feed(f, wire::encode_open(make_peer_open())));
  all.push_back(feed(f, kKeepalive));
  all.push_back(f.handle(ev::TimerExpired{Timer::Hold}));
  size_t changes = 0;
  for (const auto& as : all)
    for (auto* sc : find_actions<act::StateChanged>(as)) {
      ++changes;
      EXPECT_FALSE(sc->reason.empty());
      EXPECT_NE(sc->from, sc->to);
    }
  EXPECT_EQ(changes, 5u);
}

}  // namespace
}  // namespace tandem::fsm::test
