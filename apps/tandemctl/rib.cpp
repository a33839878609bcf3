#include "apps/tandemctl/rib.hpp"

#include <set>

#include "tandem/v1/rib.grpc.pb.h"

namespace tandemctl {

namespace tv1 = tandem::v1;

std::uint32_t parse_community(std::string_view text, const std::string& topic) {
  if (text == "graceful-shutdown") return 0xFFFF0000;
  if (text == "blackhole") return 0xFFFF029A;
  if (text == "llgr-stale") return 0xFFFF0006;
  if (text == "no-llgr") return 0xFFFF0007;
  if (text == "no-export") return 0xFFFFFF01;
  if (text == "no-advertise") return 0xFFFFFF02;
  if (text == "no-export-subconfed") return 0xFFFFFF03;
  if (text == "no-peer") return 0xFFFFFF04;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
      throw UsageError("invalid community '" + std::string(text) +
                           "' (expected ASN:VALUE, a number or a well-known name)",
                       topic);
    }
    return parse_u32(text, "community", topic);
  }
  auto high = parse_u32(text.substr(0, colon), "community ASN", topic, 0, 65535);
  auto low = parse_u32(text.substr(colon + 1), "community value", topic, 0, 65535);
  return (high << 16) | low;
}

tv1::LargeCommunity parse_large_community(std::string_view text, const std::string& topic) {
  auto parts = split(text, ':');
  if (parts.size() != 3) {
    throw UsageError("invalid large community '" + std::string(text) + "' (expected A:B:C)", topic);
  }
  tv1::LargeCommunity lc;
  lc.set_global_admin(parse_u32(parts[0], "large community global admin", topic));
  lc.set_local_data1(parse_u32(parts[1], "large community local data", topic));
  lc.set_local_data2(parse_u32(parts[2], "large community local data", topic));
  return lc;
}

void parse_as_path(std::string_view text, const std::string& topic, tv1::PathAttributes& attributes) {
  auto bad = [&](const std::string& why) {
    return UsageError("invalid AS path '" + std::string(text) + "': " + why, topic);
  };
  tv1::AsPathSegment* sequence = nullptr;  // the open AS_SEQUENCE, if any
  tv1::AsPathSegment* set = nullptr;       // inside braces
  std::size_t i = 0;
  while (i < text.size()) {
    char ch = text[i];
    if (ch == ' ' || ch == ',') {
      ++i;
    } else if (ch == '{') {
      if (set) throw bad("nested '{'");
      set = attributes.add_as_path();
      set->set_type(tv1::AsPathSegment::AS_SET);
      sequence = nullptr;
      ++i;
    } else if (ch == '}') {
      if (!set) throw bad("'}' without '{'");
      if (set->asns().empty()) throw bad("empty AS set");
      set = nullptr;
      ++i;
    } else {
      std::size_t end = text.find_first_of(" ,{}", i);
      if (end == std::string_view::npos) end = text.size();
      auto asn = parse_u32(text.substr(i, end - i), "AS number in AS path", topic);
      if (set) {
        set->add_asns(asn);
      } else {
        if (!sequence) {
          sequence = attributes.add_as_path();
          sequence->set_type(tv1::AsPathSegment::AS_SEQUENCE);
        }
        sequence->add_asns(asn);
      }
      i = end;
    }
  }
  if (set) throw bad("'{' without '}'");
}

namespace {

tv1::AddRouteRequest parse_add_route(Args& args) {
  tv1::AddRouteRequest request;
  const std::string prefix = args.next("prefix");
  parse_prefix(prefix, args.topic());
  request.set_prefix(prefix);
  auto& attrs = *request.mutable_attributes();
  std::set<std::string> seen;
  while (!args.empty()) {
    std::string key = args.next("keyword");
    if (key == "next-hop") key = "nexthop";
    if (!seen.insert(key).second) args.fail("'" + key + "' given twice");
    if (key == "nexthop") {
      attrs.set_next_hop(parse_address(args.value_of(key), "next hop", args.topic()));
    } else if (key == "origin") {
      auto v = args.value_of(key);
      if (v == "igp") {
        attrs.set_origin(tv1::ORIGIN_IGP);
      } else if (v == "egp") {
        attrs.set_origin(tv1::ORIGIN_EGP);
      } else if (v == "incomplete") {
        attrs.set_origin(tv1::ORIGIN_INCOMPLETE);
      } else {
        args.fail("invalid origin '" + v + "' (expected igp, egp or incomplete)");
      }
    } else if (key == "med") {
      attrs.set_med(parse_u32(args.value_of(key), "MED", args.topic()));
    } else if (key == "local-pref") {
      attrs.set_local_pref(parse_u32(args.value_of(key), "local preference", args.topic()));
    } else if (key == "community") {
      for (const auto& c : split(args.value_of(key), ',')) attrs.add_communities(parse_community(c, args.topic()));
    } else if (key == "large-community") {
      for (const auto& c : split(args.value_of(key), ',')) {
        *attrs.add_large_communities() = parse_large_community(c, args.topic());
      }
    } else if (key == "as-path") {
      parse_as_path(args.value_of(key), args.topic(), attrs);
    } else {
      args.fail("unknown rib add option '" + key + "'");
    }
  }
  return request;
}

tv1::ListRoutesRequest parse_list(Args& args) {
  tv1::ListRoutesRequest request;
  bool v4 = false, v6 = false, in = false, out = false, best = false, have_match = false;
  std::string prefix;
  tv1::Family prefix_family = tv1::FAMILY_UNSPECIFIED;
  while (!args.empty()) {
    const std::string word = args.next("argument");
    if (word == "-4") {
      v4 = true;
    } else if (word == "-6") {
      v6 = true;
    } else if (word == "--peer") {
      if (!request.peer().empty()) args.fail("--peer given twice");
      request.set_peer(parse_address(args.next("--peer address"), "peer address", args.topic()));
    } else if (word == "--in") {
      in = true;
    } else if (word == "--out") {
      out = true;
    } else if (word == "--best") {
      best = true;
    } else if (word == "longer" || word == "shorter") {
      if (prefix.empty()) args.fail("'" + word + "' must follow a prefix");
      if (have_match) args.fail("give one of longer, shorter");
      have_match = true;
      request.mutable_prefix_filter()->set_match(word == "longer" ? tv1::PrefixFilter::MATCH_LONGER
                                                                  : tv1::PrefixFilter::MATCH_SHORTER);
    } else if (!word.empty() && word[0] == '-') {
      args.fail("unknown rib option '" + word + "'");
    } else {
      if (!prefix.empty()) args.fail("unexpected argument '" + word + "'");
      if (word.find('/') == std::string::npos && (is_ipv4(word) || is_ipv6(word))) {
        // An address: the routes covering it.
        prefix = word + (is_ipv4(word) ? "/32" : "/128");
        request.mutable_prefix_filter()->set_match(tv1::PrefixFilter::MATCH_SHORTER);
        have_match = true;
        prefix_family = is_ipv4(word) ? tv1::FAMILY_IPV4_UNICAST : tv1::FAMILY_IPV6_UNICAST;
      } else {
        prefix_family = parse_prefix(word, args.topic());
        prefix = word;
      }
      request.mutable_prefix_filter()->set_prefix(prefix);
    }
  }
  if (v4 && v6) args.fail("give one of -4, -6");
  if (in && out) args.fail("give one of --in, --out");
  if ((in || out) && request.peer().empty()) args.fail(std::string(in ? "--in" : "--out") + " needs --peer ADDR");
  if (best && (in || out)) args.fail("--best applies to the Loc-RIB only");
  tv1::Family family = v6 ? tv1::FAMILY_IPV6_UNICAST : tv1::FAMILY_IPV4_UNICAST;
  if (prefix_family != tv1::FAMILY_UNSPECIFIED) {
    if ((v4 || v6) && prefix_family != family) {
      args.fail("prefix " + prefix + " is not " + (v6 ? "IPv6" : "IPv4"));
    }
    family = prefix_family;
  }
  request.set_family(family);
  request.set_table(in ? tv1::TABLE_ADJ_RIB_IN : out ? tv1::TABLE_ADJ_RIB_OUT : tv1::TABLE_LOC_RIB);
  request.set_best_only(best);
  return request;
}

}  // namespace

Command parse_rib(Args& args) {
  args.set_topic("rib");
  if (args.peek_is("help") || args.peek_is("--help") || args.peek_is("-h")) return Help{"rib"};
  if (args.peek_is("summary")) {
    args.next("summary");
    args.expect_end();
    return tv1::GetRibSummaryRequest{};
  }
  if (args.peek_is("add")) {
    args.next("add");
    return parse_add_route(args);
  }
  if (args.peek_is("del") || args.peek_is("delete")) {
    args.next("del");
    tv1::DeleteRouteRequest request;
    const std::string prefix = args.next("prefix");
    parse_prefix(prefix, args.topic());
    request.set_prefix(prefix);
    args.expect_end();
    return request;
  }
  return parse_list(args);
}

std::vector<std::string> RoutePrinter::headers() {
  return {"", "Prefix", "Next Hop", "Peer", "MED", "LocPrf", "Origin", "AS Path", "Communities"};
}

std::vector<bool> RoutePrinter::right() { return {false, false, false, false, true, true, false, false, false}; }

void RoutePrinter::add(const tv1::ListRoutesResponse& batch) {
  std::string json;  // the whole batch, written at once
  for (const auto& route : batch.routes()) {
    if (json_) {
      json += count_ == 0 ? "[\n" : ",\n";
      append_route_json(json, route);
    } else {
      const auto& a = route.attributes();
      table_.add({route.best() ? "*>" : route.eligible() ? "*" : "", route.prefix(),
                  a.next_hop().empty() ? "-" : a.next_hop(), route.peer().empty() ? "local" : route.peer(),
                  a.has_med() ? std::to_string(a.med()) : "", a.has_local_pref() ? std::to_string(a.local_pref()) : "",
                  origin_name(a.origin()), as_path_text(a), communities_text(a)});
    }
    ++count_;
  }
  if (json_) out_ << json;
  if (!json_ && count_ > 0) table_.print(out_);
  out_.flush();
}

void RoutePrinter::finish() {
  if (json_) {
    out_ << (count_ == 0 ? "[]\n" : "\n]\n");
  } else if (count_ == 0) {
    out_ << "No routes.\n";
  }
  out_.flush();
}

void render_rib_summary(const tv1::GetRibSummaryResponse& response, std::ostream& out) {
  Table table({"Family", "Prefixes", "Paths"}, {false, true, true});
  for (const auto& f : response.families()) {
    table.add({family_name(f.family()), std::to_string(f.prefixes()), std::to_string(f.paths())});
  }
  table.print(out);
  out << "Attribute sets: " << response.attribute_sets() << '\n';
}

int execute(Context& ctx, const tv1::ListRoutesRequest& request) {
  auto stub = tv1::RibService::NewStub(ctx.connection.channel());
  grpc::ClientContext context;  // no deadline: a full table may take long
  auto reader = stub->ListRoutes(&context, request);
  RoutePrinter printer(ctx.out, ctx.options.json);
  tv1::ListRoutesResponse batch;
  while (reader->Read(&batch)) {
    printer.add(batch);
    if (!ctx.out) {  // output closed (e.g. piped into head): stop the listing
      context.TryCancel();
      break;
    }
  }
  auto status = reader->Finish();
  if (!ctx.out) return 1;
  ctx.connection.check(status);
  printer.finish();
  return 0;
}

int execute(Context& ctx, const tv1::GetRibSummaryRequest& request) {
  auto response = call<tv1::RibService, tv1::GetRibSummaryResponse>(ctx, &tv1::RibService::Stub::GetRibSummary, request);
  if (ctx.options.json) {
    ctx.out << to_json(response, true) << '\n';
  } else {
    render_rib_summary(response, ctx.out);
  }
  return 0;
}

int execute(Context& ctx, const tv1::AddRouteRequest& request) {
  auto response = call<tv1::RibService, tv1::AddRouteResponse>(ctx, &tv1::RibService::Stub::AddRoute, request);
  if (ctx.options.json) ctx.out << to_json(response, true) << '\n';
  return 0;
}

int execute(Context& ctx, const tv1::DeleteRouteRequest& request) {
  auto response = call<tv1::RibService, tv1::DeleteRouteResponse>(ctx, &tv1::RibService::Stub::DeleteRoute, request);
  if (ctx.options.json) ctx.out << to_json(response, true) << '\n';
  return 0;
}

}  // namespace tandemctl
