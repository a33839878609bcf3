// Command-line parsing: every command and its request, every usage error (exit 2).
#include <gtest/gtest.h>

#include <sstream>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/cli.hpp"

namespace tandemctl {
namespace {

namespace tv1 = tandem::v1;

Invocation parse(std::vector<std::string> words, const char* env = nullptr) {
  return parse_invocation(words, env);
}

template <typename T>
T parse_as(std::vector<std::string> words) {
  auto inv = parse(std::move(words));
  const T* request = std::get_if<T>(&inv.command);
  EXPECT_NE(request, nullptr) << "wrong command type, index " << inv.command.index();
  return request ? *request : T{};
}

TEST(CtlGlobalOptions, Defaults) {
  auto inv = parse({"neighbor"});
  EXPECT_EQ(inv.options.socket, "/run/tandemd/tandemd.sock");
  EXPECT_TRUE(inv.options.address.empty());
  EXPECT_FALSE(inv.options.json);
  EXPECT_DOUBLE_EQ(inv.options.timeout_seconds, 10.0);
}

TEST(CtlGlobalOptions, EnvironmentAndSocket) {
  EXPECT_EQ(parse({"neighbor"}, "/tmp/t.sock").options.socket, "/tmp/t.sock");
  EXPECT_EQ(parse({"--socket", "/a", "neighbor"}, "/tmp/t.sock").options.socket, "/a");
  EXPECT_EQ(parse({"--socket=/b", "neighbor"}).options.socket, "/b");
  EXPECT_EQ(parse({"neighbor"}, "").options.socket, "/run/tandemd/tandemd.sock");
}

TEST(CtlGlobalOptions, JsonTimeoutAddress) {
  auto inv = parse({"--json", "--timeout", "2.5", "--address", "[2001:db8::1]:50051", "--tls-ca", "ca",
                    "--tls-cert", "c", "--tls-key", "k", "global"});
  EXPECT_TRUE(inv.options.json);
  EXPECT_DOUBLE_EQ(inv.options.timeout_seconds, 2.5);
  EXPECT_EQ(inv.options.address, "[2001:db8::1]:50051");
  EXPECT_EQ(inv.options.tls_key, "k");
  EXPECT_TRUE(parse({"neighbor", "--json"}).options.json);  // also after the command
}

TEST(CtlGlobalOptions, HelpAndVersion) {
  EXPECT_TRUE(std::holds_alternative<Help>(parse({"--help"}).command));
  EXPECT_TRUE(std::holds_alternative<Version>(parse({"--version"}).command));
  EXPECT_TRUE(std::holds_alternative<Version>(parse({"version"}).command));
  EXPECT_EQ(std::get<Help>(parse({"help", "rib"}).command).topic, "rib");
  EXPECT_EQ(std::get<Help>(parse({"neighbor", "help"}).command).topic, "neighbor");
  EXPECT_EQ(std::get<Help>(parse({"rib", "--help"}).command).topic, "rib");
  EXPECT_EQ(std::get<Help>(parse({"events", "-h"}).command).topic, "events");
  EXPECT_EQ(std::get<Help>(parse({"global", "help"}).command).topic, "global");
}

TEST(CtlNeighbor, ListAndShow) {
  parse_as<tv1::ListPeersRequest>({"neighbor"});
  EXPECT_EQ(parse_as<tv1::GetPeerRequest>({"neighbor", "192.0.2.1"}).address(), "192.0.2.1");
  EXPECT_EQ(parse_as<tv1::GetPeerRequest>({"neighbor", "2001:db8::1"}).address(), "2001:db8::1");
}

TEST(CtlNeighbor, AddEverything) {
  auto r = parse_as<tv1::AddPeerRequest>({"neighbor", "add", "192.0.2.9", "as", "65009", "description",
                                          "upstream one", "passive", "local-address", "192.0.2.254",
                                          "families", "ipv4-unicast,ipv6-unicast", "hold-time", "30",
                                          "port", "1179", "next-hop-self", "rr-client", "connect-retry",
                                          "5", "disabled", "bfd", "bfd-tx", "10", "bfd-rx", "20", "bfd-mult", "4"});
  const auto& p = r.peer();
  EXPECT_TRUE(p.bfd());
  EXPECT_EQ(p.bfd_desired_min_tx_ms(), 10u);
  EXPECT_EQ(p.bfd_required_min_rx_ms(), 20u);
  EXPECT_EQ(p.bfd_detect_mult(), 4u);
  EXPECT_EQ(p.address(), "192.0.2.9");
  EXPECT_EQ(p.remote_as(), 65009u);
  EXPECT_EQ(p.description(), "upstream one");
  EXPECT_TRUE(p.passive());
  EXPECT_EQ(p.local_address(), "192.0.2.254");
  ASSERT_EQ(p.families_size(), 2);
  EXPECT_EQ(p.families(0), tv1::FAMILY_IPV4_UNICAST);
  EXPECT_EQ(p.families(1), tv1::FAMILY_IPV6_UNICAST);
  EXPECT_TRUE(p.has_hold_time());
  EXPECT_EQ(p.hold_time(), 30u);
  EXPECT_EQ(p.port(), 1179u);
  EXPECT_TRUE(p.next_hop_self());
  EXPECT_TRUE(p.route_reflector_client());
  EXPECT_EQ(p.connect_retry(), 5u);
  ASSERT_TRUE(p.has_enabled());
  EXPECT_FALSE(p.enabled());
}

TEST(CtlNeighbor, AddMinimalLeavesDefaultsUnset) {
  auto p = parse_as<tv1::AddPeerRequest>({"neighbor", "add", "2001:db8::2", "as", "4200000000"}).peer();
  EXPECT_EQ(p.remote_as(), 4200000000u);
  EXPECT_FALSE(p.has_hold_time());
  EXPECT_FALSE(p.has_port());
  EXPECT_FALSE(p.has_enabled());
  EXPECT_EQ(p.families_size(), 0);
  EXPECT_FALSE(p.bfd());
  EXPECT_FALSE(p.has_bfd_detect_mult());
}

TEST(CtlNeighbor, DelEnableDisable) {
  auto d = parse_as<tv1::DeletePeerRequest>({"neighbor", "del", "192.0.2.1", "communication", "bye"});
  EXPECT_EQ(d.address(), "192.0.2.1");
  EXPECT_EQ(d.communication(), "bye");
  EXPECT_EQ(parse_as<tv1::DeletePeerRequest>({"neighbor", "delete", "192.0.2.1"}).communication(), "");
  EXPECT_EQ(parse_as<tv1::EnablePeerRequest>({"neighbor", "enable", "192.0.2.1"}).address(), "192.0.2.1");
  auto x = parse_as<tv1::DisablePeerRequest>({"neighbor", "disable", "192.0.2.1", "communication", "maint"});
  EXPECT_EQ(x.communication(), "maint");
}

TEST(CtlNeighbor, Reset) {
  auto hard = parse_as<tv1::ResetPeerRequest>({"neighbor", "reset", "192.0.2.1"});
  EXPECT_EQ(hard.kind(), tv1::ResetPeerRequest::KIND_HARD);
  EXPECT_EQ(hard.family(), tv1::FAMILY_UNSPECIFIED);
  EXPECT_EQ(parse_as<tv1::ResetPeerRequest>({"neighbor", "reset", "192.0.2.1", "soft-in"}).kind(),
            tv1::ResetPeerRequest::KIND_SOFT_IN);
  EXPECT_EQ(parse_as<tv1::ResetPeerRequest>({"neighbor", "reset", "192.0.2.1", "soft-out"}).kind(),
            tv1::ResetPeerRequest::KIND_SOFT_OUT);
  auto soft = parse_as<tv1::ResetPeerRequest>({"neighbor", "reset", "192.0.2.1", "soft", "family", "ipv6-unicast"});
  EXPECT_EQ(soft.kind(), tv1::ResetPeerRequest::KIND_SOFT_BOTH);
  EXPECT_EQ(soft.family(), tv1::FAMILY_IPV6_UNICAST);
  auto comm = parse_as<tv1::ResetPeerRequest>({"neighbor", "reset", "192.0.2.1", "hard", "communication", "x"});
  EXPECT_EQ(comm.communication(), "x");
}

TEST(CtlRib, ListDefaultsToLocRibIpv4) {
  auto r = parse_as<tv1::ListRoutesRequest>({"rib"});
  EXPECT_EQ(r.table(), tv1::TABLE_LOC_RIB);
  EXPECT_EQ(r.family(), tv1::FAMILY_IPV4_UNICAST);
  EXPECT_FALSE(r.has_prefix_filter());
  EXPECT_FALSE(r.best_only());
}

TEST(CtlRib, ListFilters) {
  auto r = parse_as<tv1::ListRoutesRequest>({"rib", "-6", "2001:db8::/32", "longer", "--peer", "2001:db8::1",
                                             "--in"});
  EXPECT_EQ(r.family(), tv1::FAMILY_IPV6_UNICAST);
  EXPECT_EQ(r.table(), tv1::TABLE_ADJ_RIB_IN);
  EXPECT_EQ(r.peer(), "2001:db8::1");
  EXPECT_EQ(r.prefix_filter().prefix(), "2001:db8::/32");
  EXPECT_EQ(r.prefix_filter().match(), tv1::PrefixFilter::MATCH_LONGER);

  auto out = parse_as<tv1::ListRoutesRequest>({"rib", "10.0.0.0/8", "shorter", "--out", "--peer", "192.0.2.1"});
  EXPECT_EQ(out.table(), tv1::TABLE_ADJ_RIB_OUT);
  EXPECT_EQ(out.prefix_filter().match(), tv1::PrefixFilter::MATCH_SHORTER);

  auto exact = parse_as<tv1::ListRoutesRequest>({"rib", "10.0.0.0/8", "--best"});
  EXPECT_EQ(exact.prefix_filter().match(), tv1::PrefixFilter::MATCH_EXACT);
  EXPECT_TRUE(exact.best_only());

  // The family follows an IPv6 prefix without -6.
  EXPECT_EQ(parse_as<tv1::ListRoutesRequest>({"rib", "2001:db8::/48"}).family(), tv1::FAMILY_IPV6_UNICAST);
  // A bare address: the routes covering it.
  auto cover = parse_as<tv1::ListRoutesRequest>({"rib", "192.0.2.77"});
  EXPECT_EQ(cover.prefix_filter().prefix(), "192.0.2.77/32");
  EXPECT_EQ(cover.prefix_filter().match(), tv1::PrefixFilter::MATCH_SHORTER);
  // --peer alone filters the Loc-RIB.
  auto byPeer = parse_as<tv1::ListRoutesRequest>({"rib", "--peer", "192.0.2.1"});
  EXPECT_EQ(byPeer.table(), tv1::TABLE_LOC_RIB);
  EXPECT_EQ(byPeer.peer(), "192.0.2.1");
}

TEST(CtlRib, SummaryAddDel) {
  parse_as<tv1::GetRibSummaryRequest>({"rib", "summary"});
  EXPECT_EQ(parse_as<tv1::AddRouteRequest>({"rib", "add", "198.51.100.0/24"}).prefix(), "198.51.100.0/24");
  EXPECT_EQ(parse_as<tv1::DeleteRouteRequest>({"rib", "del", "198.51.100.0/24"}).prefix(), "198.51.100.0/24");
  EXPECT_EQ(parse_as<tv1::DeleteRouteRequest>({"rib", "delete", "2001:db8::/32"}).prefix(), "2001:db8::/32");
}

TEST(CtlEvents, Flags) {
  auto all = parse_as<tv1::WatchEventsRequest>({"events"});
  EXPECT_TRUE(all.peer_state());
  EXPECT_TRUE(all.best_path());
  auto ps = parse_as<tv1::WatchEventsRequest>({"events", "--peer-state", "--peer", "192.0.2.1"});
  EXPECT_TRUE(ps.peer_state());
  EXPECT_FALSE(ps.best_path());
  EXPECT_EQ(ps.peer(), "192.0.2.1");
  auto bp = parse_as<tv1::WatchEventsRequest>({"events", "--best-path"});
  EXPECT_FALSE(bp.peer_state());
  EXPECT_TRUE(bp.best_path());
}

TEST(CtlGlobal, ShowAndSet) {
  parse_as<tv1::GetGlobalRequest>({"global"});
  auto s = parse_as<tv1::SetGlobalRequest>({"global", "set", "router-id", "192.0.2.1", "as", "65000", "listen",
                                            "0.0.0.0,::", "port", "1179"});
  EXPECT_EQ(s.global().router_id(), "192.0.2.1");
  EXPECT_EQ(s.global().local_as(), 65000u);
  ASSERT_EQ(s.global().listen_addresses_size(), 2);
  EXPECT_EQ(s.global().listen_addresses(1), "::");
  EXPECT_EQ(s.global().port(), 1179u);
  std::vector<std::string> fields(s.update_fields().begin(), s.update_fields().end());
  EXPECT_EQ(fields, (std::vector<std::string>{"router_id", "local_as", "listen_addresses", "port"}));
  auto only_port = parse_as<tv1::SetGlobalRequest>({"global", "set", "port", "179"});
  ASSERT_EQ(only_port.update_fields_size(), 1);
  EXPECT_EQ(only_port.update_fields(0), "port");
}

// Every usage error: exit status 2, "tandemctl: <message>" and a usage text on stderr,
// nothing on stdout.
struct UsageCase {
  std::vector<std::string> words;
  std::string message;  // a part of the message
};

// Readable test names in ctest: the words of the command line.
void PrintTo(const UsageCase& c, std::ostream* os) {
  std::string line = "tandemctl";
  for (const auto& w : c.words) line += " " + (w.size() > 20 ? w.substr(0, 20) + "..." : w);
  *os << line;
}

class CtlUsageErrors : public ::testing::TestWithParam<UsageCase> {};

TEST_P(CtlUsageErrors, ExitTwoWithMessageAndUsage) {
  std::ostringstream out, err;
  int rc = run(GetParam().words, out, err, nullptr);
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out.str(), "");
  EXPECT_TRUE(err.str().starts_with("tandemctl: ")) << err.str();
  EXPECT_NE(err.str().find(GetParam().message), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("usage: tandemctl"), std::string::npos) << err.str();
}

INSTANTIATE_TEST_SUITE_P(
    All, CtlUsageErrors,
    ::testing::Values(
        // global options
        UsageCase{{}, "missing command"},
        UsageCase{{"frobnicate"}, "unknown command 'frobnicate'"},
        UsageCase{{"--bogus", "neighbor"}, "unknown option '--bogus'"},
        UsageCase{{"--socket"}, "missing value for --socket"},
        UsageCase{{"--socket", "", "neighbor"}, "empty --socket"},
        UsageCase{{"--timeout", "0", "neighbor"}, "invalid --timeout '0'"},
        UsageCase{{"--timeout", "abc", "neighbor"}, "invalid --timeout"},
        UsageCase{{"--socket", "/a", "--address", "h:1", "neighbor"}, "give one of --socket, --address"},
        UsageCase{{"--address", "h:1", "neighbor"}, "--address needs --tls-ca"},
        UsageCase{{"--address", "h:1", "--tls-ca", "a", "--tls-cert", "b", "neighbor"}, "--address needs"},
        UsageCase{{"--address", "nohost", "--tls-ca", "a", "--tls-cert", "b", "--tls-key", "c", "neighbor"},
                  "invalid --address"},
        UsageCase{{"--address", "h:99999", "--tls-ca", "a", "--tls-cert", "b", "--tls-key", "c", "neighbor"},
                  "invalid port in --address"},
        UsageCase{{"--tls-ca", "a", "neighbor"}, "apply to --address only"},
        UsageCase{{"help", "nope"}, "no help for 'nope'"},
        UsageCase{{"version", "x"}, "unexpected argument 'x'"},
        // neighbor
        UsageCase{{"neighbor", "bogus"}, "unknown neighbor command or address 'bogus'"},
        UsageCase{{"neighbor", "192.0.2.1", "extra"}, "unexpected argument 'extra'"},
        UsageCase{{"neighbor", "add"}, "missing neighbor address"},
        UsageCase{{"neighbor", "add", "not-an-ip", "as", "1"}, "invalid neighbor address 'not-an-ip'"},
        UsageCase{{"neighbor", "add", "192.0.2.1"}, "missing 'as ASN'"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as"}, "missing as value"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "x"}, "invalid AS number 'x'"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "4294967296"}, "invalid AS number"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "as", "2"}, "'as' given twice"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "color", "red"}, "unknown neighbor add option 'color'"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "bfd-tx", "10"}, "'bfd-tx' needs 'bfd'"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "bfd", "bfd-mult", "0"}, "BFD detect multiplier"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "families", "ipv5"}, "invalid family 'ipv5'"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "families", "ipv4,ipv4"}, "given twice"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "hold-time", "70000"}, "invalid hold time"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "port", "0"}, "invalid port"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "local-address", "x"}, "invalid local address"},
        UsageCase{{"neighbor", "add", "192.0.2.1", "as", "1", "description"}, "missing description value"},
        UsageCase{{"neighbor", "del"}, "missing neighbor address"},
        UsageCase{{"neighbor", "del", "192.0.2.1", "because"}, "unexpected argument 'because'"},
        UsageCase{{"neighbor", "del", "192.0.2.1", "communication"}, "missing communication value"},
        UsageCase{{"neighbor", "del", "192.0.2.1", "communication", std::string(256, 'x')}, "longer than 255"},
        UsageCase{{"neighbor", "enable", "192.0.2.1", "communication", "x"}, "unexpected argument"},
        UsageCase{{"neighbor", "disable"}, "missing neighbor address"},
        UsageCase{{"neighbor", "disable", "192.0.2.1", "x", "y"}, "unexpected argument 'x'"},
        UsageCase{{"neighbor", "reset"}, "missing neighbor address"},
        UsageCase{{"neighbor", "reset", "192.0.2.1", "soft", "soft-in"}, "give one of hard"},
        UsageCase{{"neighbor", "reset", "192.0.2.1", "soft", "communication", "x"}, "hard reset only"},
        UsageCase{{"neighbor", "reset", "192.0.2.1", "family", "ipv4-unicast"}, "soft reset only"},
        UsageCase{{"neighbor", "reset", "192.0.2.1", "sideways"}, "unknown neighbor reset option 'sideways'"},
        // rib
        UsageCase{{"rib", "--frob"}, "unknown rib option '--frob'"},
        UsageCase{{"rib", "10.0.0.0/33"}, "invalid prefix '10.0.0.0/33'"},
        UsageCase{{"rib", "banana"}, "invalid prefix 'banana'"},
        UsageCase{{"rib", "10.0.0.0/8", "11.0.0.0/8"}, "unexpected argument '11.0.0.0/8'"},
        UsageCase{{"rib", "longer"}, "'longer' must follow a prefix"},
        UsageCase{{"rib", "10.0.0.0/8", "longer", "shorter"}, "give one of longer, shorter"},
        UsageCase{{"rib", "--in"}, "--in needs --peer ADDR"},
        UsageCase{{"rib", "--out"}, "--out needs --peer ADDR"},
        UsageCase{{"rib", "--in", "--out", "--peer", "192.0.2.1"}, "give one of --in, --out"},
        UsageCase{{"rib", "--in", "--peer", "192.0.2.1", "--best"}, "--best applies to the Loc-RIB only"},
        UsageCase{{"rib", "--peer"}, "missing --peer address"},
        UsageCase{{"rib", "--peer", "x"}, "invalid peer address 'x'"},
        UsageCase{{"rib", "-4", "-6"}, "give one of -4, -6"},
        UsageCase{{"rib", "-6", "10.0.0.0/8"}, "is not IPv6"},
        UsageCase{{"rib", "summary", "x"}, "unexpected argument 'x'"},
        UsageCase{{"rib", "add"}, "missing prefix"},
        UsageCase{{"rib", "add", "10.0.0.0"}, "invalid prefix"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "med"}, "missing med value"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "med", "-1"}, "invalid MED"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "local-pref", "1e3"}, "invalid local preference"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "origin", "bgp"}, "invalid origin 'bgp'"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "nexthop", "x"}, "invalid next hop 'x'"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "nexthop", "192.0.2.1", "next-hop", "192.0.2.2"}, "given twice"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "community", "70000:1"}, "invalid community ASN"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "community", "no-such"}, "invalid community 'no-such'"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "large-community", "1:2"}, "invalid large community '1:2'"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "as-path", "65001 x"}, "invalid AS number in AS path"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "as-path", "{65001"}, "'{' without '}'"},
        UsageCase{{"rib", "add", "10.0.0.0/8", "weight", "1"}, "unknown rib add option 'weight'"},
        UsageCase{{"rib", "del"}, "missing prefix"},
        UsageCase{{"rib", "del", "10.0.0.0/8", "x"}, "unexpected argument 'x'"},
        UsageCase{{"rib", "del", "nope"}, "invalid prefix 'nope'"},
        // events
        UsageCase{{"events", "--bogus"}, "unknown events option '--bogus'"},
        UsageCase{{"events", "--peer"}, "missing --peer address"},
        UsageCase{{"events", "--peer", "x"}, "invalid peer address"},
        UsageCase{{"events", "--peer", "192.0.2.1", "--peer", "192.0.2.2"}, "--peer given twice"},
        // global
        UsageCase{{"global", "get"}, "unknown global command 'get'"},
        UsageCase{{"global", "set"}, "nothing to set"},
        UsageCase{{"global", "set", "router-id", "2001:db8::1"}, "invalid router-id"},
        UsageCase{{"global", "set", "as", "0"}, "invalid AS number '0'"},
        UsageCase{{"global", "set", "listen", "0.0.0.0,x"}, "invalid listen address 'x'"},
        UsageCase{{"global", "set", "port", "65536"}, "invalid port"},
        UsageCase{{"global", "set", "port", "1", "port", "2"}, "'port' given twice"},
        UsageCase{{"global", "set", "colour", "1"}, "unknown global set option 'colour'"}));

TEST(CtlUsageText, ErrorShowsTheCommandsUsage) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"rib", "--in"}, out, err, nullptr), 2);
  EXPECT_NE(err.str().find("usage: tandemctl rib"), std::string::npos);
  EXPECT_EQ(err.str().find("usage: tandemctl neighbor"), std::string::npos);
}

TEST(CtlUsageText, HelpGoesToStdoutWithStatusZero) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"help"}, out, err, nullptr), 0);
  EXPECT_NE(out.str().find("tandemctl neighbor add ADDR as ASN"), std::string::npos);
  EXPECT_NE(out.str().find("tandemctl rib summary"), std::string::npos);
  EXPECT_EQ(err.str(), "");
}

}  // namespace
}  // namespace tandemctl
