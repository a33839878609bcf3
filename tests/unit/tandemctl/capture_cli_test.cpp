// `tandemctl capture` and `tandemctl mrt inject`: parsing, the text lines and packet
// comments, the pcapng file made from records (real or relative sequence numbers), and
// both commands against an in-process fake daemon (CaptureService, RibService).
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/capture_pcapng.hpp"
#include "apps/tandemctl/capture_text.hpp"
#include "apps/tandemctl/cli.hpp"
#include "bgpd/mrt/table_dump.hpp"
#include "bgpd/mrt/rib_attributes.hpp"
#include "bgpd/wire/message.hpp"
#include "tandem/v1/capture.grpc.pb.h"
#include "tandem/v1/rib.grpc.pb.h"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

template <typename T>
T parse_as(std::vector<std::string> words) {
  auto inv = parse_invocation(words, nullptr);
  const T* c = std::get_if<T>(&inv.command);
  EXPECT_NE(c, nullptr) << "wrong command type, index " << inv.command.index();
  return c ? *c : T{};
}

void expect_usage(std::vector<std::string> words, const std::string& text) {
  try {
    parse_invocation(words, nullptr);
    ADD_FAILURE() << "no usage error for: " << words.back();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(CtlCaptureParse, Options) {
  auto c = parse_as<CaptureCommand>({"capture"});
  EXPECT_TRUE(c.request.peer().empty());
  EXPECT_EQ(c.request.types_size(), 0);
  EXPECT_FALSE(c.request.include_data());
  c = parse_as<CaptureCommand>({"capture", "--peer", "192.0.2.3", "--type", "update,keepalive", "--type", "update",
                                "--type", "route-refresh", "--count", "5", "--pcapng", "/tmp/x.pcapng"});
  EXPECT_EQ(c.request.peer(), "192.0.2.3");
  ASSERT_EQ(c.request.types_size(), 3);
  EXPECT_EQ(c.request.types(0), tv1::BGP_MESSAGE_TYPE_UPDATE);
  EXPECT_EQ(c.request.types(1), tv1::BGP_MESSAGE_TYPE_KEEPALIVE);
  EXPECT_EQ(c.request.types(2), tv1::BGP_MESSAGE_TYPE_ROUTE_REFRESH);
  EXPECT_EQ(c.request.count(), 5u);
  EXPECT_EQ(c.pcapng, "/tmp/x.pcapng");
  EXPECT_TRUE(c.request.include_data());
  expect_usage({"capture", "--type", "hello"}, "unknown message type 'hello'");
  expect_usage({"capture", "--count", "0"}, "--count");
  expect_usage({"capture", "--peer", "nope"}, "nope");
  expect_usage({"capture", "--pcapng"}, "--pcapng");
  expect_usage({"capture", "--frobnicate"}, "unknown capture option");
}

TEST(CtlMrtParse, Inject) {
  auto c = parse_as<MrtInjectCommand>({"mrt", "inject", "/tmp/rib.mrt.gz"});
  EXPECT_EQ(c.file, "/tmp/rib.mrt.gz");
  EXPECT_EQ(c.count, 0u);
  c = parse_as<MrtInjectCommand>({"mrt", "inject", "f", "--count", "100", "--nexthop", "192.0.2.1", "--nexthop",
                                  "2001:db8::1"});
  EXPECT_EQ(c.count, 100u);
  EXPECT_EQ(c.next_hops, (std::vector<std::string>{"192.0.2.1", "2001:db8::1"}));
  EXPECT_EQ(parse_as<MrtInjectCommand>({"mrt", "inject", "f", "--nexthop", "self"}).next_hops.at(0), "self");
  expect_usage({"mrt", "inject"}, "missing FILE");
  expect_usage({"mrt"}, "mrt command");
  expect_usage({"mrt", "dump", "f"}, "unknown mrt command 'dump'");
  expect_usage({"mrt", "inject", "a", "b"}, "one FILE only");
  expect_usage({"mrt", "inject", "f", "--nexthop", "192.0.2.1", "--nexthop", "192.0.2.2"}, "at most one IPv4");
  expect_usage({"mrt", "inject", "f", "--nexthop", "self", "--nexthop", "192.0.2.2"}, "self");
  expect_usage({"mrt", "inject", "f", "--nexthop", "x"}, "x");
  EXPECT_TRUE(std::holds_alternative<Help>(parse_invocation({"help", "capture"}, nullptr).command));
  EXPECT_TRUE(std::holds_alternative<Help>(parse_invocation({"help", "mrt"}, nullptr).command));
}

tv1::CaptureRecord message_record(bool sent, bool seq_known, uint64_t offset, const std::vector<uint8_t>& data) {
  tv1::CaptureRecord r;
  r.set_time_unix_nanos(1795280855123456789);
  auto* m = r.mutable_message();
  m->set_direction(sent ? tv1::CAPTURE_DIRECTION_SENT : tv1::CAPTURE_DIRECTION_RECEIVED);
  m->set_peer("192.0.2.3");
  m->set_connection_id(7);
  auto* e = m->mutable_endpoints();
  e->set_local_address("192.0.2.1");
  e->set_local_port(179);
  e->set_remote_address("192.0.2.3");
  e->set_remote_port(40000);
  m->set_type(static_cast<tv1::BgpMessageType>(data.at(18)));
  m->set_type_code(data.at(18));
  m->set_length(static_cast<uint32_t>(data.size()));
  m->set_summary("KEEPALIVE");
  m->set_stream_offset(offset);
  m->set_tcp_seq_known(seq_known);
  if (seq_known) {
    m->set_tcp_seq(1000 + static_cast<uint32_t>(offset));
    m->set_tcp_ack(5000);
    m->set_tcp_ack_known(true);
  } else {
    m->set_tcp_seq_unknown("not read yet");
  }
  auto* s = m->mutable_session();
  s->set_state(tv1::SESSION_STATE_ESTABLISHED);
  s->mutable_negotiated()->add_families(tv1::FAMILY_IPV4_UNICAST);
  s->mutable_negotiated()->set_four_octet_as(true);
  s->mutable_negotiated()->set_hold_time(90);
  s->set_graceful_restart_state(tv1::GRACEFUL_RESTART_STATE_NONE);
  m->set_data(std::string(data.begin(), data.end()));
  return r;
}

TEST(CtlCaptureText, Lines) {
  auto r = message_record(false, true, 38, tandem::wire::encode_keepalive());
  EXPECT_EQ(capture_line(r),
            "2026-11-21T17:07:35.123456Z recv 192.0.2.3 KEEPALIVE | Established, incoming, conn 7, offset 38, "
            "seq 1038 ack 5000, families ipv4-unicast, 4-octet-as, hold 90, gr none");
  r.mutable_message()->set_direction(tv1::CAPTURE_DIRECTION_SENT);
  r.mutable_message()->set_tcp_seq_known(false);
  r.mutable_message()->set_tcp_seq_unknown("why not");
  r.mutable_message()->mutable_session()->set_replication_role("primary");
  r.mutable_message()->mutable_session()->set_replication_sync("in-sync");
  EXPECT_EQ(packet_comment(r.message()),
            "tandem: sent KEEPALIVE to 192.0.2.3: KEEPALIVE | Established, incoming, conn 7, offset 38, seq unknown "
            "(why not), families ipv4-unicast, 4-octet-as, hold 90, gr none, replication primary in-sync");
  tv1::CaptureRecord s;
  s.set_time_unix_nanos(0);
  s.mutable_state_change()->set_peer("192.0.2.3");
  s.mutable_state_change()->set_from(tv1::SESSION_STATE_OPEN_CONFIRM);
  s.mutable_state_change()->set_to(tv1::SESSION_STATE_ESTABLISHED);
  s.mutable_state_change()->set_reason("KEEPALIVE received");
  EXPECT_EQ(capture_line(s),
            "1970-01-01T00:00:00.000000Z state 192.0.2.3 OpenConfirm -> Established (KEEPALIVE received)");
  tv1::CaptureRecord c;
  c.mutable_connection()->set_peer("2001:db8::3");
  c.mutable_connection()->set_connection_id(9);
  c.mutable_connection()->set_opened(true);
  c.mutable_connection()->mutable_endpoints()->set_local_address("2001:db8::1");
  c.mutable_connection()->mutable_endpoints()->set_local_port(179);
  c.mutable_connection()->mutable_endpoints()->set_remote_address("2001:db8::3");
  c.mutable_connection()->mutable_endpoints()->set_remote_port(50000);
  EXPECT_EQ(capture_line(c), "1970-01-01T00:00:00.000000Z conn 2001:db8::3 #9 open [2001:db8::1]:179 <-> "
                             "[2001:db8::3]:50000");
  tv1::CaptureRecord d;
  d.mutable_dropped()->set_records(12);
  d.mutable_dropped()->set_total(40);
  EXPECT_EQ(capture_line(d),
            "1970-01-01T00:00:00.000000Z (12 records dropped: this client was too slow; 40 in all)");
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) | (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) | static_cast<uint8_t>(s[at + 3]);
}

TEST(CtlCapturePcapng, PacketsFromRecords) {
  std::ostringstream out;
  CapturePcapng p(out);
  const auto ka = tandem::wire::encode_keepalive();
  p.add(message_record(true, true, 0, ka));     // seq 1000 (known)
  p.add(message_record(false, false, 19, ka));  // relative: seq 20, ack = 19 sent + 1
  tv1::CaptureRecord state;
  state.mutable_state_change()->set_peer("192.0.2.3");
  p.add(state);  // not a packet
  auto nodata = message_record(true, true, 19, ka);
  nodata.mutable_message()->clear_data();
  p.add(nodata);  // no bytes: not a packet
  EXPECT_EQ(p.packets(), 2u);
  const std::string f = out.str();
  // Blocks: section header, interface, two packets; find the packets' TCP headers.
  size_t pos = 0;
  std::vector<std::string> frames;
  while (pos + 12 <= f.size()) {
    uint32_t type = static_cast<uint8_t>(f[pos]) | (static_cast<uint8_t>(f[pos + 1]) << 8);
    uint32_t len = static_cast<uint8_t>(f[pos + 4]) | (static_cast<uint8_t>(f[pos + 5]) << 8);
    if (type == 6) {
      uint32_t caplen = static_cast<uint8_t>(f[pos + 20]) | (static_cast<uint8_t>(f[pos + 21]) << 8);
      frames.push_back(f.substr(pos + 28, caplen));
    }
    pos += len;
  }
  ASSERT_EQ(frames.size(), 2u);
  // Sent: 192.0.2.1:179 -> 192.0.2.3:40000, seq 1000 ack 5000.
  EXPECT_EQ(be32(frames[0], 26), 0xC0000201u);
  EXPECT_EQ(be32(frames[0], 38), 1000u);
  EXPECT_EQ(be32(frames[0], 42), 5000u);
  // Received, relative numbers: seq = offset + 1, ack = bytes sent so far + 1.
  EXPECT_EQ(be32(frames[1], 26), 0xC0000203u);
  EXPECT_EQ(be32(frames[1], 38), 20u);
  EXPECT_EQ(be32(frames[1], 42), 20u);
  EXPECT_NE(f.find("tandem: received KEEPALIVE from 192.0.2.3"), std::string::npos);
}

// ---- against a fake daemon ----

class FakeCapture final : public tv1::CaptureService::Service {
 public:
  grpc::Status Capture(grpc::ServerContext*, const tv1::CaptureRequest* q,
                       grpc::ServerWriter<tv1::CaptureRecord>* w) override {
    last = *q;
    const auto ka = tandem::wire::encode_keepalive();
    w->Write(message_record(true, true, 0, ka));
    tv1::CaptureRecord d;
    d.mutable_dropped()->set_records(3);
    d.mutable_dropped()->set_total(3);
    w->Write(d);
    w->Write(message_record(false, true, 0, ka));
    return grpc::Status::OK;  // a real daemon streams until cancelled or `count`
  }
  tv1::CaptureRequest last;
};

class FakeInject final : public tv1::RibService::Service {
 public:
  grpc::Status InjectRoutes(grpc::ServerContext*, grpc::ServerReader<tv1::InjectRoutesRequest>* r,
                            tv1::InjectRoutesResponse* resp) override {
    tv1::InjectRoutesRequest q;
    while (r->Read(&q)) {
      resp->set_requests(resp->requests() + 1);
      for (const auto& g : q.groups()) {
        for (const auto& p : g.prefixes()) {
          prefixes.push_back(p);
          next_hops.push_back(g.attributes().next_hop());
        }
      }
    }
    resp->set_routes(prefixes.size());
    return grpc::Status::OK;
  }
  std::vector<std::string> prefixes, next_hops;
};

class CtlCaptureClient : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandemctl-capture-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + dir_ + "/api.sock", grpc::InsecureServerCredentials());
    b.RegisterService(&capture_);
    b.RegisterService(&rib_);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
  }
  void TearDown() override {
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  int run_ctl(std::vector<std::string> args, std::string& out, std::string& err) {
    std::vector<std::string> words = {"--socket", dir_ + "/api.sock"};
    words.insert(words.end(), args.begin(), args.end());
    std::ostringstream o, e;
    int rc = run(words, o, e, nullptr);
    out = o.str();
    err = e.str();
    return rc;
  }
  std::string dir_;
  FakeCapture capture_;
  FakeInject rib_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(CtlCaptureClient, TextJsonAndPcapng) {
  std::string out, err;
  ASSERT_EQ(run_ctl({"capture", "--peer", "192.0.2.3", "--type", "keepalive"}, out, err), 0) << err;
  EXPECT_EQ(capture_.last.peer(), "192.0.2.3");
  EXPECT_FALSE(capture_.last.include_data());
  EXPECT_NE(out.find("sent 192.0.2.3 KEEPALIVE | Established"), std::string::npos) << out;
  EXPECT_NE(out.find("(3 records dropped: this client was too slow; 3 in all)"), std::string::npos) << out;
  EXPECT_NE(out.find("-- 2 messages, 3 records dropped by the daemon"), std::string::npos) << out;

  const std::string file = dir_ + "/c.pcapng";
  ASSERT_EQ(run_ctl({"--json", "capture", "--pcapng", file}, out, err), 0) << err;
  EXPECT_TRUE(capture_.last.include_data());
  EXPECT_EQ(out.find("\"data\":\"/"), std::string::npos) << "the bytes went to the file, not the output";
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
  EXPECT_NE(out.find("\"dropped\":{\"records\":\"3\""), std::string::npos) << out;
  EXPECT_GT(std::filesystem::file_size(file), 200u);

  EXPECT_EQ(run_ctl({"capture", "--pcapng", dir_ + "/no/such/dir/c.pcapng"}, out, err), 1);
  EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
}

TEST_F(CtlCaptureClient, MrtInject) {
  // A small TABLE_DUMP_V2 file.
  tandem::mrt::PeerIndexTable t;
  t.peers = {{1, *tandem::wire::IpAddr::parse("198.18.0.9"), 65010}};
  tandem::mrt::TableDumpWriter w(tandem::mrt::Timestamp{1700000000, 0}, t);
  std::vector<uint8_t> data = w.peer_index_table();
  tandem::wire::PathAttributes a;
  a.has_origin = a.has_as_path = true;
  a.next_hop = tandem::wire::IpAddr::parse("198.18.0.9");
  for (int i = 0; i < 30; ++i) {
    std::vector<tandem::mrt::RibEntry> es = {
        {0, 1700000000, tandem::mrt::encode_rib_attributes(a, tandem::wire::Afi::Ipv4)}};
    auto rec = w.rib(*tandem::wire::Prefix::parse("10.9." + std::to_string(i) + ".0/24"), es);
    data.insert(data.end(), rec.begin(), rec.end());
  }
  const std::string file = dir_ + "/rib.mrt";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                              static_cast<std::streamsize>(data.size()));
  std::string out, err;
  ASSERT_EQ(run_ctl({"mrt", "inject", file, "--count", "25", "--nexthop", "192.0.2.1"}, out, err), 0) << err;
  EXPECT_EQ(rib_.prefixes.size(), 25u);
  EXPECT_EQ(rib_.prefixes.front(), "10.9.0.0/24");
  EXPECT_EQ(rib_.next_hops.front(), "192.0.2.1");
  EXPECT_NE(out.find("injected 25 routes from " + file), std::string::npos) << out;
  rib_.prefixes.clear();
  ASSERT_EQ(run_ctl({"--json", "mrt", "inject", file}, out, err), 0) << err;
  EXPECT_EQ(rib_.prefixes.size(), 30u);
  EXPECT_NE(out.find("\"routes\":\"30\""), std::string::npos) << out;
  // Truncated: what was read goes in, then exit 1 with the offset.
  rib_.prefixes.clear();
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() - 3));
  EXPECT_EQ(run_ctl({"mrt", "inject", file}, out, err), 1);
  EXPECT_NE(err.find("record at offset "), std::string::npos) << err;
  EXPECT_NE(err.find("(reading stopped there)"), std::string::npos) << err;
  EXPECT_NE(out.find("injected 29 routes"), std::string::npos) << out;
  EXPECT_EQ(run_ctl({"mrt", "inject", dir_ + "/missing.mrt"}, out, err), 1);
  EXPECT_NE(err.find("cannot read"), std::string::npos) << err;
}

}  // namespace
}  // namespace tandemctl
