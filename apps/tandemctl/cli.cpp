#include "apps/tandemctl/cli.hpp"

#include <cstdlib>
#include <optional>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/bfd.hpp"
#include "apps/tandemctl/capture.hpp"
#include "apps/tandemctl/connection.hpp"
#include "apps/tandemctl/events.hpp"
#include "apps/tandemctl/global.hpp"
#include "apps/tandemctl/ha.hpp"
#include "apps/tandemctl/mrt_inject.hpp"
#include "apps/tandemctl/neighbor.hpp"
#include "apps/tandemctl/rib.hpp"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "unknown"
#endif

namespace tandemctl {

namespace {

const char* const kGlobalUsage =
    "usage: tandemctl [--socket PATH | --address HOST:PORT --tls-ca FILE --tls-cert FILE --tls-key FILE]\n"
    "                 [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
    "\n"
    "  --socket PATH      tandemd's API socket (default /run/tandemd/tandemd.sock, or $TANDEMCTL_SOCKET)\n"
    "  --address H:P      connect over TCP with mutual TLS instead (needs the three --tls-* files)\n"
    "  --json             machine-readable output (protobuf JSON)\n"
    "  --timeout SECONDS  deadline for each request (default 10)\n"
    "\n"
    "commands: neighbor, rib, events, global, bfd, ha, capture, mrt, help [COMMAND], version\n";

const char* const kNeighborUsage =
    "usage: tandemctl neighbor                       list neighbors\n"
    "       tandemctl neighbor ADDR                  show one neighbor\n"
    "       tandemctl neighbor add ADDR as ASN [description TEXT] [passive] [local-address A]\n"
    "                 [families ipv4-unicast,ipv6-unicast] [hold-time N] [connect-retry N] [port N]\n"
    "                 [next-hop-self] [rr-client] [disabled] [bfd [bfd-tx MS] [bfd-rx MS] [bfd-mult N]]\n"
    "       tandemctl neighbor del ADDR [communication TEXT]\n"
    "       tandemctl neighbor enable ADDR\n"
    "       tandemctl neighbor disable ADDR [communication TEXT]\n"
    "       tandemctl neighbor reset ADDR [hard|soft-in|soft-out|soft] [family F] [communication TEXT]\n";

const char* const kRibUsage =
    "usage: tandemctl rib [-4|-6] [PREFIX [longer|shorter] | ADDRESS] [--peer ADDR] [--in|--out] [--best]\n"
    "       tandemctl rib summary\n"
    "       tandemctl rib add PREFIX [nexthop A] [origin igp|egp|incomplete] [med N] [local-pref N]\n"
    "                 [community C,C] [large-community A:B:C,...] [as-path \"65001 65002\"]\n"
    "       tandemctl rib del PREFIX\n"
    "  --in/--out list the Adj-RIB-In/Out of --peer ADDR (required then); default: the Loc-RIB\n";

const char* const kEventsUsage =
    "usage: tandemctl events [--peer ADDR] [--peer-state] [--best-path]\n"
    "  streams events until interrupted (both kinds unless one is chosen)\n";

const char* const kGlobalCmdUsage =
    "usage: tandemctl global\n"
    "       tandemctl global set [router-id A] [as N] [listen A,B] [port N]\n";

const char* const kBfdUsage =
    "usage: tandemctl bfd                            BFD sessions, receive path (XDP or user space)\n"
    "       tandemctl bfd PEER                       one session in detail, with the receive counters\n";

const char* const kHaUsage =
    "usage: tandemctl ha                             replication: role, channel, replicated sessions\n"
    "       tandemctl ha digests [--peer ADDR]       RIB table digests (compare them between the two nodes)\n"
    "       tandemctl ha switchover                  on the primary: hand every session to the standby\n";

const char* const kCaptureUsage =
    "usage: tandemctl capture [--peer ADDR] [--type TYPE[,TYPE...]] [--count N] [--pcapng FILE]\n"
    "  streams every BGP message sent and received, with the session's state, until interrupted\n"
    "  (or N messages); TYPE: update, open, notification, keepalive, route-refresh (--type may be\n"
    "  repeated); state changes and connections are always shown; --pcapng also writes the\n"
    "  messages to FILE as TCP packets (tshark -r FILE) with the state in the packet comments\n";

const char* const kMrtUsage =
    "usage: tandemctl mrt inject FILE [--count N] [--nexthop ADDR|self]...\n"
    "  originates the routes of an MRT file (TABLE_DUMP_V2, TABLE_DUMP or BGP4MP; plain, gzip or\n"
    "  bzip2) with their path attributes; --count: the first N routes; --nexthop: the next hop of\n"
    "  the routes of ADDR's family (one IPv4 and one IPv6 may be given; self: tandemd's own address)\n";

// Handles "--opt VALUE" and "--opt=VALUE".
std::optional<std::string> option_value(const std::vector<std::string>& words, std::size_t& i,
                                        const std::string& name) {
  const std::string& w = words[i];
  if (w == name) {
    if (i + 1 >= words.size()) throw UsageError("missing value for " + name, "");
    return words[++i];
  }
  if (w.starts_with(name + "=")) return w.substr(name.size() + 1);
  return std::nullopt;
}

void check_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw UsageError("invalid --address '" + address + "' (expected HOST:PORT, [IPV6]:PORT)", "");
  }
  parse_u32(address.substr(colon + 1), "port in --address", "", 1, 65535);
}

double parse_timeout(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v > 0) || v > 86400 * 365) {
    throw UsageError("invalid --timeout '" + text + "' (expected seconds > 0)", "");
  }
  return v;
}

}  // namespace

std::string usage(const std::string& topic) {
  if (topic == "neighbor") return kNeighborUsage;
  if (topic == "rib") return kRibUsage;
  if (topic == "events") return kEventsUsage;
  if (topic == "global") return kGlobalCmdUsage;
  if (topic == "bfd") return kBfdUsage;
  if (topic == "ha") return kHaUsage;
  if (topic == "capture") return kCaptureUsage;
  if (topic == "mrt") return kMrtUsage;
  return std::string(kGlobalUsage) + "\n" + kNeighborUsage + "\n" + kRibUsage + "\n" + kEventsUsage + "\n" +
         kGlobalCmdUsage + "\n" + kBfdUsage + "\n" + kHaUsage + "\n" + kCaptureUsage + "\n" + kMrtUsage;
}

Invocation parse_invocation(const std::vector<std::string>& words, const char* env_socket) {
  Invocation inv{GlobalOptions{}, Help{}};
  auto& o = inv.options;
  std::optional<std::string> socket;
  std::size_t i = 0;
  for (; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.empty() || w[0] != '-') break;
    if (w == "--json" || w == "-j") {
      o.json = true;
    } else if (w == "-h" || w == "--help") {
      return inv;
    } else if (w == "--version" || w == "-V") {
      inv.command = Version{};
      return inv;
    } else if (auto v = option_value(words, i, "--socket")) {
      if (v->empty()) throw UsageError("empty --socket", "");
      socket = *v;
    } else if (auto a = option_value(words, i, "--address")) {
      o.address = *a;
    } else if (auto ca = option_value(words, i, "--tls-ca")) {
      o.tls_ca = *ca;
    } else if (auto cert = option_value(words, i, "--tls-cert")) {
      o.tls_cert = *cert;
    } else if (auto key = option_value(words, i, "--tls-key")) {
      o.tls_key = *key;
    } else if (auto t = option_value(words, i, "--timeout")) {
      o.timeout_seconds = parse_timeout(*t);
    } else {
      throw UsageError("unknown option '" + w + "'", "");
    }
  }
  if (socket && !o.address.empty()) throw UsageError("give one of --socket, --address", "");
  if (!o.address.empty()) {
    check_address(o.address);
    if (o.tls_ca.empty() || o.tls_cert.empty() || o.tls_key.empty()) {
      throw UsageError("--address needs --tls-ca, --tls-cert and --tls-key (TCP is always mutual TLS)", "");
    }
  } else if (!o.tls_ca.empty() || !o.tls_cert.empty() || !o.tls_key.empty()) {
    throw UsageError("--tls-ca, --tls-cert and --tls-key apply to --address only", "");
  }
  o.socket = socket ? *socket : (env_socket && *env_socket) ? env_socket : kDefaultSocket;

  if (i >= words.size()) throw UsageError("missing command", "");
  const std::string command = words[i++];
  // --json may also follow the command.
  std::vector<std::string> rest;
  for (; i < words.size(); ++i) {
    if (words[i] == "--json") {
      o.json = true;
    } else {
      rest.push_back(words[i]);
    }
  }
  Args args(std::move(rest), "");
  if (command == "neighbor" || command == "neighbors" || command == "neighbour") {
    inv.command = parse_neighbor(args);
  } else if (command == "rib") {
    inv.command = parse_rib(args);
  } else if (command == "events") {
    inv.command = parse_events(args);
  } else if (command == "global") {
    inv.command = parse_global(args);
  } else if (command == "bfd") {
    inv.command = parse_bfd(args);
  } else if (command == "ha") {
    inv.command = parse_ha(args);
  } else if (command == "capture") {
    inv.command = parse_capture(args);
  } else if (command == "mrt") {
    inv.command = parse_mrt(args);
  } else if (command == "help") {
    std::string topic = args.empty() ? "" : args.next("topic");
    if (topic == "neighbour" || topic == "neighbors") topic = "neighbor";
    if (!topic.empty() && topic != "neighbor" && topic != "rib" && topic != "events" && topic != "global" &&
        topic != "bfd" && topic != "ha" && topic != "capture" && topic != "mrt") {
      throw UsageError("no help for '" + topic + "'", "");
    }
    args.expect_end();
    inv.command = Help{topic};
  } else if (command == "version") {
    args.expect_end();
    inv.command = Version{};
  } else {
    throw UsageError("unknown command '" + command + "'", "");
  }
  return inv;
}

int run(const std::vector<std::string>& words, std::ostream& out, std::ostream& err, const char* env_socket) {
  Invocation inv;
  try {
    inv = parse_invocation(words, env_socket);
  } catch (const UsageError& e) {
    err << "tandemctl: " << e.what() << "\n" << (e.topic().empty() ? std::string(kGlobalUsage) : usage(e.topic()));
    return kExitUsage;
  }
  if (const auto* help = std::get_if<Help>(&inv.command)) {
    out << usage(help->topic);
    return kExitOk;
  }
  if (std::holds_alternative<Version>(inv.command)) {
    out << "tandemctl " << TANDEM_VERSION << '\n';
    return kExitOk;
  }
  try {
    Connection connection(inv.options);
    Context ctx{inv.options, connection, out};
    return std::visit(
        [&](const auto& request) -> int {
          if constexpr (std::is_same_v<std::decay_t<decltype(request)>, Help> ||
                        std::is_same_v<std::decay_t<decltype(request)>, Version>) {
            return kExitOk;  // handled above
          } else {
            return execute(ctx, request);
          }
        },
        inv.command);
  } catch (const CommandError& e) {
    out.flush();
    err << "tandemctl: " << e.what() << '\n';
    return kExitError;
  } catch (const std::exception& e) {
    out.flush();
    err << "tandemctl: " << e.what() << '\n';
    return kExitError;
  }
}

}  // namespace tandemctl
