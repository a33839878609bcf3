// tandemctl against an in-process fake tandemd (gRPC on a unix socket): requests
// sent, output, exit statuses, daemon errors, unreachable daemon, streaming.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "apps/tandemctl/cli.hpp"
#include "tandem/v1/events.grpc.pb.h"
#include "tandem/v1/global.grpc.pb.h"
#include "tandem/v1/peer.grpc.pb.h"
#include "tandem/v1/rib.grpc.pb.h"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;
using grpc::ServerContext;
using grpc::Status;

// Output that the fake server can watch: has the client printed `text` yet?
class WatchedOutput : public std::streambuf {
 public:
  bool wait_for(const std::string& text, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return data_.find(text) != std::string::npos; });
  }
  std::string str() {
    std::lock_guard lock(mutex_);
    return data_;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) append(std::string(1, static_cast<char>(ch)));
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    append(std::string(s, static_cast<std::size_t>(n)));
    return n;
  }

 private:
  void append(const std::string& s) {
    {
      std::lock_guard lock(mutex_);
      data_ += s;
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string data_;
};

WatchedOutput* g_watched = nullptr;  // set by the streaming test

class FakePeers final : public tv1::PeerService::Service {
 public:
  Status ListPeers(ServerContext*, const tv1::ListPeersRequest*, tv1::ListPeersResponse* r) override {
    auto* p = r->add_peers();
    p->mutable_config()->set_address("192.0.2.1");
    p->mutable_config()->set_remote_as(65001);
    p->mutable_config()->set_description("upstream");
    p->mutable_state()->set_state(tv1::SESSION_STATE_ESTABLISHED);
    p->mutable_state()->set_uptime_seconds(10);
    return Status::OK;
  }
  Status GetPeer(ServerContext*, const tv1::GetPeerRequest* q, tv1::Peer* p) override {
    if (q->address() != "192.0.2.1") return {grpc::StatusCode::NOT_FOUND, "peer " + q->address() + ": not configured"};
    p->mutable_config()->set_address("192.0.2.1");
    p->mutable_config()->set_remote_as(65001);
    return Status::OK;
  }
  Status AddPeer(ServerContext*, const tv1::AddPeerRequest* q, tv1::AddPeerResponse*) override {
    last_add = *q;
    if (q->peer().remote_as() == 0) {
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "peer " + q->peer().address() + ": remote_as must be 1..4294967295"};
    }
    return Status::OK;
  }
  Status DeletePeer(ServerContext*, const tv1::DeletePeerRequest* q, tv1::DeletePeerResponse*) override {
    last_delete = *q;
    return Status::OK;
  }
  Status EnablePeer(ServerContext*, const tv1::EnablePeerRequest*, tv1::EnablePeerResponse*) override {
    return Status::OK;
  }
  Status DisablePeer(ServerContext*, const tv1::DisablePeerRequest*, tv1::DisablePeerResponse*) override {
    return Status::OK;
  }
  Status ResetPeer(ServerContext*, const tv1::ResetPeerRequest* q, tv1::ResetPeerResponse*) override {
    last_reset = *q;
    return Status::OK;
  }
  tv1::AddPeerRequest last_add;
  tv1::DeletePeerRequest last_delete;
  tv1::ResetPeerRequest last_reset;
};

class FakeRib final : public tv1::RibService::Service {
 public:
  Status ListRoutes(ServerContext*, const tv1::ListRoutesRequest* q,
                    grpc::ServerWriter<tv1::ListRoutesResponse>* w) override {
    last_list = *q;
    if (q->table() != tv1::TABLE_LOC_RIB && q->peer().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "peer required"};
    }
    for (int b = 0; b < 3; ++b) {
      tv1::ListRoutesResponse batch;
      for (int i = 0; i < 2; ++i) {
        auto* r = batch.add_routes();
        r->set_prefix("10." + std::to_string(b * 2 + i) + ".0.0/16");
        r->set_best(true);
        r->set_peer("192.0.2.1");
        r->mutable_attributes()->set_next_hop("192.0.2.1");
      }
      w->Write(batch);
      // The client prints a batch before the next one exists.
      if (b == 0 && g_watched) first_batch_seen_early = g_watched->wait_for("10.1.0.0/16", std::chrono::seconds(5));
    }
    return Status::OK;
  }
  Status GetRibSummary(ServerContext*, const tv1::GetRibSummaryRequest*, tv1::GetRibSummaryResponse* r) override {
    auto* f = r->add_families();
    f->set_family(tv1::FAMILY_IPV4_UNICAST);
    f->set_prefixes(6);
    f->set_paths(6);
    r->set_attribute_sets(1);
    return Status::OK;
  }
  Status AddRoute(ServerContext*, const tv1::AddRouteRequest* q, tv1::AddRouteResponse*) override {
    last_add = *q;
    return Status::OK;
  }
  Status DeleteRoute(ServerContext*, const tv1::DeleteRouteRequest* q, tv1::DeleteRouteResponse*) override {
    return {grpc::StatusCode::NOT_FOUND, "route " + q->prefix() + " is not originated by tandem"};
  }
  tv1::ListRoutesRequest last_list;
  tv1::AddRouteRequest last_add;
  std::atomic<bool> first_batch_seen_early{false};
};

class FakeEvents final : public tv1::EventService::Service {
 public:
  Status WatchEvents(ServerContext*, const tv1::WatchEventsRequest* q, grpc::ServerWriter<tv1::Event>* w) override {
    last = *q;
    tv1::Event e;
    e.set_time_unix_nanos(1700000000000000000);
    e.mutable_peer_state()->set_address("192.0.2.1");
    e.mutable_peer_state()->set_from(tv1::SESSION_STATE_ESTABLISHED);
    e.mutable_peer_state()->set_to(tv1::SESSION_STATE_IDLE);
    w->Write(e);
    e.set_dropped_before(3);
    w->Write(e);
    return Status::OK;  // a real daemon streams until the client goes away
  }
  tv1::WatchEventsRequest last;
};

class FakeGlobal final : public tv1::GlobalService::Service {
 public:
  Status GetGlobal(ServerContext*, const tv1::GetGlobalRequest*, tv1::GetGlobalResponse* r) override {
    *r->mutable_global() = global;
    r->set_version("test");
    return Status::OK;
  }
  Status SetGlobal(ServerContext*, const tv1::SetGlobalRequest* q, tv1::SetGlobalResponse* r) override {
    for (const auto& f : q->update_fields()) {
      if (f == "port") global.set_port(q->global().port());
      if (f == "local_as") global.set_local_as(q->global().local_as());
    }
    *r->mutable_global() = global;
    return Status::OK;
  }
  tv1::Global global;
};

class CtlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandemctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/api.sock";
    global_.global.set_router_id("192.0.2.254");
    global_.global.set_local_as(65000);
    global_.global.set_port(179);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&peers_);
    builder.RegisterService(&rib_);
    builder.RegisterService(&events_);
    builder.RegisterService(&global_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  int ctl(std::vector<std::string> words) {
    out_.str("");
    err_.str("");
    words.insert(words.begin(), {"--socket", socket_});
    return run(words, out_, err_, nullptr);
  }

  std::string dir_, socket_;
  FakePeers peers_;
  FakeRib rib_;
  FakeEvents events_;
  FakeGlobal global_;
  std::unique_ptr<grpc::Server> server_;
  std::ostringstream out_, err_;
};

TEST_F(CtlClientTest, NeighborList) {
  EXPECT_EQ(ctl({"neighbor"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("192.0.2.1  65001  Established"), std::string::npos) << out_.str();
  EXPECT_EQ(ctl({"--json", "neighbor"}), 0);
  EXPECT_NE(out_.str().find("\"remote_as\": 65001"), std::string::npos) << out_.str();
}

TEST_F(CtlClientTest, EnvironmentSocket) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"global"}, out, err, socket_.c_str()), 0) << err.str();
  EXPECT_NE(out.str().find("Router ID:  192.0.2.254"), std::string::npos);
}

TEST_F(CtlClientTest, DaemonErrorIsExitOneWithItsMessage) {
  EXPECT_EQ(ctl({"neighbor", "add", "192.0.2.9", "as", "0"}), 1);
  EXPECT_EQ(err_.str(), "tandemctl: INVALID_ARGUMENT: peer 192.0.2.9: remote_as must be 1..4294967295\n");
  EXPECT_EQ(ctl({"neighbor", "192.0.2.77"}), 1);
  EXPECT_EQ(err_.str(), "tandemctl: NOT_FOUND: peer 192.0.2.77: not configured\n");
  EXPECT_EQ(ctl({"rib", "del", "10.0.0.0/8"}), 1);
  EXPECT_EQ(err_.str(), "tandemctl: NOT_FOUND: route 10.0.0.0/8 is not originated by tandem\n");
}

TEST_F(CtlClientTest, RequestsReachTheDaemon) {
  EXPECT_EQ(ctl({"neighbor", "add", "192.0.2.9", "as", "65009", "passive"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(peers_.last_add.peer().remote_as(), 65009u);
  EXPECT_TRUE(peers_.last_add.peer().passive());
  EXPECT_EQ(ctl({"neighbor", "del", "192.0.2.9", "communication", "bye"}), 0);
  EXPECT_EQ(peers_.last_delete.communication(), "bye");
  EXPECT_EQ(ctl({"neighbor", "reset", "192.0.2.9", "soft-in"}), 0);
  EXPECT_EQ(peers_.last_reset.kind(), tv1::ResetPeerRequest::KIND_SOFT_IN);
  EXPECT_EQ(ctl({"neighbor", "enable", "192.0.2.9"}), 0);
  EXPECT_EQ(ctl({"--json", "neighbor", "disable", "192.0.2.9"}), 0);
  EXPECT_EQ(out_.str(), "{}\n");
  EXPECT_EQ(ctl({"rib", "add", "10.9.0.0/16", "med", "7", "as-path", "65001"}), 0);
  EXPECT_EQ(rib_.last_add.attributes().med(), 7u);
  EXPECT_EQ(ctl({"global", "set", "port", "1179"}), 0);
  EXPECT_NE(out_.str().find("Port:       1179"), std::string::npos) << out_.str();
  EXPECT_EQ(global_.global.local_as(), 65000u);  // only the named field changed
}

TEST_F(CtlClientTest, RibListingIsStreamed) {
  WatchedOutput watched;
  std::ostream out(&watched);
  std::ostringstream err;
  g_watched = &watched;
  int rc = run({"--socket", socket_, "rib", "--peer", "192.0.2.1", "--in"}, out, err, nullptr);
  g_watched = nullptr;
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_TRUE(rib_.first_batch_seen_early.load());
  EXPECT_EQ(rib_.last_list.table(), tv1::TABLE_ADJ_RIB_IN);
  const std::string s = watched.str();
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(s.find("10." + std::to_string(i) + ".0.0/16"), std::string::npos) << s;
  }
  EXPECT_EQ(s.find("Prefix"), s.rfind("Prefix"));  // one header
}

TEST_F(CtlClientTest, RibJsonIsOneDocument) {
  EXPECT_EQ(ctl({"rib", "--json"}), 0);
  const std::string s = out_.str();
  EXPECT_TRUE(s.starts_with("[\n{")) << s;
  EXPECT_TRUE(s.ends_with("}\n]\n")) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 8);
}

TEST_F(CtlClientTest, RibSummary) {
  EXPECT_EQ(ctl({"rib", "summary"}), 0);
  EXPECT_NE(out_.str().find("ipv4-unicast         6      6"), std::string::npos) << out_.str();
}

TEST_F(CtlClientTest, EventsOneLineEach) {
  EXPECT_EQ(ctl({"events", "--peer-state"}), 0) << err_.str();
  EXPECT_TRUE(events_.last.peer_state());
  EXPECT_FALSE(events_.last.best_path());
  EXPECT_EQ(out_.str(),
            "2023-11-14T22:13:20.000Z peer 192.0.2.1 Established -> Idle\n"
            "(3 events dropped: this client was too slow)\n"
            "2023-11-14T22:13:20.000Z peer 192.0.2.1 Established -> Idle\n");
  EXPECT_EQ(ctl({"--json", "events"}), 0);
  const std::string s = out_.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 2);
  EXPECT_NE(s.find("\"dropped_before\":\"3\""), std::string::npos) << s;
}

TEST(CtlUnreachable, NoSocket) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"--socket", "/nonexistent/tandemd.sock", "neighbor"}, out, err, nullptr), 1);
  EXPECT_EQ(err.str(), "tandemctl: cannot reach tandemd at unix:/nonexistent/tandemd.sock: No such file or directory\n");
}

TEST(CtlUnreachable, NothingListens) {
  char tmpl[] = "/tmp/tandemctl-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/dead.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // the file stays, nobody listens
  std::ostringstream out, err;
  EXPECT_EQ(run({"--socket", path, "global"}, out, err, nullptr), 1);
  EXPECT_EQ(err.str(), "tandemctl: cannot reach tandemd at unix:" + path + ": Connection refused\n");
  std::filesystem::remove_all(tmpl);
}

TEST(CtlUnreachable, MissingTlsFiles) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"--address", "127.0.0.1:50051", "--tls-ca", "/nonexistent/ca.pem", "--tls-cert", "c", "--tls-key",
                 "k", "neighbor"},
                out, err, nullptr),
            1);
  EXPECT_TRUE(err.str().starts_with("tandemctl: cannot read CA certificate /nonexistent/ca.pem")) << err.str();
}

}  // namespace
}  // namespace tandemctl
